"""Secrets are never printed or written: the API key a hostile server echoes back, credentials in
a --base-url, and the answer cache keyed by the server (issue 17). Servers run on 127.0.0.1 only."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.errors import RunFailed, UserError
from curate.llm import redact as redaction
from curate.llm.backend import FAILED, ChatRequest, Sampling
from curate.llm.cache import AnswerCache, CachedBackend, cache_identity, request_key
from curate.llm.openai_compat import ClientSettings, OpenAIBackend
from tests.conftest import REPO, SHARED_DATA
from tests.fake_openai_server import FakeOpenAIServer
from tests.local_http import JSONHandler, LocalServer

KEY = "sk-hostile-Z9y8X7w6V5u4"  # never a real key
KEY_ENV = "CURATE_TEST_SECRET_KEY"
SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"
PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="../shared/data is absent (the fake server answers from it)"
)


@pytest.fixture(autouse=True)
def _forget_secrets():
    """The secrets a test makes curate remember are forgotten after it (they are per process)."""
    yield
    redaction._SECRETS.clear()


class EchoServer(LocalServer):
    """A hostile OpenAI-compatible server: every chat request of a model in `failing` gets
    `status` with a body that echoes the request's headers and path; the others get a 200 whose
    answer quotes the Authorization header."""

    def __init__(self, status: int, failing: tuple[str, ...] = ("bad-model",)) -> None:
        outer = self
        self.requests = 0

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                outer.requests += 1
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                headers = dict(self.headers.items())
                if body.get("model") in failing:
                    echoed = f"request to {self.path} with {headers} ({self.headers.get('authorization')})"
                    payload = {"error": {"message": echoed, "headers": headers, "type": "echo"}}
                    self.send_json(status, json.dumps(payload).encode(), {"retry-after": "0"})
                    return
                answer = f"echo: Authorization: {self.headers.get('authorization')}"
                completion = {
                    "id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
                }  # fmt: skip
                self.send_json(200, json.dumps(completion).encode(), {"retry-after": "0"})

        super().__init__(Handler)


class GarbageServer:
    """Answers every connection with a broken status line quoting the Authorization header: the
    client's connection error then holds the key."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                request = connection.recv(65536)
                lines = [line for line in request.split(b"\r\n") if line.lower().startswith(b"authorization")]
                connection.sendall(b"BOGUS " + b" ".join(lines) + b"\r\n\r\n")

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}/v1"

    def __exit__(self, *exc_info) -> None:
        self.socket.close()


def ask(text: str = "hi") -> ChatRequest:
    return ChatRequest.of([{"role": "user", "content": text}], Sampling(max_tokens=16))


def backend(url: str, model: str = "bad-model", retries: int = 0) -> OpenAIBackend:
    settings = ClientSettings(model, url, api_key_env=KEY_ENV, max_retries=retries, backoff_base=0.01, timeout=5)
    return OpenAIBackend(settings)


def invoke(args: list[str], key: str = KEY):
    result = CliRunner().invoke(cli, args, env={KEY_ENV: key}, catch_exceptions=False)
    return result, result.output  # stdout and stderr, as a terminal shows them


def assert_nowhere(secrets: list[str], text: str, *folders: Path) -> None:
    """No secret in `text` nor in any file under `folders` (Parquet shards read back: they are compressed)."""
    for folder in folders:
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            content = path.read_bytes()
            if path.suffix == ".parquet":
                content += json.dumps(pq.read_table(path).to_pylist(), default=repr).encode()
            for secret in secrets:
                assert secret.encode() not in content, (secret, path)
    for secret in secrets:
        assert secret not in text, secret


# ------------------------------------------------------------------------------ redaction itself


def test_redact_removes_the_key_auth_fields_and_url_credentials():
    redaction.remember("sk-remembered-1234")
    text = (
        "Error code: 401 - {'authorization': 'Bearer sk-remembered-1234', 'x-api-key': 'other-secret-9', "
        "\"api-key\": \"third-secret\", 'Proxy-Authorization': 'Basic dXNlcjpwYXNz'} token=tok-4 "
        "see http://bob:hunter2@127.0.0.1:9/v1?key=abc&api-version=2024 and Bearer eyJhbGciOi.x.y"
    )
    cleaned = redaction.redact(text)
    for secret in ("sk-remembered-1234", "other-secret-9", "third-secret", "dXNlcjpwYXNz", "tok-4", "hunter2",
                   "key=abc", "eyJhbGciOi"):  # fmt: skip
        assert secret not in cleaned, secret
    assert "api-version=2024" in cleaned and "401" in cleaned and "127.0.0.1:9/v1" in cleaned
    assert redaction.redact("a basic error; max_tokens: 1024") == "a basic error; max_tokens: 1024"


