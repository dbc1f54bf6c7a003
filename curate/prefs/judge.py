"""The judges of `curate prefs`: they score each prompt's candidate answers so pairs.py can
pick a chosen and a rejected one.

Three judges share one small protocol (`CandidateJudge`):

- `LLMJudge` (pointwise): one request per (prompt, answer) with a rubric
  (`templates/prompts/judge_pointwise.jinja` or the user's own), the reply parsed by
  `parse_score` into a number in [low, high] (LLM-as-a-judge, Zheng et al. 2023, "single
  answer grading").
- `LLMJudge(pairwise=True)`: every unordered pair of a prompt's candidates is judged twice,
  once in each order, so a judge's preference for the first (or second) position cancels
  out; a candidate's score is its share of wins. How often the verdict followed the position
  rather than the answer is measured and reported (`stats()["position_bias"]`).
- `RewardModelJudge`: the reward of `curate train-rm`'s model (`RewardScorer`), any real number.

A judge never turns a failure into a score: a reply it cannot read, a request that failed
or an empty answer gives `Judgement(score=None, failure=REASON)`, counted by reason in
`stats()`, so the pairing step can leave that candidate out instead of pairing a fake zero.

Every request of one `judge()` call goes to the backend in ONE `complete` call (the backend
runs them concurrently), in a fixed order; each request's sampling seed is derived from the
judge's `seed` and the request's own text, so its answer-cache key does not depend on the
batch it came in and a re-run replays from the cache.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from curate.errors import RunFailed, UserError
from curate.instruct.spans import message_text
from curate.instruct.templates import PROMPTS_DIR, PromptTemplate
from curate.llm.backend import EMPTY, FAILED, LENGTH, ChatRequest, Completion, Sampling, Usage, derived_seed

# greedy: a judge should give the same verdict every time it is asked (Sampling is frozen, safe to share)
JUDGE_SAMPLING = Sampling(temperature=0.0, max_tokens=512)
POINTWISE_TEMPLATE = PROMPTS_DIR / "judge_pointwise.jinja"
PAIRWISE_TEMPLATE = PROMPTS_DIR / "judge_pairwise.jinja"

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


# ------------------------------------------------------------------------------ parsing scores

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_OUT_OF = rf"(?:[*_\s]*(?:/|out\s+of)\s*({_NUMBER}))?"
_SCORE_KEYS = ("score", "rating", "grade")
_RATIONALE_KEYS = ("rationale", "reasoning", "reason", "explanation", "justification", "analysis", "feedback")
# "Score: 8", "Rating: 7/10", "**Score:** 9", "Final score = 8", "Score (1-10): 6", '"score": 8' (broken JSON)
_LABELLED_SCORE = re.compile(
    r"(?:[*_#]+\s*)?(?:\b(?:final|overall|total)\s+)?\b(?:score|rating|grade)\b(?:\s*\([^)\n]{0,40}\))?"
    rf"[\"'*_ \t]*[:=][\"'*_\s]*({_NUMBER}){_OUT_OF}[*_]*",
    re.IGNORECASE,
)
# a number alone on a line: "8", "**8**", "8/10", "[[8]]", "8."
_ALONE_SCORE = re.compile(rf"[\s*_`\[(\"']*({_NUMBER}){_OUT_OF}[\s*_`\])\"'.]*", re.IGNORECASE)
_SCORE_STRING = re.compile(rf"\s*[*_]*({_NUMBER}){_OUT_OF}[*_.\s]*", re.IGNORECASE)
_RATIONALE_LABEL = re.compile(
    r"^[*_#\s]*(?:rationale|reasoning|explanation|justification)[*_\s]*:[*_\s]*", re.IGNORECASE
)
_QUOTED_RATIONALE = re.compile(
    r'"(?:rationale|reasoning|explanation|justification)"\s*:\s*"((?:[^"\\\n]|\\.)*)"', re.IGNORECASE
)
_FENCE = re.compile(r"^[ \t]*```[\w-]*[ \t]*$", re.MULTILINE)
_MARKUP_ONLY = re.compile(r"[\s*_#>|\-\"',{}`]*")


def parse_score(text: str, low: float = 1, high: float = 10) -> tuple[float | None, str | None, str | None]:
    """A judge's reply read as `(score, rationale, failure)`; exactly one of score and failure is None.

    Precedence, first that applies wins:

    1. A JSON object anywhere in the text, fenced (```json ... ```) or bare, with a key
       `score`, `rating` or `grade` (any case) whose value is a number or a string such as
       "8" or "8/10". With several such objects, the last. The rationale is its
       `rationale` (or reasoning, explanation, ...) string, else the text around the object.
    2. The LAST labelled score in the text: "Score: 8", "Rating: 7/10", "**Score:** 9",
       "Final score = 8", "Score (1-10): 6", and '"score": 8' in JSON too broken to parse.
       The rationale is the rest of the text, with the score's line and a leading
       "Rationale:" label removed.
    3. A number alone on the last non-empty line ("8", "**8**", "8/10", "[[8]]"); the
       rationale is the text above it.

    A score outside [low, high] is `score_out_of_range`; an "x/N" whose N is not `high` is
    `wrong_scale` (never rescaled). Nothing found (words only, a number inside a sentence)
    is `no_score`, with the whole reply as the rationale so a report can show it.
    """
    score, rationale, failure, _ = _parse_score(text, low, high)
    return score, rationale, failure


def _parse_score(text: str, low: float, high: float) -> tuple[float | None, str | None, str | None, str | None]:
    """parse_score, plus where the score came from: "json", "label", "line" or None."""
    text = text or ""
    for start, end, found in reversed(_json_objects(text)):
        value = _first_key(found, _SCORE_KEYS)
        number = _json_number(value) if value is not None else None
        if number is None:
            continue
        rationale = _first_key(found, _RATIONALE_KEYS)
        if not isinstance(rationale, str) or not rationale.strip():
            rationale = text[:start] + text[end:]
        score, failure = _in_range(*number, low, high)
        return score, _clean(rationale), failure, "json"

    labelled = list(_LABELLED_SCORE.finditer(text))
    if labelled:
        match = labelled[-1]
        score, failure = _in_range(match.group(1), match.group(2), low, high)
        return score, _rest(text, match), failure, "label"

    lines = text.rstrip().splitlines()
    if lines:
        alone = _ALONE_SCORE.fullmatch(lines[-1])
        if alone is not None:
            score, failure = _in_range(alone.group(1), alone.group(2), low, high)
            return score, _clean("\n".join(lines[:-1])), failure, "line"
    return None, _clean(text), NO_SCORE, None


def _json_objects(text: str) -> list[tuple[int, int, dict]]:
    """Every JSON object in `text` (nested ones too) as (start, end, object), by start."""
    decoder = json.JSONDecoder()
    found = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError:
            pass
        else:
            if isinstance(value, dict):
                found.append((position, end, value))
        position = text.find("{", position + 1)
    return found


def _first_key(found: Mapping, keys: Sequence[str]):
    lowered = {str(key).strip().lower(): value for key, value in found.items()}
    for key in keys:
        if key in lowered:
            return lowered[key]
    return None


def _json_number(value) -> tuple[str, str | None] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return repr(value), None
    if isinstance(value, str):
        match = _SCORE_STRING.fullmatch(value)
        if match is not None:
            return match.group(1), match.group(2)
    return None


def _in_range(number: str, scale: str | None, low: float, high: float) -> tuple[float | None, str | None]:
    score = float(number)
    if not math.isfinite(score):
        return None, NO_SCORE
    if scale is not None and float(scale) != float(high):
        return None, WRONG_SCALE
    if not low <= score <= high:
        return None, SCORE_OUT_OF_RANGE
    return score, None


def _without(text: str, start: int, end: int) -> str:
    """`text` without [start, end), and without that line when nothing but markup is left on it."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if _MARKUP_ONLY.fullmatch(text[line_start:start] + text[end:line_end]):
        return text[:line_start] + text[line_end + 1 :]
    return text[:start] + text[end:]


