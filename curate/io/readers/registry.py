"""Every input format curate reads, one line each: its reader and the file names that mean it.

A reader is a module here with a function `(InputFile, ReaderOptions) -> Iterator[ReadBatch]`
that turns every record into a document or a rejected row (batch.py's BatchBuilder does the
bookkeeping); its line here gives --input-format its name and `auto` its file suffixes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from curate.io.input_file import InputFile
from curate.io.readers import json_array, jsonl, parquet, text, warc, wet
from curate.io.readers.batch import ReadBatch, ReaderOptions


@dataclass(frozen=True)
class InputReader:
    read: Callable[[InputFile, ReaderOptions], Iterator[ReadBatch]]
    suffixes: tuple[str, ...]  # file name endings, before any .gz/.zst
    # Whether its files hold records (JSON objects, table rows) that commands reading whole
    # records (convert, render, self-instruct, prefs, the trainers) can take.
    records: bool = False
    # The schema of its documents when it keeps more columns than id/text/source/meta (Parquet).
    schema: Callable[[InputFile, ReaderOptions], pa.Schema] | None = None


READERS: dict[str, InputReader] = {
    "jsonl": InputReader(jsonl.read_jsonl, (".jsonl", ".ndjson"), records=True),
    "json": InputReader(json_array.read_json, (".json",), records=True),
    "parquet": InputReader(parquet.read_parquet, (".parquet",), schema=parquet.parquet_schema, records=True),
    "text": InputReader(text.read_text, (".txt", ".text")),
    "wet": InputReader(wet.read_wet, (".wet",)),
    "warc": InputReader(warc.read_warc, (".warc",)),
}
RECORD_FORMATS = tuple(name for name, reader in READERS.items() if reader.records)


def suffix_help(record_formats_only: bool = False) -> str:
    """The file names `--input-format auto` recognises, for help texts: `.jsonl, .ndjson, ...`."""
    names = RECORD_FORMATS if record_formats_only else tuple(READERS)
    return ", ".join(suffix for name in names for suffix in READERS[name].suffixes)
