"""Scored candidates in, chosen/rejected pairs out.

Strategies:
- `best-worst`: the highest-scored against the lowest (the widest margin);
- `best-random`: the highest against one other drawn at random (UltraFeedback binarized);
- `all-pairs`: every two candidates with different scores, the higher one chosen.

A pair whose scores are equal is dropped as `tie`; one whose margin is under `min_margin`
as `below_min_margin`; a prompt with fewer than two scored candidates as
`fewer_than_two_scored`. Candidates are distinct texts, so chosen never equals rejected.
Equal best (or worst) scores are broken by candidate order, which is deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

Scored = list[tuple[int, float]]  # (candidate index, score) of the candidates that have a score


@dataclass(frozen=True)
class Pair:
    chosen: int  # candidate indices
    rejected: int
    margin: float


@dataclass(frozen=True)
class Drop:
    reason: str
    first: int | None = None
    second: int | None = None
    detail: str = ""


def _best(scored: Scored) -> tuple[int, float]:
    return max(scored, key=lambda item: item[1])  # the first of equal bests


def _best_worst(scored: Scored, rng: random.Random) -> list[tuple]:
    best, worst = _best(scored), min(scored, key=lambda item: item[1])
    if worst[0] == best[0]:  # every score equal: the first and the last
        worst = scored[-1]
    return [(best, worst)]


def _best_random(scored: Scored, rng: random.Random) -> list[tuple]:
    best = _best(scored)
    return [(best, rng.choice([item for item in scored if item[0] != best[0]]))]


def _all_pairs(scored: Scored, rng: random.Random) -> list[tuple]:
    return [(first, second) for position, first in enumerate(scored) for second in scored[position + 1 :]]


# Which scored candidates face each other; a new strategy is a function and a line here.
STRATEGIES: dict[str, Callable[[Scored, random.Random], list[tuple]]] = {
    "best-worst": _best_worst,
    "best-random": _best_random,
    "all-pairs": _all_pairs,
}


def make_pairs(
    scores: list[float | None], strategy: str, min_margin: float, rng: random.Random
) -> tuple[list[Pair], list[Drop]]:
    """The pairs of one prompt's candidates, and the pairs (or the prompt) dropped with a reason."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown pairing {strategy!r}")
    scored = [(index, score) for index, score in enumerate(scores) if score is not None]
    if len(scored) < 2:
        return [], [Drop("fewer_than_two_scored", detail=f"{len(scored)} of {len(scores)} candidates have a score")]
    candidates = STRATEGIES[strategy](scored, rng)
    pairs, drops = [], []
    for (first, first_score), (second, second_score) in candidates:
        margin = abs(first_score - second_score)
        if margin == 0:
            drops.append(Drop("tie", first, second, f"both scored {first_score:g}"))
        elif margin < min_margin:
            drops.append(Drop("below_min_margin", first, second, f"margin {margin:g} < {min_margin:g}"))
        elif first_score > second_score:
            pairs.append(Pair(first, second, margin))
        else:
            pairs.append(Pair(second, first, margin))
    return pairs, drops
