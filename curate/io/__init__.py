"""Reading raw corpora, writing dataset folders (shards, manifest)."""
