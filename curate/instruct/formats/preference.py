"""TRL's preference layout: `prompt`, `chosen` and `rejected` (message lists, or strings for the standard type)."""

from __future__ import annotations

from typing import Any

from curate.instruct.formats.base import MESSAGE_LIST, PREFERENCE, Axolotl, Format, LlamaFactory, Unconvertible
from curate.instruct.formats.canonical import assistant, require, user
from curate.instruct.formats.messages_io import (
    PREFERENCE_PART_HINTS,
    read_openai_messages,
    side_hints,
    write_openai_messages,
)


def _read_preference(fields: dict) -> tuple[list[dict], set[str]]:
    chosen = require(fields, "chosen")
    rejected = require(fields, "rejected")
    prompt = fields.get("prompt")
    if isinstance(prompt, str):
        return [_standard_preference_row(prompt, chosen, rejected)], {"prompt", "chosen", "rejected"}
    if prompt is None:
        return [_implicit_preference_row(chosen, rejected)], {"chosen", "rejected"}
    row, meta = {}, {}
    for side, raw in (("prompt", prompt), ("chosen", chosen), ("rejected", rejected)):
        row[side], extras, layouts = read_openai_messages(raw, side)
        meta.update(side_hints(side, extras, layouts))
    if meta:
        row["meta"] = meta
    return [row], {"prompt", "chosen", "rejected"}


def _standard_preference_row(prompt: str, chosen: Any, rejected: Any) -> dict:
    for side, value in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(value, str):
            raise Unconvertible("not_a_string", f"{side} (the prompt is a string, so the answers must be too)")
    return {
        "prompt": [user(prompt)],
        "chosen": [assistant(chosen)],
        "rejected": [assistant(rejected)],
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
        row[side], extras, layouts = read_openai_messages(raw, side)
        meta.update(side_hints(side, extras, layouts))
    row["meta"] = meta
    return row


def _write_preference(row: dict, meta: dict) -> dict:
    style = meta.pop("preference_style", None)
    sides = {
        side: write_openai_messages(
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


FORMAT = Format(
    name="preference",
    kind=PREFERENCE,
    summary="TRL conversational preference: `prompt` is a list of messages ending with the user, "
    "`chosen` and `rejected` each hold one assistant message.",
    detect=lambda record: "chosen" in record and "rejected" in record,
    detect_order=50,  # after hh-rlhf, whose transcripts are chosen/rejected strings without a prompt
    read=_read_preference,
    write=_write_preference,
    columns=(("prompt", MESSAGE_LIST), ("chosen", MESSAGE_LIST), ("rejected", MESSAGE_LIST)),
    hints=frozenset(
        {
            *PREFERENCE_PART_HINTS,
            "prompt_content_parts",
            "chosen_content_parts",
            "rejected_content_parts",
            "preference_style",
        }
    ),
    trl="`DPOTrainer` (and the other preference trainers) read `prompt`, `chosen` and "
    "`rejected` as conversational preference data.",
    llamafactory=LlamaFactory(
        cannot="its chosen/rejected columns are message lists, and LLaMA-Factory's ranking "
        "data wants one message object each; write `--to sharegpt-preference` for it"
    ),
    axolotl=Axolotl(
        rl="dpo",
        # Axolotl 0.19 keeps only these keys of a DPO dataset (it drops message_property_mappings and
        # roles), and the layout needs no more: roles and content are its defaults.
        dataset={
            "type": "chat_template.default",
            "field_messages": "prompt",
            "field_chosen": "chosen",
            "field_rejected": "rejected",
        },
        comments=(
            "chat_template.default renders with the config's chat_template (e.g. chat_template: tokenizer_default).",
        ),
    ),
)
