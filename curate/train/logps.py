"""Log-probabilities of completions under a model: what DPO compares between policy and reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.train.models import model_inputs

if TYPE_CHECKING:  # pragma: no cover
    import torch


def sequence_logps(scorer, batch: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion log-probabilities of a `collate_preference` batch: (chosen [B], rejected [B]).

    One forward pass over the 2B rows through `scorer` (lean_loss.token_scorer: a model whose
    logits are computed a chunk of positions at a time); the logits at position i score the
    label at i + 1, and only labels != -100 (the completion) count.
    """
    from curate.train.lean_loss import LeanCausalLM, sequence_logps_from

    if hasattr(scorer, "config"):  # a transformers model itself
        scorer = LeanCausalLM(scorer)
    logps, rows = scorer(model_inputs(batch, device), batch["labels"].to(device))
    chosen, rejected = sequence_logps_from(logps, rows, batch["input_ids"].shape[0]).chunk(2, dim=0)
    return chosen, rejected


def completion_lengths(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Completion token counts of a `collate_preference` batch: (chosen [B], rejected [B]), float."""
    counts = (batch["labels"] != -100).sum(dim=-1).float()
    chosen, rejected = counts.chunk(2, dim=0)
    return chosen, rejected
