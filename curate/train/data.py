"""Training data: read dataset folders, tokenise with loss masks, pack, collate.

    rows = read_rows("out/sft")                                  # canonical rows
    examples, report = tokenize_sft(rows, tokenizer, template, max_length=2048)
    rows_or_packed = pack(examples, 2048)                        # optional
    batch = collate_sft(rows_or_packed[:8], pad_id, packed=True)  # tensors for model(**...)

    pairs, report = tokenize_preference(rows, tokenizer, template, 2048, max_prompt_length=1024)
    batch = collate_preference(pairs[:4], pad_id)                 # 2B rows: chosen, then rejected

What is trained (labels != -100), SFT:
- chat rows: the tokens of every assistant turn as `assistant_spans` finds them: from where the
  generation prompt ends (after `<|im_start|>assistant\\n`) to the end of the text the template
  writes after the content when the conversation ends there. For ChatML that is the content,
  `<|im_end|>` and the `\\n` after it; for Llama 3 the content and `<|eot_id|>`; for the Alpaca
  template the output and `eos_token` (`</s>`; the blank line between turns is not trained).
  Role headers, system and user turns are never trained. Templates need no `{% generation %}` tags.
- text rows (a plain `text` column, pretraining style): every token, the tokenizer's own special
  tokens added (`add_special_tokens=True`, e.g. Llama's `<s>`) and `eos_token` appended.
- the first token of every example is never a label: nothing comes before it to predict it from
  (the model shifts labels itself, so labels[i] is the target of the logits at i - 1). The report's
  trained-token counts are therefore the real number of prediction targets.

Token ids come from the tokenizer run on the rendered text with `add_special_tokens=False`, as
`apply_chat_template(..., tokenize=True)` does: the template writes its own bos and markers.
torch is imported inside the functions that build tensors, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from curate.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from curate.instruct.templates import ChatTemplate

IGNORE = -100  # the label of a token the loss skips (PyTorch's cross_entropy ignore_index)

SFT = "sft"
PREFERENCE = "preference"

# Drop reasons of the truncation report.
NO_ASSISTANT_TOKENS = "no_assistant_tokens"
ALL_TRAINED_TOKENS_TRUNCATED = "all_trained_tokens_truncated"
TEMPLATE_ERROR = "template_error"
PROMPT_FILLS_MAX_LENGTH = "prompt_fills_max_length"

# Rendered texts are tokenised this many at a time (the Rust tokenizer works on a batch in parallel).
_TOKENIZE_BATCH = 512

# Attention implementations that take a 4D mask tensor: SDPA a boolean one, eager an additive one.
_MASK_4D = {"sdpa": "bool", "eager": "additive"}


class Example(TypedDict):
    """One tokenised SFT example."""

    input_ids: list[int]
    labels: list[int]


class PreferencePair(TypedDict):
    """One tokenised preference pair: the model sees prompt_ids + chosen_ids and prompt_ids + rejected_ids."""

    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]


class PackedRow(TypedDict):
    """Several examples laid end to end in one row.

    `labels` is -100 at the first token of every example, so no token is predicted from the
    example before it; `position_ids` restart at 0 with each example; `seq_lengths` are the
    examples' lengths in order (they sum to len(input_ids)).
    """

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    seq_lengths: list[int]


@dataclass
class TruncationReport:
    """What tokenisation kept, cut and dropped, and why.

    `rows`: rows given; `kept`: examples (or pairs) returned; `truncated`: kept ones that were
    cut to fit; `dropped`: reason -> count (`no_assistant_tokens`, `all_trained_tokens_truncated`,
    `template_error`, and for preference pairs `prompt_fills_max_length`); `tokens` / `trained_tokens`:
    tokens and prediction targets (labels != -100) in what was kept, after truncation (for pairs:
    both sequences, prompt counted twice; trained = completion tokens); `tokens_truncated`: tokens
    cut off kept examples; `straddling_tokens`: tokens that cross an assistant-span boundary with
    real text on both sides (masked by where they start; 0 for a tokenizer that has the template's
    markers as special tokens); `prompt_mismatch`: pairs whose tokenised prompt is not a prefix of
    the tokenised conversation (the prompt is then cut where they diverge, as TRL does);
    `template_errors`: up to three template error messages, for the user.
    """

    rows: int = 0
    kept: int = 0
    truncated: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    trained_tokens: int = 0
    tokens_truncated: int = 0
    straddling_tokens: int = 0
    prompt_mismatch: int = 0
    template_errors: list[str] = field(default_factory=list)

    def drop(self, reason: str, detail: str | None = None) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        if detail and len(self.template_errors) < 3:
            self.template_errors.append(detail)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "kept": self.kept,
            "truncated": self.truncated,
            "dropped": dict(sorted(self.dropped.items())),
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "tokens_truncated": self.tokens_truncated,
            "straddling_tokens": self.straddling_tokens,
            "prompt_mismatch": self.prompt_mismatch,
            "template_errors": list(self.template_errors),
        }

    def summary(self) -> str:
        """One line for the terminal."""
        dropped = ", ".join(f"{count} {reason}" for reason, count in sorted(self.dropped.items())) or "none"
        return (
            f"{self.rows} rows -> {self.kept} kept ({self.truncated} truncated), dropped: {dropped}; "
            f"{self.tokens} tokens, {self.trained_tokens} trained"
        )


# ------------------------------------------------------------------------------ reading


def read_rows(path: str | os.PathLike, kind: str | None = None) -> list[dict]:
    """The canonical rows of a dataset folder or file, read by curate's one row reader
    (instruct/rows.py): any format `curate convert` reads, or plain `{"text": ...}` rows.

    SFT rows have `messages` (and `instruction`/`input`/`output` for Alpaca-origin rows),
    preference rows `prompt`/`chosen`/`rejected` message lists. `kind` ("sft" or "preference"),
    when given, is checked against what the data holds (text rows are SFT rows).
    """
    from curate.instruct.rows import read_rows as read_canonical_rows

    found = read_canonical_rows([str(path)], what="row", text_rows=True)
    rows = [row for row, _ in found.rows]
    if kind is not None and rows:
        held = rows_kind(rows)
        if held != kind:
            raise UserError(f"{path} holds {held} rows, but {kind} rows are needed here")
    return rows


def rows_kind(rows: Sequence[Mapping]) -> str:
    """The rows' kind: "preference" for prompt/chosen/rejected rows, "sft" for messages or text rows."""
    if not rows:
        raise ValueError("no rows")
    return PREFERENCE if "chosen" in rows[0] else SFT


