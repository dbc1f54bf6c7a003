"""Row conversions between instruction and preference data formats, through one canonical row.

Everything works on plain dicts: one parsed JSON record (or one Parquet row) is one row. No
file IO happens here; pyarrow is used only to describe the columns of written rows.

    JSON in:     read_row(record, fmt)        -> [canonical row, ...]   (validated)
    JSON out:    write_row(row, fmt)          -> record in fmt          (validated)
    Parquet out: to_arrow_row(row, fmt)       -> dict fitting output_schema(fmt)
    Parquet in:  from_arrow_row(arrow, fmt)   -> [canonical row]        (inverse of to_arrow_row)

A canonical SFT row is {"messages": [{"role", "content"}, ...]} and a canonical preference row
is {"prompt": [...], "chosen": [one assistant message], "rejected": [one assistant message]},
each with optional keys (see SFT_KEYS, PREFERENCE_KEYS). Record keys a format does not use
travel in row["meta"], together with a few hints that let write_row restore a record exactly
(which key held the answer, per-message extras, where the system prompt sat; see HINTS).

write_row checks its own output: read_row(write_row(row, fmt), fmt) gives back `row` (up to
fmt's own hints), or write_row raises Unconvertible("not_representable", ...). The one
addition: rows read from alpaca always carry instruction/input/output, so a row without them
comes back from alpaca with the ones alpaca derived (the last user turn, "", the answer).

How meta travels:
- JSON records: meta keys that fmt does not consume as hints become top-level keys of the
  record, and top-level keys fmt does not use become meta keys again when read.
- Parquet rows: the `meta` column is json.dumps(meta, ensure_ascii=False, sort_keys=True),
  "{}" when empty. Canonical keys the schema has no column for (and a non-string id) ride in
  meta under "_row" and are put back by from_arrow_row.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from typing import Any

import pyarrow as pa

SFT_FORMATS = ("alpaca", "seed-tasks", "messages", "sharegpt", "prompt-completion")
PREFERENCE_FORMATS = ("hh-rlhf", "sharegpt-preference", "preference")
READ_FORMATS = SFT_FORMATS + PREFERENCE_FORMATS
WRITE_FORMATS = tuple(name for name in READ_FORMATS if name != "seed-tasks")

ROLES = ("system", "user", "assistant", "function_call", "tool")
ALPACA_KEYS = ("instruction", "input", "output")
SCORE_KEYS = ("score_chosen", "score_rejected")
SFT_KEYS = frozenset({"messages", "tools", *ALPACA_KEYS, "id", "source", "meta"})
PREFERENCE_KEYS = frozenset({"prompt", "chosen", "rejected", *SCORE_KEYS, "id", "source", "meta"})

# Meta keys each format writes back into its records (and so refuses as top-level record keys).
_PREFERENCE_PART_HINTS = ("prompt_extras", "chosen_extras", "rejected_extras")
HINTS: dict[str, frozenset[str]] = {
    "alpaca": frozenset({"tools_json"}),
    "seed-tasks": frozenset({"tools_json", "instance", "instance_extras"}),
    "messages": frozenset({"tools_json", "message_extras", "content_parts"}),
    "sharegpt": frozenset({"tools_json", "message_extras", "system_placement"}),
    "prompt-completion": frozenset({"tools_json", "completion_key"}),
    "hh-rlhf": frozenset(),
    "sharegpt-preference": frozenset({*_PREFERENCE_PART_HINTS, "system_placement"}),
    "preference": frozenset(
        {
            *_PREFERENCE_PART_HINTS,
            "prompt_content_parts",
            "chosen_content_parts",
            "rejected_content_parts",
            "preference_style",
        }
    ),
}

REASONS = {
    "missing_field": "a required field is absent, null or empty (detail names it)",
    "not_a_string": "a field that must be text is not a string",
    "not_a_number": "a score is not a number",
    "wrong_type": "a field has the wrong JSON type (a list where an object belongs, ...)",
    "empty_turn": "a message is empty or whitespace only",
    "roles_out_of_order": "system not first, two user turns in a row, assistant first, ...",
    "no_assistant_turn": "the conversation or transcript has no final assistant answer",
    "chosen_equals_rejected": "the chosen and rejected answers are the same",
    "unknown_role": "a role (or ShareGPT `from`) outside the known set",
    "non_text_content": "a content part that is not text (an image, audio, ...)",
    "not_representable": "the target format cannot hold this row (multi-turn to prompt-completion, ...)",
    "not_a_transcript": "an hh-rlhf string does not start with '\\n\\nHuman:'",
    "prompts_differ": "hh-rlhf chosen and rejected share no prompt ending in '\\n\\nAssistant:'",
    "irregular_transcript": "an hh-rlhf string that would not be written back byte for byte",
    "alpaca_fields_mismatch": "instruction/input/output do not match the last user turn and answer",
    "reserved_key": "a top-level record key that this format keeps for its own hints",
    "unknown_key": "a canonical row with a key outside the canonical form",
}

ROW_KEYS_IN_META = "_row"


class Unconvertible(Exception):
    """A row that cannot be read or written: `reason` is a snake_case code (see REASONS)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


def format_kind(name: str) -> str:
    """ "sft" or "preference"."""
    if name in SFT_FORMATS:
        return "sft"
    if name in PREFERENCE_FORMATS:
        return "preference"
    raise ValueError(f"unknown format {name!r}; expected one of {', '.join(READ_FORMATS)}")


