"""Every kind of judge `curate prefs --judge` offers, one entry each: how to build it from options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from curate.llm.factory import REMOTE, ClientOptions, make_backend
from curate.prefs.judges.base import CandidateJudge


@dataclass(frozen=True)
class JudgeOptions:
    model: str  # a model name on the server, or a model folder
    base_url: str | None = None  # None: the policy's server (prefs_dataset fills it in)
    rubric: str | None = None  # the path of a .jinja rubric (llm judges; the pairwise prompt with pairwise)
    pairwise: bool = False
    seed: int = 0
    client: ClientOptions = field(default_factory=ClientOptions)


@dataclass(frozen=True)
class JudgeKind:
    build: Callable[[JudgeOptions], CandidateJudge]
    backend: str | None = None  # the backend kind it sends requests to (for the API key check)
    pairwise: bool = False  # whether it can compare candidates two by two


def _llm(options: JudgeOptions) -> CandidateJudge:
    from curate.prefs.judges.llm import LLMJudge

    backend = make_backend(REMOTE, options.model, options.base_url, options.client)
    # the rubric's path, not its text: the judge's errors then name the file
    if options.pairwise:
        return LLMJudge(backend, pairwise=True, pairwise_source=options.rubric, seed=options.seed)
    return LLMJudge(backend, options.rubric, seed=options.seed)


def _reward_model(options: JudgeOptions) -> CandidateJudge:
    from curate.prefs.judges.reward_model import RewardModelJudge

    return RewardModelJudge(options.model, device=options.client.device, batch_size=options.client.batch_size)


JUDGES: dict[str, JudgeKind] = {
    "llm": JudgeKind(_llm, backend=REMOTE, pairwise=True),
    "reward-model": JudgeKind(_reward_model),
}