def test_redact_url_drops_userinfo_and_query_values():
    assert redaction.redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert redaction.redact_url("http://user:pass@127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    hidden = redaction.redact_url("https://h.example/v1?api_key=s3cr3t&key=k3y&api-version=1&sk-bare")
    assert "s3cr3t" not in hidden and "k3y" not in hidden and "sk-bare" not in hidden and "api-version=1" in hidden
    assert redaction.server_identity("HTTP://u:p@LocalHost/v1/?key=x") == "http://localhost:80/v1"
    assert redaction.server_identity("http://127.0.0.1:8000/v1") != redaction.server_identity(
        "http://127.0.0.1:8001/v1"
    )


def test_every_error_a_command_prints_is_scrubbed(monkeypatch):
    import click

    from curate.cli import cli

    redaction.remember("sk-printed-5678")

    @click.command("leaky")
    @click.argument("kind")
    def leaky(kind: str) -> None:
        error = {"user": UserError, "run": RunFailed}[kind]
        raise error("the server said sk-printed-5678 at http://user:pw-9876@127.0.0.1:9/v1; unknown key: steps")

    monkeypatch.setitem(cli.commands, "leaky", leaky)
    monkeypatch.setattr(type(cli), "get_command", lambda self, ctx, name: leaky if name == "leaky" else None)
    for kind in ("user", "run"):
        result = CliRunner().invoke(cli, ["leaky", kind])
        assert result.exit_code in (1, 2)
        assert "sk-printed-5678" not in result.output and "pw-9876" not in result.output
        assert "unknown key: steps" in result.output  # ordinary words are kept


# ------------------------------------------------------------------------------ the client


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 503])
def test_an_echoed_key_never_reaches_an_error(status, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with EchoServer(status) as url:
        client = backend(url)
        try:
            completion = client.complete([ask()])[0]
        except UserError as error:  # 401, 403, 404 stop the run
            message = str(error)
        else:
            assert completion.status == FAILED
            message = completion.error
        finally:
            client.close()
    assert KEY not in message and str(status) in message
    assert "Bearer" not in message or "Bearer [REDACTED]" in message


def test_a_connection_error_that_quotes_the_key_is_redacted(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with GarbageServer() as url:
        client = backend(url, retries=1)
        completion = client.complete([ask()])[0]
        client.close()
    assert completion.status == FAILED and completion.error.startswith("connection")
    assert KEY not in completion.error


def test_an_answer_that_echoes_the_key_is_stored_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with EchoServer(400) as url:
        cached = CachedBackend(backend(url, model="good-model"), AnswerCache(tmp_path))
        completion = cached.complete([ask()])[0]
        cached.close()
    assert completion.text.startswith("echo: Authorization") and KEY not in completion.text
    assert KEY.encode() not in b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())


# ------------------------------------------------------------------------------ whole commands


def grow_args(url: str, output: Path, cache: Path, *extra: str, model: str = "bad-model") -> list[str]:
    return [
        "self-instruct", "--seeds", str(SEEDS), "-o", str(output), "--num", "3", "--base-url", url,
        "--model", model, "--cache", str(cache), "--api-key-env", KEY_ENV, "--max-retries", "1",
        "--timeout", "5", "--no-progress", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500])
def test_self_instruct_never_prints_or_writes_an_echoed_key(status, tmp_path):
    with EchoServer(status) as url:
        result, printed = invoke(grow_args(url, tmp_path / "out", tmp_path / "cache"))
    assert result.exit_code in (1, 2), printed
    assert "Traceback" not in printed and str(status) in printed
    assert_nowhere([KEY], printed, tmp_path)


def test_prefs_rejected_rows_and_report_hold_no_echoed_key(tmp_path):
    with EchoServer(400, failing=("bad-policy",)) as url:
        args = [
            "prefs", str(PAIRS), "-o", str(tmp_path / "out"), "--policy-base-url", url, "--policy-model", "bad-policy",
            "--judge-model", "judge", "--cache", str(tmp_path / "cache"), "--api-key-env", KEY_ENV, "--n", "2",
            "--max-retries", "0", "--no-progress",
        ]  # fmt: skip
        result, printed = invoke(args)
    assert result.exit_code == 0, printed
    details = json.loads((tmp_path / "out" / "_manifest.json").read_text())["counts"]["by_reason"]
    assert details.get("policy_failed", 0) > 0
    assert_nowhere([KEY], printed, tmp_path)


