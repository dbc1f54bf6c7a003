"""Readers: JSONL / JSON arrays, Parquet, plain text and Common Crawl WET, into Arrow batches.

Every input record ends either as a document (`id`, `text`, `source`, `meta`) or as a
rejected row that keeps its original bytes in `raw` and says why in `reason`. Nothing a
reader meets is dropped without a row, so `records == docs + rejected` for every file.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from curate.errors import UserError
from curate.io.schema import CORE_SCHEMA, rejected_schema
from curate.io.sources import InputFile
from curate.io.streams import Line, TruncatedInput, compression_of, iter_lines, peek, read_all

READ_REJECTED_SCHEMA = rejected_schema(CORE_SCHEMA)


@dataclass(frozen=True)
class ReaderOptions:
    text_field: str = "text"
    id_field: str = "id"
    text_lines: bool = False  # plain text: one document per line instead of per file
    # Whole records instead of documents: `text` holds each record as JSON text and `meta`
    # where it was read (line or row), for commands that parse records themselves (convert,
    # render). Unreadable lines are still rejected here, with the same reasons.
    records: bool = False
    batch_rows: int = 4096
    batch_bytes: int = 32 << 20


@dataclass
class ReadBatch:
    docs: pa.Table
    rejected: pa.Table | None
    records: int  # input records this batch accounts for (docs + rejected)
    position: int  # bytes of the file on disk consumed so far, for progress


def content_id(text: str) -> str:
    """A stable id made from the text alone: identical texts share an id."""
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8", "surrogatepass"))


def _json_dumps(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits: fall back to the slower exact encoder
        import json

        return json.dumps(value, ensure_ascii=False)


@dataclass
class _BatchBuilder:
    """Collect documents and rejected rows of one file into Arrow batches."""

    source: str
    options: ReaderOptions
    ids: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    metas: list = field(default_factory=list)
    text_chars: int = 0  # characters, close enough to bytes for bounding a batch
    rejected: list = field(default_factory=list)  # (reason, raw, meta)
    records: int = 0
    total_records: int = 0

    def add(self, doc_id: str | None, text: str, meta: str = "{}") -> None:
        self.ids.append(doc_id if doc_id is not None else content_id(text))
        self.texts.append(text)
        self.metas.append(meta)
        self.text_chars += len(text)
        self.records += 1

    def reject(self, reason: str, raw: bytes | None, where: dict) -> None:
        self.rejected.append((reason, raw, _json_dumps(where)))
        self.records += 1

    @property
    def full(self) -> bool:
        return len(self.texts) >= self.options.batch_rows or self.text_chars >= self.options.batch_bytes

    def flush(self, position: int) -> ReadBatch:
        count = len(self.texts)
        docs = pa.table(
            {
                "id": pa.array(self.ids, pa.string()),
                "text": pa.array(self.texts, pa.string()),
                "source": pa.array([self.source] * count, pa.string()),
                "meta": pa.array(self.metas, pa.string()),
            },
            schema=CORE_SCHEMA,
        )
        rejected = None
        if self.rejected:
            reasons, raws, wheres = zip(*self.rejected)
            n = len(reasons)
            rejected = pa.table(
                {
                    "id": pa.nulls(n, pa.string()),
                    "text": pa.nulls(n, pa.string()),
                    "source": pa.array([self.source] * n, pa.string()),
                    "meta": pa.array(wheres, pa.string()),
                    "reason": pa.array(reasons, pa.string()),
                    "raw": pa.array(raws, pa.binary()),
                },
                schema=READ_REJECTED_SCHEMA,
            )
        batch = ReadBatch(docs, rejected, self.records, position)
        self.total_records += self.records
        self.ids, self.texts, self.metas, self.rejected = [], [], [], []
        self.text_chars = self.records = 0
        return batch

    def finish(self, position: int) -> Iterator[ReadBatch]:
        if self.records == 0 and self.total_records == 0:
            self.reject("empty:file", b"", {})
        if self.records:
            yield self.flush(position)


def _add_record(builder: _BatchBuilder, obj: object, raw: bytes | None, where: dict) -> None:
    """Add one parsed record; `raw` is its original bytes (re-encoded from `obj` if None)."""
    options = builder.options

    def reject(reason: str) -> None:
        builder.reject(reason, raw if raw is not None else _json_dumps(obj).encode(), where)

    if not isinstance(obj, dict):
        return reject("invalid:not_an_object")
    if options.records:
        return _add_whole_record(builder, obj, raw, where)
    text = obj.get(options.text_field)
    if text is None:
        return reject("missing:text")
    if not isinstance(text, str):
        return reject("invalid:text_not_a_string")
    doc_id = obj.get(options.id_field)
    if doc_id is not None and not isinstance(doc_id, str):
        doc_id = _json_dumps(doc_id) if isinstance(doc_id, (list, dict)) else str(doc_id)
    rest = {key: value for key, value in obj.items() if key != options.text_field and key != options.id_field}
    builder.add(doc_id, text, _json_dumps(rest) if rest else "{}")


def _add_whole_record(builder: _BatchBuilder, obj: dict, raw: bytes | None, where: dict) -> None:
    text = raw.decode("utf-8") if raw is not None else _json_dumps(obj)
    record_id = obj.get(builder.options.id_field)
    if record_id is not None and not isinstance(record_id, str):
        record_id = _json_dumps(record_id)
    builder.add(record_id, text.strip(), _json_dumps(where))


def _unparseable_reason(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "unparseable:utf8"
    return "unparseable:json"


def _read_by_line(
    input_file: InputFile, options: ReaderOptions, add_line: Callable[[_BatchBuilder, Line], None]
) -> Iterator[ReadBatch]:
    builder = _BatchBuilder(input_file.source, options)
    with open(input_file.path, "rb") as raw:
        for line in iter_lines(raw, compression_of(input_file.path)):
            if line.broken:
                builder.reject(line.broken, line.data, {"line": line.number})
                break
            if not line.data.strip():
                continue  # blank lines separate nothing and hold no record
            add_line(builder, line)
            if builder.full:
                yield builder.flush(raw.tell())
        yield from builder.finish(raw.tell())


def _add_json_line(builder: _BatchBuilder, line: Line) -> None:
    try:
        obj = orjson.loads(line.data)
    except orjson.JSONDecodeError:
        builder.reject(_unparseable_reason(line.data), line.data, {"line": line.number})
    else:
        _add_record(builder, obj, line.data, {"line": line.number})


def _add_text_line(builder: _BatchBuilder, line: Line) -> None:
    try:
        builder.add(None, line.data.decode("utf-8"), _json_dumps({"line": line.number}))
    except UnicodeDecodeError:
        builder.reject("unparseable:utf8", line.data, {"line": line.number})


def read_jsonl(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    return _read_by_line(input_file, options, _add_json_line)


def read_json(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    """A `.json` file: a JSON array of records, or JSON Lines under a .json name."""
    if not peek(input_file.path).lstrip().startswith(b"["):
        yield from read_jsonl(input_file, options)
        return
    builder = _BatchBuilder(input_file.source, options)
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
        builder.reject(_unparseable_reason(data), data, {})
        yield from builder.finish(size)
        return
    if not isinstance(records, list):
        records = [records]
    for number, obj in enumerate(records, start=1):
        _add_record(builder, obj, None, {"record": number})
        if builder.full:
            yield builder.flush(size * number // len(records))
    yield from builder.finish(size)


def read_text(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    if options.text_lines:
        yield from _read_by_line(input_file, options, _add_text_line)
        return
    builder = _BatchBuilder(input_file.source, options)
    try:
        data = read_all(input_file.path)
    except TruncatedInput as error:
        builder.reject(error.reason, b"", {})
    else:
        if data:
            try:
                builder.add(None, data.decode("utf-8"))
            except UnicodeDecodeError:
                builder.reject("unparseable:utf8", data, {})
    yield from builder.finish(input_file.path.stat().st_size)


def read_wet(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    """Common Crawl WET: each `conversion` record is a document; URL and date go to `meta`."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    builder = _BatchBuilder(input_file.source, options)
    number = 0
    with open(input_file.path, "rb") as raw:
        try:
            for record in ArchiveIterator(raw):
                if record.rec_type != "conversion":
                    continue  # warcinfo and metadata records describe the crawl, not documents
                number += 1
                headers = record.rec_headers
                payload = record.content_stream().read()
                meta = {"url": headers.get_header("WARC-Target-URI"), "date": headers.get_header("WARC-Date")}
                language = headers.get_header("WARC-Identified-Content-Language")
                if language:
                    meta["content_language"] = language
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    builder.reject("unparseable:utf8", payload, {"record": number, **meta})
                    continue
                record_id = (headers.get_header("WARC-Record-ID") or "").strip("<>") or None
                builder.add(record_id, text, _json_dumps(meta))
                if builder.full:
                    yield builder.flush(raw.tell())
        except (ArchiveLoadFailed, EOFError, OSError, zlib.error, ValueError) as error:
            builder.reject("unparseable:warc", str(error).encode(), {"record": number + 1})
        yield from builder.finish(raw.tell())


