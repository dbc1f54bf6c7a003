"""LLaMA-Factory's ranking ShareGPT: `conversations` is the prompt, `chosen` and `rejected` one {from, value} turn each."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate.instruct.formats.base import PREFERENCE, SHAREGPT_TURN, Axolotl, Format, LlamaFactory, Unconvertible
from curate.instruct.formats.canonical import hint_for, require
from curate.instruct.formats.messages_io import (
    PREFERENCE_PART_HINTS,
    read_sharegpt_conversation,
    read_sharegpt_turn,
    write_sharegpt_conversation,
    write_sharegpt_turns,
)
from curate.instruct.formats.sharegpt import TAGS


def _read_sharegpt_preference(fields: dict) -> tuple[list[dict], set[str]]:
    used = {"conversations", "chosen", "rejected"}
    prompt, meta = read_sharegpt_conversation(fields, used, "prompt_extras", default_placement="conversations")
    row: dict[str, Any] = {"prompt": prompt}
    for side in ("chosen", "rejected"):
        message, side_extras = read_sharegpt_turn(require(fields, side), side)
        if message["role"] != "assistant":
            raise Unconvertible("not_representable", f"{side} is a {message['role']} turn, not a gpt answer")
        row[side] = [message]
        if side_extras:
            meta[f"{side}_extras"] = [side_extras]
    if meta:
        row["meta"] = meta
    return [row], used


def _write_sharegpt_preference(row: dict, meta: dict) -> dict:
    turns, system = write_sharegpt_conversation(row["prompt"], meta, "prompt_extras", default_placement="conversations")
    record: dict[str, Any] = {"conversations": turns}
    for side in ("chosen", "rejected"):
        side_extras = hint_for(row[side], meta.pop(f"{side}_extras", None), f"{side}_extras", {})
        record[side] = write_sharegpt_turns(row[side], side_extras, side)[0]
    if system is not None:
        record["system"] = system
    return record


FORMAT = Format(
    name="sharegpt-preference",
    kind=PREFERENCE,
    summary="LLaMA-Factory ranking ShareGPT: `conversations` is the prompt (a system "
    "prompt is its first turn), `chosen` and `rejected` are one {from: gpt, value} turn each.",
    detect=lambda record: "conversations" in record and "chosen" in record and "rejected" in record,
    detect_order=10,
    read=_read_sharegpt_preference,
    write=_write_sharegpt_preference,
    columns=(("conversations", pa.list_(SHAREGPT_TURN)), ("chosen", SHAREGPT_TURN), ("rejected", SHAREGPT_TURN)),
    hints=frozenset({*PREFERENCE_PART_HINTS, "system_placement"}),
    llamafactory=LlamaFactory(
        entry={
            "formatting": "sharegpt",
            "ranking": True,
            "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
            "tags": TAGS,
        }
    ),
    axolotl=Axolotl(
        cannot="Axolotl 0.19 keeps only field_messages, field_chosen and field_rejected of a DPO dataset (it drops "
        "message_property_mappings and roles), so its chat_template.default cannot read ShareGPT's from/value turns; "
        "write `--to preference` for Axolotl"
    ),
)