def test_a_bad_key_env_value_is_refused_without_repeating_it(tmp_path):
    with EchoServer(400) as url:
        args = grow_args(url, tmp_path / "out", tmp_path / "cache")
        args[args.index("--api-key-env") + 1] = KEY  # the key itself, by mistake
        result, printed = invoke(args)
    assert result.exit_code == 2 and "NAME of the environment variable" in printed
    assert KEY not in printed and not (tmp_path / "out").exists()


URL_SECRETS = ["hunter2-pass", "tok-in-query-77", "sig-in-query-88"]


def with_credentials(url: str) -> str:
    return url.replace("http://", "http://alice:hunter2-pass@")


@needs_shared
def test_url_credentials_are_never_recorded_or_printed(tmp_path):
    with FakeOpenAIServer() as server:
        args = grow_args(with_credentials(server.base_url), tmp_path / "out", tmp_path / "cache", model="fake-model")
        result, printed = invoke(args)
        assert result.exit_code == 0, printed
        manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
        assert manifest["options"]["base_url"] == server.base_url
        assert server.base_url in manifest["command_line"]
        # a token in the query string: the openai client cannot use it (the server answers 404), and
        # the one line that says so, like the folder, names the URL without it
        query = f"{server.base_url}?api_key={URL_SECRETS[1]}&key={URL_SECRETS[2]}"
        failed, failed_printed = invoke(grow_args(with_credentials(query), tmp_path / "q", tmp_path / "cache"))
    assert failed.exit_code == 2
    assert_nowhere([*URL_SECRETS, "alice"], printed + failed_printed, tmp_path)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "How it was made" in card and server.base_url in card


@needs_shared
def test_prefs_records_judge_and_policy_urls_without_credentials(tmp_path):
    with FakeOpenAIServer() as server:
        secret_url = with_credentials(server.base_url)
        args = [
            "prefs", str(PAIRS), "-o", str(tmp_path / "out"), "--policy-base-url", secret_url,
            "--policy-model", "fake-policy", "--judge-base-url", secret_url, "--judge-model", "fake-judge",
            "--cache", str(tmp_path / "cache"), "--n", "2", "--no-progress",
        ]  # fmt: skip
        result, printed = invoke(args)
    assert result.exit_code == 0, printed
    options = json.loads((tmp_path / "out" / "_manifest.json").read_text())["options"]
    assert options["policy_base_url"] == options["judge_base_url"] == server.base_url
    assert_nowhere(["hunter2-pass", "alice"], printed, tmp_path)


# ------------------------------------------------------------------------------ the answer cache


