"""`.json`: a JSON array of records (or JSON Lines under a .json name)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from curate.io.input_file import InputFile
from curate.io.readers.batch import BatchBuilder, ReadBatch, ReaderOptions, add_record, unparseable_reason
from curate.io.readers.jsonl import read_jsonl
from curate.io.streams import TruncatedInput, peek, read_all


def read_json(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    """A `.json` file: a JSON array of records, or JSON Lines under a .json name."""
    if not peek(input_file.path).lstrip().startswith(b"["):
        yield from read_jsonl(input_file, options)
        return
    builder = BatchBuilder(input_file.source, options)
    size = input_file.path.stat().st_size
    try:
        data = read_all(input_file.path)
    except TruncatedInput as error:
        builder.reject(error.reason, b"", {})
        yield from builder.finish(size)
        return
    try:
        records = orjson.loads(data)
    except orjson.JSONDecodeError:
        builder.reject(unparseable_reason(data), data, {})
        yield from builder.finish(size)
        return
    if not isinstance(records, list):
        records = [records]
    for number, obj in enumerate(records, start=1):
        add_record(builder, obj, None, {"record": number})
        if builder.full:
            yield builder.flush(size * number // len(records))
    yield from builder.finish(size)
