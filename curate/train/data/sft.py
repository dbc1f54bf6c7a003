"""SFT rows tokenised with a loss mask: labels -100 everywhere but the assistant turns (see the
package docstring for exactly which tokens are trained)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from curate.errors import UserError
from curate.train.data.report import (
    ALL_TRAINED_TOKENS_TRUNCATED,
    IGNORE,
    NO_ASSISTANT_TOKENS,
    TEMPLATE_ERROR,
    TOKENIZE_BATCH,
    TruncationReport,
)

if TYPE_CHECKING:  # pragma: no cover
    from curate.instruct.templates import ChatTemplate


class Example(TypedDict):
    """One tokenised SFT example."""

    input_ids: list[int]
    labels: list[int]


def tokenize_sft(
    rows: Iterable[Mapping], tokenizer, template: ChatTemplate, max_length: int
) -> tuple[list[Example], TruncationReport]:
    """Tokenise SFT rows into `{"input_ids", "labels"}` with labels -100 outside assistant turns.

    Each conversation is rendered with `template` (Alpaca-origin rows pass `instruction` and
    `input` to it, so the Alpaca template writes Alpaca's exact prompt) and its assistant spans
    found with `assistant_spans`; the tokens inside a span are trained (see the module docstring
    for exactly which). Rows rendered already (`text` with `assistant_spans`) are used as they are. An example longer than `max_length` is cut at `max_length`; one left with
    no trained token is dropped. `tokenizer` must be a fast (Rust) tokenizer: the mask needs offsets.
    """
    if max_length < 2:
        raise UserError(f"max_length must be at least 2 tokens, not {max_length}")
    _require_fast(tokenizer)
    report = TruncationReport()
    examples: list[Example] = []
    pending: list[tuple[str, list[tuple[int, int]]]] = []  # (text, spans) waiting to be tokenised
    texts: list[str] = []

    def flush() -> None:
        if pending:
            _tokenize_chats(pending, tokenizer, max_length, report, examples)
            pending.clear()
        if texts:
            _tokenize_texts(texts, tokenizer, max_length, report, examples)
            texts.clear()

    for row in rows:
        report.rows += 1
        if row.get("assistant_spans"):  # rendered already (curate render): trained on its spans
            if texts:
                flush()
            pending.append((row["text"], [tuple(span) for span in row["assistant_spans"]]))
            if len(pending) >= TOKENIZE_BATCH:
                flush()
            continue
        if "messages" not in row:
            if isinstance(row.get("text"), str):
                if pending:
                    flush()
                texts.append(row["text"])
                if len(texts) >= TOKENIZE_BATCH:
                    flush()
                continue
            raise UserError(f"row {report.rows} has neither messages nor text; tokenize_sft takes SFT rows")
        if texts:
            flush()  # keep the examples in the rows' order
        rendered = _render_chat(row, template, report)
        if rendered is not None:
            pending.append(rendered)
            if len(pending) >= TOKENIZE_BATCH:
                flush()
    flush()
    report.kept = len(examples)
    return examples, report


def template_variables(row: Mapping) -> dict[str, Any]:
    """What a row passes to its template beside the messages: Alpaca's `instruction` and
    `input` (so the Alpaca template can write its with-input prompt), and `tools` as JSON."""
    variables: dict[str, Any] = {key: row[key] for key in ("instruction", "input") if isinstance(row.get(key), str)}
    tools = row.get("tools")
    if isinstance(tools, str) and tools:
        with contextlib.suppress(json.JSONDecodeError):
            variables["tools"] = json.loads(tools)
    elif isinstance(tools, list):
        variables["tools"] = tools
    return variables


def _render_chat(
    row: Mapping, template: ChatTemplate, report: TruncationReport
) -> tuple[str, list[tuple[int, int]]] | None:
    from curate.instruct.spans import assistant_spans
    from curate.instruct.templates import TemplateRenderError

    try:
        rendered = assistant_spans(template, row["messages"], **template_variables(row))
    except TemplateRenderError as error:
        report.drop(TEMPLATE_ERROR, str(error))
        return None
    if rendered.problem:
        report.drop(TEMPLATE_ERROR, f"template {template.name}: {rendered.problem}")
        return None
    if not rendered.spans:
        report.drop(NO_ASSISTANT_TOKENS)
        return None
    return rendered.text, rendered.spans


def _tokenize_chats(
    pending: list[tuple[str, list[tuple[int, int]]]],
    tokenizer,
    max_length: int,
    report: TruncationReport,
    examples: list[Example],
) -> None:
    from curate.instruct.spans import token_mask

    encoded = tokenizer(
        [text for text, _ in pending], add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    for (text, spans), ids, offsets in zip(pending, encoded["input_ids"], encoded["offset_mapping"]):
        mask, cut = token_mask(offsets, spans, text)
        report.straddling_tokens += len(cut)
        labels = [token if trained else IGNORE for token, trained in zip(ids, mask)]
        _keep(list(ids), labels, max_length, report, examples)


def _tokenize_texts(
    texts: list[str], tokenizer, max_length: int, report: TruncationReport, examples: list[Example]
) -> None:
    encoded = tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"]
    eos = tokenizer.eos_token_id
    for ids in encoded:
        ids = list(ids)
        if eos is not None and (not ids or ids[-1] != eos):
            ids.append(eos)
        _keep(ids, list(ids), max_length, report, examples)


def _keep(ids: list[int], labels: list[int], max_length: int, report: TruncationReport, examples: list) -> None:
    """Cut to max_length, drop if nothing is left to train, count."""
    if labels:
        labels[0] = IGNORE  # nothing precedes the first token to predict it from
    if not any(label != IGNORE for label in labels):
        report.drop(NO_ASSISTANT_TOKENS)
        return
    if len(ids) > max_length:
        if not any(label != IGNORE for label in labels[:max_length]):
            report.drop(ALL_TRAINED_TOKENS_TRUNCATED)
            return
        report.truncated += 1
        report.tokens_truncated += len(ids) - max_length
        ids, labels = ids[:max_length], labels[:max_length]
    report.tokens += len(ids)
    report.trained_tokens += sum(label != IGNORE for label in labels)
    examples.append({"input_ids": ids, "labels": labels})


def _require_fast(tokenizer) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise UserError(
            "this tokenizer has no fast (Rust) version, which is needed to map assistant turns to tokens; "
            "use a tokenizer folder with tokenizer.json"
        )
