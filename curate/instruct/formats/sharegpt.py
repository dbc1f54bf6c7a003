"""ShareGPT conversations: `conversations` of {from, value} turns, the system prompt in `system`."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate.instruct.formats.base import SFT, SHAREGPT_TURN, Axolotl, Format, LlamaFactory
from curate.instruct.formats.messages import TOOLS_NOTE
from curate.instruct.formats.messages_io import (
    SHAREGPT_FROM,
    read_sharegpt_conversation,
    write_sharegpt_conversation,
)


def _read_sharegpt(fields: dict) -> tuple[list[dict], set[str]]:
    used = {"conversations"}
    messages, meta = read_sharegpt_conversation(fields, used, "message_extras", default_placement="top")
    row: dict[str, Any] = {"messages": messages}
    if meta:
        row["meta"] = meta
    return [row], used


def _write_sharegpt(row: dict, meta: dict) -> dict:
    turns, system = write_sharegpt_conversation(row["messages"], meta, "message_extras", default_placement="top")
    record: dict[str, Any] = {"conversations": turns}
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
AXOLOTL_ROLES = {role: [SHAREGPT_FROM[role]] for role in ("user", "assistant", "system", "tool")}


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
