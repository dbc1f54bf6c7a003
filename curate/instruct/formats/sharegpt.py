"""ShareGPT conversations: `conversations` of {from, value} turns, the system prompt in `system`."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate.instruct.formats.base import SFT, SHAREGPT_TURN, Axolotl, Format, LlamaFactory
from curate.instruct.formats.canonical import hint_for, require
from curate.instruct.formats.messages import TOOLS_NOTE
from curate.instruct.formats.messages_io import (
    placement_hint,
    read_sharegpt_turns,
    split_system_for_sharegpt,
    with_top_level_system,
    write_sharegpt_turns,
)


def _read_sharegpt(fields: dict) -> tuple[list[dict], set[str]]:
    used = {"conversations"}
    messages, extras = read_sharegpt_turns(require(fields, "conversations"), "conversations")
    placement = with_top_level_system(fields, messages, extras, used)
    meta = placement_hint(placement, default="top")
    if any(extras):
        meta["message_extras"] = extras
    row: dict[str, Any] = {"messages": messages}
    if meta:
        row["meta"] = meta
    return [row], used


def _write_sharegpt(row: dict, meta: dict) -> dict:
    messages = row["messages"]
    extras = hint_for(messages, meta.pop("message_extras", None), "message_extras", {})
    placement = meta.pop("system_placement", "top")
    system, messages, extras = split_system_for_sharegpt(messages, extras, placement)
    record: dict[str, Any] = {"conversations": write_sharegpt_turns(messages, extras, "conversations")}
    if system is not None:
        record["system"] = system
    return record


TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


# Axolotl's role names for the ShareGPT senders.
AXOLOTL_ROLES = {"user": ["human"], "assistant": ["gpt"], "system": ["system"], "tool": ["observation"]}


FORMAT = Format(
    name="sharegpt",
    kind=SFT,
    summary="ShareGPT conversations: `conversations` is a list of {from, value} with from in human, gpt, "
    "function_call, observation; the system prompt is the `system` column.",
    detect=lambda record: "conversations" in record,
    detect_order=20,
    read=_read_sharegpt,
    write=_write_sharegpt,
    columns=(("conversations", pa.list_(SHAREGPT_TURN)), ("system", pa.string()), ("tools", pa.string())),
    hints=frozenset({"tools_json", "message_extras", "system_placement"}),
    llamafactory=LlamaFactory(
        entry={
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
            "tags": TAGS,
        }
    ),
    axolotl=Axolotl(
        dataset={
            "type": "chat_template",
            "field_messages": "conversations",
            "message_property_mappings": {"role": "from", "content": "value"},
            "roles": AXOLOTL_ROLES,
            "roles_to_train": ["assistant"],
        },
        comments=(TOOLS_NOTE,),
        note=TOOLS_NOTE,
        needs_values={
            "system": "Axolotl 0.19's chat_template loader turns a missing system prompt into a None turn that no "
            "template renders; write `--to messages` for Axolotl (a system prompt is then a turn)"
        },
    ),
)
