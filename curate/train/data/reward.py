"""Preference rows for a reward model, as TRL's RewardTrainer (1.16) prepares conversational ones.

Each side is the whole conversation, prompt + that answer, rendered with the chat template (no
generation prompt) and tokenised without added special tokens. A pair with either side longer
than `max_length` is dropped, not truncated (TRL filters such rows out; a cut sequence would put
the reward on a token in the middle of the answer): `longer_than_max_length` in the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from curate.errors import UserError
from curate.instruct.templates import TemplateRenderError
from curate.llm.reward_model import right_pad
from curate.train.data.report import TEMPLATE_ERROR, TOKENIZE_BATCH, TruncationReport
from curate.train.data.sft import template_variables

LONGER_THAN_MAX_LENGTH = "longer_than_max_length"  # drop reason in the truncation report


class RewardPair(TypedDict):
    chosen_ids: list[int]
    rejected_ids: list[int]
    margin: float


def pair_margin(row: Mapping, number: int, margin_from_scores: bool = False) -> float:
    """The row's margin: its `margin` column (read_rows keeps unknown columns in `meta`), else
    score_chosen - score_rejected when asked to, else 0 (the plain Bradley–Terry loss)."""
    meta = row.get("meta") if isinstance(row.get("meta"), Mapping) else {}
    value = row.get("margin", meta.get("margin"))
    if (
        value is None
        and margin_from_scores
        and row.get("score_chosen") is not None
        and row.get("score_rejected") is not None
    ):
        value = row["score_chosen"] - row["score_rejected"]
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"row {number}: the margin must be a finite number, not {value!r}")
    return float(value)


def tokenize_pairs(rows: Iterable[Mapping], tokenizer, template, max_length: int, margin_from_scores: bool = False):
    """`RewardPair`s from preference rows, as TRL's RewardTrainer tokenises them, and a `TruncationReport`.

    Each side: `template.render(prompt + side)` tokenised with `add_special_tokens=False`. Pairs
    with a side over `max_length` tokens are dropped (`longer_than_max_length`), never cut.
    `tokens` counts both sequences; `trained_tokens` equals it (every token feeds the reward).
    """
    if max_length < 2:
        raise UserError(f"max_length must be at least 2 tokens, not {max_length}")
    report = TruncationReport()
    pairs: list[RewardPair] = []
    pending: list[tuple[str, str, float]] = []

    def flush() -> None:
        if not pending:
            return
        encoded = tokenizer(
            [text for chosen, rejected, _ in pending for text in (chosen, rejected)],
            add_special_tokens=False,
            verbose=False,
        )["input_ids"]
        for index, (_, _, margin) in enumerate(pending):
            chosen_ids, rejected_ids = list(encoded[2 * index]), list(encoded[2 * index + 1])
            if len(chosen_ids) > max_length or len(rejected_ids) > max_length:
                report.drop(LONGER_THAN_MAX_LENGTH)
                continue
            report.tokens += len(chosen_ids) + len(rejected_ids)
            pairs.append({"chosen_ids": chosen_ids, "rejected_ids": rejected_ids, "margin": margin})
        pending.clear()

    for row in rows:
        report.rows += 1
        if not all(key in row for key in ("prompt", "chosen", "rejected")):
            raise UserError(f"row {report.rows} is not a preference row (prompt, chosen, rejected)")
        margin = pair_margin(row, report.rows, margin_from_scores)
        variables = template_variables(row)
        try:
            chosen = template.render(list(row["prompt"]) + list(row["chosen"]), **variables)
            rejected = template.render(list(row["prompt"]) + list(row["rejected"]), **variables)
        except TemplateRenderError as error:
            report.drop(TEMPLATE_ERROR, str(error))
            continue
        pending.append((chosen, rejected, margin))
        if len(pending) >= TOKENIZE_BATCH:
            flush()
    flush()
    report.kept = len(pairs)
    report.trained_tokens = report.tokens
    return pairs, report


def collate_pairs(pairs: Sequence[Mapping], pad_id: int) -> dict[str, Any]:
    """2B right-padded rows, every chosen sequence then every rejected one (TRL's
    `DataCollatorForPreference` layout), a 2D `attention_mask`, and `margin` [B] (float32)."""
    import torch

    if not pairs:
        raise ValueError("an empty batch")
    input_ids, attention_mask = right_pad(
        [pair["chosen_ids"] for pair in pairs] + [pair["rejected_ids"] for pair in pairs], pad_id
    )
    margin = torch.tensor([float(pair.get("margin", 0.0)) for pair in pairs], dtype=torch.float32)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "margin": margin}
