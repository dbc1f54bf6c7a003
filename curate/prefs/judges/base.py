"""What every judge of `curate prefs` gives: a Judgement per candidate, and the protocol.

A judge never turns a failure into a score: a reply it cannot read, a request that failed or
an empty answer gives `Judgement(score=None, failure=REASON)`, counted by reason in `stats()`,
so the pairing step can leave that candidate out instead of pairing a fake zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# failure reasons (Judgement.failure); parse_score adds "no_score", "score_out_of_range", "wrong_scale"
REQUEST_FAILED = "request_failed"  # the backend gave no answer after its retries
EMPTY_REPLY = "empty_reply"  # the judge answered with nothing
CUT_BY_LENGTH = "cut_by_length"  # the judge's reply hit max_tokens before a complete verdict
EMPTY_ANSWER = "empty_answer"  # the candidate itself is empty: nothing to judge, no request sent
NO_SCORE = "no_score"
SCORE_OUT_OF_RANGE = "score_out_of_range"
WRONG_SCALE = "wrong_scale"  # "4/5" when the rubric asked for 1..10: not rescaled, a guess would be wrong
NO_VERDICT = "no_verdict"  # pairwise: the reply names no winner
NO_COMPARISON = "no_comparison"  # pairwise: the prompt has no other non-empty candidate to compare with
NON_FINITE_REWARD = "non_finite_reward"  # reward model: NaN or inf


@dataclass
class Judgement:
    """One candidate's judgement. `score` None means the judge gave no usable score: a counted
    failure (`failure` says why), never to be read as a zero."""

    score: float | None
    rationale: str | None = None
    failure: str | None = None


class CandidateJudge(Protocol):
    """What `curate prefs` needs of a judge."""

    name: str

    def judge(self, groups: list[tuple[list[dict], list[str]]]) -> list[list[Judgement]]:
        """`groups`: (prompt messages, candidate answers) per prompt. One Judgement per
        candidate, in order, for every group."""
        ...

    def stats(self) -> dict:
        """For the report: candidates, scored, failures by reason, and what the judge spent
        (requests and tokens for an LLM judge, the position-bias estimate when pairwise)."""
        ...

    def close(self) -> None: ...


def is_empty(answer: str | None) -> bool:
    return not isinstance(answer, str) or not answer.strip()
