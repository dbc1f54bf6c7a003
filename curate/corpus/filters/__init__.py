"""Document filters: one module per family (gopher, c4, fineweb, langid, quality, badwords)."""
