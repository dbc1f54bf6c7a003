"""The steps of `curate filter`: one module per family (clean, langid, gopher, c4, fineweb,
badwords, quality), each with a FilterSpec (spec.py) listed once in curate/corpus/registry.py."""