def detect_format(record: dict) -> str | None:
    """The format a record is in, judged by its keys; None when no format fits."""
    if not isinstance(record, dict):
        return None
    keys = record.keys()
    has_pair = "chosen" in keys and "rejected" in keys
    if "conversations" in keys:
        return "sharegpt-preference" if has_pair else "sharegpt"
    if "messages" in keys:
        return "messages"
    if has_pair:
        transcripts = isinstance(record["chosen"], str) and isinstance(record["rejected"], str)
        return "hh-rlhf" if transcripts and "prompt" not in keys else "preference"
    # Before alpaca: curate writes instruction/input/output beside the prompt of Alpaca-made rows.
    if "prompt" in keys and ("completion" in keys or "response" in keys):
        return "prompt-completion"
    if "instruction" in keys and "instances" in keys:
        return "seed-tasks"
    if "instruction" in keys and "output" in keys:
        return "alpaca"
    return None


# ---------------------------------------------------------------------------------------------
# Validation of canonical rows

_ALLOWED_NEXT = {
    "start": ("user",),
    "user": ("assistant", "function_call"),
    "assistant": ("user",),
    "function_call": ("tool",),
    "tool": ("assistant", "function_call"),
}


def validate_row(row: dict, kind: str) -> None:
    """Raise Unconvertible unless `row` is a well-formed canonical row of `kind`."""
    if not isinstance(row, dict):
        raise Unconvertible("wrong_type", "a canonical row is a dict")
    unknown = sorted(set(row) - (SFT_KEYS if kind == "sft" else PREFERENCE_KEYS))
    if unknown:
        raise Unconvertible("unknown_key", ", ".join(unknown))
    _check_common_keys(row)
    if kind == "sft":
        _check_sft(row)
    else:
        _check_preference(row)


def _check_common_keys(row: dict) -> None:
    if "id" in row and not _is_id(row["id"]):
        raise Unconvertible("wrong_type", "id must be a string or an integer")
    if "source" in row and not isinstance(row["source"], str):
        raise Unconvertible("not_a_string", "source")
    if "meta" in row and not isinstance(row["meta"], dict):
        raise Unconvertible("wrong_type", "meta must be a dict")


def _check_sft(row: dict) -> None:
    if "messages" not in row:
        raise Unconvertible("missing_field", "messages")
    messages = row["messages"]
    _check_message_list(messages, "messages")
    _check_role_order(messages, "messages", ending="assistant")
    if "tools" in row and not (isinstance(row["tools"], str) and row["tools"]):
        raise Unconvertible("not_a_string", "tools must be non-empty JSON text")
    _check_alpaca_keys(row)


def _check_alpaca_keys(row: dict) -> None:
    keys = {key: row[key] for key in ALPACA_KEYS if key in row}
    if not keys:
        return
    for key, value in keys.items():
        if not isinstance(value, str):
            raise Unconvertible("not_a_string", key)
    if "instruction" not in keys or "output" not in keys:
        raise Unconvertible("alpaca_fields_mismatch", "instruction and output go together")
    if not _alpaca_keys_fit(row["messages"], keys):
        raise Unconvertible("alpaca_fields_mismatch", "they differ from the last user turn and answer")


def _check_preference(row: dict) -> None:
    for side in ("prompt", "chosen", "rejected"):
        if side not in row:
            raise Unconvertible("missing_field", side)
    _check_message_list(row["prompt"], "prompt")
    _check_role_order(row["prompt"], "prompt", ending="user")
    for side in ("chosen", "rejected"):
        _check_answer(row[side], side)
    if row["chosen"][0]["content"] == row["rejected"][0]["content"]:
        raise Unconvertible("chosen_equals_rejected")
    for key in SCORE_KEYS:
        if key in row and not _is_number(row[key]):
            raise Unconvertible("not_a_number", key)


def _check_answer(answer: Any, side: str) -> None:
    _check_message_list(answer, side)
    if len(answer) != 1:
        raise Unconvertible("not_representable", f"{side} must be one answer message, not {len(answer)}")
    if answer[0]["role"] != "assistant":
        raise Unconvertible("roles_out_of_order", f"{side} is a {answer[0]['role']} turn, not an assistant answer")


def _check_message_list(messages: Any, field: str) -> None:
    if not isinstance(messages, list):
        raise Unconvertible("wrong_type", f"{field} must be a list of messages")
    if not messages:
        raise Unconvertible("missing_field", f"{field} is empty")
    for index, message in enumerate(messages):
        where = f"{field}[{index}]"
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            raise Unconvertible("wrong_type", f"{where} must be exactly {{role, content}}")
        if message["role"] not in ROLES:
            raise Unconvertible("unknown_role", f"{where}: {message['role']!r}")
        if not isinstance(message["content"], str):
            raise Unconvertible("not_a_string", f"{where}.content")
        if not message["content"].strip():
            raise Unconvertible("empty_turn", where)


def _check_role_order(messages: list[dict], field: str, ending: str) -> None:
    """Optional system first, then user/assistant alternating from user; a function_call is
    an assistant move answered by a tool turn. `ending`: "assistant" (SFT) or "user" (prompt)."""
    previous = "start"
    first = 1 if messages[0]["role"] == "system" else 0
    for index in range(first, len(messages)):
        role = messages[index]["role"]
        if role not in _ALLOWED_NEXT.get(previous, ()):
            after = "the start" if previous == "start" else f"a {previous} turn"
            raise Unconvertible("roles_out_of_order", f"{field}[{index}] is a {role} turn after {after}")
        previous = role
    if ending == "assistant" and previous != "assistant":
        last = "nothing but a system prompt" if previous == "start" else f"a {previous} turn"
        raise Unconvertible("no_assistant_turn", f"{field} ends with {last}")
    if ending == "user" and previous not in ("user", "tool"):
        last = "nothing but a system prompt" if previous == "start" else f"a {previous} turn"
        raise Unconvertible("roles_out_of_order", f"{field} must end with a user turn, not {last}")


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Small shared pieces


