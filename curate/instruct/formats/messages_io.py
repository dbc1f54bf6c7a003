"""Message lists as formats write them: OpenAI-style {role, content} (content a string or
typed text parts) and ShareGPT {from, value}, with what a record adds per message (extra keys,
content-part layouts) kept as hints, so writing back restores the record exactly."""

from __future__ import annotations

from typing import Any

from curate.instruct.formats.base import Unconvertible
from curate.instruct.formats.canonical import ROLES, aligned, hint_for, merge_extras, optional_text, require


def read_content(content: Any, where: str) -> tuple[str, list | None]:
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


def render_content(content: str, layout: Any) -> str | list[dict]:
    # A layout that no longer fits (the text was edited) falls back to a plain string.
    if layout is None or not _layout_fits(layout, content):
        return content
    parts, start = [], 0
    for item in layout:
        end = start + item["length"]
        parts.append({"type": "text", item["key"]: content[start:end], **item.get("extra", {})})
        start = end
    return parts


SHAREGPT_ROLES = {
    "human": "user",
    "gpt": "assistant",
    "system": "system",
    "function_call": "function_call",
    "observation": "tool",
}


SHAREGPT_FROM = {role: sender for sender, role in SHAREGPT_ROLES.items()}


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


def read_openai_messages(raw: Any, field: str) -> tuple[list[dict], list | None, list | None]:
    """Messages, per-message extra keys, per-message content layouts (None when unused)."""
    if not isinstance(raw, list):
        raise Unconvertible("wrong_type", f"{field} must be a list of messages")
    messages, extras, layouts = [], [], []
    for index, message in enumerate(raw):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and message.get("role") in ROLES and len(message) == 2:
            # the common message, checked without building its place name
            messages.append({"role": message["role"], "content": content})
            extras.append({})
            layouts.append(None)
            continue
        where = f"{field}[{index}]"
        role = _role_of(message, "role", ROLES, where)
        content, layout = read_content(message.get("content"), f"{where}.content")
        messages.append({"role": role, "content": content})
        extras.append({key: value for key, value in message.items() if key not in ("role", "content")})
        layouts.append(layout)
    return messages, aligned(extras), aligned(layouts)


def write_openai_messages(messages: list[dict], extras: Any, layouts: Any, field: str) -> list[dict]:
    extras = hint_for(messages, extras, f"{field} extras", {})
    layouts = hint_for(messages, layouts, f"{field} content parts", None)
    written = []
    for index, (message, extra, layout) in enumerate(zip(messages, extras, layouts)):
        item = {"role": message["role"], "content": render_content(message["content"], layout)}
        written.append(merge_extras(item, extra, f"{field}[{index}]"))
    return written


def read_sharegpt_turn(turn: Any, where: str) -> tuple[dict, dict]:
    sender = _role_of(turn, "from", SHAREGPT_ROLES, where)
    value = turn.get("value")
    if value is None:
        raise Unconvertible("missing_field", f"{where}.value")
    if not isinstance(value, str):
        raise Unconvertible("not_a_string", f"{where}.value")
    extras = {key: item for key, item in turn.items() if key not in ("from", "value")}
    return {"role": SHAREGPT_ROLES[sender], "content": value}, extras


def read_sharegpt_turns(raw: Any, field: str) -> tuple[list[dict], list[dict]]:
    if not isinstance(raw, list):
        raise Unconvertible("wrong_type", f"{field} must be a list of turns")
    turns = [read_sharegpt_turn(turn, f"{field}[{index}]") for index, turn in enumerate(raw)]
    return [message for message, _ in turns], [extras for _, extras in turns]


def write_sharegpt_turns(messages: list[dict], extras: list, field: str) -> list[dict]:
    written = []
    for index, (message, extra) in enumerate(zip(messages, extras)):
        item = {"from": SHAREGPT_FROM[message["role"]], "value": message["content"]}
        written.append(merge_extras(item, extra, f"{field}[{index}]"))
    return written


def read_sharegpt_conversation(
    fields: dict, used: set[str], extras_key: str, default_placement: str
) -> tuple[list[dict], dict]:
    """The `conversations` turns, a top-level `system` put in front, and the hints that write them
    back: where the system prompt sat (unless at `default_placement`) and the turns' extra keys
    (under `extras_key`)."""
    messages, extras = read_sharegpt_turns(require(fields, "conversations"), "conversations")
    placement = _with_top_level_system(fields, messages, extras, used)
    meta = {"system_placement": placement} if placement not in ("none", default_placement) else {}
    if any(extras):
        meta[extras_key] = extras
    return messages, meta


def write_sharegpt_conversation(
    messages: list[dict], meta: dict, extras_key: str, default_placement: str
) -> tuple[list[dict], str | None]:
    """(`conversations` turns, top-level system or None) for `messages`, placed as the hints in
    `meta` say (they are taken out of it)."""
    extras = hint_for(messages, meta.pop(extras_key, None), extras_key, {})
    placement = meta.pop("system_placement", default_placement)
    system, messages, extras = _split_system(messages, extras, placement)
    return write_sharegpt_turns(messages, extras, "conversations"), system


def _with_top_level_system(fields: dict, messages: list, extras: list, used: set[str]) -> str:
    """Put a top-level `system` in front of the turns; say where the system prompt sat."""
    system = optional_text(fields, "system", used)
    if system is None:
        return "conversations" if messages and messages[0]["role"] == "system" else "none"
    if messages and messages[0]["role"] == "system":
        raise Unconvertible("roles_out_of_order", "a top-level system and a system turn in conversations")
    messages.insert(0, {"role": "system", "content": system})
    extras.insert(0, {})
    return "top"


def _split_system(messages: list, extras: list, placement: str) -> tuple[str | None, list, list]:
    """(top-level system or None, turns, extras) for writing."""
    if placement != "top" or messages[0]["role"] != "system":
        return None, messages, extras
    if extras[0]:
        raise Unconvertible("not_representable", "a top-level system prompt cannot carry extra keys")
    return messages[0]["content"], messages[1:], extras[1:]


def side_hints(side: str, extras: list | None, layouts: list | None) -> dict:
    hints = {f"{side}_extras": extras, f"{side}_content_parts": layouts}
    return {key: value for key, value in hints.items() if value is not None}


PREFERENCE_PART_HINTS = ("prompt_extras", "chosen_extras", "rejected_extras")
