"""Tensors for a forward pass: SFT rows (plain or packed) and preference pairs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from curate.train.data.report import IGNORE

if TYPE_CHECKING:  # pragma: no cover
    import torch

# Attention implementations that take a 4D mask tensor: SDPA a boolean one, eager an additive one.
_MASK_4D = {"sdpa": "bool", "eager": "additive"}


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