def _user(content: str) -> dict:
    return {"role": "user", "content": content}


def _assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


def _require(fields: dict, key: str) -> Any:
    if key not in fields:
        raise Unconvertible("missing_field", key)
    return fields[key]


def _require_str(fields: dict, key: str) -> str:
    value = _require(fields, key)
    if not isinstance(value, str):
        raise Unconvertible("not_a_string", key)
    return value


def _require_list(fields: dict, key: str) -> list:
    value = _require(fields, key)
    if not isinstance(value, list):
        raise Unconvertible("wrong_type", f"{key} must be a list")
    return value


def _optional_text(fields: dict, key: str, used: set[str]) -> str | None:
    """A string field that counts only when non-empty; "" stays in the record's meta."""
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unconvertible("not_a_string", key)
    used.add(key)
    return value


def _compose_user_turn(instruction: str, input_text: str) -> str:
    return instruction if not input_text.strip() else f"{instruction}\n\n{input_text}"


def _final_exchange(messages: list[dict]) -> tuple[str, str] | None:
    if len(messages) >= 2 and messages[-2]["role"] == "user" and messages[-1]["role"] == "assistant":
        return messages[-2]["content"], messages[-1]["content"]
    return None


def _alpaca_keys_fit(messages: list[dict], keys: dict) -> bool:
    exchange = _final_exchange(messages)
    if exchange is None or not all(isinstance(keys.get(key), str) for key in ("instruction", "output")):
        return False
    input_text = keys.get("input", "")
    if not isinstance(input_text, str):
        return False
    return exchange == (_compose_user_turn(keys["instruction"], input_text), keys["output"])


def _derived_alpaca_keys(messages: list[dict]) -> dict | None:
    exchange = _final_exchange(messages)
    if exchange is None:
        return None
    return {"instruction": exchange[0], "input": "", "output": exchange[1]}


def _aligned(items: list) -> list | None:
    """A per-message hint list, or None when it says nothing."""
    return items if any(items) else None


def _hint_for(messages: list, hint: Any, name: str, empty: Any) -> list:
    if hint is None:
        return [empty] * len(messages)
    if not isinstance(hint, list) or len(hint) != len(messages):
        raise Unconvertible("not_representable", f"meta {name} does not match the {len(messages)} messages")
    return hint


def _merge_extras(item: dict, extras: Any, where: str) -> dict:
    if not extras:
        return item
    if not isinstance(extras, dict):
        raise Unconvertible("not_representable", f"extras of {where} are not a dict")
    clash = sorted(set(extras) & set(item))
    if clash:
        raise Unconvertible("not_representable", f"{where} extras {clash} clash with its own keys")
    return {**item, **extras}


# ---------------------------------------------------------------------------------------------
# Message content: a string, or a list of typed text parts


def _read_content(content: Any, where: str) -> tuple[str, list | None]:
    """The text of a content value, and the layout of its parts (None for a plain string)."""
    if isinstance(content, str):
        return content, None
    if content is None:
        raise Unconvertible("missing_field", where)
    if not isinstance(content, list):
        raise Unconvertible("not_a_string", where)
    texts, layout = [], []
    for index, part in enumerate(content):
        text, item = _read_text_part(part, f"{where}[{index}]")
        texts.append(text)
        layout.append(item)
    return "".join(texts), layout


def _read_text_part(part: Any, where: str) -> tuple[str, dict]:
    if not isinstance(part, dict) or part.get("type") != "text":
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        raise Unconvertible("non_text_content", f"{where} is {kind!r}")
    key = "text" if "text" in part else "value" if "value" in part else None
    if key is None:
        raise Unconvertible("missing_field", f"{where}.text")
    text = part[key]
    if not isinstance(text, str):
        raise Unconvertible("not_a_string", f"{where}.{key}")
    item: dict[str, Any] = {"key": key, "length": len(text)}
    others = {name: value for name, value in part.items() if name not in ("type", key)}
    if others:
        item["extra"] = others
    return text, item


def _layout_fits(layout: Any, content: str) -> bool:
    if not isinstance(layout, list) or not layout:
        return False
    for item in layout:
        if not (isinstance(item, dict) and isinstance(item.get("key"), str) and isinstance(item.get("length"), int)):
            return False
    return sum(item["length"] for item in layout) == len(content)


def _render_content(content: str, layout: Any) -> str | list[dict]:
    # A layout that no longer fits (the text was edited) falls back to a plain string.
    if layout is None or not _layout_fits(layout, content):
        return content
    parts, start = [], 0
    for item in layout:
        end = start + item["length"]
        parts.append({"type": "text", item["key"]: content[start:end], **item.get("extra", {})})
        start = end
    return parts


# ---------------------------------------------------------------------------------------------
# Message lists: OpenAI style {role, content} and ShareGPT {from, value}

_SHAREGPT_ROLES = {
    "human": "user",
    "gpt": "assistant",
    "system": "system",
    "function_call": "function_call",
    "observation": "tool",
}
_SHAREGPT_FROM = {role: sender for sender, role in _SHAREGPT_ROLES.items()}


