"""The scores of `curate select`, each optional, each a column: `quality` (an LLM judge's 1-5
rating with a rubric, AlpaGasus-style, or a reward model's score) and `complexity` (an LLM's
1-5 rating of the instruction, Deita-style, or cheap proxies: its length and constraints).

Both LLM ratings are pointwise judgements through `curate prefs`' LLMJudge, so they share its
answer cache, seeds, retries and reply parsing: the quality rubric grades the answer, the
complexity prompt grades the instruction (passed as the thing graded). Rows whose
instruction is mostly Hangul get the Korean prompts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import regex

from curate.errors import UserError
from curate.instruct.templates import PROMPTS_DIR
from curate.llm.backend import stop_if_mostly_failed
from curate.llm.factory import REMOTE, ClientOptions, make_backend, require_key
from curate.prefs.judges.base import REQUEST_FAILED, Judgement

QUALITY_SCALE = (1, 5)
COMPLEXITY_SCALE = (1, 5)
_HANGUL = regex.compile(r"\p{Hangul}")
_LETTER = regex.compile(r"\p{L}")
# what makes an instruction demanding, for the proxy: constraints on the answer
CONSTRAINT_CUES = re.compile(
    r"\b(?:must|should|at least|at most|exactly|only|without|no more than|in \d+|format|json|table|list|bullet|"
    r"step[- ]by[- ]step|explain why|compare|include|avoid|do not|don't|each|every|words|sentences|paragraphs?)\b"
    r"|반드시|이상|이하|없이|형식|목록|각각|단계별|비교|포함|제외|하지 마|글자|문장",
    re.IGNORECASE,
)
NUMBER = re.compile(r"\d+")


def is_korean(text: str) -> bool:
    """Mostly Hangul among the letters."""
    letters = len(_LETTER.findall(text))
    return letters > 0 and len(_HANGUL.findall(text)) / letters > 0.3


@dataclass
class ScoreOptions:
    judge: str | None = None  # "llm", "reward-model" or None
    judge_model: str | None = None
    base_url: str | None = None
    rubric: str | None = None  # a .jinja quality rubric (llm); None: the shipped ones, by language
    complexity: str = "proxy"  # "llm", "proxy" or "none"
    complexity_model: str | None = None  # default: the judge model
    seed: int = 0
    client: ClientOptions = field(default_factory=ClientOptions)


def check_options(options: ScoreOptions) -> None:
    """Options that fit together, a reward model folder that is there, and the API keys an LLM
    judge or rater will need, before anything is written."""
    from curate.llm.local import missing_folder

    if options.judge is None and options.rubric:
        raise UserError("--rubric is the llm judge's: add --judge-model")
    if options.judge == "reward-model" and options.rubric:
        raise UserError("--rubric is for --judge llm; a reward model has no rubric")
    if options.complexity_model and options.complexity != "llm":
        raise UserError("--complexity-model rates with --complexity llm; add it, or drop --complexity-model")
    model = options.judge_model
    if options.judge == "reward-model" and model and missing_folder(model):
        raise UserError(f"--judge-model {options.judge_model}: no such reward model folder")
    if options.judge is not None and not options.judge_model:
        raise UserError(f"--judge {options.judge} needs --judge-model")
    if options.complexity == "llm" and not (options.complexity_model or options.judge_model):
        raise UserError("--complexity llm needs --complexity-model (or an llm --judge-model)")
    if options.complexity == "llm" and not options.complexity_model and options.judge != "llm":
        raise UserError("--complexity llm needs --complexity-model: the judge is not a model on a server")
    if options.judge == "llm":
        require_key(REMOTE, options.judge_model, options.base_url, options.client)
    if options.complexity == "llm":
        require_key(REMOTE, options.complexity_model or options.judge_model, options.base_url, options.client)


def _llm_judges(model: str, options: ScoreOptions, english: str, korean: str | None, scale: tuple[int, int]):
    """(English judge, Korean judge) sharing one backend (the Korean one None with a user rubric)."""
    from curate.prefs.judges.llm import LLMJudge

    backend = make_backend(REMOTE, model, options.base_url, options.client)
    low, high = scale
    first = LLMJudge(backend, english, low=low, high=high, seed=options.seed)
    second = LLMJudge(backend, korean, low=low, high=high, seed=options.seed) if korean else None
    return first, second


def _judge_by_language(
    judges: tuple, groups: list[tuple[list[dict], list[str]]], korean: list[bool]
) -> list[Judgement]:
    """One Judgement per group (one answer each), the Korean judge for Korean rows."""
    english, hangul = judges
    results: list[Judgement | None] = [None] * len(groups)
    parts = [(english, [i for i, flag in enumerate(korean) if not flag or hangul is None])]
    if hangul is not None:
        parts.append((hangul, [i for i, flag in enumerate(korean) if flag]))
    for judge, places in parts:
        if places:
            for i, judged in zip(places, judge.judge([groups[i] for i in places])):
                results[i] = judged[0]
    failed = sum(judgement.failure == REQUEST_FAILED for judgement in results)  # type: ignore[union-attr]
    stop_if_mostly_failed(failed, len(results), "select (ratings)", REQUEST_FAILED)
    return results  # type: ignore[return-value]


def _stats(judges: tuple) -> dict:
    english, hangul = judges
    stats = english.stats()
    if hangul is not None:
        other = hangul.stats()
        for key in ("candidates", "scored", "requests", "cache_hits", "retries_total", "prompt_tokens"):
            stats[key] += other[key]
        stats["completion_tokens"] += other["completion_tokens"]
        stats["failures"] = dict(Counter(stats["failures"]) + Counter(other["failures"]))
        stats["statuses"] = dict(Counter(stats["statuses"]) + Counter(other["statuses"]))
        stats["korean_template"] = other["template"]
    stats.pop("backend_usage", None)
    return stats


def quality_scores(
    prompts: list[list[dict]], answers: list[str], options: ScoreOptions
) -> tuple[list[Judgement], dict]:
    """A quality Judgement per row (the prompt conversation and its answer), and the judge's stats."""
    if options.judge == "reward-model":
        from curate.prefs.judges.reward_model import RewardModelJudge

        judge = RewardModelJudge(
            options.judge_model, device=options.client.device, batch_size=options.client.batch_size
        )
        try:
            judged = judge.judge([(prompt, [answer]) for prompt, answer in zip(prompts, answers)])
            return [group[0] for group in judged], judge.stats()
        finally:
            judge.close()
    english = options.rubric or str(PROMPTS_DIR / "select_quality.jinja")
    korean = None if options.rubric else str(PROMPTS_DIR / "select_quality.ko.jinja")
    judges = _llm_judges(options.judge_model, options, english, korean, QUALITY_SCALE)
    try:
        groups = [(prompt, [answer]) for prompt, answer in zip(prompts, answers)]
        judged = _judge_by_language(judges, groups, [is_korean(_last_user(p)) for p in prompts])
        return judged, _stats(judges)
    finally:
        judges[0].close()


