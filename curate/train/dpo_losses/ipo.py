"""IPO (Azar et al. 2023): (delta' - 1 / (2 * beta))^2, each log-ratio divided by its completion's
token count, as TRL normalises it."""

from __future__ import annotations


def loss(chosen_logratios, rejected_logratios, beta: float, chosen_lengths, rejected_lengths):
    if chosen_lengths is None or rejected_lengths is None:
        raise ValueError("the ipo loss needs chosen_lengths and rejected_lengths (completion token counts)")
    chosen_per_token = chosen_logratios / chosen_lengths.clamp(min=1.0)
    rejected_per_token = rejected_logratios / rejected_lengths.clamp(min=1.0)
    return (chosen_per_token - rejected_per_token - 1 / (2 * beta)) ** 2