def _role_of(item: Any, key: str, known: Any, where: str) -> str:
    """The role (OpenAI `role`, ShareGPT `from`) of one message, which must be one of `known`."""
    if not isinstance(item, dict):
        raise Unconvertible("wrong_type", f"{where} must be an object")
    role = item.get(key)
    if role is None:
        raise Unconvertible("missing_field", f"{where}.{key}")
    if not isinstance(role, str) or role not in known:
        raise Unconvertible("unknown_role", f"{where}: {role!r}")
    return role


def _read_openai_messages(raw: Any, field: str) -> tuple[list[dict], list | None, list | None]:
    """Messages, per-message extra keys, per-message content layouts (None when unused)."""
    if not isinstance(raw, list):
        raise Unconvertible("wrong_type", f"{field} must be a list of messages")
    messages, extras, layouts = [], [], []
    for index, message in enumerate(raw):
        where = f"{field}[{index}]"
        role = _role_of(message, "role", ROLES, where)
        content, layout = _read_content(message.get("content"), f"{where}.content")
        messages.append({"role": role, "content": content})
        extras.append({key: value for key, value in message.items() if key not in ("role", "content")})
        layouts.append(layout)
    return messages, _aligned(extras), _aligned(layouts)


def _write_openai_messages(messages: list[dict], extras: Any, layouts: Any, field: str) -> list[dict]:
    extras = _hint_for(messages, extras, f"{field} extras", {})
    layouts = _hint_for(messages, layouts, f"{field} content parts", None)
    written = []
    for index, (message, extra, layout) in enumerate(zip(messages, extras, layouts)):
        item = {"role": message["role"], "content": _render_content(message["content"], layout)}
        written.append(_merge_extras(item, extra, f"{field}[{index}]"))
    return written


def _read_sharegpt_turn(turn: Any, where: str) -> tuple[dict, dict]:
    sender = _role_of(turn, "from", _SHAREGPT_ROLES, where)
    value = turn.get("value")
    if value is None:
        raise Unconvertible("missing_field", f"{where}.value")
    if not isinstance(value, str):
        raise Unconvertible("not_a_string", f"{where}.value")
    extras = {key: item for key, item in turn.items() if key not in ("from", "value")}
    return {"role": _SHAREGPT_ROLES[sender], "content": value}, extras


def _read_sharegpt_turns(raw: Any, field: str) -> tuple[list[dict], list[dict]]:
    if not isinstance(raw, list):
        raise Unconvertible("wrong_type", f"{field} must be a list of turns")
    turns = [_read_sharegpt_turn(turn, f"{field}[{index}]") for index, turn in enumerate(raw)]
    return [message for message, _ in turns], [extras for _, extras in turns]


def _write_sharegpt_turns(messages: list[dict], extras: list, field: str) -> list[dict]:
    written = []
    for index, (message, extra) in enumerate(zip(messages, extras)):
        item = {"from": _SHAREGPT_FROM[message["role"]], "value": message["content"]}
        written.append(_merge_extras(item, extra, f"{field}[{index}]"))
    return written


def _with_top_level_system(fields: dict, messages: list, extras: list, used: set[str]) -> str:
    """Put a top-level `system` in front of the turns; say where the system prompt sat."""
    system = _optional_text(fields, "system", used)
    if system is None:
        return "conversations" if messages and messages[0]["role"] == "system" else "none"
    if messages and messages[0]["role"] == "system":
        raise Unconvertible("roles_out_of_order", "a top-level system and a system turn in conversations")
    messages.insert(0, {"role": "system", "content": system})
    extras.insert(0, {})
    return "top"


def _placement_hint(placement: str, default: str) -> dict:
    return {"system_placement": placement} if placement not in ("none", default) else {}


def _split_system_for_sharegpt(messages: list, extras: list, placement: str) -> tuple[str | None, list, list]:
    """(top-level system or None, turns, extras) for writing."""
    if placement != "top" or messages[0]["role"] != "system":
        return None, messages, extras
    if extras[0]:
        raise Unconvertible("not_representable", "a top-level system prompt cannot carry extra keys")
    return messages[0]["content"], messages[1:], extras[1:]


# ---------------------------------------------------------------------------------------------
# Readers: fields (the record without null values) -> (rows, record keys used)


def _read_alpaca(fields: dict) -> tuple[list[dict], set[str]]:
    used = {"instruction", "output"}
    instruction = _require_str(fields, "instruction")
    output = _require_str(fields, "output")
    keys = {"instruction": instruction, "output": output}
    if "input" in fields:
        keys["input"] = _require_str(fields, "input")
        used.add("input")
    messages = []
    system = _optional_text(fields, "system", used)
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages += _read_history(fields, used)
    messages += [_user(_compose_user_turn(instruction, keys.get("input", ""))), _assistant(output)]
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
        messages += [_user(pair[0]), _assistant(pair[1])]
    used.add("history")
    return messages


def _read_seed_tasks(fields: dict) -> tuple[list[dict], set[str]]:
    instruction = _require_str(fields, "instruction")
    instances = _require_list(fields, "instances")
    if not instances:
        raise Unconvertible("missing_field", "instances is empty")
    count = len(instances)
    rows = [_seed_instance_row(fields, instruction, instance, index, count) for index, instance in enumerate(instances)]
    return rows, {"instruction", "instances"}


