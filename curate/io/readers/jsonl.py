"""JSON Lines (`.jsonl`, `.ndjson`, plain, gzip or zstd): one record per line."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from curate.io.input_file import InputFile
from curate.io.readers.batch import BatchBuilder, ReadBatch, ReaderOptions, add_record, read_by_line, unparseable_reason
from curate.io.streams import BOM, Line


def _add_json_line(builder: BatchBuilder, line: Line) -> None:
    try:
        obj = orjson.loads(line.data)
    except orjson.JSONDecodeError:
        # a byte order mark inside a file: where files that began with one were concatenated
        obj = _without_bom(line.data)
        if obj is None:
            builder.reject(unparseable_reason(line.data), line.data, {"line": line.number})
            return
    add_record(builder, obj, line.data, {"line": line.number})


def _without_bom(data: bytes) -> object | None:
    if not data.startswith(BOM):
        return None
    try:
        return orjson.loads(data[len(BOM) :])
    except orjson.JSONDecodeError:
        return None


def read_jsonl(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    return read_by_line(input_file, options, _add_json_line)
