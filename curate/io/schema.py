"""Column layout of corpus rows and rejected rows, and fitting tables to a layout."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa

CORE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("source", pa.string()),
        pa.field("meta", pa.string()),
    ]
)
# Every rejected row says why; a row that could not be parsed keeps its original bytes.
REJECTED_FIELDS = [pa.field("reason", pa.string()), pa.field("raw", pa.binary())]
# The rejected rows of commands that read whole records (convert, render, self-instruct, prefs):
# where the record was, why it went, the particulars, and the record's original bytes.
RECORD_REJECTED_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("meta", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("raw", pa.binary()),
    ]
)


def with_columns(schema: pa.Schema, columns: Mapping[str, pa.DataType]) -> pa.Schema:
    """Append columns not already present, keeping the existing order."""
    for name, dtype in columns.items():
        if schema.get_field_index(name) == -1:
            schema = schema.append(pa.field(name, dtype))
    return schema


def set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """Replace column `name`, or append it when `table` has none (a re-run over our own output)."""
    index = table.schema.get_field_index(name)
    if index == -1:
        return table.append_column(name, values)
    return table.set_column(index, name, values)


def rejected_schema(kept: pa.Schema, extra: Iterable[pa.Field] = ()) -> pa.Schema:
    schema = kept
    for field in [*extra, *REJECTED_FIELDS]:
        if schema.get_field_index(field.name) == -1:
            schema = schema.append(field)
    return schema


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Return `table` with exactly `schema`'s columns, in order; absent columns are null."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            if column.type != field.type:
                column = column.cast(field.type)
            columns.append(column)
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)