def _seed_instance_row(fields: dict, instruction: str, instance: Any, index: int, count: int) -> dict:
    where = f"instances[{index}]"
    if not isinstance(instance, dict):
        raise Unconvertible("wrong_type", f"{where} must be an object")
    output = instance.get("output")
    if output is None:
        raise Unconvertible("missing_field", f"{where}.output")
    input_text = instance.get("input", "")
    for key, value in (("input", input_text), ("output", output)):
        if not isinstance(value, str):
            raise Unconvertible("not_a_string", f"{where}.{key}")
    row: dict[str, Any] = {
        "messages": [_user(_compose_user_turn(instruction, input_text)), _assistant(output)],
        "instruction": instruction,
        "input": input_text,
        "output": output,
    }
    meta: dict[str, Any] = {}
    if count > 1:
        meta["instance"] = {"index": index, "count": count}
    extras = {key: value for key, value in instance.items() if key not in ("input", "output")}
    if extras:
        meta["instance_extras"] = extras
    if index > 0 and _is_id(fields.get("id")):
        row["id"] = f"{fields['id']}#{index}"
    if meta:
        row["meta"] = meta
    return row


def _read_messages(fields: dict) -> tuple[list[dict], set[str]]:
    messages, extras, layouts = _read_openai_messages(_require(fields, "messages"), "messages")
    row: dict[str, Any] = {"messages": messages}
    hints = {"message_extras": extras, "content_parts": layouts}
    hints = {key: value for key, value in hints.items() if value is not None}
    if hints:
        row["meta"] = hints
    return [row], {"messages"}


def _read_sharegpt(fields: dict) -> tuple[list[dict], set[str]]:
    used = {"conversations"}
    messages, extras = _read_sharegpt_turns(_require(fields, "conversations"), "conversations")
    placement = _with_top_level_system(fields, messages, extras, used)
    meta = _placement_hint(placement, default="top")
    if any(extras):
        meta["message_extras"] = extras
    row: dict[str, Any] = {"messages": messages}
    if meta:
        row["meta"] = meta
    return [row], used


def _read_prompt_completion(fields: dict) -> tuple[list[dict], set[str]]:
    if isinstance(fields.get("prompt"), list):
        raise Unconvertible("wrong_type", "prompt is a message list; read conversational data as messages")
    prompt = _require_str(fields, "prompt")
    key = "response" if "completion" not in fields and "response" in fields else "completion"
    completion = _require_str(fields, key)
    row: dict[str, Any] = {"messages": [_user(prompt), _assistant(completion)]}
    if key == "response":
        row["meta"] = {"completion_key": "response"}
    return [row], {"prompt", key}


_HH_MARKER = re.compile(r"\n\n(Human|Assistant):")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}
_HH_PREFIXES = {"user": "\n\nHuman:", "assistant": "\n\nAssistant:"}
_HH_ANSWER = "\n\nAssistant:"


def _read_hh_rlhf(fields: dict) -> tuple[list[dict], set[str]]:
    chosen = _require_str(fields, "chosen")
    rejected = _require_str(fields, "rejected")
    row = _parse_hh_pair(chosen, rejected)
    _check_preference(row)
    # Spacing the parser cannot see (a turn without the space after its colon) would not be
    # written back as it was; such rows are refused rather than silently changed.
    if _render_hh_pair(row) != (chosen, rejected):
        raise Unconvertible("irregular_transcript", "writing it back would not give the same bytes")
    return [row], {"chosen", "rejected"}


def _parse_hh_pair(chosen: str, rejected: str) -> dict:
    if chosen == rejected:
        raise Unconvertible("chosen_equals_rejected")
    for side, text in (("chosen", chosen), ("rejected", rejected)):
        if not text.startswith(_HH_PREFIXES["user"]):
            raise Unconvertible("not_a_transcript", f"{side} does not start with '\\n\\nHuman:'")
        if _HH_ANSWER not in text:
            raise Unconvertible("no_assistant_turn", f"{side} has no '\\n\\nAssistant:'")
    cut = os.path.commonprefix([chosen, rejected]).rfind(_HH_ANSWER)  # noqa: RUF071 - characters are meant
    if cut < 0:
        raise Unconvertible("prompts_differ", "no shared prefix ending in '\\n\\nAssistant:'")
    answer_start = cut + len(_HH_ANSWER)
    return {
        "prompt": _parse_hh_turns(chosen[:cut]),
        "chosen": [_assistant(_drop_one_space(chosen[answer_start:]))],
        "rejected": [_assistant(_drop_one_space(rejected[answer_start:]))],
    }


def _parse_hh_turns(text: str) -> list[dict]:
    pieces = _HH_MARKER.split(text)
    # pieces: ["", "Human", " text", "Assistant", " text", ...]; text starts with a marker
    return [
        {"role": _HH_ROLES[name], "content": _drop_one_space(turn)} for name, turn in zip(pieces[1::2], pieces[2::2])
    ]


def _drop_one_space(text: str) -> str:
    return text[1:] if text.startswith(" ") else text


def _render_hh_pair(row: dict) -> tuple[str, str]:
    prompt = "".join(f"{_HH_PREFIXES[message['role']]} {message['content']}" for message in row["prompt"])
    return (
        f"{prompt}{_HH_ANSWER} {row['chosen'][0]['content']}",
        f"{prompt}{_HH_ANSWER} {row['rejected'][0]['content']}",
    )


