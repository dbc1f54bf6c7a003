"""The DPO paper's loss (Rafailov et al. 2023): -log sigmoid(beta * delta)."""

from __future__ import annotations


def loss(chosen_logratios, rejected_logratios, beta: float, chosen_lengths, rejected_lengths):
    import torch.nn.functional as F

    return -F.logsigmoid(beta * (chosen_logratios - rejected_logratios))
