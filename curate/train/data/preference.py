"""Preference rows tokenised as TRL's DPOTrainer does: a shared prompt and two completions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

from curate.errors import UserError
from curate.train.data.report import (
    NO_ASSISTANT_TOKENS,
    PROMPT_FILLS_MAX_LENGTH,
    TEMPLATE_ERROR,
    TOKENIZE_BATCH,
    TruncationReport,
)
from curate.train.data.sft import template_variables

if TYPE_CHECKING:  # pragma: no cover
    from curate.instruct.templates import ChatTemplate


class PreferencePair(TypedDict):
    """One tokenised preference pair: the model sees prompt_ids + chosen_ids and prompt_ids + rejected_ids."""

    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]


def tokenize_preference(
    rows: Iterable[Mapping],
    tokenizer,
    template: ChatTemplate,
    max_length: int,
    max_prompt_length: int | None = None,
) -> tuple[list[PreferencePair], TruncationReport]:
    """Tokenise preference rows into `{"prompt_ids", "chosen_ids", "rejected_ids"}` as TRL's DPOTrainer does.

    As `DPOTrainer._prepare_dataset` (TRL 1.16) does for conversational rows: render and tokenise
    (no special tokens added) the prompt with `add_generation_prompt=True`, prompt + chosen, and
    prompt + rejected; the prompt is the tokens the three share (normally all of the tokenised
    prompt; fewer when the template renders the prompt alone differently, counted in
    `prompt_mismatch`), and each completion is the rest of its conversation: the answer, its
    end-of-turn marker and whatever the template writes after it (`<|im_end|>\\n` for ChatML).

    Truncation (TRL leaves it to its collator, with `keep_start`): the prompt keeps its last
    `max_prompt_length` tokens, then each completion keeps its first `max_length - len(prompt)`
    tokens. A pair whose prompt alone fills `max_length` is dropped (`prompt_fills_max_length`),
    as TRL drops it.
    """
    from curate.instruct.templates import TemplateRenderError

    if max_prompt_length is not None and max_prompt_length < 1:
        raise UserError(f"max_prompt_length must be at least 1, not {max_prompt_length}")
    report = TruncationReport()
    pairs: list[PreferencePair] = []
    batch: list[tuple[str, str, str]] = []
    for row in rows:
        report.rows += 1
        if not all(key in row for key in ("prompt", "chosen", "rejected")):
            raise UserError(f"row {report.rows} is not a preference row (prompt, chosen, rejected)")
        variables = template_variables(row)
        try:
            texts = (
                template.render(row["prompt"], add_generation_prompt=True, **variables),
                template.render(list(row["prompt"]) + list(row["chosen"]), **variables),
                template.render(list(row["prompt"]) + list(row["rejected"]), **variables),
            )
        except TemplateRenderError as error:
            report.drop(TEMPLATE_ERROR, str(error))
            continue
        batch.append(texts)
        if len(batch) >= TOKENIZE_BATCH:
            _tokenize_pairs(batch, tokenizer, max_length, max_prompt_length, report, pairs)
            batch.clear()
    _tokenize_pairs(batch, tokenizer, max_length, max_prompt_length, report, pairs)
    report.kept = len(pairs)
    return pairs, report


def _common_prefix(first: Sequence[int], second: Sequence[int]) -> int:
    length = 0
    for left, right in zip(first, second):
        if left != right:
            break
        length += 1
    return length


def _tokenize_pairs(
    batch: list[tuple[str, str, str]],
    tokenizer,
    max_length: int,
    max_prompt_length: int | None,
    report: TruncationReport,
    pairs: list[PreferencePair],
) -> None:
    if not batch:
        return
    flat = [text for texts in batch for text in texts]
    encoded = tokenizer(flat, add_special_tokens=False, verbose=False)["input_ids"]
    for index in range(len(batch)):
        prompt_ids, chosen_full, rejected_full = (list(ids) for ids in encoded[3 * index : 3 * index + 3])
        shared = min(_common_prefix(prompt_ids, chosen_full), _common_prefix(prompt_ids, rejected_full))
        if shared < len(prompt_ids):
            report.prompt_mismatch += 1
        prompt, chosen, rejected = prompt_ids[:shared], chosen_full[shared:], rejected_full[shared:]
        if not chosen or not rejected:
            report.drop(NO_ASSISTANT_TOKENS)
            continue
        cut = 0
        if max_prompt_length is not None and len(prompt) > max_prompt_length:
            cut += len(prompt) - max_prompt_length
            prompt = prompt[-max_prompt_length:]
        room = max_length - len(prompt)
        if room <= 0:
            report.drop(PROMPT_FILLS_MAX_LENGTH)
            continue
        if len(chosen) > room or len(rejected) > room:
            cut += max(len(chosen) - room, 0) + max(len(rejected) - room, 0)
            chosen, rejected = chosen[:room], rejected[:room]
        if cut:
            report.truncated += 1
            report.tokens_truncated += cut
        report.tokens += 2 * len(prompt) + len(chosen) + len(rejected)
        report.trained_tokens += len(chosen) + len(rejected)
        pairs.append({"prompt_ids": prompt, "chosen_ids": chosen, "rejected_ids": rejected})
