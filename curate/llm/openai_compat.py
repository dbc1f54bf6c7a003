"""Any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp server, OpenAI) through the
`openai` package's async client.

The client's own retries are off (`max_retries=0`): retrying here lets the run count every
retry by cause for the report, honour `Retry-After` on every retryable answer, and keep
rate limits shared by all concurrent requests. The API key is read from the environment
and only handed to the client. Everything the server sends back passes `redact` (redact.py)
here, where it enters curate: an error recorded for a request or raised for the run carries
the status and the server's message without the key, credential fields or URL credentials,
and an answer never holds the key.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from curate.errors import UserError
from curate.llm.backend import EMPTY, FAILED, ChatRequest, Completion, Usage, completion_status
from curate.llm.redact import redact, redact_answer, redact_url, remember, remember_url, server_identity

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the openai client's, unless OPENAI_BASE_URL names another
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
# Statuses worth another try: the server was busy, overloaded or briefly broken.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# Statuses that mean the whole run is misconfigured: stop at once instead of failing every request.
FATAL_STATUSES = {
    401: "the server refused the API key",
    403: "the API key may not use this model",
    404: "the server has no such model or endpoint",
}


@dataclass(frozen=True)
class ClientSettings:
    model: str
    base_url: str | None = None  # None: api.openai.com
    api_key_env: str = DEFAULT_KEY_ENV
    concurrency: int = 8
    rpm: float | None = None  # requests per minute
    tpm: float | None = None  # tokens per minute (prompt + completion)
    timeout: float = 120.0  # seconds per attempt
    max_retries: int = 8
    backoff_base: float = 0.5  # seconds before the first retry; doubles every retry
    backoff_max: float = 60.0


def check_key_env(name: str) -> str:
    """`name` if it can name an environment variable. The key itself given by mistake is refused
    without being repeated: it would be printed here and recorded in the manifest."""
    if not _ENV_NAME.fullmatch(name or ""):
        raise UserError(
            "--api-key-env takes the NAME of the environment variable that holds the key (letters, digits "
            "and _), not the key itself"
        )
    return name


def server_url(settings: ClientSettings) -> str:
    """The API root requests go to: --base-url, else OPENAI_BASE_URL, else api.openai.com (as the
    openai client chooses)."""
    return settings.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL


def check_base_url(url: str) -> None:
    """An http(s) URL with a host and a valid port, or one line naming it (credentials removed)."""
    problem = None
    try:
        parts = urlparse(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as error:
        problem = str(error)
    else:
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            problem = "an http:// or https:// URL with a host is needed"
    if problem is not None:
        raise UserError(f"the server URL {redact_url(url)} cannot be used: {redact(problem)}")


def api_key(settings: ClientSettings) -> str:
    """The key from the environment; local servers (vLLM, Ollama, llama.cpp) need none. The key
    and the URL's credentials are remembered as secrets (redact.py) from here on."""
    check_key_env(settings.api_key_env)
    url = server_url(settings)
    remember_url(url)
    check_base_url(url)
    key = os.environ.get(settings.api_key_env)
    if key:
        remember(key)
        return key
    if urlparse(url).hostname in LOCAL_HOSTS:
        return "not-needed"  # the client insists on a value; local servers ignore it
    where = "api.openai.com" if url == DEFAULT_BASE_URL else f"the server at {redact_url(url)}"
    raise UserError(f"no API key for {where}: set the environment variable {settings.api_key_env}")


class RateLimiter:
    """A token bucket shared by every request of a run.

    Written by hand (not aiolimiter) because token spending is only known after the answer:
    `settle` corrects an estimate with the server's usage, which may push the bucket below zero.
    """

    def __init__(self, per_minute: float, burst_seconds: float = 10.0) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_seconds)
        self.level = self.capacity
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, amount: float = 1.0) -> None:
        amount = min(amount, self.capacity)  # one request larger than the bucket still goes, alone
        async with self.lock:
            while True:
                self._refill()
                if self.level >= amount:
                    self.level -= amount
                    return
                await asyncio.sleep((amount - self.level) / self.rate)

    def settle(self, difference: float) -> None:
        self._refill()
        self.level -= difference


