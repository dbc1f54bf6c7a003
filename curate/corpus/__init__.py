"""Pretraining corpora: normalisation, quality filters, deduplication."""