def _read_sharegpt_preference(fields: dict) -> tuple[list[dict], set[str]]:
    used = {"conversations", "chosen", "rejected"}
    prompt, extras = _read_sharegpt_turns(_require(fields, "conversations"), "conversations")
    placement = _with_top_level_system(fields, prompt, extras, used)
    meta = _placement_hint(placement, default="conversations")
    if any(extras):
        meta["prompt_extras"] = extras
    row: dict[str, Any] = {"prompt": prompt}
    for side in ("chosen", "rejected"):
        message, side_extras = _read_sharegpt_turn(_require(fields, side), side)
        if message["role"] != "assistant":
            raise Unconvertible("not_representable", f"{side} is a {message['role']} turn, not a gpt answer")
        row[side] = [message]
        if side_extras:
            meta[f"{side}_extras"] = [side_extras]
    if meta:
        row["meta"] = meta
    return [row], used


def _read_preference(fields: dict) -> tuple[list[dict], set[str]]:
    chosen = _require(fields, "chosen")
    rejected = _require(fields, "rejected")
    prompt = fields.get("prompt")
    if isinstance(prompt, str):
        return [_standard_preference_row(prompt, chosen, rejected)], {"prompt", "chosen", "rejected"}
    if prompt is None:
        return [_implicit_preference_row(chosen, rejected)], {"chosen", "rejected"}
    row, meta = {}, {}
    for side, raw in (("prompt", prompt), ("chosen", chosen), ("rejected", rejected)):
        row[side], extras, layouts = _read_openai_messages(raw, side)
        meta.update(_side_hints(side, extras, layouts))
    if meta:
        row["meta"] = meta
    return [row], {"prompt", "chosen", "rejected"}


def _standard_preference_row(prompt: str, chosen: Any, rejected: Any) -> dict:
    for side, value in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(value, str):
            raise Unconvertible("not_a_string", f"{side} (the prompt is a string, so the answers must be too)")
    return {
        "prompt": [_user(prompt)],
        "chosen": [_assistant(chosen)],
        "rejected": [_assistant(rejected)],
        "meta": {"preference_style": "standard"},
    }


def _implicit_preference_row(chosen: Any, rejected: Any) -> dict:
    """TRL's implicit prompt: chosen and rejected are whole conversations sharing all but the end."""
    if isinstance(chosen, str) and isinstance(rejected, str):
        raise Unconvertible("missing_field", "prompt (for Human:/Assistant: transcripts, read as hh-rlhf)")
    for side, value in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(value, list):
            raise Unconvertible("wrong_type", f"{side} must be a list of messages")
    if chosen == rejected:
        raise Unconvertible("chosen_equals_rejected")
    shared = 0
    while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
        shared += 1
    if len(chosen) != shared + 1 or len(rejected) != shared + 1:
        raise Unconvertible("not_representable", "chosen and rejected must differ in their last message only")
    row: dict[str, Any] = {}
    meta: dict[str, Any] = {"preference_style": "implicit_prompt"}
    for side, raw in (("prompt", chosen[:shared]), ("chosen", chosen[shared:]), ("rejected", rejected[shared:])):
        row[side], extras, layouts = _read_openai_messages(raw, side)
        meta.update(_side_hints(side, extras, layouts))
    row["meta"] = meta
    return row


def _side_hints(side: str, extras: list | None, layouts: list | None) -> dict:
    hints = {f"{side}_extras": extras, f"{side}_content_parts": layouts}
    return {key: value for key, value in hints.items() if value is not None}


_READERS = {
    "alpaca": _read_alpaca,
    "seed-tasks": _read_seed_tasks,
    "messages": _read_messages,
    "sharegpt": _read_sharegpt,
    "prompt-completion": _read_prompt_completion,
    "hh-rlhf": _read_hh_rlhf,
    "sharegpt-preference": _read_sharegpt_preference,
    "preference": _read_preference,
}


# ---------------------------------------------------------------------------------------------
# Keys every format of a kind carries at the top level: id, source, tools / scores, alpaca keys


def _read_common(fields: dict, kind: str, used: set[str]) -> tuple[dict, dict]:
    """(canonical keys, hints) lifted from the top level of a record."""
    row: dict[str, Any] = {}
    hints: dict[str, Any] = {}
    if _is_id(fields.get("id")):
        row["id"] = fields["id"]
        used.add("id")
    if isinstance(fields.get("source"), str):
        row["source"] = fields["source"]
        used.add("source")
    if kind == "sft":
        _read_tools(fields, row, hints, used)
    else:
        for key in SCORE_KEYS:
            if key in fields:
                if not _is_number(fields[key]):
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
    if keys and _alpaca_keys_fit(row["messages"], keys):
        row.update(keys)
        used.update(keys)


def _write_common(record: dict, row: dict, meta: dict, kind: str, fmt: str) -> None:
    for key in ("id", "source"):
        if key in row:
            record[key] = row[key]
    as_json = meta.pop("tools_json", False)
    if kind == "preference":
        record.update({key: row[key] for key in SCORE_KEYS if key in row})
        return
    if "tools" in row:
        record["tools"] = _tools_value(row["tools"], as_json)
    if fmt != "alpaca":
        record.update({key: row[key] for key in ALPACA_KEYS if key in row})


def _tools_value(tools: str, as_json: bool) -> Any:
    if not as_json:
        return tools
    try:
        return json.loads(tools)
    except json.JSONDecodeError:
        raise Unconvertible("not_representable", "tools were JSON values and are no longer valid JSON") from None


# ---------------------------------------------------------------------------------------------
# Writers: canonical row (validated) + a copy of its meta -> record; each pops the hints it uses


