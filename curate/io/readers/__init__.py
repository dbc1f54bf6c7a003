"""Readers: JSONL / JSON arrays, Parquet, plain text and Common Crawl WET, into Arrow batches.

Every input record ends either as a document (`id`, `text`, `source`, `meta`) or as a
rejected row that keeps its original bytes in `raw` and says why in `reason`. Nothing a
reader meets is dropped without a row, so `records == docs + rejected` for every file.
Each format is one module here and one line of registry.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pyarrow as pa

from curate.io import remote
from curate.io.input_file import InputFile
from curate.io.readers.batch import ReadBatch, ReaderOptions, content_id
from curate.io.readers.registry import READERS
from curate.io.schema import CORE_SCHEMA


def read_file(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    if input_file.url:  # an object in a store: read from a local copy, which goes after
        with remote.fetched(input_file.url) as local:
            yield from READERS[input_file.format].read(replace(input_file, path=local), options)
        return
    yield from READERS[input_file.format].read(input_file, options)


def input_schema(input_file: InputFile, options: ReaderOptions) -> pa.Schema:
    """The schema of the documents read from this file (whole records are id/text/source/meta)."""
    schema = READERS[input_file.format].schema
    if schema is not None and not options.records:
        return schema(input_file, options)
    return CORE_SCHEMA


__all__ = ["READERS", "ReadBatch", "ReaderOptions", "content_id", "input_schema", "read_file"]
