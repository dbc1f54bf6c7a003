"""One exchange per row: `prompt` and `completion` (or `response`) strings."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate.instruct.formats.base import SFT, Axolotl, Format, LlamaFactory, Unconvertible
from curate.instruct.formats.canonical import assistant, require_str, user


def _read_prompt_completion(fields: dict) -> tuple[list[dict], set[str]]:
    if isinstance(fields.get("prompt"), list):
        raise Unconvertible("wrong_type", "prompt is a message list; read conversational data as messages")
    prompt = require_str(fields, "prompt")
    key = "response" if "completion" not in fields and "response" in fields else "completion"
    completion = require_str(fields, key)
    row: dict[str, Any] = {"messages": [user(prompt), assistant(completion)]}
    if key == "response":
        row["meta"] = {"completion_key": "response"}
    return [row], {"prompt", key}


def _write_prompt_completion(row: dict, meta: dict) -> dict:
    roles = [message["role"] for message in row["messages"]]
    if roles[0] == "system":
        raise Unconvertible("not_representable", "prompt-completion has no place for a system prompt")
    if roles != ["user", "assistant"]:
        raise Unconvertible("not_representable", f"prompt-completion holds one exchange, not {len(roles)} turns")
    key = "response" if meta.pop("completion_key", None) == "response" else "completion"
    return {"prompt": row["messages"][0]["content"], key: row["messages"][1]["content"]}


# An Axolotl instruct type defined inline: the prompt verbatim, loss on the completion only.
AXOLOTL_PROMPT_COMPLETION = {
    "field_instruction": "prompt",
    "field_output": "completion",
    "format": "{instruction}",
    "no_input_format": "{instruction}",
}

FORMAT = Format(
    name="prompt-completion",
    kind=SFT,
    summary="One exchange per row: `prompt` and `completion` strings (TRL's standard prompt-completion type).",
    detect=lambda record: "prompt" in record and ("completion" in record or "response" in record),
    detect_order=60,  # before alpaca: curate writes instruction/input/output beside Alpaca-made prompts
    read=_read_prompt_completion,
    write=_write_prompt_completion,
    columns=(("prompt", pa.string()), ("completion", pa.string()), ("tools", pa.string())),
    hints=frozenset({"tools_json", "completion_key"}),
    trl="`SFTTrainer` reads `prompt` and `completion` (standard prompt-completion; the loss is on the completion).",
    llamafactory=LlamaFactory(
        entry={"formatting": "alpaca", "columns": {"prompt": "prompt", "response": "completion", "tools": "tools"}}
    ),
    axolotl=Axolotl(dataset={"type": AXOLOTL_PROMPT_COMPLETION}),
)
