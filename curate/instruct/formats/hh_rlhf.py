"""Anthropic HH-RLHF transcripts: `chosen` and `rejected` are whole conversations sharing all but the last answer."""

from __future__ import annotations

import os
import re

import pyarrow as pa

from curate.instruct.formats.base import PREFERENCE, Axolotl, Format, LlamaFactory, Unconvertible
from curate.instruct.formats.canonical import assistant, check_preference, require_str

_HH_MARKER = re.compile(r"\n\n(Human|Assistant):")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}
_HH_PREFIXES = {"user": "\n\nHuman:", "assistant": "\n\nAssistant:"}
_HH_ANSWER = "\n\nAssistant:"


def _read_hh_rlhf(fields: dict) -> tuple[list[dict], set[str]]:
    chosen = require_str(fields, "chosen")
    rejected = require_str(fields, "rejected")
    row = _parse_hh_pair(chosen, rejected)
    check_preference(row)
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
        "chosen": [assistant(_drop_one_space(chosen[answer_start:]))],
        "rejected": [assistant(_drop_one_space(rejected[answer_start:]))],
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


def _write_hh_rlhf(row: dict, meta: dict) -> dict:
    roles = {message["role"] for message in row["prompt"]}
    if not roles <= {"user", "assistant"}:
        extra = ", ".join(sorted(roles - {"user", "assistant"}))
        raise Unconvertible("not_representable", f"hh-rlhf transcripts have no place for {extra} turns")
    chosen, rejected = _render_hh_pair(row)
    return {"chosen": chosen, "rejected": rejected}


FORMAT = Format(
    name="hh-rlhf",
    kind=PREFERENCE,
    summary="Anthropic HH-RLHF transcripts: `chosen` and `rejected` are whole "
    "'\\n\\nHuman: ...\\n\\nAssistant: ...' conversations sharing everything but the last answer.",
    detect=lambda record: (
        "chosen" in record
        and "rejected" in record
        and "prompt" not in record
        and isinstance(record["chosen"], str)
        and isinstance(record["rejected"], str)
    ),
    detect_order=40,
    read=_read_hh_rlhf,
    write=_write_hh_rlhf,
    columns=(("chosen", pa.string()), ("rejected", pa.string())),
    trl="This is TRL's standard preference type with an implicit prompt; `DPOTrainer` cuts "
    "`chosen` and `rejected` at their first differing character. For a prompt cut at the turn, "
    "write `--to preference`.",
    llamafactory=LlamaFactory(
        cannot="the prompt is only implicit in the chosen/rejected transcripts; write `--to sharegpt-preference` for it"
    ),
    axolotl=Axolotl(
        cannot="no Axolotl DPO type reads transcripts without a prompt field; "
        "write `--to preference` or `--to sharegpt-preference` for it"
    ),
)