def _parquet_columns(schema: pa.Schema, options: ReaderOptions, path: Path) -> dict[str, str]:
    """Map the file's columns to curate's names; complain about what cannot work."""
    names = schema.names
    if options.text_field not in names:
        raise UserError(f"{path} has no column '{options.text_field}' (columns: {', '.join(names)}); pass --text-field")
    text_type = schema.field(options.text_field).type
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
        raise UserError(f"{path}: column '{options.text_field}' is {text_type}, not text; pass --text-field")
    renames = {options.text_field: "text"}
    if options.id_field in names:
        renames[options.id_field] = "id"
    for original, target in renames.items():
        if original != target and target in names:
            raise UserError(f"{path} has both '{original}' and '{target}' columns; rename one before reading")
    return renames


def _parquet_table(table: pa.Table, renames: dict[str, str], source: str) -> pa.Table:
    table = table.rename_columns([renames.get(name, name) for name in table.column_names])
    if "id" not in table.column_names:
        table = table.add_column(0, "id", pa.nulls(table.num_rows, pa.string()))
    elif table.column("id").type != pa.string():
        table = table.set_column(table.column_names.index("id"), "id", table.column("id").cast(pa.string()))
    if table.column("id").null_count:
        texts = table.column("text").to_pylist()
        ids = [
            given if given is not None else (content_id(text) if text is not None else None)
            for given, text in zip(table.column("id").to_pylist(), texts)
        ]
        table = table.set_column(table.column_names.index("id"), "id", pa.array(ids, pa.string()))
    if "source" not in table.column_names:
        table = table.append_column("source", pa.array([source] * table.num_rows, pa.string()))
    if "meta" not in table.column_names:
        table = table.append_column("meta", pa.array(["{}"] * table.num_rows, pa.string()))
    return table