def _write_alpaca(row: dict, meta: dict) -> dict:
    messages = row["messages"]
    if any(message["role"] in ("function_call", "tool") for message in messages):
        raise Unconvertible("not_representable", "alpaca has no place for tool calls")
    system = messages[0]["content"] if messages[0]["role"] == "system" else None
    body = messages[1:] if system is not None else messages
    # Validation guarantees user/assistant alternation ending with an answer.
    pairs = [[body[index]["content"], body[index + 1]["content"]] for index in range(0, len(body), 2)]
    keys = {key: row[key] for key in ALPACA_KEYS if key in row} or _derived_alpaca_keys(messages)
    record = dict(keys)
    if system is not None:
        record["system"] = system
    if len(pairs) > 1:
        record["history"] = pairs[:-1]
    return record


def _write_messages(row: dict, meta: dict) -> dict:
    extras, layouts = meta.pop("message_extras", None), meta.pop("content_parts", None)
    return {"messages": _write_openai_messages(row["messages"], extras, layouts, "messages")}


def _write_sharegpt(row: dict, meta: dict) -> dict:
    messages = row["messages"]
    extras = _hint_for(messages, meta.pop("message_extras", None), "message_extras", {})
    placement = meta.pop("system_placement", "top")
    system, messages, extras = _split_system_for_sharegpt(messages, extras, placement)
    record: dict[str, Any] = {"conversations": _write_sharegpt_turns(messages, extras, "conversations")}
    if system is not None:
        record["system"] = system
    return record


def _write_prompt_completion(row: dict, meta: dict) -> dict:
    roles = [message["role"] for message in row["messages"]]
    if roles[0] == "system":
        raise Unconvertible("not_representable", "prompt-completion has no place for a system prompt")
    if roles != ["user", "assistant"]:
        raise Unconvertible("not_representable", f"prompt-completion holds one exchange, not {len(roles)} turns")
    key = "response" if meta.pop("completion_key", None) == "response" else "completion"
    return {"prompt": row["messages"][0]["content"], key: row["messages"][1]["content"]}


def _write_hh_rlhf(row: dict, meta: dict) -> dict:
    roles = {message["role"] for message in row["prompt"]}
    if not roles <= {"user", "assistant"}:
        extra = ", ".join(sorted(roles - {"user", "assistant"}))
        raise Unconvertible("not_representable", f"hh-rlhf transcripts have no place for {extra} turns")
    chosen, rejected = _render_hh_pair(row)
    return {"chosen": chosen, "rejected": rejected}


def _write_sharegpt_preference(row: dict, meta: dict) -> dict:
    prompt = row["prompt"]
    extras = _hint_for(prompt, meta.pop("prompt_extras", None), "prompt_extras", {})
    placement = meta.pop("system_placement", "conversations")
    system, prompt, extras = _split_system_for_sharegpt(prompt, extras, placement)
    record: dict[str, Any] = {"conversations": _write_sharegpt_turns(prompt, extras, "conversations")}
    for side in ("chosen", "rejected"):
        side_extras = _hint_for(row[side], meta.pop(f"{side}_extras", None), f"{side}_extras", {})
        record[side] = _write_sharegpt_turns(row[side], side_extras, side)[0]
    if system is not None:
        record["system"] = system
    return record


def _write_preference(row: dict, meta: dict) -> dict:
    style = meta.pop("preference_style", None)
    sides = {
        side: _write_openai_messages(
            row[side], meta.pop(f"{side}_extras", None), meta.pop(f"{side}_content_parts", None), side
        )
        for side in ("prompt", "chosen", "rejected")
    }
    if style == "standard" and _is_plain_single_exchange(sides):
        return {side: messages[0]["content"] for side, messages in sides.items()}
    if style == "implicit_prompt":
        return {"chosen": sides["prompt"] + sides["chosen"], "rejected": sides["prompt"] + sides["rejected"]}
    return sides


def _is_plain_single_exchange(sides: dict) -> bool:
    messages = [*sides["prompt"], *sides["chosen"], *sides["rejected"]]
    plain = all(set(message) == {"role", "content"} and isinstance(message["content"], str) for message in messages)
    return plain and len(sides["prompt"]) == 1 and sides["prompt"][0]["role"] == "user"


_WRITERS = {
    "alpaca": _write_alpaca,
    "messages": _write_messages,
    "sharegpt": _write_sharegpt,
    "prompt-completion": _write_prompt_completion,
    "hh-rlhf": _write_hh_rlhf,
    "sharegpt-preference": _write_sharegpt_preference,
    "preference": _write_preference,
}


# ---------------------------------------------------------------------------------------------
# Public entry points


def read_row(record: dict, fmt: str) -> list[dict]:
    """Canonical rows (validated) from one record in `fmt`; one row, or one per seed-task instance."""
    rows = _read_rows(record, fmt)
    for row in rows:
        validate_row(row, format_kind(fmt))
    return rows


