"""Plain text (`.txt`): one document per file, or per line with --text-lines."""

from __future__ import annotations

from collections.abc import Iterator

from curate.io.input_file import InputFile
from curate.io.readers.batch import BatchBuilder, ReadBatch, ReaderOptions, json_dumps, read_by_line
from curate.io.streams import Line, TruncatedInput, read_all


def _add_text_line(builder: BatchBuilder, line: Line) -> None:
    try:
        where = {"line": line.number}
        builder.add(None, line.data.decode("utf-8"), json_dumps(where), where=where, raw=line.data)
    except UnicodeDecodeError:
        builder.reject("unparseable:utf8", line.data, {"line": line.number})


def read_text(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    if options.text_lines:
        yield from read_by_line(input_file, options, _add_text_line)
        return
    builder = BatchBuilder(input_file.source, options)
    try:
        data = read_all(input_file.path)
    except TruncatedInput as error:
        builder.reject(error.reason, b"", {})
    else:
        if data:
            try:
                builder.add(None, data.decode("utf-8"), raw=data)
            except UnicodeDecodeError:
                builder.reject("unparseable:utf8", data, {})
    yield from builder.finish(input_file.path.stat().st_size)
