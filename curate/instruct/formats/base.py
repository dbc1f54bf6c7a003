"""What a format is to curate: its detection, reader, writer, columns and trainer facts.

A format module builds one `Format` (as FORMAT) and `formats/registry.py` lists it. Everything
else (convert's choices, detection, Parquet columns, the dataset card, LLaMA-Factory and
Axolotl files) is derived from these fields.

A reader takes the record's fields (nulls removed) and returns (canonical rows, the record
keys it used); keys it did not use travel in the row's meta. A writer takes a validated
canonical row and a copy of its meta, pops the hints it uses, and returns the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SFT = "sft"
PREFERENCE = "preference"

MESSAGE_LIST = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
SHAREGPT_TURN = pa.struct([("from", pa.string()), ("value", pa.string())])

Reader = Callable[[dict], tuple[list[dict], set[str]]]
Writer = Callable[[dict, dict], dict]


@dataclass(frozen=True)
class LlamaFactory:
    """How LLaMA-Factory reads the format: its dataset_info.json entry (without `file_name`,
    which curate sets to the folder's `data/`), or None with the reason it cannot."""

    entry: dict[str, Any] | None = None
    cannot: str = ""  # why no entry is written (shown in the card)
    note: str = ""  # one more sentence for the card when it can


@dataclass(frozen=True)
class Axolotl:
    """How Axolotl reads the format: its `datasets:` entry (without path, ds_type and split,
    which curate sets), `rl` for preference data, or None with the reason it cannot."""

    dataset: dict[str, Any] | None = None
    rl: str | None = None  # "dpo" for preference data
    cannot: str = ""
    comments: tuple[str, ...] = ()  # comment lines at the top of axolotl.yaml
    note: str = ""  # one more sentence for the card
    # Columns Axolotl's loader reads only where every row has a value: a null there breaks it
    # (a null system prompt becomes a None turn). A folder with a null in one gets no axolotl.yaml.
    needs_values: dict[str, str] = field(default_factory=dict)  # column -> what a null breaks, and what to do


@dataclass(frozen=True)
class Layout:
    """What a dataset card and the trainer files need to know about a folder's columns: a format
    (below) is one, and so is each of render's column layouts."""

    name: str
    kind: str  # SFT or PREFERENCE
    summary: str  # the layout in one or two sentences, for the dataset card
    trl: str = ""  # how TRL reads it; "" for "TRL does not read this layout"
    llamafactory: LlamaFactory = field(default_factory=LlamaFactory)
    axolotl: Axolotl = field(default_factory=Axolotl)


@dataclass(frozen=True, kw_only=True)
class Format(Layout):
    """A layout that is also a way to write records: how to recognise, read and write them."""

    detect: Callable[[Mapping], bool]  # whether a record (its keys) looks like this format
    # Formats are tried in this order (lowest first), so a shape is tested before the shapes it
    # contains: sharegpt-preference (conversations + chosen/rejected) before sharegpt.
    detect_order: int
    read: Reader
    columns: tuple[tuple[str, pa.DataType], ...]  # Parquet columns of written rows, between id and source
    write: Writer | None = None  # None: read only
    hints: frozenset[str] = frozenset()  # meta keys this format writes back into its records
    # The format's own records hold Alpaca's instruction/input/output, so its rows keep them
    # and no separate Alpaca columns are added when converting to it.
    alpaca_fields: bool = False

    @property
    def writable(self) -> bool:
        return self.write is not None


class Unconvertible(Exception):
    """A row that cannot be read or written: `reason` is a snake_case code (see REASONS)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


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