def test_the_cache_key_names_the_server_unless_shared():
    settings = [ClientSettings("m", url) for url in ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1")]
    identities = [OpenAIBackend(one).identity() for one in settings]
    assert request_key(identities[0], ask()) != request_key(identities[1], ask())
    shared = [cache_identity(identity, shared=True) for identity in identities]
    assert request_key(shared[0], ask()) == request_key(shared[1], ask())
    with_password = OpenAIBackend(ClientSettings("m", "http://u:secret-pw@127.0.0.1:8000/v1")).identity()
    assert with_password == identities[0] and "secret-pw" not in json.dumps(with_password)


@needs_shared
def test_another_server_with_the_same_model_name_is_not_answered_from_the_cache(tmp_path):
    with FakeOpenAIServer() as first, FakeOpenAIServer(seed=1) as second:
        result, printed = invoke(grow_args(first.base_url, tmp_path / "a", tmp_path / "cache", model="fake-model"))
        assert result.exit_code == 0, printed
        result, printed = invoke(grow_args(second.base_url, tmp_path / "b", tmp_path / "cache", model="fake-model"))
        assert result.exit_code == 0, printed
        assert second.requests > 0  # its own answers, not the first server's
        asked = first.requests
        again, printed = invoke(grow_args(first.base_url, tmp_path / "a2", tmp_path / "cache", model="fake-model"))
        assert again.exit_code == 0 and first.requests == asked  # the same server replays from the cache


@needs_shared
def test_share_cache_reuses_answers_across_servers(tmp_path):
    with FakeOpenAIServer() as first, FakeOpenAIServer() as second:
        args = ("--share-cache",)
        result, printed = invoke(grow_args(first.base_url, tmp_path / "a", tmp_path / "c", *args, model="fake-model"))
        assert result.exit_code == 0, printed
        result, printed = invoke(grow_args(second.base_url, tmp_path / "b", tmp_path / "c", *args, model="fake-model"))
        assert result.exit_code == 0, printed
        assert second.requests == 0


# ------------------------------------------------------------------------------ data quoted in reports

MARKUP = "<script>alert(1)</script> ![x](http://attacker.invalid/p.png) | [link](http://attacker.invalid) `code`"


def assert_shown_as_text(markdown: str) -> None:
    assert "<script>" not in markdown and "](http://attacker" not in markdown and "| [link]" not in markdown
    assert "&lt;script&gt;" in markdown


def test_prefs_report_quotes_prompts_answers_and_judge_replies_as_text():
    from curate.prefs.report import render_markdown

    counts = {"in": 2, "kept": 1, "rejected": 1, "by_reason": {"judge:no_score": 1}}
    report = {
        "command": "prefs", "command_line": "curate prefs x", "counts": counts,
        "prefs": {"prompts": 1, "n": 2, "candidates": 2, "judged": 1, "pairs_considered": 1, "ties": 0,
                  "below_min_margin": 0, "pairing": "best-worst", "tie_rate": 0.0},
        "llm": {"policy": {}, "judge": {"failures": {"no_score": 1}}},
        "scores": {"count": 0, "min": None, "max": None, "mean": None}, "timings": {"seconds": 1},
        "examples": {
            "pairs": [{"prompt": MARKUP, "chosen": MARKUP, "rejected": MARKUP, "score_chosen": 8, "score_rejected": 2}],
            "judge_failures": [{"reason": "no_score", "answer": MARKUP, "reply": MARKUP}],
        },
    }  # fmt: skip
    markdown = render_markdown(report)
    assert "## Examples" in markdown
    assert_shown_as_text(markdown)


def test_self_instruct_report_quotes_tasks_and_answers_as_text():
    from curate.instruct.self_instruct.grow import Accepted, Outcome, Rejected
    from curate.instruct.self_instruct.parsing import Task
    from curate.instruct.self_instruct.report import examples, render_markdown

    outcome = Outcome(
        accepted=[Accepted(Task(MARKUP, MARKUP, MARKUP), 0, 0.1, "")],
        rejected=[
            Rejected("too_similar", MARKUP, 0, 1, json.dumps({"instruction": MARKUP})),
            Rejected("unparseable_answer", "no task", 1, None, MARKUP),
        ],
    )
    report = {
        "command": "self-instruct", "command_line": "curate self-instruct", "timings": {"seconds": 1},
        "counts": {"in": 3, "kept": 1, "rejected": 2, "by_reason": {"too_similar": 1, "unparseable_answer": 1}},
        "self_instruct": {"num": 1, "candidates": 2, "requests": 2, "rounds": 1, "seeds": 1, "reached_num": True,
                          "max_similarity": 0.7},
        "llm": {"requests": 2, "cache_hits": 0, "retries_total": 0, "retries": {}, "statuses": {},
                "prompt_tokens": 0, "completion_tokens": 0},
        "novelty": {"edges": [0, 1], "candidates": [0], "accepted_mean": None},
        "examples": examples(outcome),
    }  # fmt: skip
    markdown = render_markdown(report)
    assert "## Examples" in markdown and "too\\_similar" in markdown
    assert_shown_as_text(markdown)


def test_the_dataset_card_keeps_the_command_line_in_its_block_without_credentials():
    from curate.instruct.formats import get_format
    from curate.instruct.interop import dataset_card

    command = "curate prefs 'a```b.jsonl' --policy-base-url 'http://u:card-pw@127.0.0.1:1/v1?key=card-token'"
    card = dataset_card(Path("/nonexistent"), get_format("preference"), "x", {"in": 0}, command, None)
    assert "card-pw" not in card and "card-token" not in card and "http://127.0.0.1:1/v1" in card
    assert "````\ncurate prefs" in card  # a fence longer than the backticks inside


@pytest.mark.parametrize(
    "url",
    [
        "http://user:se/cret99@127.0.0.1:9/v1",
        "http://u:se#cret99@127.0.0.1:9/v1",
        "http://u:se?cret99@127.0.0.1:9/v1",
        "http//u:secret99@127.0.0.1:9/v1",
        "u:secret99@127.0.0.1:9/v1",
        "http://127.0.0.1:9/v1;sess=secret99",
    ],
)
def test_a_malformed_url_never_shows_its_credentials(url):
    assert "cret99" not in redaction.redact_url(url)
    result = CliRunner().invoke(
        cli, ["self-instruct", "--seeds", str(SEEDS), "-o", "/tmp/never-written", "--num", "1", "--model", "m",
              "--base-url", url],
    )  # fmt: skip
    assert "cret99" not in result.output and "Traceback" not in result.output
