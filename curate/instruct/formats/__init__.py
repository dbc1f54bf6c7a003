"""Instruction and preference data formats, one module each, through one canonical row.

    read_row(record, fmt)        -> [canonical row, ...]   (validated; records.py)
    write_row(row, fmt)          -> record in fmt          (validated; records.py)
    to_arrow_row(row, fmt)       -> dict fitting output_schema(fmt)   (arrow.py)
    from_arrow_row(arrow, fmt)   -> [canonical row]

A format is one module here that builds a `Format` (base.py: detection, reader, writer,
columns, hints, and how TRL, LLaMA-Factory and Axolotl read it), listed once in registry.py.
Nothing here does file IO.
"""

from __future__ import annotations

from curate.instruct.formats.arrow import from_arrow_row, meta_text, output_schema, rejected_row, to_arrow_row
from curate.instruct.formats.base import MESSAGE_LIST, PREFERENCE, REASONS, SFT, Format, Unconvertible
from curate.instruct.formats.canonical import ALPACA_KEYS, SCORE_KEYS, validate_row
from curate.instruct.formats.records import detect_format, format_kind, get_format, read_row, write_row
from curate.instruct.formats.registry import FORMATS

SFT_FORMATS = tuple(name for name, spec in FORMATS.items() if spec.kind == SFT)
PREFERENCE_FORMATS = tuple(name for name, spec in FORMATS.items() if spec.kind == PREFERENCE)
READ_FORMATS = SFT_FORMATS + PREFERENCE_FORMATS
WRITE_FORMATS = tuple(name for name in READ_FORMATS if FORMATS[name].writable)

__all__ = [
    "ALPACA_KEYS",
    "FORMATS",
    "MESSAGE_LIST",
    "PREFERENCE",
    "PREFERENCE_FORMATS",
    "READ_FORMATS",
    "REASONS",
    "SCORE_KEYS",
    "SFT",
    "SFT_FORMATS",
    "WRITE_FORMATS",
    "Format",
    "Unconvertible",
    "detect_format",
    "format_kind",
    "from_arrow_row",
    "get_format",
    "meta_text",
    "output_schema",
    "read_row",
    "rejected_row",
    "to_arrow_row",
    "validate_row",
    "write_row",
]
