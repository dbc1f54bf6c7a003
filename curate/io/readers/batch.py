"""What every reader shares: its options, the batches it yields, and the builder that turns
records into documents or rejected rows (each with its original bytes and a reason)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import xxhash

from curate.io.input_file import InputFile
from curate.io.schema import CORE_SCHEMA, rejected_schema
from curate.io.streams import Line, compression_of, iter_lines

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
    # Longer documents (characters; whole records in record mode) are rejected as they are
    # read, as TOO_LONG, keeping only the first RAW_PREFIX_BYTES of their bytes. None: no limit.
    max_doc_chars: int | None = None


TOO_LONG = "too_long:chars"
RAW_PREFIX_BYTES = 64 << 10


@dataclass
class ReadBatch:
    docs: pa.Table
    rejected: pa.Table | None
    records: int  # input records this batch accounts for (docs + rejected)
    position: int  # bytes of the file on disk consumed so far, for progress
    # In record mode, the parsed record of every document, in order: steps that read records take
    # them instead of parsing `text` again (Step.reads_records).
    parsed: list[dict] | None = None


def content_id(text: str) -> str:
    """A stable id made from the text alone: identical texts share an id."""
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8", "surrogatepass"))


def json_dumps(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits: fall back to the slower exact encoder
        import json

        return json.dumps(value, ensure_ascii=False)


@dataclass
class BatchBuilder:
    """Collect documents and rejected rows of one file into Arrow batches."""

    source: str
    options: ReaderOptions
    ids: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    metas: list = field(default_factory=list)
    text_chars: int = 0  # characters, close enough to bytes for bounding a batch
    rejected: list = field(default_factory=list)  # (reason, raw, meta, id)
    parsed: list = field(default_factory=list)  # record mode: each document's parsed record
    records: int = 0
    total_records: int = 0

    def add(
        self,
        doc_id: str | None,
        text: str,
        meta: str = "{}",
        parsed: dict | None = None,
        *,
        where: dict | None = None,
        raw: bytes | None = None,
    ) -> None:
        """Add a document; one over `max_doc_chars` becomes a TOO_LONG row instead, `where` (the
        record's place) and its length in its meta, the start of `raw` (or of `text`) in raw."""
        limit = self.options.max_doc_chars
        if limit is not None and len(text) > limit:
            prefix = raw[:RAW_PREFIX_BYTES] if raw is not None else _text_prefix(text)
            size = len(raw) if raw is not None else len(text.encode("utf-8", "surrogatepass"))
            found = {**(where or {}), "chars": len(text), "bytes": size}
            self.reject(TOO_LONG, prefix, found, doc_id if doc_id is not None else content_id(text))
            return
        if parsed is not None:
            self.parsed.append(parsed)
        self.ids.append(doc_id if doc_id is not None else content_id(text))
        self.texts.append(text)
        self.metas.append(meta)
        self.text_chars += len(text)
        self.records += 1

    def reject(self, reason: str, raw: bytes | None, where: dict, doc_id: str | None = None) -> None:
        self.rejected.append((reason, raw, json_dumps(where), doc_id))
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
            reasons, raws, wheres, ids = zip(*self.rejected)
            n = len(reasons)
            rejected = pa.table(
                {
                    "id": pa.array(ids, pa.string()),
                    "text": pa.nulls(n, pa.string()),
                    "source": pa.array([self.source] * n, pa.string()),
                    "meta": pa.array(wheres, pa.string()),
                    "reason": pa.array(reasons, pa.string()),
                    "raw": pa.array(raws, pa.binary()),
                },
                schema=READ_REJECTED_SCHEMA,
            )
        parsed = self.parsed if self.options.records and len(self.parsed) == count else None
        batch = ReadBatch(docs, rejected, self.records, position, parsed)
        self.total_records += self.records
        self.ids, self.texts, self.metas, self.rejected, self.parsed = [], [], [], [], []
        self.text_chars = self.records = 0
        return batch

    def finish(self, position: int) -> Iterator[ReadBatch]:
        if self.records == 0 and self.total_records == 0:
            self.reject("empty:file", b"", {})
        if self.records:
            yield self.flush(position)


def add_record(builder: BatchBuilder, obj: object, raw: bytes | None, where: dict, from_json: bool = True) -> None:
    """Add one parsed record; `raw` is its original bytes (re-encoded from `obj` if None).
    `from_json`: `obj` came from parsing JSON, so in record mode it is kept for the steps as it is
    (a Parquet row's values, dates say, would differ from its JSON text read back)."""
    options = builder.options

    def reject(reason: str) -> None:
        builder.reject(reason, raw if raw is not None else json_dumps(obj).encode(), where)

    if not isinstance(obj, dict):
        return reject("invalid:not_an_object")
    if options.records:
        return add_whole_record(builder, obj, raw, where, from_json)
    text = obj.get(options.text_field)
    if text is None:
        return reject("missing:text")
    if not isinstance(text, str):
        return reject("invalid:text_not_a_string")
    doc_id = obj.get(options.id_field)
    if doc_id is not None and not isinstance(doc_id, str):
        doc_id = json_dumps(doc_id) if isinstance(doc_id, (list, dict)) else str(doc_id)
    if options.max_doc_chars is not None and len(text) > options.max_doc_chars:
        builder.add(doc_id, text, where=where, raw=raw)  # rejected: no need to encode the other fields
        return
    rest = {key: value for key, value in obj.items() if key != options.text_field and key != options.id_field}
    builder.add(doc_id, text, json_dumps(rest) if rest else "{}")


def add_whole_record(builder: BatchBuilder, obj: dict, raw: bytes | None, where: dict, from_json: bool = True) -> None:
    text = raw.decode("utf-8") if raw is not None else json_dumps(obj)
    record_id = obj.get(builder.options.id_field)
    if record_id is not None and not isinstance(record_id, str):
        record_id = json_dumps(record_id)
    builder.add(record_id, text.strip(), json_dumps(where), obj if from_json else None, where=where, raw=raw)


def _text_prefix(text: str) -> bytes:
    # a character is at most 4 bytes: encode no more of a long text than the prefix keeps
    return text[:RAW_PREFIX_BYTES].encode("utf-8", "surrogatepass")[:RAW_PREFIX_BYTES]


def unparseable_reason(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "unparseable:utf8"
    return "unparseable:json"


def read_by_line(
    input_file: InputFile, options: ReaderOptions, add_line: Callable[[BatchBuilder, Line], None]
) -> Iterator[ReadBatch]:
    builder = BatchBuilder(input_file.source, options)
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
