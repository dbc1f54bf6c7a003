"""The hinge loss of SLiC (Zhao et al. 2023), as TRL writes it: relu(1 - beta * delta)."""

from __future__ import annotations


def loss(chosen_logratios, rejected_logratios, beta: float, chosen_lengths, rejected_lengths):
    import torch

    return torch.relu(1 - beta * (chosen_logratios - rejected_logratios))
