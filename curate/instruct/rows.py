"""Read instruction and preference data as canonical rows: the one row reader of every command.

Inputs are what `curate convert` reads: files, folders (recursively), globs; JSONL, JSON and
Parquet; a finished dataset folder means its kept rows. The format is named (`--from`) or read
from each file's first record, and every file must be in the same one. convert and render
stream the records through the executor with the format found here; self-instruct's seeds,
prefs' prompts and the trainers' data are read whole with `read_rows`, failing on the first
bad record with its file and line (the user's to fix, not a row to quarantine).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from curate.errors import UserError
from curate.instruct import formats
from curate.io.fingerprint import fingerprint, input_fingerprint
from curate.io.input_file import InputFile
from curate.io.manifest import read_manifest
from curate.io.readers import ReaderOptions, read_file
from curate.io.readers.registry import RECORD_FORMATS
from curate.io.sources import SkippedInput, expand_inputs, print_skipped
from curate.pipeline.folder import KEPT

RECORDS = ReaderOptions(records=True)
RENDERED = "rendered"  # the format of rows a render folder holds as text with assistant spans
TEXT = "text"  # the kind of plain {"text": ...} rows (pretraining style), when a caller takes them


@dataclass
class Rows:
    """What `read_rows` found: the inputs' format (TEXT for plain text rows), their
    fingerprints, and the canonical rows with their place ("FILE: line N"), read lazily;
    `skipped` lists the files of input folders and globs that were not read, with why
    (`SkippedInput.to_json()` for a manifest's `skipped_inputs`)."""

    format: str
    fingerprints: list[dict]
    rows: Iterator[tuple[dict, str]]
    skipped: list[SkippedInput] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """ "sft", "preference", or TEXT."""
        return TEXT if self.format == TEXT else formats.format_kind(self.format)


def read_rows(
    inputs: list[str],
    input_format: str = "auto",
    from_format: str | None = None,
    what: str = "record",
    text_rows: bool = False,
    rendered: bool = False,
) -> Rows:
    """The canonical rows of `inputs` (every row a record gives: seed tasks give one per instance).

    `what` names a row in errors ("seed", "prompt"). `text_rows`: inputs in no known format
    whose first record has a `text` string are read as {"text", "id"} rows. `rendered`: one
    `curate render` folder without the conversation is read as {"text", "assistant_spans", "id"}
    rows, for trainers that take the text as it was rendered."""
    shards = _rendered_shards(inputs[0]) if rendered and len(inputs) == 1 else None
    if shards is not None:
        return Rows(RENDERED, [fingerprint(shard) for shard in shards], _rendered_rows(shards))
    files = expand_inputs(inputs, input_format)
    print_skipped(files.skipped)
    fingerprints = [input_fingerprint(item) for item in files]
    try:
        source = source_format(files, from_format, RECORDS)
    except UnknownFormat as error:
        if not (text_rows and isinstance(error.record.get(TEXT), str)):
            raise
        return Rows(TEXT, fingerprints, _text_rows(files), files.skipped)
    return Rows(source, fingerprints, _canonical_rows(files, source, what), files.skipped)


@dataclass(frozen=True)
class Unreadable:
    """A record the format cannot read: why (`error`), the record, and the reader's id for it
    (the record's own, or one hashed from it)."""

    error: formats.Unconvertible
    record: dict
    id: str


def rows_or_problems(inputs: list[str], input_format: str = "auto", from_format: str | None = None) -> Rows:
    """`read_rows`, for the commands that account for every record (select, translate): a record
    the format cannot read comes as (Unreadable, place) instead of stopping the run."""
    files = expand_inputs(inputs, input_format)
    print_skipped(files.skipped)
    fingerprints = [input_fingerprint(item) for item in files]
    source = source_format(files, from_format, RECORDS)

    def rows() -> Iterator[tuple[dict | Unreadable, str]]:
        for record, where, at, row_id in _records(files):
            try:
                found = canonical_rows(record, where, source, row_id)
            except formats.Unconvertible as error:
                yield Unreadable(error, record, row_id), at
                continue
            for row in found:
                yield row, at

    return Rows(source, fingerprints, rows(), files.skipped)


class UnknownFormat(UserError):
    """No format fits an input's first record (`record`)."""

    def __init__(self, message: str, record: dict) -> None:
        super().__init__(message)
        self.record = record


def first_record(input_file: InputFile, reader: ReaderOptions = RECORDS) -> dict | None:
    with closing(read_file(input_file, replace(reader, batch_rows=1))) as batches:
        for batch in batches:
            if batch.docs.num_rows:
                return (
                    batch.parsed[0] if batch.parsed is not None else orjson.loads(batch.docs.column("text")[0].as_py())
                )
    return None


def check_record_files(inputs: list[InputFile]) -> None:
    for input_file in inputs:
        if input_file.format not in RECORD_FORMATS:
            raise UserError(
                f"{input_file.source} is a {input_file.format} file; instruction data is read from JSON Lines, JSON "
                "or Parquet records (pass --input-format jsonl for JSON Lines under another name)"
            )


def source_format(inputs: list[InputFile], given: str | None, reader: ReaderOptions = RECORDS) -> str:
    """The format named by --from, or the one every input's first record shows."""
    check_record_files(inputs)
    if given:
        return given
    found: dict[str, str] = {}
    for input_file in inputs:
        record = first_record(input_file, reader)
        if record is None:
            continue
        detected = formats.detect_format(record)
        if detected is None:
            columns = ", ".join(list(record)[:8])
            raise UnknownFormat(
                f"cannot tell the format of {input_file.source} from its first record (columns: {columns}); "
                f"pass --from ({', '.join(formats.READ_FORMATS)})",
                record,
            )
        found[detected] = input_file.source
    if not found:
        raise UserError("no input holds a readable record")
    if len(found) > 1:
        listed = "; ".join(f"{name} ({path})" for name, path in found.items())
        raise UserError(f"the inputs are in different formats: {listed}; convert them separately or pass --from")
    return next(iter(found))


def canonical_rows(record: dict, where: str, fmt: str, row_id: str | None = None) -> list[dict]:
    """The canonical rows of one record read in record mode, `where` the reader's meta JSON: a
    Parquet row (a dataset folder's, at {"row": N}) holds its meta as JSON text and its unused
    columns as nulls, which from_arrow_row reads back; a JSON record is read as it is. Rows
    without an id of their own get `row_id`, the reader's."""
    parquet_row = where.startswith('{"row"')
    rows = formats.from_arrow_row(record, fmt) if parquet_row else formats.read_row(record, fmt)
    if row_id is not None:
        for row in rows:
            row.setdefault("id", row_id)
    return rows


def raw_records(inputs: list[str], input_format: str = "auto") -> Iterator[tuple[dict, str]]:
    """Every record of `inputs` as it is written (no format applied), with its place ("FILE: line N")."""
    files = expand_inputs(inputs, input_format)
    print_skipped(files.skipped)
    check_record_files(files)
    for record, _, at, _ in _records(files):
        yield record, at


def _records(files: list[InputFile]) -> Iterator[tuple[dict, str, str, str | None]]:
    """(record, where it was read, "FILE: line N", its id) of every record; stops at a bad one."""
    for input_file in files:
        for batch in read_file(input_file, RECORDS):
            if batch.rejected is not None and batch.rejected.num_rows:
                bad = batch.rejected.slice(0, 1).to_pylist()[0]
                raise UserError(f"{input_file.source}: {place(bad['meta'])} is not a readable record ({bad['reason']})")
            columns = batch.docs.select(["id", "text", "meta"]).to_pydict()
            # JSON records come parsed by the reader; Parquet rows are read back from their JSON text
            records = batch.parsed if batch.parsed is not None else map(orjson.loads, columns["text"])
            for record, row_id, meta in zip(records, columns["id"], columns["meta"]):
                yield record, meta, f"{input_file.source}: {place(meta)}", row_id


def _canonical_rows(files: list[InputFile], fmt: str, what: str) -> Iterator[tuple[dict, str]]:
    for record, where, at, row_id in _records(files):
        try:
            rows = canonical_rows(record, where, fmt, row_id)
        except formats.Unconvertible as error:
            raise UserError(f"{at} is not a {fmt} {what}: {error}") from None
        for row in rows:
            yield row, at


def _text_rows(files: list[InputFile]) -> Iterator[tuple[dict, str]]:
    for record, _, at, _ in _records(files):
        text = record.get(TEXT)
        if not isinstance(text, str):
            raise UserError(f"{at} has no text (the {TEXT} column must hold strings)")
        row = {TEXT: text}
        if record.get("id") is not None:
            row["id"] = record["id"]
        yield row, at


def place(meta: str) -> str:
    """`line N`, `record N` or `row N` from a reader's meta JSON."""
    found = orjson.loads(meta) if meta else {}
    for key in ("line", "record", "row"):
        if key in found:
            return f"{key} {found[key]}"
    return "a record"


def _rendered_shards(argument: str) -> list[Path] | None:
    """The data shards of a `curate render` folder whose rendering is the only way to read it (no
    `messages`: --columns prompt-completion or text); None for any other input."""
    folder = Path(argument)
    manifest = read_manifest(folder) if folder.is_dir() else None
    if not manifest or manifest.get("command") != "render" or manifest.get("dry_run"):
        return None
    if any(column["name"] == "messages" for column in manifest["schema"][KEPT]):
        return None  # --columns all: the conversation, rendered again by whoever reads it
    return [folder / item["path"] for item in manifest["shards"][KEPT]]


def _rendered_rows(shards: list[Path]) -> Iterator[tuple[dict, str]]:
    """Rendered rows as text with assistant spans: every turn's span when the folder has them,
    else the completion after the prompt."""
    for shard in shards:
        for number, row in enumerate(pq.read_table(shard).to_pylist(), start=1):
            if row.get("assistant_spans"):
                spans = [(span["start"], span["end"]) for span in row["assistant_spans"]]
                rendered = {"text": row["text"], "assistant_spans": spans}
            else:
                text = row["prompt"] + row["completion"]
                rendered = {"text": text, "assistant_spans": [(len(row["prompt"]), len(text))]}
            if row.get("id") is not None:
                rendered["id"] = row["id"]
            yield rendered, f"{shard}: row {number}"
