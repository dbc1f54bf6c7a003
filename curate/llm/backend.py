"""The one protocol every backend speaks: a batch of chat requests in, completions out.

A `Completion` always says whether it can be used (`status`); a backend never returns a
bare None for a request it could not answer, so a caller can count and keep every failure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# status of a completion
OK = "ok"
EMPTY = "empty"  # the model answered with nothing (after stripping whitespace)
LENGTH = "length"  # cut by the token limit: finish_reason "length"
FAILED = "failed"  # no answer after every retry (error says why)
STATUSES = (OK, EMPTY, LENGTH, FAILED)


def derived_seed(key: str) -> int:
    """A request seed made from text (servers take 31-bit seeds): the same key, the same seed, so
    the answer cache finds the request again on the next run."""
    import xxhash

    return xxhash.xxh32_intdigest(key.encode("utf-8")) & 0x7FFFFFFF


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None  # sent to servers that take one; also keeps identical prompts apart in the cache
    stop: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    sampling: Sampling = Sampling()

    @staticmethod
    def of(messages: list[dict], sampling: Sampling = Sampling()) -> ChatRequest:
        return ChatRequest(tuple((message["role"], message["content"]) for message in messages), sampling)

    def message_dicts(self) -> list[dict]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass
class Completion:
    text: str
    status: str  # one of STATUSES
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None  # why a FAILED request failed, redacted (redact.py): never the key or headers
    cached: bool = False
    retries: int = 0  # failed attempts before this answer

    @property
    def usable(self) -> bool:
        return self.status == OK


FAILED_SHARE = 0.5  # of a run's requests: more failed than this and the run stops unsealed


def require_answers(completions: list[Completion], what: str) -> None:
    """Stop the run (RunFailed, nothing sealed) when most of its requests failed after their
    retries: the server is down or misconfigured, and a folder of `request_failed` rows would
    pass for finished, so a re-run would not ask again. Answers already in are in the cache."""
    failed = [completion for completion in completions if completion.status == FAILED]
    stop_if_mostly_failed(len(failed), len(completions), what, failed[0].error if failed else None)


def stop_if_mostly_failed(failed: int, total: int, what: str, cause: str | None = None) -> None:
    """require_answers' rule, for callers that count failures themselves (select's ratings)."""
    from curate.errors import RunFailed

    if failed and failed >= FAILED_SHARE * total:
        raise RunFailed(
            f"{what}: {failed:,} of {total:,} requests failed after their retries ({cause or 'no answer'}); "
            "nothing was written; run again once the server answers (answers received are cached)"
        )


def completion_status(text: str | None, finish_reason: str | None) -> str:
    if finish_reason == "length":
        return LENGTH
    if not text or not text.strip():
        return EMPTY
    return OK


@dataclass
class Usage:
    """What a backend did, for the report: requests sent, retries by cause, failures, tokens."""

    requests: int = 0  # requests answered by the model (not from the cache)
    cache_hits: int = 0
    retries: Counter = field(default_factory=Counter)  # cause -> count
    statuses: Counter = field(default_factory=Counter)  # status -> count, cache hits included
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        """Two backends' work as one (translate's translator and answerer)."""
        return Usage(
            self.requests + other.requests,
            self.cache_hits + other.cache_hits,
            self.retries + other.retries,
            self.statuses + other.statuses,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.seconds + other.seconds,
        )

    def add(self, completion: Completion) -> None:
        self.statuses[completion.status] += 1
        if completion.cached:
            self.cache_hits += 1
            return
        self.requests += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "retries": dict(sorted(self.retries.items())),
            "retries_total": sum(self.retries.values()),
            "statuses": {status: self.statuses.get(status, 0) for status in STATUSES},
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
        }


class Backend(Protocol):
    """A model that answers chat requests. `identity` names the model for the cache key."""

    usage: Usage

    def identity(self) -> dict:
        """What, besides the request, decides the answer: part of the cache key. The model name,
        and for a server its address without credentials under "server" (redact.server_identity),
        which the cache leaves out when told to share answers across servers."""
        ...

    def complete(
        self, requests: list[ChatRequest], on_completion: Callable[[int, Completion], None] | None = None
    ) -> list[Completion]:
        """One completion per request, in order; `on_completion(index, completion)` is called as
        each arrives (so a cache can keep it before the batch ends). Counts retries in
        `usage.retries`; the caller (the cache) adds each completion to `usage`."""
        ...

    def close(self) -> None: ...
