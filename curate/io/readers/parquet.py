"""Parquet: rows as documents (other columns kept as columns), or as whole records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.errors import UserError
from curate.io import remote
from curate.io.input_file import InputFile
from curate.io.readers.batch import (
    RAW_PREFIX_BYTES,
    TOO_LONG,
    BatchBuilder,
    ReadBatch,
    ReaderOptions,
    add_record,
    content_id,
)
from curate.io.schema import CORE_SCHEMA


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
        schema = remote.parquet_schema(input_file.url) if input_file.url else pq.read_schema(input_file.path)
    except (pa.ArrowException, OSError):
        return CORE_SCHEMA
    renames = _parquet_columns(schema, options, input_file.path)
    empty = _parquet_table(schema.empty_table(), renames, input_file.source)
    return empty.schema.remove_metadata()


def read_parquet(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    builder = BatchBuilder(input_file.source, options)
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
            table, missing = _split_off(table, pc.is_null(table.column("text")), "missing:text")
            table, too_long = _split_off(table, _longer(table, options.max_doc_chars), TOO_LONG)
            if too_long is not None:
                # only the start of an over-long text is kept, as the other readers keep only the start of raw
                cut = pc.utf8_slice_codeunits(too_long.column("text"), 0, RAW_PREFIX_BYTES)
                too_long = too_long.set_column(too_long.column_names.index("text"), "text", cut)
            parts = [part for part in (missing, too_long) if part is not None]
            rejected = pa.concat_tables(parts) if len(parts) > 1 else (parts[0] if parts else None)
            done += record_batch.num_rows
            yield ReadBatch(table, rejected, record_batch.num_rows, size * done // total)
    except (pa.ArrowException, OSError) as error:
        builder.reject("unparseable:parquet", str(error).encode(), {"row": done})
    if parquet.metadata.num_rows == 0:
        builder.reject("empty:file", b"", {})
    if builder.records:
        yield builder.flush(size)


def _longer(table: pa.Table, limit: int | None) -> pa.ChunkedArray | None:
    if limit is None or table.num_rows == 0:
        return None
    return pc.fill_null(pc.greater(pc.utf8_length(table.column("text")), limit), False)


def _split_off(table: pa.Table, mask: pa.ChunkedArray | None, reason: str) -> tuple[pa.Table, pa.Table | None]:
    """(rows not in `mask`, rows in it with `reason`, or None when there are none)."""
    if mask is None or not pc.any(mask).as_py():
        return table, None
    rejected = table.filter(mask)
    rejected = rejected.append_column("reason", pa.array([reason] * rejected.num_rows, pa.string()))
    return table.filter(pc.invert(mask)), rejected


def _parquet_records(parquet: pq.ParquetFile, builder: BatchBuilder, size: int) -> Iterator[ReadBatch]:
    total = max(parquet.metadata.num_rows, 1)
    row = 0
    try:
        for record_batch in parquet.iter_batches(batch_size=builder.options.batch_rows):
            for record in record_batch.to_pylist():
                row += 1
                add_record(builder, record, None, {"row": row}, from_json=False)
                if builder.full:
                    yield builder.flush(size * row // total)
    except (pa.ArrowException, OSError) as error:
        builder.reject("unparseable:parquet", str(error).encode(), {"row": row + 1})
    yield from builder.finish(size)
