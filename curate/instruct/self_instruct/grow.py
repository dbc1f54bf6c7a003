"""Self-instruct: grow an instruction set from seed tasks with a language model.

The loop of Wang et al. (2023, "Self-Instruct") and Taori et al. (2023, Alpaca), written
here: each request shows the model a few tasks sampled from the seeds and from what it
generated so far, and asks for a numbered list of new tasks with input and output. Every
parsed task passes cheap checks (checks.py) and a novelty check: its ROUGE-L F1 against
every seed and accepted instruction must not exceed `max_similarity`.

Requests go out in rounds of `requests_per_round`, all built from the pool as it stood when
the round began, and their answers are read back in request order. So the run depends only
on the options and the answers, never on which answer came back first: with the answer
cache, a killed run replays its answered requests without sending them and ends with the
same rows as an uninterrupted one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from curate.errors import RunFailed, UserError
from curate.instruct.self_instruct.checks import TaskChecks, TaskFilter
from curate.instruct.self_instruct.languages import LANGUAGES
from curate.instruct.self_instruct.parsing import Task, parse_tasks
from curate.instruct.self_instruct.similarity import RougeLIndex, tokenizer_for
from curate.instruct.templates import PromptTemplate
from curate.llm.backend import EMPTY, FAILED, LENGTH, ChatRequest, Completion, Sampling, derived_seed


@dataclass(frozen=True)
class SelfInstructSettings:
    num: int  # stop once this many tasks are accepted
    seed_examples: int = 3  # tasks shown per request, sampled from the seeds
    generated_examples: int = 2  # ... and from the accepted pool (seeds fill in while it is small)
    tasks_per_request: int = 10  # new tasks asked for per request
    requests_per_round: int = 16
    max_requests: int | None = None  # None: enough for num at an acceptance rate of one task per request
    max_similarity: float = 0.7
    checks: TaskChecks = field(default_factory=TaskChecks)
    korean_tokens: str = "auto"  # ROUGE-L tokens for --lang ko: kiwi morphemes or characters
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 3072
    seed: int = 0
    prompt_template: Path | None = None  # None: the shipped one for `lang`

    def __post_init__(self) -> None:
        if self.seed_examples + self.generated_examples == 0:
            raise UserError("show the model at least one example: --seed-examples or --generated-examples above 0")

    @property
    def lang(self) -> str:
        return self.checks.lang

    def request_budget(self) -> int:
        if self.max_requests is not None:
            return self.max_requests
        return max(self.requests_per_round, 10 * -(-self.num // self.tasks_per_request) + self.num)


@dataclass
class Accepted:
    task: Task
    request: int
    similarity: float
    most_similar: str


@dataclass
class Rejected:
    reason: str
    detail: str
    request: int
    position: int | None  # the task's place in its answer; None for a whole answer
    raw: str  # the task as JSON, or the whole answer
    similarity: float | None = None


@dataclass
class Outcome:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    similarities: list[float] = field(default_factory=list)  # best ROUGE-L of every candidate checked
    requests: int = 0
    rounds: int = 0
    candidates: int = 0
    budget_spent: bool = False  # stopped at max_requests before reaching num


def prompt_template(settings: SelfInstructSettings) -> PromptTemplate:
    """--prompt-template, or the shipped request for `settings.lang`."""
    return PromptTemplate(settings.prompt_template or LANGUAGES[settings.lang].prompt, "prompt template")


def build_prompt(template: PromptTemplate, examples: list[Task], new: int) -> str:
    numbered = [{"number": number, **task.as_dict()} for number, task in enumerate(examples, start=1)]
    return template.render(examples=numbered, first_new=len(examples) + 1, last_new=len(examples) + new)


def _request_seed(seed: int, request: int) -> int:
    return derived_seed(f"{seed}:{request}")


def _sample_examples(
    rng: random.Random, seeds: list[Task], pool: list[Task], settings: SelfInstructSettings
) -> list[Task]:
    from_pool = rng.sample(pool, min(settings.generated_examples, len(pool)))
    wanted = settings.seed_examples + settings.generated_examples - len(from_pool)
    from_seeds = rng.sample(seeds, min(wanted, len(seeds)))
    return from_seeds + from_pool


def grow(
    seeds: list[Task],
    complete: Callable[[list[ChatRequest]], list[Completion]],
    settings: SelfInstructSettings,
    on_round: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Ask for new tasks until `settings.num` are accepted or the request budget is spent."""
    if not seeds:
        raise UserError("the seed file holds no usable task (an instruction with an output)")
    template = prompt_template(settings)
    checks = TaskFilter(settings.checks)
    index = RougeLIndex(tokenizer_for(settings.lang, settings.korean_tokens))
    pool_texts: list[str] = []
    for task in seeds:
        index.add(task.instruction)
        pool_texts.append(task.instruction)
    pool: list[Task] = []
    outcome = Outcome()
    budget = settings.request_budget()
    while len(outcome.accepted) < settings.num and outcome.requests < budget:
        # no more requests than the tasks still wanted could fill: a last round does not overshoot --num
        wanted = -(-(settings.num - len(outcome.accepted)) // settings.tasks_per_request)
        count = min(settings.requests_per_round, budget - outcome.requests, wanted)
        numbers = range(outcome.requests, outcome.requests + count)
        requests = []
        for number in numbers:
            rng = random.Random(_request_seed(settings.seed, number))
            prompt = build_prompt(template, _sample_examples(rng, seeds, pool, settings), settings.tasks_per_request)
            sampling = Sampling(
                settings.temperature, settings.top_p, settings.max_tokens, _request_seed(settings.seed, number)
            )
            requests.append(ChatRequest.of([{"role": "user", "content": prompt}], sampling))
        completions = complete(requests)
        if all(completion.status == FAILED for completion in completions):
            # a server that is down or refuses everything: stop rather than spend the budget on failures
            raise RunFailed(
                f"every request of round {outcome.rounds + 1} failed ({completions[0].error}); answers so far "
                "are cached: fix the server and run the same command again to resume"
            )
        outcome.requests += count
        outcome.rounds += 1
        for number, completion in zip(numbers, completions):
            for candidate, position in _candidates(completion, number, outcome):
                if len(outcome.accepted) >= settings.num:
                    outcome.rejected.append(
                        Rejected(
                            "beyond_num",
                            f"{settings.num} tasks were already accepted",
                            number,
                            position,
                            _task_json(candidate),
                        )
                    )
                    continue
                problem = checks.problem(candidate)
                if problem is not None:
                    outcome.rejected.append(Rejected(*problem, number, position, _task_json(candidate)))
                    continue
                score, nearest = index.best_match(candidate.instruction)
                outcome.similarities.append(score)
                similar = pool_texts[nearest] if nearest is not None else ""
                if score > settings.max_similarity:
                    outcome.rejected.append(
                        Rejected(
                            "too_similar",
                            f"ROUGE-L {score:.3f} with: {similar[:200]}",
                            number,
                            position,
                            _task_json(candidate),
                            score,
                        )
                    )
                    continue
                index.add(candidate.instruction)
                pool_texts.append(candidate.instruction)
                pool.append(candidate)
                outcome.accepted.append(Accepted(candidate, number, score, similar))
        if on_round is not None:
            on_round(outcome)
    outcome.budget_spent = len(outcome.accepted) < settings.num
    return outcome


def _candidates(completion: Completion, number: int, outcome: Outcome):
    """The tasks of one answer with their positions; answers that give none are recorded."""
    if completion.status == FAILED:
        outcome.rejected.append(Rejected("request_failed", completion.error or "no answer", number, None, ""))
        return
    if completion.status == EMPTY:
        outcome.rejected.append(
            Rejected("empty_answer", "the model answered with nothing", number, None, completion.text)
        )
        return
    tasks = parse_tasks(completion.text)
    if not tasks:
        outcome.rejected.append(
            Rejected("unparseable_answer", "no 'N. Instruction:' task found", number, None, completion.text)
        )
        return
    cut = completion.status == LENGTH
    for position, task in enumerate(tasks):
        outcome.candidates += 1
        if cut and position == len(tasks) - 1:
            outcome.rejected.append(
                Rejected(
                    "cut_by_length",
                    "the answer hit the token limit inside this task",
                    number,
                    position,
                    _task_json(task),
                )
            )
            continue
        yield task, position


def _task_json(task: Task) -> str:
    return orjson.dumps(task.as_dict()).decode()
