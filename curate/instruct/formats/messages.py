"""OpenAI-style chat: `messages` is a list of {role, content}."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate.instruct.formats.base import MESSAGE_LIST, SFT, Axolotl, Format, LlamaFactory
from curate.instruct.formats.canonical import require
from curate.instruct.formats.messages_io import read_openai_messages, write_openai_messages


def _read_messages(fields: dict) -> tuple[list[dict], set[str]]:
    messages, extras, layouts = read_openai_messages(require(fields, "messages"), "messages")
    row: dict[str, Any] = {"messages": messages}
    hints = {"message_extras": extras, "content_parts": layouts}
    hints = {key: value for key, value in hints.items() if value is not None}
    if hints:
        row["meta"] = hints
    return [row], {"messages"}


def _write_messages(row: dict, meta: dict) -> dict:
    extras, layouts = meta.pop("message_extras", None), meta.pop("content_parts", None)
    return {"messages": write_openai_messages(row["messages"], extras, layouts, "messages")}


TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "observation_tag": "tool",
    "function_tag": "function_call",
    "system_tag": "system",
}


TOOLS_NOTE = (
    "`tools` holds JSON text; Axolotl's chat_template wants a list of objects there, so parse it "
    "first (or drop the column) when rows carry tools. function_call turns need a role your chat "
    "template knows."
)

# Axolotl's entry for a `messages` column, rendered with the config's chat template.
AXOLOTL_CHAT_TEMPLATE = {
    "type": "chat_template",
    "field_messages": "messages",
    "message_property_mappings": {"role": "role", "content": "content"},
    "roles_to_train": ["assistant"],
}


FORMAT = Format(
    name="messages",
    kind=SFT,
    summary="OpenAI-style chat: `messages` is a list of {role, content}; roles are system, user, "
    "assistant, function_call and tool.",
    detect=lambda record: "messages" in record,
    detect_order=30,
    read=_read_messages,
    write=_write_messages,
    columns=(("messages", MESSAGE_LIST), ("tools", pa.string())),
    hints=frozenset({"tools_json", "message_extras", "content_parts"}),
    trl="`SFTTrainer` reads the `messages` column as conversational language modeling. "
    "Drop or parse `tools` (JSON text) if your chat template takes tools.",
    llamafactory=LlamaFactory(
        entry={"formatting": "sharegpt", "columns": {"messages": "messages", "tools": "tools"}, "tags": TAGS}
    ),
    axolotl=Axolotl(
        dataset=AXOLOTL_CHAT_TEMPLATE,
        comments=(TOOLS_NOTE,),
        note=TOOLS_NOTE,
    ),
)