def complexity_scores(prompts: list[list[dict]], options: ScoreOptions) -> tuple[list[Judgement], dict]:
    """A complexity Judgement per row's instruction, and how it was rated."""
    instructions = [_last_user(prompt) for prompt in prompts]
    if options.complexity == "proxy":
        return [Judgement(proxy_complexity(text)) for text in instructions], {"rater": "proxy"}
    model = options.complexity_model or options.judge_model
    english, korean = (str(PROMPTS_DIR / f"select_complexity{suffix}.jinja") for suffix in ("", ".ko"))
    judges = _llm_judges(model, options, english, korean, COMPLEXITY_SCALE)
    try:
        groups = [(prompt, [instruction or " "]) for prompt, instruction in zip(prompts, instructions)]
        judged = _judge_by_language(judges, groups, [is_korean(text) for text in instructions])
        return judged, {"rater": "llm"} | _stats(judges)
    finally:
        judges[0].close()


def proxy_complexity(instruction: str) -> float:
    """A model-free complexity on 1..5: up to 2 for length (full at 60 words, or 120 Hangul
    syllables) plus 0.5 per constraint cue (numbers count, at most two), up to 2."""
    words = len(instruction.split())
    if is_korean(instruction):
        words = max(words, len(_HANGUL.findall(instruction)) // 2)
    cues = len(CONSTRAINT_CUES.findall(instruction)) + min(2, len(NUMBER.findall(instruction)))
    return round(1.0 + min(2.0, 2.0 * words / 60) + min(2.0, 0.5 * cues), 3)


def _last_user(messages: list[dict]) -> str:
    from curate.instruct.spans import message_text

    users = [message_text(m) for m in messages if m["role"] == "user"]
    return users[-1] if users else ""