def retry_after_seconds(headers) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, `retry-after` (seconds or HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Retry(Exception):
    def __init__(self, cause: str, detail: str, wait: float | None = None) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.wait = wait


def _estimated_tokens(request: ChatRequest) -> int:
    # about four characters a token for English; an estimate, settled with the real usage later
    return sum(len(content) for _, content in request.messages) // 4 + request.sampling.max_tokens


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server, with bounded concurrency, rate
    limits and retries (exponential backoff with full jitter, `Retry-After` honoured)."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.usage = Usage()
        self._key = api_key(settings)
        self._loop = asyncio.new_event_loop()
        self._client = None
        self._jitter = random.Random()

    def identity(self) -> dict:
        # the server is part of it: another server may serve another model under the same name
        # (the answer cache leaves it out when asked to share answers across servers)
        return {"backend": "openai", "model": self.settings.model, "server": server_identity(server_url(self.settings))}

    def complete(
        self, requests: list[ChatRequest], on_completion: Callable[[int, Completion], None] | None = None
    ) -> list[Completion]:
        started = time.perf_counter()
        try:
            return self._loop.run_until_complete(self._complete_all(requests, on_completion))
        finally:
            self.usage.seconds += time.perf_counter() - started

    def close(self) -> None:
        try:
            if self._client is not None:
                self._loop.run_until_complete(self._client.close())
        except RuntimeError:
            pass  # the loop was interrupted (Ctrl-C) mid-run; the process is ending anyway
        finally:
            self._client = None
            self._loop.close()

    def _make_client(self):
        import openai

        return openai.AsyncOpenAI(
            api_key=self._key,
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            max_retries=0,
        )

    async def _complete_all(self, requests, on_completion) -> list[Completion]:
        if self._client is None:
            self._client = self._make_client()
        settings = self.settings
        gate = asyncio.Semaphore(settings.concurrency)
        request_limit = RateLimiter(settings.rpm) if settings.rpm else None
        token_limit = RateLimiter(settings.tpm) if settings.tpm else None
        results: list[Completion | None] = [None] * len(requests)

        async def one(index: int, request: ChatRequest) -> None:
            async with gate:
                completion = _redacted(await self._with_retries(request, request_limit, token_limit))
            results[index] = completion
            if on_completion is not None:
                on_completion(index, completion)

        tasks = [asyncio.ensure_future(one(index, request)) for index, request in enumerate(requests)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return results  # type: ignore[return-value]

    async def _with_retries(self, request: ChatRequest, request_limit, token_limit) -> Completion:
        settings = self.settings
        estimate = _estimated_tokens(request)
        for attempt in range(settings.max_retries + 1):
            if request_limit is not None:
                await request_limit.acquire()
            if token_limit is not None:
                await token_limit.acquire(estimate)
            try:
                completion = await self._attempt(request)
            except _Retry as retry:
                if token_limit is not None:
                    token_limit.settle(-estimate)  # nothing was generated: give the estimate back
                if attempt == settings.max_retries:
                    return Completion("", FAILED, error=f"{retry.cause}: {retry.detail}", retries=attempt)
                self.usage.retries[retry.cause] += 1
                await asyncio.sleep(self._backoff(attempt, retry.wait))
                continue
            if token_limit is not None:
                token_limit.settle(completion.prompt_tokens + completion.completion_tokens - estimate)
            completion.retries = attempt
            return completion
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, server_wait: float | None) -> float:
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2**attempt)
        delay = self._jitter.uniform(0, ceiling)  # full jitter: retries of many requests spread out
        if server_wait is not None:
            delay = max(delay, min(server_wait, self.settings.backoff_max))
        return delay

    async def _attempt(self, request: ChatRequest) -> Completion:
        import openai

        sampling = request.sampling
        body: dict = {
            "model": self.settings.model,
            "messages": request.message_dicts(),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        try:
            response = await self._client.chat.completions.create(**body)
        except openai.APITimeoutError:
            raise _Retry("timeout", f"no answer within {self.settings.timeout:g} s") from None
        except openai.APIConnectionError as error:
            raise _Retry("connection", _short(error)) from None
        except openai.APIStatusError as error:
            status = error.status_code
            if status in FATAL_STATUSES:
                where = redact_url(server_url(self.settings))
                raise UserError(
                    f"{where} answered {status} for model {self.settings.model!r}: {FATAL_STATUSES[status]} "
                    f"({_short(error)})"
                ) from None
            if status in RETRY_STATUSES or status >= 500:
                cause = "429" if status == 429 else ("5xx" if status >= 500 else str(status))
                raise _Retry(
                    cause, f"HTTP {status}: {_short(error)}", retry_after_seconds(error.response.headers)
                ) from None
            return Completion("", FAILED, error=f"HTTP {status}: {_short(error)}")
        except (ValueError, openai.APIResponseValidationError) as error:
            # a 200 whose body is not the JSON of a chat completion (a proxy's error page, a cut stream)
            raise _Retry("bad_response", _short(error)) from None
        return _completion(response)


def _completion(response) -> Completion:
    choices = getattr(response, "choices", None) or []
    usage = getattr(response, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
    completion_tokens = getattr(usage, "completion_tokens", 0) or 0
    if not choices:
        return Completion("", EMPTY, None, prompt_tokens, completion_tokens, error="the answer has no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = (getattr(message, "content", None) or "") if message is not None else ""
    finish_reason = getattr(choice, "finish_reason", None)
    return Completion(text, completion_status(text, finish_reason), finish_reason, prompt_tokens, completion_tokens)


def _redacted(completion: Completion) -> Completion:
    """A completion as curate keeps it: the error without secrets, the answer without the key."""
    if completion.error:
        completion.error = redact(completion.error)
    completion.text = redact_answer(completion.text)
    return completion


def _short(error: BaseException, limit: int = 300) -> str:
    """An error of the client as one line without secrets (redacted before it is cut, so no
    prefix of a key survives), with the underlying cause of a connection error."""
    import openai

    text = str(error)
    cause = error.__cause__ or error.__context__
    if isinstance(error, openai.APIConnectionError) and cause is not None and str(cause):
        text += f" ({type(cause).__name__}: {cause})"
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
