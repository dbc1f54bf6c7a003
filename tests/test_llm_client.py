"""The OpenAI-compatible backend and the answer cache, against servers on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from curate.errors import UserError
from curate.llm.backend import FAILED, LENGTH, OK, ChatRequest, Sampling
from curate.llm.cache import AnswerCache, CachedBackend, request_key
from curate.llm.openai_compat import ClientSettings, OpenAIBackend, api_key, retry_after_seconds
from tests.fake_openai_server import FakeOpenAIServer
from tests.local_http import JSONHandler, LocalServer


def ask(text: str, **sampling) -> ChatRequest:
    return ChatRequest.of([{"role": "user", "content": text}], Sampling(**sampling))


class _StatusServer(LocalServer):
    """Answers every chat request with one fixed HTTP status and counts the requests."""

    def __init__(self, status: int) -> None:
        outer = self
        self.requests = 0

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                outer.requests += 1
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_json(status, json.dumps({"error": {"message": f"status {status}", "type": "test"}}).encode())

        super().__init__(Handler)


def test_retry_after_forms():
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "0.25"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after_seconds({"retry-after": later}) <= 30
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_key_comes_from_the_environment_and_local_servers_need_none(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert api_key(ClientSettings("m", "http://127.0.0.1:8000/v1")) == "not-needed"
    with pytest.raises(UserError, match="set the environment variable OPENAI_API_KEY"):
        api_key(ClientSettings("m", None))
    monkeypatch.setenv("OTHER_KEY", "sk-x")
    assert api_key(ClientSettings("m", "https://api.example.invalid/v1", api_key_env="OTHER_KEY")) == "sk-x"


def test_answers_in_request_order_with_usage_and_callbacks():
    with FakeOpenAIServer(faults={"429": 0.3, "500": 0.2}) as server:
        backend = OpenAIBackend(ClientSettings("fake-model", server.base_url, concurrency=4, backoff_base=0.01))
        requests = [ask(f"Write tasks 1 to 3 about topic {n}.", seed=n, max_tokens=400) for n in range(12)]
        arrived = []
        answers = backend.complete(requests, on_completion=lambda index, completion: arrived.append(index))
        again = backend.complete(requests[:3])
        backend.close()
        injected = server.faults
    assert sorted(arrived) == list(range(12))
    assert all(answer.status in (OK, LENGTH) and answer.prompt_tokens > 0 for answer in answers)
    assert [answer.text for answer in again] == [answer.text for answer in answers[:3]]  # deterministic server
    assert backend.usage.retries["429"] == injected["429"] and backend.usage.retries["5xx"] == injected["500"]
    assert sum(answer.retries for answer in answers + again) == sum(injected.values())


def test_a_bad_request_is_recorded_and_not_retried():
    with _StatusServer(400) as base_url:
        backend = OpenAIBackend(ClientSettings("m", base_url, backoff_base=0.01))
        answer = backend.complete([ask("hello")])[0]
        backend.close()
    assert answer.status == FAILED and answer.error.startswith("HTTP 400")
    assert backend.usage.retries == {}


def test_server_errors_that_never_end_fail_after_max_retries():
    with _StatusServer(502) as base_url:
        backend = OpenAIBackend(ClientSettings("m", base_url, max_retries=3, backoff_base=0.01))
        answer = backend.complete([ask("hello")])[0]
        backend.close()
    assert answer.status == FAILED and "HTTP 502" in answer.error
    assert backend.usage.retries["5xx"] == 3 and answer.retries == 3


@pytest.mark.parametrize("status", [401, 404])
def test_a_refused_key_or_unknown_model_stops_the_run(status):
    with _StatusServer(status) as base_url:
        backend = OpenAIBackend(ClientSettings("m", base_url))
        with pytest.raises(UserError, match=f"answered {status} for model 'm'"):
            backend.complete([ask("hello")] * 3)
        backend.close()


def test_request_key_covers_model_messages_and_every_sampling_parameter():
    base = request_key({"model": "a"}, ask("hi", seed=1))
    assert base == request_key({"model": "a"}, ask("hi", seed=1))
    others = [
        request_key({"model": "b"}, ask("hi", seed=1)),
        request_key({"model": "a"}, ask("hi!", seed=1)),
        request_key({"model": "a"}, ask("hi", seed=2)),
        request_key({"model": "a"}, ask("hi", seed=1, temperature=0.5)),
        request_key({"model": "a"}, ask("hi", seed=1, top_p=0.9)),
        request_key({"model": "a"}, ask("hi", seed=1, max_tokens=10)),
        request_key({"model": "a"}, ask("hi", seed=1, stop=("###",))),
    ]
    assert len({base, *others}) == 8


def test_cache_answers_survive_a_new_process_and_failures_are_not_cached(tmp_path):
    class Scripted:
        def __init__(self, statuses):
            from curate.llm.backend import Usage

            self.usage, self.statuses, self.calls = Usage(), statuses, 0

        def identity(self):
            return {"model": "scripted"}

        def complete(self, requests, on_completion=None):
            from curate.llm.backend import Completion

            answers = []
            for index, request in enumerate(requests):
                self.calls += 1
                status = self.statuses.get(request.messages[0][1], OK)
                answer = Completion(
                    "" if status == FAILED else "answer",
                    status,
                    error="x" if status == FAILED else None,
                    prompt_tokens=3,
                    completion_tokens=1,
                )
                answers.append(answer)
                on_completion(index, answer)
            return answers

        def close(self):
            pass

    requests = [ask("a"), ask("b"), ask("c")]
    first = CachedBackend(Scripted({"b": FAILED}), AnswerCache(tmp_path))
    assert [answer.status for answer in first.complete(requests)] == [OK, FAILED, OK]
    first.close()
    scripted = Scripted({})
    second = CachedBackend(scripted, AnswerCache(tmp_path))
    answers = second.complete(requests)
    assert scripted.calls == 1  # only the failed one is asked again
    assert [answer.cached for answer in answers] == [True, False, True]
    assert second.usage.cache_hits == 2 and second.usage.requests == 1 and second.usage.prompt_tokens == 3
    second.close()


def test_rate_limits_space_requests_and_settle_real_token_use(monkeypatch):
    import asyncio

    from curate.llm import openai_compat

    clock = [0.0]

    async def sleep(seconds: float) -> None:  # a clock that moves only when the limiter waits
        clock[0] += seconds

    monkeypatch.setattr(openai_compat.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(openai_compat.asyncio, "sleep", sleep)

    async def requests_per_minute() -> float:
        limiter = openai_compat.RateLimiter(60)  # one a second, bursts of ten
        for _ in range(15):
            await limiter.acquire()
        return clock[0]

    assert asyncio.run(requests_per_minute()) == pytest.approx(5.0)  # ten at once, then one a second

    async def tokens_per_minute() -> float:
        clock[0] = 0.0
        limiter = openai_compat.RateLimiter(600)  # ten tokens a second, a bucket of 100
        await limiter.acquire(100)
        limiter.settle(50)  # the answer used 50 more tokens than estimated
        await limiter.acquire(10)
        return clock[0]

    assert asyncio.run(tokens_per_minute()) == pytest.approx(6.0)  # 50 owed + 10 wanted, at 10 a second