def _read_rows(record: dict, fmt: str) -> list[dict]:
    kind = format_kind(fmt)
    if not isinstance(record, dict):
        raise Unconvertible("wrong_type", "a record is a JSON object")
    reserved = sorted(HINTS[fmt] & set(record))
    if reserved:
        raise Unconvertible("reserved_key", f"{', '.join(reserved)} (kept by curate for {fmt} hints)")
    # Null values count as absent; they travel in meta so writing back restores them.
    fields = {key: value for key, value in record.items() if value is not None}
    rows, used = _READERS[fmt](fields)
    common, hints = _read_common(fields, kind, used)
    finished = []
    for row in rows:
        row = {**common, **row}
        if kind == "sft" and fmt not in ("alpaca", "seed-tasks"):
            _lift_alpaca_keys(fields, row, used)
        finished.append(row)
    passed_through = {key: value for key, value in record.items() if key not in used}
    for row in finished:
        meta = {**passed_through, **hints, **row.get("meta", {})}
        row.pop("meta", None)
        if meta:
            row["meta"] = meta
    return finished


def write_row(row: dict, fmt: str) -> dict:
    """The record in `fmt` for a canonical row; read_row gives the row back from it."""
    kind = format_kind(fmt)
    if fmt not in WRITE_FORMATS:
        raise ValueError(f"{fmt} can be read but not written")
    validate_row(row, kind)
    meta = dict(row.get("meta", {}))
    record = _WRITERS[fmt](row, meta)
    _write_common(record, row, meta, kind, fmt)
    for key, value in meta.items():
        if key in record and record[key] != value:
            raise Unconvertible("not_representable", f"meta key {key!r} clashes with a {fmt} field")
        record[key] = value
    _check_reads_back(record, row, fmt)
    return record


def _check_reads_back(record: dict, row: dict, fmt: str) -> None:
    # Not validated again: what reads back equal to `row`, which write_row validated, is valid
    # (validation never looks at the hints left out of the comparison).
    try:
        again = _read_rows(record, fmt)
    except Unconvertible as error:
        raise Unconvertible("not_representable", f"{fmt} would not read it back ({error})") from None
    if len(again) != 1:
        raise Unconvertible("not_representable", f"{fmt} would read it back as {len(again)} rows")
    back = again[0]
    if fmt == "alpaca" and "instruction" not in row:
        back = {key: value for key, value in back.items() if key not in ALPACA_KEYS}
    if _without_hints(back, fmt) != _without_hints(row, fmt):
        raise Unconvertible("not_representable", f"{fmt} would read it back differently")


def _without_hints(row: dict, fmt: str) -> dict:
    meta = {key: value for key, value in row.get("meta", {}).items() if key not in HINTS[fmt]}
    bare = {key: value for key, value in row.items() if key != "meta"}
    return {**bare, "meta": meta} if meta else bare


# ---------------------------------------------------------------------------------------------
# Parquet rows

MESSAGE_LIST = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_TURN_TYPE = pa.struct([("from", pa.string()), ("value", pa.string())])
_FORMAT_COLUMNS: dict[str, list[tuple[str, pa.DataType]]] = {
    "alpaca": [
        ("instruction", pa.string()),
        ("input", pa.string()),
        ("output", pa.string()),
        ("system", pa.string()),
        ("history", pa.list_(pa.list_(pa.string()))),
        ("tools", pa.string()),
    ],
    "messages": [("messages", MESSAGE_LIST), ("tools", pa.string())],
    "sharegpt": [("conversations", pa.list_(_TURN_TYPE)), ("system", pa.string()), ("tools", pa.string())],
    "prompt-completion": [("prompt", pa.string()), ("completion", pa.string()), ("tools", pa.string())],
    "hh-rlhf": [("chosen", pa.string()), ("rejected", pa.string())],
    "sharegpt-preference": [("conversations", pa.list_(_TURN_TYPE)), ("chosen", _TURN_TYPE), ("rejected", _TURN_TYPE)],
    "preference": [("prompt", MESSAGE_LIST), ("chosen", MESSAGE_LIST), ("rejected", MESSAGE_LIST)],
}


@cache  # to_arrow_row asks for it once per row; a schema is immutable
def output_schema(fmt: str, alpaca_columns: bool = False) -> pa.Schema:
    """Columns of a Parquet row written in `fmt` (see to_arrow_row).

    alpaca_columns adds instruction/input/output string columns to an SFT format other than
    alpaca, so a dataset made from Alpaca data keeps its original fields beside the messages
    (null for rows without them).
    """
    kind = format_kind(fmt)
    if fmt not in WRITE_FORMATS:
        raise ValueError(f"{fmt} can be read but not written")
    columns = [("id", pa.string()), *_FORMAT_COLUMNS[fmt]]
    if kind == "preference":
        columns += [(key, pa.float64()) for key in SCORE_KEYS]
    elif alpaca_columns and fmt != "alpaca":
        columns += [(key, pa.string()) for key in ALPACA_KEYS]
    columns += [("source", pa.string()), ("meta", pa.string())]
    return pa.schema([pa.field(name, dtype) for name, dtype in columns])


def to_arrow_row(row: dict, fmt: str, source: str | None = None, alpaca_columns: bool = False) -> dict:
    """A canonical row as a dict with exactly output_schema(fmt, alpaca_columns)'s columns.

    The format columns hold the plain form (string contents, `completion`, the system prompt
    where trainers look for it); hints and pass-through keys go to the `meta` JSON column.
    `source` fills the source column when the row has none of its own.
    """
    schema = output_schema(fmt, alpaca_columns)
    meta = dict(row.get("meta", {}))
    if ROW_KEYS_IN_META in meta:
        raise Unconvertible("reserved_key", f"meta key {ROW_KEYS_IN_META!r}")
    record = write_row({key: value for key, value in row.items() if key != "meta"}, fmt)
    arrow = {name: None for name in schema.names}
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
    return json.dumps(meta or {}, ensure_ascii=False, sort_keys=True)


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
