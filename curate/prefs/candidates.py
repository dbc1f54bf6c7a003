"""Prompts in, candidate answers out: n samples per prompt from the policy, plus the answers
the input already holds (`--include-existing`).

A prompt is the conversation up to its last user turn. Every request carries a seed derived
from the run's seed, the prompt and the sample's number, so the answer cache keys stay the
same from run to run (a killed run resumes) and two samples of one prompt differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.instruct import formats
from curate.llm.backend import EMPTY, FAILED, LENGTH, ChatRequest, Completion, Sampling, derived_seed

POLICY = "policy"
EXISTING = "existing"


@dataclass
class Prompt:
    id: str
    messages: list[dict]  # up to and including the last user turn
    existing: list[str] = field(default_factory=list)  # answers the input already holds
    place: str = ""  # file and line, for messages


@dataclass
class Candidate:
    text: str
    origin: str  # POLICY or EXISTING
    sample: int | None = None  # which of the n policy samples


@dataclass
class Dropped:
    """A candidate that never got to the judge, and why."""

    prompt_id: str
    sample: int
    reason: str
    detail: str
    text: str = ""


def prompt_from_row(row: dict, kind: str, place: str = "") -> Prompt | None:
    """The prompt of a canonical row (None when it has no user turn)."""
    if kind == formats.PREFERENCE:
        messages = list(row["prompt"])
        existing = [_answer_text(row["chosen"]), _answer_text(row["rejected"])]
    else:
        messages = list(row["messages"])
        users = [index for index, message in enumerate(messages) if message["role"] == "user"]
        if not users:
            return None
        last_user = users[-1]
        existing = [message["content"] for message in messages[last_user + 1 :] if message["role"] == "assistant"][:1]
        messages = messages[: last_user + 1]
    if not messages or messages[-1]["role"] != "user":
        return None
    return Prompt(str(row.get("id", "")), messages, [text for text in existing if text.strip()], place)


def _answer_text(answer: list[dict]) -> str:
    return "".join(message["content"] for message in answer if message["role"] == "assistant")


def sample_seed(seed: int, prompt: Prompt, sample: int) -> int:
    key = formats.meta_text({"seed": seed, "prompt": prompt.messages, "sample": sample})
    return derived_seed(key)


def requests_for(prompts: list[Prompt], n: int, sampling: Sampling, seed: int) -> list[ChatRequest]:
    """n requests per prompt, prompt by prompt."""
    return [
        ChatRequest.of(prompt.messages, Sampling(sampling.temperature, sampling.top_p, sampling.max_tokens,
                                                 sample_seed(seed, prompt, sample), sampling.stop))
        for prompt in prompts
        for sample in range(n)
    ]  # fmt: skip


def collect(
    prompts: list[Prompt], completions: list[Completion], n: int, include_existing: bool
) -> tuple[list[list[Candidate]], list[Dropped]]:
    """Each prompt's candidates (distinct texts, policy samples first) and the answers dropped."""
    groups: list[list[Candidate]] = []
    dropped: list[Dropped] = []
    for number, prompt in enumerate(prompts):
        candidates: list[Candidate] = []
        seen: set[str] = set()
        for sample in range(n):
            completion = completions[number * n + sample]
            problem = _unusable(completion)
            text = completion.text.strip()
            if problem is None and text in seen:
                problem = ("duplicate_answer", "the same text as another candidate of this prompt")
            if problem is not None:
                dropped.append(Dropped(prompt.id, sample, *problem, completion.text))
                continue
            seen.add(text)
            candidates.append(Candidate(text, POLICY, sample))
        if include_existing:
            for text in prompt.existing:
                if text.strip() not in seen:
                    seen.add(text.strip())
                    candidates.append(Candidate(text.strip(), EXISTING))
        groups.append(candidates)
    return groups, dropped


def _unusable(completion: Completion) -> tuple[str, str] | None:
    if completion.status == FAILED:
        return "policy_failed", completion.error or "no answer"
    if completion.status == EMPTY:
        return "empty_answer", "the policy answered with nothing"
    if completion.status == LENGTH:
        # a cut answer would be judged for being cut, not for what it says
        return "cut_by_length", "the answer hit --max-tokens"
    return None