def parquet_schema(input_file: InputFile, options: ReaderOptions) -> pa.Schema:
    """The schema this file's rows will have once read; CORE for an unreadable file."""
    try:
        schema = pq.read_schema(input_file.path)
    except (pa.ArrowException, OSError):
        return CORE_SCHEMA
    renames = _parquet_columns(schema, options, input_file.path)
    empty = _parquet_table(schema.empty_table(), renames, input_file.source)
    return empty.schema.remove_metadata()


def read_parquet(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    builder = _BatchBuilder(input_file.source, options)
    size = input_file.path.stat().st_size
    try:
        parquet = pq.ParquetFile(input_file.path)
    except (pa.ArrowException, OSError) as error:
        builder.reject("unparseable:parquet", str(error).encode(), {})
        yield from builder.finish(size)
        return
    if options.records:
        yield from _parquet_records(parquet, builder, size)
        return
    renames = _parquet_columns(parquet.schema_arrow, options, input_file.path)
    total = max(parquet.metadata.num_rows, 1)
    done = 0
    try:
        for record_batch in parquet.iter_batches(batch_size=options.batch_rows):
            table = _parquet_table(pa.Table.from_batches([record_batch]), renames, input_file.source)
            rejected = None
            if table.column("text").null_count:
                missing = pc.is_null(table.column("text"))
                rejected = table.filter(missing)
                rejected = rejected.append_column("reason", pa.array(["missing:text"] * rejected.num_rows, pa.string()))
                table = table.filter(pc.invert(missing))
            done += record_batch.num_rows
            yield ReadBatch(table, rejected, record_batch.num_rows, size * done // total)
    except (pa.ArrowException, OSError) as error:
        builder.reject("unparseable:parquet", str(error).encode(), {"row": done})
    if parquet.metadata.num_rows == 0:
        builder.reject("empty:file", b"", {})
    if builder.records:
        yield builder.flush(size)


def _parquet_records(parquet: pq.ParquetFile, builder: _BatchBuilder, size: int) -> Iterator[ReadBatch]:
    total = max(parquet.metadata.num_rows, 1)
    row = 0
    try:
        for record_batch in parquet.iter_batches(batch_size=builder.options.batch_rows):
            for record in record_batch.to_pylist():
                row += 1
                _add_record(builder, record, None, {"row": row})
                if builder.full:
                    yield builder.flush(size * row // total)
    except (pa.ArrowException, OSError) as error:
        builder.reject("unparseable:parquet", str(error).encode(), {"row": row + 1})
    yield from builder.finish(size)


READERS = {"jsonl": read_jsonl, "json": read_json, "text": read_text, "wet": read_wet, "parquet": read_parquet}


def read_file(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    return READERS[input_file.format](input_file, options)


def input_schema(input_file: InputFile, options: ReaderOptions) -> pa.Schema:
    if input_file.format == "parquet" and not options.records:
        return parquet_schema(input_file, options)
    return CORE_SCHEMA


__all__ = ["ReadBatch", "ReaderOptions", "content_id", "input_schema", "read_file"]
