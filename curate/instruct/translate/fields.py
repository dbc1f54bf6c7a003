"""The text fields of a canonical row, and the row rebuilt from their translations.

Every text a person reads is a field, translated in its own request:

  SFT         each message's content (system, user, assistant), named `messages[3].user`;
              tool calls and tool results are code, kept as they are. A row with Alpaca's
              columns is translated as `instruction`, `input` and `output` instead of its last
              exchange, and the user turn is composed again from the translated two.
  preference  each prompt turn (`prompt[0].user`), `chosen` and `rejected`.

With `regenerate` an SFT row gives the conversation up to its last user turn only: the
answer after it is written anew in the target language. A field whose prose (spans.py) has
no letter, such as a code block alone or a number, is nothing to translate and stays as it is.
"""

from __future__ import annotations

from curate.instruct.formats import PREFERENCE
from curate.instruct.formats.canonical import ALPACA_KEYS, compose_user_turn
from curate.instruct.translate import spans

TRANSLATED_ROLES = frozenset({"system", "user", "assistant"})


def is_alpaca(row: dict) -> bool:
    """Whether the row holds Alpaca's columns (validated: they are its last exchange)."""
    return "instruction" in row and "output" in row


def needs_translation(text: str) -> bool:
    return any(char.isalpha() for char in spans.prose(text))


def _last_user(messages: list[dict]) -> int:
    return max(index for index, message in enumerate(messages) if message["role"] == "user")


def fields_of(row: dict, kind: str, regenerate: bool = False) -> list[tuple[str, str]]:
    """(name, text) of every field of `row` to translate, in reading order."""
    found: list[tuple[str, str]] = []
    if kind == PREFERENCE:
        found += [(f"prompt[{index}].{m['role']}", m["content"]) for index, m in enumerate(row["prompt"])]
        found += [(side, row[side][0]["content"]) for side in ("chosen", "rejected")]
    else:
        messages = row["messages"]
        alpaca = is_alpaca(row)
        end = _last_user(messages) + 1 if regenerate else len(messages)
        if alpaca:
            end = min(end, len(messages) - 2)  # the last exchange is read from the Alpaca columns
        found += [
            (f"messages[{index}].{message['role']}", message["content"])
            for index, message in enumerate(messages[:end])
            if message["role"] in TRANSLATED_ROLES
        ]
        if alpaca:
            found += [(key, row[key]) for key in ("instruction", "input") if isinstance(row.get(key), str)]
            if not regenerate:
                found.append(("output", row["output"]))
    return [(name, text) for name, text in found if needs_translation(text)]


def translated_row(row: dict, kind: str, texts: dict[str, str]) -> dict:
    """`row` with each field named in `texts` replaced by its translation (meta and ids kept)."""
    new = {key: value for key, value in row.items() if key != "meta"}
    if kind == PREFERENCE:
        new["prompt"] = _messages(row["prompt"], "prompt", texts)
        for side in ("chosen", "rejected"):
            new[side] = [{**row[side][0], "content": texts.get(side, row[side][0]["content"])}]
        return new
    new["messages"] = _messages(row["messages"], "messages", texts)
    if is_alpaca(row):
        keys = {key: texts.get(key, row[key]) for key in ALPACA_KEYS if key in row}
        new.update(keys)
        new["messages"][-2] = {
            **new["messages"][-2],
            "content": compose_user_turn(keys["instruction"], keys.get("input", "")),
        }
        new["messages"][-1] = {**new["messages"][-1], "content": keys["output"]}
    return new


def prompt_messages(row: dict, texts: dict[str, str]) -> list[dict]:
    """The translated conversation of an SFT row up to its last user turn (to be answered anew)."""
    messages = translated_row(row, "sft", texts)["messages"]
    return [{"role": m["role"], "content": m["content"]} for m in messages[: _last_user(messages) + 1]]


def _messages(messages: list[dict], field: str, texts: dict[str, str]) -> list[dict]:
    return [
        {**message, "content": texts.get(f"{field}[{index}].{message['role']}", message["content"])}
        for index, message in enumerate(messages)
    ]
