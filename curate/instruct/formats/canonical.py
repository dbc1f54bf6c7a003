"""The canonical rows every format reads into and writes from, and their validation.

A canonical SFT row is {"messages": [{"role", "content"}, ...]} and a canonical preference row
is {"prompt": [...], "chosen": [one assistant message], "rejected": [one assistant message]},
each with optional keys (SFT_KEYS, PREFERENCE_KEYS). Also the small pieces format modules
share: building messages, requiring fields, Alpaca's fields beside a conversation.
"""

from __future__ import annotations

from typing import Any

from curate.instruct.formats.base import SFT, Unconvertible

ROLES = ("system", "user", "assistant", "function_call", "tool")
ALPACA_KEYS = ("instruction", "input", "output")
SCORE_KEYS = ("score_chosen", "score_rejected")
SFT_KEYS = frozenset({"messages", "tools", *ALPACA_KEYS, "id", "source", "meta"})
PREFERENCE_KEYS = frozenset({"prompt", "chosen", "rejected", *SCORE_KEYS, "id", "source", "meta"})


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
    allowed = SFT_KEYS if kind == SFT else PREFERENCE_KEYS
    if not allowed.issuperset(row):
        raise Unconvertible("unknown_key", ", ".join(sorted(set(row) - allowed)))
    _check_common_keys(row)
    if kind == SFT:
        _check_sft(row)
    else:
        check_preference(row)


def _check_common_keys(row: dict) -> None:
    if "id" in row and not is_id(row["id"]):
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
    if not alpaca_keys_fit(row["messages"], keys):
        raise Unconvertible("alpaca_fields_mismatch", "they differ from the last user turn and answer")


def check_preference(row: dict) -> None:
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
        if key in row and not is_number(row[key]):
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
    # Every row of a conversion passes here: the checks avoid copies (isspace, not strip).
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or len(message) != 2 or "role" not in message or "content" not in message:
            raise Unconvertible("wrong_type", f"{field}[{index}] must be exactly {{role, content}}")
        if message["role"] not in ROLES:
            raise Unconvertible("unknown_role", f"{field}[{index}]: {message['role']!r}")
        content = message["content"]
        if not isinstance(content, str):
            raise Unconvertible("not_a_string", f"{field}[{index}].content")
        if not content or content.isspace():
            raise Unconvertible("empty_turn", f"{field}[{index}]")


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


def is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Small shared pieces


def user(content: str) -> dict:
    return {"role": "user", "content": content}


def assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


def require(fields: dict, key: str) -> Any:
    if key not in fields:
        raise Unconvertible("missing_field", key)
    return fields[key]


def require_str(fields: dict, key: str) -> str:
    value = require(fields, key)
    if not isinstance(value, str):
        raise Unconvertible("not_a_string", key)
    return value


def require_list(fields: dict, key: str) -> list:
    value = require(fields, key)
    if not isinstance(value, list):
        raise Unconvertible("wrong_type", f"{key} must be a list")
    return value


def optional_text(fields: dict, key: str, used: set[str]) -> str | None:
    """A string field that counts only when non-empty; "" stays in the record's meta."""
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unconvertible("not_a_string", key)
    used.add(key)
    return value


def compose_user_turn(instruction: str, input_text: str) -> str:
    return instruction if not input_text.strip() else f"{instruction}\n\n{input_text}"


def final_exchange(messages: list[dict]) -> tuple[str, str] | None:
    if len(messages) >= 2 and messages[-2]["role"] == "user" and messages[-1]["role"] == "assistant":
        return messages[-2]["content"], messages[-1]["content"]
    return None


def alpaca_keys_fit(messages: list[dict], keys: dict) -> bool:
    """Whether instruction/input/output are the conversation's last user turn and answer
    (`compose_user_turn`), compared without building the composed turn: every row asks."""
    exchange = final_exchange(messages)
    instruction, output, input_text = keys.get("instruction"), keys.get("output"), keys.get("input", "")
    if exchange is None or not (isinstance(instruction, str) and isinstance(output, str)):
        return False
    if not isinstance(input_text, str):
        return False
    user, answer = exchange
    if answer != output:
        return False
    if not input_text or input_text.isspace():  # compose_user_turn leaves the instruction alone
        return user == instruction
    return (
        len(user) == len(instruction) + 2 + len(input_text)
        and user.startswith(instruction)
        and user.endswith(input_text)
        and user[len(instruction) : len(instruction) + 2] == "\n\n"
    )


def derived_alpaca_keys(messages: list[dict]) -> dict | None:
    exchange = final_exchange(messages)
    if exchange is None:
        return None
    return {"instruction": exchange[0], "input": "", "output": exchange[1]}


def aligned(items: list) -> list | None:
    """A per-message hint list, or None when it says nothing."""
    return items if any(items) else None


def hint_for(messages: list, hint: Any, name: str, empty: Any) -> list:
    if hint is None:
        return [empty] * len(messages)
    if not isinstance(hint, list) or len(hint) != len(messages):
        raise Unconvertible("not_representable", f"meta {name} does not match the {len(messages)} messages")
    return hint


def merge_extras(item: dict, extras: Any, where: str) -> dict:
    if not extras:
        return item
    if not isinstance(extras, dict):
        raise Unconvertible("not_representable", f"extras of {where} are not a dict")
    clash = sorted(set(extras) & set(item))
    if clash:
        raise Unconvertible("not_representable", f"{where} extras {clash} clash with its own keys")
    return {**item, **extras}
