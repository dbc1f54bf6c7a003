"""Records in any format to canonical rows and back, through each format's reader and writer.

    read_row(record, fmt)   -> [canonical row, ...]   (validated)
    write_row(row, fmt)     -> record in fmt          (validated)

Record keys a format does not use travel in row["meta"], together with a few hints that let
write_row restore a record exactly (which key held the answer, per-message extras, where the
system prompt sat; each format's `hints`). Meta keys a format does not consume as hints become
top-level keys of the record it writes, and top-level keys it does not use become meta keys
again when read.

write_row checks its own output: read_row(write_row(row, fmt), fmt) gives back `row` (up to
fmt's own hints), or write_row raises Unconvertible("not_representable", ...). The one
addition: rows read from a format that holds Alpaca's fields always carry instruction/input/
output, so a row without them comes back from alpaca with the ones it derived.
"""

from __future__ import annotations

import json
from typing import Any

from curate.instruct.formats.base import PREFERENCE, SFT, Format, Unconvertible
from curate.instruct.formats.canonical import (
    ALPACA_KEYS,
    SCORE_KEYS,
    alpaca_keys_fit,
    is_id,
    is_number,
    validate_row,
)
from curate.instruct.formats.registry import FORMATS


def get_format(name: str) -> Format:
    """The format named `name`; ValueError naming the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; expected one of {', '.join(FORMATS)}") from None


def format_kind(name: str) -> str:
    """ "sft" or "preference"."""
    return get_format(name).kind


def detect_format(record: dict) -> str | None:
    """The format a record is in, judged by its keys; None when no format fits."""
    if not isinstance(record, dict):
        return None
    for spec in sorted(FORMATS.values(), key=lambda spec: spec.detect_order):
        if spec.detect(record):
            return spec.name
    return None


def read_row(record: dict, fmt: str) -> list[dict]:
    """Canonical rows (validated) from one record in `fmt`; one row, or one per seed-task instance."""
    spec = get_format(fmt)
    rows = _read_rows(record, spec)
    for row in rows:
        validate_row(row, spec.kind)
    return rows


def _read_rows(record: dict, spec: Format) -> list[dict]:
    if not isinstance(record, dict):
        raise Unconvertible("wrong_type", "a record is a JSON object")
    if not spec.hints.isdisjoint(record):
        reserved = sorted(spec.hints.intersection(record))
        raise Unconvertible("reserved_key", f"{', '.join(reserved)} (kept by curate for {spec.name} hints)")
    # Null values count as absent; they travel in meta so writing back restores them.
    fields = {key: value for key, value in record.items() if value is not None}
    rows, used = spec.read(fields)
    common, hints = _read_common(fields, spec.kind, used)
    lift = spec.kind == SFT and not spec.alpaca_fields
    finished = []
    for row in rows:
        if common:
            row = {**common, **row}
        if lift:
            _lift_alpaca_keys(fields, row, used)
        finished.append(row)
    # Every row of a conversion passes here twice: the common case, nothing passed through and no
    # hints, skips building merged dicts.
    passed_through = {key: value for key, value in record.items() if key not in used} if len(used) < len(record) else {}
    for row in finished:
        if passed_through or hints or "meta" in row:
            meta = {**passed_through, **hints, **row.pop("meta", {})}
            if meta:
                row["meta"] = meta
    return finished


def write_row(row: dict, fmt: str) -> dict:
    """The record in `fmt` for a canonical row; read_row gives the row back from it."""
    return write_valid_row(row, fmt, validated=False)


def write_valid_row(row: dict, fmt: str, validated: bool) -> dict:
    """`write_row`, skipping the validation of a row `read_row` has just given (`validated`)."""
    spec = get_format(fmt)
    if spec.write is None:
        raise ValueError(f"{fmt} can be read but not written")
    if not validated:
        validate_row(row, spec.kind)
    meta = dict(row.get("meta", {}))
    record = spec.write(row, meta)
    _write_common(record, row, meta, spec)
    for key, value in meta.items():
        if key in record and record[key] != value:
            raise Unconvertible("not_representable", f"meta key {key!r} clashes with a {fmt} field")
        record[key] = value
    _check_reads_back(record, row, spec)
    return record


def _check_reads_back(record: dict, row: dict, spec: Format) -> None:
    # Not validated again: what reads back equal to `row`, which write_row validated, is valid
    # (validation never looks at the hints left out of the comparison).
    try:
        again = _read_rows(record, spec)
    except Unconvertible as error:
        raise Unconvertible("not_representable", f"{spec.name} would not read it back ({error})") from None
    if len(again) != 1:
        raise Unconvertible("not_representable", f"{spec.name} would read it back as {len(again)} rows")
    back = again[0]
    if spec.alpaca_fields and "instruction" not in row:
        back = {key: value for key, value in back.items() if key not in ALPACA_KEYS}
    if not _same_without_hints(back, row, spec):
        raise Unconvertible("not_representable", f"{spec.name} would read it back differently")


def _same_without_hints(back: dict, row: dict, spec: Format) -> bool:
    if "meta" not in back and "meta" not in row:  # the common case, compared without copies
        return back == row
    return _without_hints(back, spec) == _without_hints(row, spec)


def _without_hints(row: dict, spec: Format) -> dict:
    meta = {key: value for key, value in row.get("meta", {}).items() if key not in spec.hints}
    bare = {key: value for key, value in row.items() if key != "meta"}
    return {**bare, "meta": meta} if meta else bare


# ---------------------------------------------------------------------------------------------
# Keys every format of a kind carries at the top level: id, source, tools / scores, alpaca keys


def _read_common(fields: dict, kind: str, used: set[str]) -> tuple[dict, dict]:
    """(canonical keys, hints) lifted from the top level of a record."""
    row: dict[str, Any] = {}
    hints: dict[str, Any] = {}
    if is_id(fields.get("id")):
        row["id"] = fields["id"]
        used.add("id")
    if isinstance(fields.get("source"), str):
        row["source"] = fields["source"]
        used.add("source")
    if kind == SFT:
        _read_tools(fields, row, hints, used)
    else:
        for key in SCORE_KEYS:
            if key in fields:
                if not is_number(fields[key]):
                    raise Unconvertible("not_a_number", key)
                row[key] = fields[key]
                used.add(key)
    return row, hints


def _read_tools(fields: dict, row: dict, hints: dict, used: set[str]) -> None:
    tools = fields.get("tools")
    if tools is None or tools == "":
        return
    if isinstance(tools, (list, dict)):
        # Tool schemas given as JSON values are kept as JSON text and turned back on writing.
        row["tools"] = json.dumps(tools, ensure_ascii=False)
        hints["tools_json"] = True
    elif isinstance(tools, str):
        row["tools"] = tools
    else:
        raise Unconvertible("not_a_string", "tools")
    used.add("tools")


def _lift_alpaca_keys(fields: dict, row: dict, used: set[str]) -> None:
    """Top-level instruction/input/output beside a conversation, when they match its end."""
    keys = {key: fields[key] for key in ALPACA_KEYS if key in fields}
    if keys and alpaca_keys_fit(row["messages"], keys):
        row.update(keys)
        used.update(keys)


def _write_common(record: dict, row: dict, meta: dict, spec: Format) -> None:
    for key in ("id", "source"):
        if key in row:
            record[key] = row[key]
    as_json = meta.pop("tools_json", False)
    if spec.kind == PREFERENCE:
        record.update({key: row[key] for key in SCORE_KEYS if key in row})
        return
    if "tools" in row:
        record["tools"] = _tools_value(row["tools"], as_json)
    if not spec.alpaca_fields:
        record.update({key: row[key] for key in ALPACA_KEYS if key in row})


def _tools_value(tools: str, as_json: bool) -> Any:
    if not as_json:
        return tools
    try:
        return json.loads(tools)
    except json.JSONDecodeError:
        raise Unconvertible("not_representable", "tools were JSON values and are no longer valid JSON") from None