def _rest(text: str, match: re.Match) -> str | None:
    """The rationale around a labelled score or verdict: a "rationale" string of JSON too broken
    to parse, else the text without the label's line and without a leading "Rationale:" label."""
    quoted = _QUOTED_RATIONALE.search(text)
    if quoted is not None:
        try:
            return _clean(json.loads(f'"{quoted.group(1)}"'))
        except ValueError:
            pass
    return _clean(_RATIONALE_LABEL.sub("", _without(text, match.start(), match.end()).strip()))


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = _FENCE.sub("", text).strip()
    return cleaned or None


# ------------------------------------------------------------------------------ parsing verdicts

_VERDICT_KEYS = ("winner", "verdict", "preferred", "better", "choice", "preference")
_LABELLED_VERDICT = re.compile(
    r"(?:[*_#]+\s*)?(?:\b(?:final|overall)\s+)?"
    r"\b(?:winner|verdict|better\s+answer|preferred\s+answer|preference|choice)\b[\"'*_ \t]*[:=][\"'*_\s\[]*"
    r"(?:(?:answer|response|assistant)\s+)?(a|b|c|tie|draw)\b[\]*_\"']*",
    re.IGNORECASE,
)
_BRACKETED_VERDICT = re.compile(r"\[\[\s*(a|b|c|tie)\s*\]\]", re.IGNORECASE)
_TIES = {"tie", "draw", "c", "equal", "tied", "both", "neither", "same"}


