"""Alpaca records: instruction, input, output, with optional system and history (LLaMA-Factory's [user, assistant] pairs)."""

from __future__ import annotations

import pyarrow as pa

from curate.instruct.formats.base import SFT, Axolotl, Format, LlamaFactory, Unconvertible
from curate.instruct.formats.canonical import (
    ALPACA_KEYS,
    assistant,
    compose_user_turn,
    derived_alpaca_keys,
    optional_text,
    require_str,
    user,
)


def _read_alpaca(fields: dict) -> tuple[list[dict], set[str]]:
    used = {"instruction", "output"}
    instruction = require_str(fields, "instruction")
    output = require_str(fields, "output")
    keys = {"instruction": instruction, "output": output}
    if "input" in fields:
        keys["input"] = require_str(fields, "input")
        used.add("input")
    messages = []
    system = optional_text(fields, "system", used)
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages += _read_history(fields, used)
    messages += [user(compose_user_turn(instruction, keys.get("input", ""))), assistant(output)]
    return [{"messages": messages, **keys}], used


def _read_history(fields: dict, used: set[str]) -> list[dict]:
    history = fields.get("history")
    if history is None or history == []:
        return []
    if not isinstance(history, list):
        raise Unconvertible("wrong_type", "history must be a list of [user, assistant] pairs")
    messages = []
    for index, pair in enumerate(history):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(text, str) for text in pair)):
            raise Unconvertible("wrong_type", f"history[{index}] must be a [user, assistant] pair of strings")
        messages += [user(pair[0]), assistant(pair[1])]
    used.add("history")
    return messages


def _write_alpaca(row: dict, meta: dict) -> dict:
    messages = row["messages"]
    if any(message["role"] in ("function_call", "tool") for message in messages):
        raise Unconvertible("not_representable", "alpaca has no place for tool calls")
    system = messages[0]["content"] if messages[0]["role"] == "system" else None
    body = messages[1:] if system is not None else messages
    # Validation guarantees user/assistant alternation ending with an answer.
    pairs = [[body[index]["content"], body[index + 1]["content"]] for index in range(0, len(body), 2)]
    keys = {key: row[key] for key in ALPACA_KEYS if key in row} or derived_alpaca_keys(messages)
    record = dict(keys)
    if system is not None:
        record["system"] = system
    if len(pairs) > 1:
        record["history"] = pairs[:-1]
    return record


FORMAT = Format(
    name="alpaca",
    kind=SFT,
    summary="Alpaca records: `instruction`, `input`, `output`, with optional `system` and `history` "
    "([user, assistant] pairs, LLaMA-Factory's convention).",
    detect=lambda record: "instruction" in record and "output" in record,
    detect_order=80,
    read=_read_alpaca,
    write=_write_alpaca,
    columns=(
        ("instruction", pa.string()),
        ("input", pa.string()),
        ("output", pa.string()),
        ("system", pa.string()),
        ("history", pa.list_(pa.list_(pa.string()))),
        ("tools", pa.string()),
    ),
    hints=frozenset({"tools_json"}),
    alpaca_fields=True,
    llamafactory=LlamaFactory(
        entry={
            "formatting": "alpaca",
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
                "history": "history",
                "tools": "tools",
            },
        },
        note="LLaMA-Factory joins `instruction` and `input` with one newline (curate's messages use two).",
    ),
    axolotl=Axolotl(
        dataset={"type": "alpaca"},
        comments=(
            "type: alpaca reads instruction/input/output only; for system prompts or history, "
            "write --to messages and use chat_template.",
        ),
    ),
)
