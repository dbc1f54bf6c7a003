"""Canonical rows as Parquet rows: the columns of each format, and the `meta` JSON column.

    to_arrow_row(row, fmt)        -> dict fitting output_schema(fmt)
    from_arrow_row(arrow, fmt)    -> [canonical row]   (inverse of to_arrow_row)

The format columns hold the plain form (string contents, `completion`, the system prompt where
trainers look for it). The `meta` column is json.dumps(meta, ensure_ascii=False, sort_keys=True),
"{}" when empty. Canonical keys the schema has no column for (and a non-string id) ride in meta
under "_row" and are put back by from_arrow_row.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pyarrow as pa

from curate.instruct.formats.base import PREFERENCE, Unconvertible
from curate.instruct.formats.canonical import ALPACA_KEYS, SCORE_KEYS
from curate.instruct.formats.records import get_format, read_row, write_valid_row

ROW_KEYS_IN_META = "_row"


@cache  # asked for by every step and folder writer of the format; a schema is immutable
def output_schema(fmt: str, alpaca_columns: bool = False) -> pa.Schema:
    """Columns of a Parquet row written in `fmt` (see to_arrow_row).

    alpaca_columns adds instruction/input/output string columns to an SFT format that does not
    hold them itself, so a dataset made from Alpaca data keeps its original fields beside the
    messages (null for rows without them).
    """
    spec = get_format(fmt)
    if spec.write is None:
        raise ValueError(f"{fmt} can be read but not written")
    columns = [("id", pa.string()), *spec.columns]
    if spec.kind == PREFERENCE:
        columns += [(key, pa.float64()) for key in SCORE_KEYS]
    elif alpaca_columns and not spec.alpaca_fields:
        columns += [(key, pa.string()) for key in ALPACA_KEYS]
    columns += [("source", pa.string()), ("meta", pa.string())]
    return pa.schema([pa.field(name, dtype) for name, dtype in columns])


@cache
def _column_names(fmt: str, alpaca_columns: bool) -> tuple[str, ...]:
    return tuple(output_schema(fmt, alpaca_columns).names)


def to_arrow_row(
    row: dict, fmt: str, source: str | None = None, alpaca_columns: bool = False, validated: bool = False
) -> dict:
    """A canonical row as a dict with exactly output_schema(fmt, alpaca_columns)'s columns.

    Hints and pass-through keys go to the `meta` JSON column. `source` fills the source column
    when the row has none of its own. `validated`: the row comes straight from read_row.
    """
    meta = dict(row.get("meta", {}))
    if ROW_KEYS_IN_META in meta:
        raise Unconvertible("reserved_key", f"meta key {ROW_KEYS_IN_META!r}")
    record = write_valid_row({key: value for key, value in row.items() if key != "meta"}, fmt, validated)
    arrow = dict.fromkeys(_column_names(fmt, alpaca_columns))
    beside = {}
    for key, value in record.items():
        if key in arrow:
            arrow[key] = value
        else:
            beside[key] = value
    if "id" in record and not isinstance(record["id"], str):
        arrow["id"] = str(record["id"])
        beside["id"] = record["id"]
    arrow["source"] = row.get("source", source)
    if beside:
        meta[ROW_KEYS_IN_META] = beside
    arrow["meta"] = meta_text(meta)
    return arrow


def meta_text(meta: dict | None) -> str:
    """The `meta` column's JSON text for a canonical row's meta."""
    if not meta:
        return "{}"  # most rows: no need to ask the JSON encoder
    return json.dumps(meta, ensure_ascii=False, sort_keys=True)


def rejected_row(row_id: str, source: str, reason: str, detail: str, raw: dict, meta: dict | None = None) -> dict:
    """A row of io.schema.RECORD_REJECTED_SCHEMA: what was dropped, why, and the data itself (`raw`,
    as meta_text's JSON) for the commands that reject whole records."""
    return {
        "id": row_id,
        "source": source,
        "meta": meta_text(meta),
        "reason": reason,
        "detail": detail,
        "raw": meta_text(raw).encode("utf-8"),
    }


def from_arrow_row(arrow_row: dict, fmt: str) -> list[dict]:
    """The canonical row of a Parquet row written by to_arrow_row (or any row with fmt's columns)."""
    fields = {key: value for key, value in arrow_row.items() if value is not None}
    meta = _meta_column(fields.pop("meta", None))
    fields.update(meta.pop(ROW_KEYS_IN_META, {}))
    rows = read_row(fields, fmt)
    for row in rows:
        merged = {**row.pop("meta", {}), **meta}
        if merged:
            row["meta"] = merged
    return rows


def _meta_column(value: Any) -> dict:
    if value is None or isinstance(value, dict):
        return dict(value or {})
    try:
        meta = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        meta = None
    if not isinstance(meta, dict):
        raise Unconvertible("wrong_type", "the meta column must hold a JSON object")
    return meta
