"""Log-probabilities of completions under a model: what DPO compares between policy and reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.train.models import model_inputs

if TYPE_CHECKING:  # pragma: no cover
    import torch


def selective_log_softmax(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """`log_softmax(logits)` gathered at `index`, in float32, one row at a time.

    Row by row, so only one row's logits are ever copied to float32 (the whole [2B, L, V]
    tensor in float32 would double the largest allocation of a bf16 step).
    """
    import torch

    gathered = torch.gather(logits, -1, index.unsqueeze(-1)).squeeze(-1).float()
    normaliser = torch.stack([torch.logsumexp(row.float(), dim=-1) for row in logits])
    return gathered - normaliser


def sequence_logps(model, batch: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion log-probabilities of a `collate_preference` batch: (chosen [B], rejected [B]).

    One forward pass over the 2B rows; the logits at position i score the label at i + 1,
    and only labels != -100 (the completion) count.
    """
    import torch

    logits = model(**model_inputs(batch, device), use_cache=False).logits[:, :-1]
    labels = batch["labels"][:, 1:].to(logits.device)
    mask = labels != -100
    per_token = selective_log_softmax(logits, labels.clamp(min=0))
    logps = torch.where(mask, per_token, torch.zeros_like(per_token)).sum(dim=-1)
    chosen, rejected = logps.chunk(2, dim=0)
    return chosen, rejected


def completion_lengths(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Completion token counts of a `collate_preference` batch: (chosen [B], rejected [B]), float."""
    counts = (batch["labels"] != -100).sum(dim=-1).float()
    chosen, rejected = counts.chunk(2, dim=0)
    return chosen, rejected
