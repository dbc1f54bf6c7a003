"""A language model as the judge: pointwise (LLM-as-a-judge, Zheng et al. 2023, "single answer
grading": one request per (prompt, answer) with a rubric) or pairwise (every two candidates in
both orders, so a preference for a position cancels out; the bias is measured and reported).

Every request of one `judge()` call goes to the backend in ONE `complete` call (the backend
runs them concurrently), in a fixed order; each request's sampling seed is derived from the
judge's `seed` and the request's own text, so its answer-cache key does not depend on the
batch it came in and a re-run replays from the cache.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping, Sequence

from curate.errors import RunFailed, UserError
from curate.instruct.spans import message_text
from curate.instruct.templates import PROMPTS_DIR, PromptTemplate
from curate.llm.backend import EMPTY, FAILED, LENGTH, ChatRequest, Completion, Sampling, Usage, derived_seed
from curate.prefs.judges.base import (
    CUT_BY_LENGTH,
    EMPTY_ANSWER,
    EMPTY_REPLY,
    NO_COMPARISON,
    NO_SCORE,
    REQUEST_FAILED,
    Judgement,
    is_empty,
)
from curate.prefs.judges.parsing import has_json_verdict, parse_score_and_source, parse_verdict

# greedy: a judge should give the same verdict every time it is asked (Sampling is frozen, safe to share)
JUDGE_SAMPLING = Sampling(temperature=0.0, max_tokens=512)
POINTWISE_TEMPLATE = PROMPTS_DIR / "judge_pointwise.jinja"
PAIRWISE_TEMPLATE = PROMPTS_DIR / "judge_pairwise.jinja"


# ------------------------------------------------------------------------------ prompt templates


def _conversation(messages: Sequence[Mapping]) -> list[dict]:
    """The prompt messages as templates see them: content always plain text."""
    return [{**message, "content": message_text(message)} for message in messages]


def _plain(number: float) -> int | float:
    """1.0 -> 1 for display in a prompt ("from 1 to 10", not "from 1.0 to 10.0")."""
    return int(number) if float(number).is_integer() else number


def _request_seed(seed: int, messages: tuple[tuple[str, str], ...]) -> int:
    canonical = json.dumps([seed, messages], ensure_ascii=False, separators=(",", ":"))
    return derived_seed(canonical)


# ------------------------------------------------------------------------------ LLM judge


class LLMJudge:
    """A language model as the judge, pointwise (a score per answer) or pairwise (position-swapped).

        backend = CachedBackend(OpenAIBackend(...), AnswerCache(folder))
        judge = LLMJudge(backend)
        judge.judge([([{"role": "user", "content": "Hi"}], ["Hello!", "Go away."])])
        # [[Judgement(score=8.0, rationale=...), Judgement(score=2.0, rationale=...)]]

    `backend`: anything with `complete(requests) -> completions` and `usage` (a CachedBackend
    in practice); the judge owns it and closes it in `close()`.
    `rubric_source`: the user's pointwise rubric (jinja2; variables `messages`, `answer`,
    `low`, `high`): its text (a string holding a newline or a "{"), a path to its file, or a
    shipped prompt's name; None: judge_pointwise.jinja. Prefer the path: errors then name it.
    `pairwise_source`: the same for the pairwise prompt (variables `messages`, `answer_a`,
    `answer_b`); None: judge_pairwise.jinja. Templates render in curate's sandbox; a template
    that does not parse or render (or breaks the sandbox) is a UserError naming the file,
    raised here, before any request, since the template is tried on an example conversation.
    `low`, `high`: the pointwise scale; scores outside it are failures.
    `seed`: with each request's text, gives the request's sampling seed.

    Pairwise: for each prompt, every unordered pair of non-empty candidates {i, j} is judged
    as (A=i, B=j) and as (A=j, B=i). A candidate's score is its share of wins over its
    comparisons that gave a verdict (a tie counts half), in [0, 1]. Two identical answers
    are a tie without a request. A verdict the parser cannot read fails that comparison only.
    """

    def __init__(
        self,
        backend,
        rubric_source: str | None = None,
        sampling: Sampling = JUDGE_SAMPLING,
        low: float = 1,
        high: float = 10,
        pairwise: bool = False,
        pairwise_source: str | None = None,
        seed: int = 0,
    ) -> None:
        if not low < high:
            raise UserError(f"the judge's scale needs low < high, not {low}..{high}")
        self.backend = backend
        self.sampling = sampling
        self.low, self.high = low, high
        self.pairwise = pairwise
        self.seed = seed
        self.name = "llm-pairwise" if pairwise else "llm"
        example = _conversation([{"role": "user", "content": "What is 2 + 2?"}])
        if pairwise:
            self.template = PromptTemplate(pairwise_source or PAIRWISE_TEMPLATE, "pairwise judge prompt")
            self.template.render(messages=example, answer_a="4", answer_b="2 + 2 = 4.")
        else:
            self.template = PromptTemplate(rubric_source or POINTWISE_TEMPLATE, "judge rubric")
            self.template.render(messages=example, answer="4", low=_plain(low), high=_plain(high))
        self._candidates = 0
        self._scored = 0
        self._failures: Counter = Counter()
        # what this judge asked (distinct requests; tokens of the answers not from the cache), as
        # Usage counts it, so the report reads it like a backend's usage
        self._asked = Usage()
        self._retries = 0
        # pairwise
        self._comparisons = 0  # ordered comparisons (two per unordered pair), identical pairs included
        self._comparison_failures: Counter = Counter()
        self._identical_pairs = 0
        self._bias_pairs = 0  # unordered pairs with a verdict in both orders
        self._position_followed = 0  # ... whose verdict was A both times or B both times
        self._consistent = 0  # ... whose two verdicts agree on the answer (or are both ties)
        self._decisive = 0  # verdicts A or B
        self._first_wins = 0  # ... that were A

    # -- requests

    def _request(self, prompt: str) -> ChatRequest:
        messages = (("user", prompt),)
        return ChatRequest(messages, dataclasses.replace(self.sampling, seed=_request_seed(self.seed, messages)))

    def _complete(self, requests: list[ChatRequest]) -> list[Completion]:
        """All requests in one backend call, each distinct request once; completions in order."""
        if not requests:
            return []
        distinct = list(dict.fromkeys(requests))
        completions = self.backend.complete(distinct)
        if len(completions) != len(distinct):
            raise RunFailed(f"the judge's backend answered {len(completions)} of {len(distinct)} requests")
        answers = {
            request: completion if completion is not None else Completion("", FAILED, error="no completion")
            for request, completion in zip(distinct, completions)
        }
        for completion in answers.values():
            self._asked.add(completion)
            if not completion.cached:
                self._retries += completion.retries
        return [answers[request] for request in requests]

    @staticmethod
    def _reply_problem(completion: Completion) -> str | None:
        if completion.status == FAILED:
            return REQUEST_FAILED
        if completion.status == EMPTY or not completion.text.strip():
            return EMPTY_REPLY
        return None

    # -- judging

    def judge(self, groups: list[tuple[list[dict], list[str]]]) -> list[list[Judgement]]:
        """One Judgement per candidate of every group, in order (see the class docstring)."""
        results = self._judge_pairwise(groups) if self.pairwise else self._judge_pointwise(groups)
        for judgements in results:
            for judgement in judgements:
                self._candidates += 1
                if judgement.score is None:
                    self._failures[judgement.failure or NO_SCORE] += 1
                else:
                    self._scored += 1
        return results

    def _judge_pointwise(self, groups: list[tuple[list[dict], list[str]]]) -> list[list[Judgement]]:
        results: list[list[Judgement | None]] = [[None] * len(answers) for _, answers in groups]
        jobs: list[tuple[int, int]] = []
        requests: list[ChatRequest] = []
        low, high = _plain(self.low), _plain(self.high)
        for group, (messages, answers) in enumerate(groups):
            conversation = _conversation(messages)
            for index, answer in enumerate(answers):
                if is_empty(answer):
                    results[group][index] = Judgement(None, failure=EMPTY_ANSWER)
                    continue
                prompt = self.template.render(messages=conversation, answer=answer, low=low, high=high)
                jobs.append((group, index))
                requests.append(self._request(prompt))
        for (group, index), completion in zip(jobs, self._complete(requests)):
            results[group][index] = self._read_score(completion)
        return results  # type: ignore[return-value]

    def _read_score(self, completion: Completion) -> Judgement:
        problem = self._reply_problem(completion)
        if problem is not None:
            return Judgement(None, failure=problem)
        score, rationale, failure, source = parse_score_and_source(completion.text, self.low, self.high)
        if completion.status == LENGTH and source != "json":
            # cut before the end: only a complete JSON object is trusted ("score": 1 may be a cut "10")
            return Judgement(None, rationale, CUT_BY_LENGTH)
        return Judgement(score, rationale, failure)

    def _read_verdict(self, completion: Completion) -> tuple[str | None, str | None]:
        """(winner, None) or (None, failure reason)."""
        problem = self._reply_problem(completion)
        if problem is not None:
            return None, problem
        winner, _, failure = parse_verdict(completion.text)
        if completion.status == LENGTH and not has_json_verdict(completion.text):
            return None, CUT_BY_LENGTH
        return winner, failure

    def _judge_pairwise(self, groups: list[tuple[list[dict], list[str]]]) -> list[list[Judgement]]:
        # verdicts[group][(a, b)]: the verdict with candidate a shown as A and b as B
        verdicts: list[dict[tuple[int, int], str | None]] = [{} for _ in groups]
        jobs: list[tuple[int, int, int]] = []
        requests: list[ChatRequest] = []
        for group, (messages, answers) in enumerate(groups):
            conversation = _conversation(messages)
            usable = [index for index, answer in enumerate(answers) if not is_empty(answer)]
            for position, first in enumerate(usable):
                for second in usable[position + 1 :]:
                    if answers[first].strip() == answers[second].strip():
                        verdicts[group][(first, second)] = verdicts[group][(second, first)] = "tie"
                        self._identical_pairs += 1
                        self._comparisons += 2
                        continue
                    for a, b in ((first, second), (second, first)):
                        prompt = self.template.render(messages=conversation, answer_a=answers[a], answer_b=answers[b])
                        jobs.append((group, a, b))
                        requests.append(self._request(prompt))
        for (group, a, b), completion in zip(jobs, self._complete(requests)):
            winner, failure = self._read_verdict(completion)
            self._comparisons += 1
            if winner is None:
                self._comparison_failures[failure] += 1
            else:
                self._decisive += winner != "tie"
                self._first_wins += winner == "A"
            verdicts[group][(a, b)] = winner
            # position bias, once both orders of a pair are in (identical pairs never get here)
            if (b, a) in verdicts[group] and a > b:
                other = verdicts[group][(b, a)]  # b shown first
                if winner is not None and other is not None:
                    self._bias_pairs += 1
                    self._position_followed += winner == other and winner != "tie"
                    # consistent: the same answer won in both orders (A then B, or B then A), or two ties
                    self._consistent += (winner != other and "tie" not in (winner, other)) or winner == other == "tie"
        return [self._pairwise_scores(answers, verdicts[group]) for group, (_, answers) in enumerate(groups)]

    @staticmethod
    def _pairwise_scores(answers: list[str], verdicts: dict[tuple[int, int], str | None]) -> list[Judgement]:
        judgements = []
        for index, answer in enumerate(answers):
            if is_empty(answer):
                judgements.append(Judgement(None, failure=EMPTY_ANSWER))
                continue
            wins = ties = losses = failed = 0
            for (a, b), winner in verdicts.items():
                if index not in (a, b):
                    continue
                if winner is None:
                    failed += 1
                elif winner == "tie":
                    ties += 1
                elif (winner == "A") == (index == a):
                    wins += 1
                else:
                    losses += 1
            judged = wins + ties + losses
            if judged == 0:
                judgements.append(Judgement(None, failure=NO_SCORE if failed else NO_COMPARISON))
                continue
            summary = f"{wins} wins, {ties} ties, {losses} losses in {judged} comparisons"
            if failed:
                summary += f" ({failed} without a verdict)"
            judgements.append(Judgement((wins + 0.5 * ties) / judged, summary))
        return judgements

    # -- report

    def stats(self) -> dict:
        """Candidates, scored, failures by reason; what this judge asked, in the keys of
        `Usage.as_dict()` (requests answered by the model, cache_hits, retries_total, statuses,
        tokens of the answers not from the cache), and the backend's own usage; pairwise: comparisons, their failures and the
        position-bias estimate: among pairs with a verdict in both orders, the share whose
        verdict followed the position (A both times or B both times) rather than the answer,
        0 for a consistent judge, 1 for one that always picks the same slot."""
        asked = self._asked.as_dict()
        result = {
            "judge": self.name,
            "template": str(self.template.path) if self.template.path is not None else None,  # None: given as text
            "template_fingerprint": self.template.fingerprint,
            "candidates": self._candidates,
            "scored": self._scored,
            "failures": dict(sorted(self._failures.items())),
            "requests": asked["requests"],
            "cache_hits": asked["cache_hits"],
            "retries_total": self._retries,
            "statuses": asked["statuses"],
            "prompt_tokens": asked["prompt_tokens"],
            "completion_tokens": asked["completion_tokens"],
        }
        if not self.pairwise:
            result["scale"] = [self.low, self.high]
        usage = getattr(self.backend, "usage", None)
        if usage is not None and hasattr(usage, "as_dict"):
            result["backend_usage"] = usage.as_dict()
        if self.pairwise:
            measured = self._bias_pairs
            result.update(
                comparisons=self._comparisons,
                comparison_failures=dict(sorted(self._comparison_failures.items())),
                identical_pairs=self._identical_pairs,
                position_bias=self._position_followed / measured if measured else None,
                position_bias_pairs=measured,
                position_consistency=self._consistent / measured if measured else None,
                first_position_win_rate=self._first_wins / self._decisive if self._decisive else None,
            )
        return result

    def close(self) -> None:
        """Closes the backend (and its answer cache)."""
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()
