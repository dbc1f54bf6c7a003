"""DPO losses, by name: one module each, one line in LOSSES (`curate train-dpo --loss` offers them).

A loss takes the per-pair log-ratios `policy - reference` of the chosen and rejected completions
(summed log-probabilities, shape [B]), `beta`, and the completions' token counts, and returns
the per-pair losses. Each is TRL 1.16's formula of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from curate.train.dpo_losses import hinge, ipo, sigmoid

if TYPE_CHECKING:  # pragma: no cover
    import torch

LOSSES: dict[str, Callable] = {
    "sigmoid": sigmoid.loss,
    "ipo": ipo.loss,
    "hinge": hinge.loss,
}


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    loss_type: str = "sigmoid",
    *,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair losses and the chosen and rejected rewards, as TRL 1.16's `DPOTrainer` computes them.

    All inputs are per-pair summed log-probabilities of shape [B]; rewards are
    `beta * (policy - ref)`, detached.
    """
    if loss_type not in LOSSES:
        raise ValueError(f"unknown DPO loss {loss_type!r}; use one of {', '.join(LOSSES)}")
    chosen_logratios = policy_chosen - ref_chosen
    rejected_logratios = policy_rejected - ref_rejected
    losses = LOSSES[loss_type](chosen_logratios, rejected_logratios, beta, chosen_lengths, rejected_lengths)
    return losses, beta * chosen_logratios.detach(), beta * rejected_logratios.detach()