def _winner(value: str) -> str | None:
    """ "A", "B" or "tie" from a verdict value ("A", "[[B]]", "Answer A", "**tie**"); None otherwise."""
    words = re.sub(r"[\[\]*_`\"'().:!,]", " ", value).lower().split()
    if len(words) == 2 and words[0] in ("answer", "response", "assistant", "candidate", "output"):
        words = words[1:]
    if len(words) != 1:
        return None
    if words[0] in ("a", "b"):
        return words[0].upper()
    return "tie" if words[0] in _TIES else None


def parse_verdict(text: str) -> tuple[str | None, str | None, str | None]:
    """A pairwise judge's reply read as `(winner, rationale, failure)`; winner is "A", "B" or "tie".

    Precedence: (1) a JSON object with `winner` (or verdict, preferred, better, choice) whose
    value reads as A, B or tie ("Answer A", "[[B]]"; "C", "draw", "equal" are ties); the
    last one; (2) the last labelled line, "Winner: A", "**Verdict:** [[B]]", "Better answer:
    Answer A"; (3) the last "[[A]]" / "[[B]]" / "[[C]]" (MT-Bench's format, C a tie);
    (4) a last non-empty line that is only a verdict ("A", "**B**", "Tie"). Otherwise
    failure `no_verdict`, with the whole reply as the rationale.
    """
    text = text or ""
    for start, end, found in reversed(_json_objects(text)):
        value = _first_key(found, _VERDICT_KEYS)
        winner = _winner(value) if isinstance(value, str) else None
        if winner is None:
            continue
        rationale = _first_key(found, _RATIONALE_KEYS)
        if not isinstance(rationale, str) or not rationale.strip():
            rationale = text[:start] + text[end:]
        return winner, _clean(rationale), None
    for pattern in (_LABELLED_VERDICT, _BRACKETED_VERDICT):
        matches = list(pattern.finditer(text))
        if matches:
            match = matches[-1]
            return _winner(match.group(1)), _rest(text, match), None
    lines = text.rstrip().splitlines()
    if lines:
        winner = _winner(lines[-1])
        if winner is not None:
            return winner, _clean("\n".join(lines[:-1])), None
    return None, _clean(text), NO_VERDICT


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


def _is_empty(answer: str | None) -> bool:
    return not isinstance(answer, str) or not answer.strip()


# ------------------------------------------------------------------------------ LLM judge


class LLMJudge:
    """A language model as the judge, pointwise (a score per answer) or pairwise (position-swapped).

        backend = CachedBackend(OpenAICompatBackend(...), AnswerCache(folder))
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
                if _is_empty(answer):
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
        score, rationale, failure, source = _parse_score(completion.text, self.low, self.high)
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
        if completion.status == LENGTH and not _has_json_verdict(completion.text):
            return None, CUT_BY_LENGTH
        return winner, failure

    def _judge_pairwise(self, groups: list[tuple[list[dict], list[str]]]) -> list[list[Judgement]]:
        # verdicts[group][(a, b)]: the verdict with candidate a shown as A and b as B
        verdicts: list[dict[tuple[int, int], str | None]] = [{} for _ in groups]
        jobs: list[tuple[int, int, int]] = []
        requests: list[ChatRequest] = []
        for group, (messages, answers) in enumerate(groups):
            conversation = _conversation(messages)
            usable = [index for index, answer in enumerate(answers) if not _is_empty(answer)]
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
            if _is_empty(answer):
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


def _has_json_verdict(text: str) -> bool:
    return any(
        isinstance(value := _first_key(found, _VERDICT_KEYS), str) and _winner(value) is not None
        for _, _, found in _json_objects(text)
    )


# ------------------------------------------------------------------------------ reward model judge


class RewardModelJudge:
    """A trained reward model as the judge: a candidate's score is the reward of the prompt
    conversation followed by the answer (`curate.train.rm.RewardScorer`), any real number.
    All candidates of a `judge()` call are scored together, in batches of `batch_size`.
    An empty answer is not scored: Judgement(None, failure="empty_answer")."""

    name = "reward-model"

    def __init__(self, model_dir: str | os.PathLike, device: str = "auto", batch_size: int = 8) -> None:
        from curate.train.rm import RewardScorer

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
                if _is_empty(answer):
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