# ------------------------------------------------------------------------------ SFT


def tokenize_sft(
    rows: Iterable[Mapping], tokenizer, template: ChatTemplate, max_length: int
) -> tuple[list[Example], TruncationReport]:
    """Tokenise SFT rows into `{"input_ids", "labels"}` with labels -100 outside assistant turns.

    Each conversation is rendered with `template` (Alpaca-origin rows pass `instruction` and
    `input` to it, so the Alpaca template writes Alpaca's exact prompt) and its assistant spans
    found with `assistant_spans`; the tokens inside a span are trained (see the module docstring
    for exactly which). An example longer than `max_length` is cut at `max_length`; one left with
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
        if "messages" not in row:
            if isinstance(row.get("text"), str):
                if pending:
                    flush()
                texts.append(row["text"])
                if len(texts) >= _TOKENIZE_BATCH:
                    flush()
                continue
            raise UserError(f"row {report.rows} has neither messages nor text; tokenize_sft takes SFT rows")
        if texts:
            flush()  # keep the examples in the rows' order
        rendered = _render_chat(row, template, report)
        if rendered is not None:
            pending.append(rendered)
            if len(pending) >= _TOKENIZE_BATCH:
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


# ------------------------------------------------------------------------------ preference


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
        if len(batch) >= _TOKENIZE_BATCH:
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


# ------------------------------------------------------------------------------ packing


def pack(examples: Sequence[Mapping], max_length: int) -> list[PackedRow]:
    """Pack examples into rows of at most `max_length` tokens, first-fit decreasing.

    First-fit decreasing (longest example first, each into the first row with room) fills rows
    to within a few percent of optimal where sequential packing (in order, a new row whenever
    the next example does not fit) wastes the tail of most rows once examples are a sizeable
    fraction of `max_length`, as chat examples are. Its cost: rows come out roughly longest
    first and hold examples of different positions in the data, so shuffle the rows (with the
    run's seed) rather than the examples. Ties keep the examples' order; the result depends
    only on the input. O(n log n): the first row with room is found in a max-segment tree.

    Each row: `input_ids`, `labels` (-100 at each example's first token, so no token is
    predicted across a boundary), `position_ids` restarting at 0 per example, `seq_lengths`.
    """
    lengths = [len(example["input_ids"]) for example in examples]
    for number, length in enumerate(lengths):
        if not 0 < length <= max_length:
            raise ValueError(f"example {number} has {length} tokens; packing takes 1 to max_length {max_length}")
    order = sorted(range(len(examples)), key=lambda index: -lengths[index])
    bins = _first_fit([lengths[index] for index in order], max_length)
    positions = list(range(max_length))  # sliced, not rebuilt: one set of int objects for every row
    rows: list[PackedRow] = []
    for members in bins:
        input_ids: list[int] = []
        labels: list[int] = []
        position_ids: list[int] = []
        seq_lengths: list[int] = []
        for member in members:
            example = examples[order[member]]
            length = len(example["input_ids"])
            if len(example["labels"]) != length:
                raise ValueError(f"example {order[member]} has {len(example['labels'])} labels for {length} tokens")
            labels.extend(example["labels"])
            labels[len(input_ids)] = IGNORE  # its first token is not predicted from the example before
            input_ids.extend(example["input_ids"])
            position_ids.extend(positions[:length])
            seq_lengths.append(length)
        rows.append(
            {"input_ids": input_ids, "labels": labels, "position_ids": position_ids, "seq_lengths": seq_lengths}
        )
    return rows


def _first_fit(sizes: list[int], capacity: int) -> list[list[int]]:
    """Indices of `sizes` per bin, each size into the leftmost bin with room."""
    if not sizes:
        return []
    leaves = 1
    while leaves < len(sizes):
        leaves *= 2
    tree = [capacity] * (2 * leaves)  # tree[node] = most room in any bin below node
    bins: list[list[int]] = []
    for index, size in enumerate(sizes):
        node = 1
        while node < leaves:
            node = 2 * node if tree[2 * node] >= size else 2 * node + 1
        slot = node - leaves
        if slot == len(bins):
            bins.append([])
        bins[slot].append(index)
        tree[node] -= size
        node //= 2
        while node:
            tree[node] = max(tree[2 * node], tree[2 * node + 1])
            node //= 2
    return bins


# ------------------------------------------------------------------------------ collation


def collate_sft(
    batch: Sequence[Mapping], pad_id: int, packed: bool = False, *, attn_implementation: str = "sdpa"
) -> dict[str, Any]:
    """Tensors for a causal LM's forward from examples (`packed=False`) or packed rows.

    Unpacked: `input_ids` right-padded with `pad_id`, `labels` with -100, and a 2D
    `attention_mask` (1 = token, 0 = padding); every attention implementation takes these.

    Packed: `input_ids`, `labels`, `position_ids` (restarting per example), and an attention
    that keeps each example to itself. How depends on `attn_implementation` (the model's
    `config._attn_implementation`):
    - "sdpa" (transformers' default): `attention_mask` is a boolean [batch, 1, L, L] block-diagonal
      causal mask (True = may attend). transformers passes a 4D mask through unchanged
      (`masking_utils._preprocess_mask_arguments`) to `torch.nn.functional.scaled_dot_product_attention`;
    - "eager": the same mask as additive float32 (0 or the float32 minimum), which eager attention
      adds to its scores (a boolean mask would be added as 0/1 there, silently wrong);
    - anything else (flash_attention_2/3, flex_attention, kernels): no `attention_mask`, plus the
      flash-attention varlen fields `cu_seq_lens_q`/`cu_seq_lens_k` (int32 boundaries over the
      flattened batch) and `max_length_q`/`max_length_k`. Flex attention builds its packed mask
      from the restarting `position_ids` itself, but only when the forward has no KV cache: call
      the model with `use_cache=False` (transformers skips that detection when a cache exists,
      and `use_cache` defaults to True, which is why SDPA and eager get an explicit mask).
    A row's padding tail is a sequence of its own (positions 0, 1, ...), so no row of the mask is
    empty and padding never attends to, or is attended by, real tokens.
    """
    import torch

    if not batch:
        raise ValueError("an empty batch")
    longest = max(len(item["input_ids"]) for item in batch)
    input_ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), longest), IGNORE, dtype=torch.long)
    for number, item in enumerate(batch):
        length = len(item["input_ids"])
        input_ids[number, :length] = torch.tensor(item["input_ids"], dtype=torch.long)
        labels[number, :length] = torch.tensor(item["labels"], dtype=torch.long)
    if not packed:
        attention_mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for number, item in enumerate(batch):
            attention_mask[number, : len(item["input_ids"])] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}

    segments = [_row_segments(item, longest) for item in batch]
    position_ids = torch.stack([torch.cat([torch.arange(length) for length in lengths]) for lengths in segments])
    out: dict[str, Any] = {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}
    style = _MASK_4D.get(attn_implementation)
    if style is not None:
        out["attention_mask"] = block_causal_mask(segments, longest, additive=style == "additive")
    else:
        boundaries = [0]
        for lengths in segments:
            for length in lengths:
                boundaries.append(boundaries[-1] + length)
        cu_seq_lens = torch.tensor(boundaries, dtype=torch.int32)
        longest_segment = max(length for lengths in segments for length in lengths)
        out.update(
            cu_seq_lens_q=cu_seq_lens,
            cu_seq_lens_k=cu_seq_lens.clone(),
            max_length_q=longest_segment,
            max_length_k=longest_segment,
        )
    return out


def _row_segments(item: Mapping, width: int) -> list[int]:
    """The sequence lengths of a packed row padded to `width`: its examples, then its padding."""
    lengths = list(item.get("seq_lengths") or [len(item["input_ids"])])
    if sum(lengths) != len(item["input_ids"]):
        raise ValueError(f"seq_lengths sum to {sum(lengths)}, but the row has {len(item['input_ids'])} tokens")
    padding = width - len(item["input_ids"])
    return lengths + [padding] if padding else lengths


def block_causal_mask(segments: Sequence[Sequence[int]], width: int, additive: bool = False) -> torch.Tensor:
    """A [batch, 1, width, width] mask: token q may attend to token k iff k <= q in the same segment.

    Boolean (True = attend) for SDPA, or additive float32 (0 / float32 minimum) for eager attention.
    """
    import torch

    ids = torch.stack(
        [torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths)) for lengths in segments]
    )
    causal = torch.ones((width, width), dtype=torch.bool).tril()
    mask = (ids[:, :, None] == ids[:, None, :]) & causal
    mask = mask[:, None, :, :]
    if additive:
        return torch.zeros(mask.shape, dtype=torch.float32).masked_fill(~mask, torch.finfo(torch.float32).min)
    return mask


def collate_preference(batch: Sequence[Mapping], pad_id: int) -> dict[str, Any]:
    """One forward pass of 2B rows: prompt + chosen for every pair, then prompt + rejected.

    `input_ids` right-padded with `pad_id`, 2D `attention_mask`, and `labels` holding the
    completion tokens (-100 on the prompt and padding): the log-probability of a completion is
    the sum over its labels. The same rows as TRL's `DataCollatorForPreference` (its
    `completion_mask` is `labels != -100`).
    """
    import torch

    if not batch:
        raise ValueError("an empty batch")
    sequences = [(item["prompt_ids"], item["chosen_ids"]) for item in batch]
    sequences += [(item["prompt_ids"], item["rejected_ids"]) for item in batch]
    longest = max(len(prompt) + len(completion) for prompt, completion in sequences)
    input_ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(sequences), longest), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for number, (prompt, completion) in enumerate(sequences):
        total = len(prompt) + len(completion)
        input_ids[number, :total] = torch.tensor(list(prompt) + list(completion), dtype=torch.long)
        labels[number, len(prompt) : total] = torch.tensor(list(completion), dtype=torch.long)
        attention_mask[number, :total] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
