"""WARC HTML to text: the `extract` step of `curate filter` and the `curate extract` command."""
