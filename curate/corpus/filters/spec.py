"""What a `curate filter` step declares: its name, its summary, its options, how to build it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from curate.pipeline.step import Step


@dataclass(frozen=True)
class FilterSpec:
    name: str
    summary: str  # one line for `curate filter --help`
    build: Callable[[dict], Step]  # from the command's parameters
    options: list[Callable] = field(default_factory=list)  # click option decorators
    # Whether the default step list includes this step for these parameters (a classifier
    # step applies only when a model is given, say). Named in --steps, a step always runs.
    applies: Callable[[dict], bool] = lambda params: True


def language_settings(params: dict) -> dict:
    """The word-splitting settings every word-counting step takes, from the resolved parameters."""
    return {"language": params["language"], "korean_segmenter": params["ko_segmenter"]}
