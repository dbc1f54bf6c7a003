"""A trained reward model as the judge: a candidate's score is the reward of the prompt followed
by the answer (`curate.llm.reward_model.RewardScorer`), any real number."""

from __future__ import annotations

import math
import os
import time
from collections import Counter

from curate.prefs.judges.base import EMPTY_ANSWER, NON_FINITE_REWARD, Judgement, is_empty

# ------------------------------------------------------------------------------ reward model judge


class RewardModelJudge:
    """A trained reward model as the judge: a candidate's score is the reward of the prompt
    conversation followed by the answer (`curate.llm.reward_model.RewardScorer`), any real number.
    All candidates of a `judge()` call are scored together, in batches of `batch_size`.
    An empty answer is not scored: Judgement(None, failure="empty_answer")."""

    name = "reward-model"

    def __init__(self, model_dir: str | os.PathLike, device: str = "auto", batch_size: int = 8) -> None:
        from curate.llm.reward_model import RewardScorer

        self.model_dir = str(model_dir)
        self._scorer: RewardScorer | None = RewardScorer(model_dir, device=device, batch_size=batch_size)
        self._candidates = 0
        self._failures: Counter = Counter()
        self._rewards: list[float] = []
        self._seconds = 0.0

    def judge(self, groups: list[tuple[list[dict], list[str]]]) -> list[list[Judgement]]:
        """One Judgement per candidate of every group, in order."""
        if self._scorer is None:
            raise RuntimeError("the reward-model judge is closed")
        results: list[list[Judgement | None]] = [[None] * len(answers) for _, answers in groups]
        conversations, places = [], []
        for group, (messages, answers) in enumerate(groups):
            for index, answer in enumerate(answers):
                if is_empty(answer):
                    results[group][index] = Judgement(None, failure=EMPTY_ANSWER)
                    continue
                conversations.append([*messages, {"role": "assistant", "content": answer}])
                places.append((group, index))
        started = time.perf_counter()
        rewards = self._scorer.score(conversations) if conversations else []
        self._seconds += time.perf_counter() - started
        for (group, index), reward in zip(places, rewards):
            if math.isfinite(reward):
                results[group][index] = Judgement(float(reward))
                self._rewards.append(float(reward))
            else:
                results[group][index] = Judgement(None, failure=NON_FINITE_REWARD)
        for judgements in results:
            for judgement in judgements:
                self._candidates += 1
                if judgement.score is None:  # type: ignore[union-attr]
                    self._failures[judgement.failure] += 1  # type: ignore[union-attr]
        return results  # type: ignore[return-value]

    def stats(self) -> dict:
        """Candidates, scored, failures by reason, the rewards' range and mean, seconds spent scoring."""
        rewards = self._rewards
        return {
            "judge": self.name,
            "model": self.model_dir,
            "candidates": self._candidates,
            "scored": len(rewards),
            "failures": dict(sorted(self._failures.items())),
            "reward_mean": sum(rewards) / len(rewards) if rewards else None,
            "reward_min": min(rewards) if rewards else None,
            "reward_max": max(rewards) if rewards else None,
            "seconds": round(self._seconds, 3),
        }

    def close(self) -> None:
        """Frees the model (and its GPU memory)."""
        scorer, self._scorer = self._scorer, None
        if scorer is not None and getattr(scorer.device, "type", None) == "cuda":
            import torch

            del scorer
            torch.cuda.empty_cache()
