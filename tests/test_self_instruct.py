"""`curate self-instruct` against a real HTTP server on 127.0.0.1 (tests/fake_openai_server.py)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.instruct.self_instruct.checks import TaskChecks, TaskFilter
from curate.instruct.self_instruct.parsing import Task, parse_tasks
from curate.llm.cache import CACHE_FILE
from tests.fake_openai_server import FakeOpenAIServer

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
EN_SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"
KO_SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.ko.jsonl"
TRANSIENT = ("429", "500", "503", "hang", "malformed")

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data is absent (the fake server answers from it)"
)


def run_cli(args: list[str], env: dict | None = None):
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return result


def grow_args(
    server: FakeOpenAIServer, output: Path, cache: Path, num: int, *extra: str, seeds: Path = EN_SEEDS
) -> list[str]:
    return [
        "self-instruct", "--seeds", str(seeds), "-o", str(output), "--num", str(num),
        "--base-url", server.base_url, "--model", "fake-model", "--cache", str(cache),
        "--timeout", "0.5", "--no-progress", *extra,
    ]  # fmt: skip


def rows(folder: Path, sub: str = "data") -> list[dict]:
    return [row for path in sorted((folder / sub).glob("*.parquet")) for row in pq.read_table(path).to_pylist()]


# ------------------------------------------------------------------------------ parsing


def test_parses_the_shapes_models_answer_in():
    answer = """Sure! Here are more tasks:
###
4. Instruction: Summarise the paragraph in one sentence.
4. Input:
The city council met on Tuesday to discuss the new budget.
4. Output:
The council discussed the budget.
###
**5. Instruction:** Name three primary colours.
**5. Input:** <noinput>
**5. Output:**
Red, yellow and blue.
###
6. Instruction: Write a haiku about autumn leaves.
6. Output:
Leaves drift on cold wind
###
7. Instruction: Translate "good morning" into French.
7. Input: Noinput
7. Output: Bonjour."""
    tasks = parse_tasks(answer)
    assert [task.instruction for task in tasks] == [
        "Summarise the paragraph in one sentence.",
        "Name three primary colours.",
        "Write a haiku about autumn leaves.",
        'Translate "good morning" into French.',
    ]
    assert tasks[0].input == "The city council met on Tuesday to discuss the new budget."
    assert [task.input for task in tasks[1:]] == ["", "", ""]
    assert tasks[1].output == "Red, yellow and blue."
    assert tasks[3].output == "Bonjour."


def test_parses_korean_labels_and_keeps_multiline_fields():
    answer = "###\n2. 지시문: 다음 문장을 존댓말로 바꾸세요.\n2. 입력:\n밥 먹었어?\n2. 출력:\n식사하셨어요?\n또는 진지 드셨어요?\n###"
    assert parse_tasks(answer) == [
        Task("다음 문장을 존댓말로 바꾸세요.", "밥 먹었어?", "식사하셨어요?\n또는 진지 드셨어요?")
    ]


def test_answers_without_tasks_parse_to_nothing():
    assert parse_tasks("I'm sorry, I cannot help with that.") == []
    assert parse_tasks("1. Input: orphan input\n1. Output: orphan output") == []


def test_task_checks_and_their_reasons():
    english = TaskFilter(TaskChecks("en"))
    assert english.problem(Task("Name three primary colours.", "", "Red")) is None
    assert english.problem(Task("Name colours.", "", "Red"))[0] == "too_short"
    assert english.problem(Task(" ".join(["word"] * 151), "", "x"))[0] == "too_long"
    assert english.problem(Task("Name three primary colours.", "", ""))[0] == "no_output"
    assert english.problem(Task("Draw a picture of a cat.", "", "x")) == (
        "blacklisted_word",
        "mentions 'draw': a text-only model cannot do it",
    )
    assert english.problem(Task("Describe the user profile settings page.", "", "x")) is None  # "file" inside a word
    assert english.problem(Task("Summarise the attached files in a table.", "", "x"))[0] == "blacklisted_word"
    assert english.problem(Task('"Quote" the following sentence back.', "", "x"))[0] == "starts_with_punctuation"
    korean = TaskFilter(TaskChecks("ko"))
    assert korean.problem(Task("다음 지도를 보고 가장 가까운 역을 찾으세요.", "", "x"))[0] == "blacklisted_word"
    assert korean.problem(Task("훌륭한 지도자의 자질을 세 가지 설명하세요.", "", "x")) is None
    assert korean.problem(Task("고양이 그림을 그려 주세요 지금 바로.", "", "x"))[0] == "blacklisted_word"


# --------------------------------------------------------------------- against the server


@needs_shared
@pytest.mark.parametrize(
    "faults",
    [
        {},
        {"429": 0.3},
        {"500": 0.2, "503": 0.1},
        {"hang": 0.15},
        {"malformed": 0.25},
        {"length": 0.3, "empty": 0.1},
        {"429": 0.1, "500": 0.1, "hang": 0.05, "malformed": 0.1, "length": 0.1, "empty": 0.05},
    ],
    ids=["clean", "429", "5xx", "hang", "malformed", "length+empty", "all"],
)
def test_reaches_num_with_every_fault_mix_and_loses_nothing(tmp_path, faults):
    num = 60
    with FakeOpenAIServer(faults=faults, hang_seconds=3.0, retry_after="0.05") as server:
        result = run_cli(grow_args(server, tmp_path / "out", tmp_path / "cache", num, "--requests-per-round", "4"))
        assert result.exit_code == 0, result.output
        sent, injected = server.requests, server.faults
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    llm, counts = manifest["llm"], manifest["counts"]
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert len(kept) == counts["kept"] == num
    assert counts["in"] == counts["kept"] + counts["rejected"] == len(kept) + len(rejected)
    # every HTTP request is an answered request or a counted retry
    assert sent == llm["requests"] + llm["retries_total"]
    assert llm["retries_total"] == sum(injected[kind] for kind in TRANSIENT)
    assert llm["retries"].get("429", 0) == injected["429"]
    assert llm["retries"].get("5xx", 0) == injected["500"] + injected["503"]
    assert llm["retries"].get("timeout", 0) == injected["hang"]
    assert llm["retries"].get("bad_response", 0) == injected["malformed"]
    assert llm["statuses"]["failed"] == 0
    assert llm["statuses"]["length"] == injected["length"]
    assert llm["statuses"]["empty"] == injected["empty"]
    reasons = counts["by_reason"]
    assert reasons.get("empty_answer", 0) == injected["empty"]
    # a cut answer loses its last task, with the reason; nothing else of it
    assert reasons.get("cut_by_length", 0) >= injected["length"] > 0 or not injected["length"]
    # every accepted instruction is unique and passes the checks again
    instructions = [row["instruction"] for row in kept]
    assert len(set(instructions)) == num
    assert all(row["messages"][-1] == {"role": "assistant", "content": row["output"]} for row in kept)
    assert {row["reason"] for row in rejected} <= {
        "too_similar", "blacklisted_word", "too_short", "cut_by_length", "empty_answer", "beyond_num",
        "no_output", "starts_with_punctuation", "unparseable_answer",
    }  # fmt: skip
    entry = json.loads((tmp_path / "out" / "dataset_info.json").read_text())["out"]
    assert entry["formatting"] == "sharegpt" and entry["columns"]["messages"] == "messages"
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"**{num} of {num} tasks accepted**" in report
    assert f"| retries | {llm['retries_total']:,} |" in report


@needs_shared
def test_rerun_is_served_from_the_cache(tmp_path):
    with FakeOpenAIServer() as server:
        first = run_cli(grow_args(server, tmp_path / "out", tmp_path / "cache", 30))
        assert first.exit_code == 0, first.output
        answered = server.requests
        again = run_cli(grow_args(server, tmp_path / "out", tmp_path / "cache", 30))
        assert "already complete" in again.output
        rebuilt = run_cli(grow_args(server, tmp_path / "out2", tmp_path / "cache", 30))
        assert rebuilt.exit_code == 0, rebuilt.output
        assert server.requests == answered  # not one request sent again
    manifest = json.loads((tmp_path / "out2" / "_manifest.json").read_text())
    assert manifest["llm"]["requests"] == 0 and manifest["llm"]["cache_hits"] == answered
    assert rows(tmp_path / "out") == rows(tmp_path / "out2")


def _cached_answers(cache: Path) -> int:
    try:
        with sqlite3.connect(cache / CACHE_FILE, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.Error:
        return 0


@needs_shared
def test_killed_run_resumes_without_resending_and_matches_an_uninterrupted_run(tmp_path):
    num, args = 150, ["--requests-per-round", "2", "--tasks-per-request", "5", "--concurrency", "2"]
    with FakeOpenAIServer(latency=0.05) as server:
        whole = run_cli(grow_args(server, tmp_path / "whole", tmp_path / "cache-whole", num, *args))
        assert whole.exit_code == 0, whole.output
        uninterrupted = server.requests
        assert uninterrupted >= 20
        server.reset_counts()

        command = [sys.executable, "-m", "curate", *grow_args(server, tmp_path / "out", tmp_path / "cache", num, *args)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _cached_answers(tmp_path / "cache") < uninterrupted // 2 and process.poll() is None:
            assert time.monotonic() < deadline, "the run never got half-way"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert not (tmp_path / "out" / "_manifest.json").exists(), "killed too late: the run had finished"
        cached = _cached_answers(tmp_path / "cache")
        assert 0 < cached < uninterrupted
        server.reset_counts()

        resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr
        assert server.requests == uninterrupted - cached  # no cached request was sent again
    assert rows(tmp_path / "out") == rows(tmp_path / "whole")
    assert rows(tmp_path / "out", "rejected") == rows(tmp_path / "whole", "rejected")


@needs_shared
def test_korean_run_uses_korean_prompts_tokens_and_filters(tmp_path):
    with FakeOpenAIServer() as server:
        result = run_cli(grow_args(server, tmp_path / "ko", tmp_path / "cache", 40, "--lang", "ko", seeds=KO_SEEDS))
        assert result.exit_code == 0, result.output
        prompt = json.loads(next(iter(server.bodies)))["messages"][0]["content"]
    assert "지시문:" in prompt and "Instruction:" not in prompt
    kept = rows(tmp_path / "ko")
    assert len(kept) == 40
    assert all(any("가" <= char <= "힣" for char in row["instruction"]) for row in kept)
    reasons = json.loads((tmp_path / "ko" / "_manifest.json").read_text())["counts"]["by_reason"]
    assert reasons.get("too_similar", 0) > 0  # the server copies examples: Korean ROUGE-L sees them


@needs_shared
def test_api_key_is_used_but_never_written(tmp_path):
    secret = "sk-test-DO-NOT-LEAK-4242"
    with FakeOpenAIServer(faults={"429": 0.2}) as server:
        result = run_cli(
            grow_args(server, tmp_path / "out", tmp_path / "cache", 10, "--api-key-env", "MY_KEY"),
            env={"MY_KEY": secret},
        )
        assert result.exit_code == 0, result.output
    assert secret not in result.output
    for path in [*(tmp_path / "out").rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_missing_key_for_a_remote_server_is_a_usage_error(tmp_path):
    env = {"OPENAI_API_KEY": ""}
    result = run_cli(
        ["self-instruct", "--seeds", str(EN_SEEDS), "-o", str(tmp_path / "out"), "--num", "5",
         "--base-url", "https://llm.example.invalid/v1", "--model", "m", "--no-progress"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "set the environment variable OPENAI_API_KEY" in result.output
    assert not (tmp_path / "out").exists()


def test_unreadable_seed_names_file_and_line(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"instruction": "Name three primary colours.", "input": "", "output": "Red"}\n{oops\n')
    result = run_cli(
        [
            "self-instruct",
            "--seeds",
            str(seeds),
            "-o",
            str(tmp_path / "out"),
            "--num",
            "5",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--no-progress",
        ]
    )
    assert result.exit_code == 2
    assert f"{seeds}: line 2 is not a readable record" in result.output


def test_local_backend_plumbing(tmp_path):
    pytest.importorskip("transformers")
    from tests.tiny_chat_model import make_tiny_chat_model

    model = make_tiny_chat_model(tmp_path / "model")
    result = run_cli([
        "self-instruct", "--seeds", str(EN_SEEDS), "-o", str(tmp_path / "out"), "--num", "5",
        "--backend", "local", "--model", str(model), "--max-tokens", "12", "--max-requests", "3",
        "--requests-per-round", "2", "--cache", str(tmp_path / "cache"), "--no-progress",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: stopped at the request budget" in result.output
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["llm"]["requests"] == 3
    assert manifest["llm"]["completion_tokens"] > 0
    assert manifest["self_instruct"]["reached_num"] is False
    rejected = rows(tmp_path / "out", "rejected")
    assert len(rejected) == manifest["counts"]["rejected"] >= 3  # junk: every answer is recorded with a reason
    assert {row["reason"] for row in rejected} <= {
        "unparseable_answer",
        "empty_answer",
        "cut_by_length",
        "no_output",
        "too_short",
    }
    assert os.path.exists(tmp_path / "out" / "report.md")


def test_a_server_that_is_down_stops_the_run_with_one_line(tmp_path):
    result = run_cli(
        [
            "self-instruct",
            "--seeds",
            str(EN_SEEDS),
            "-o",
            str(tmp_path / "out"),
            "--num",
            "5",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--max-retries",
            "1",
            "--cache",
            str(tmp_path / "cache"),
            "--no-progress",
        ]
    )
    assert result.exit_code == 1
    assert "every request of round 1 failed (connection:" in result.output
    assert not (tmp_path / "out" / "_manifest.json").exists()


def test_a_prompt_template_the_sandbox_stops_is_one_line(tmp_path):
    template = tmp_path / "evil.jinja"
    template.write_text("{{ ''.__class__.__mro__ }} {% for task in examples %}{{ task.instruction }}{% endfor %}")
    result = run_cli(
        [
            "self-instruct",
            "--seeds",
            str(EN_SEEDS),
            "-o",
            str(tmp_path / "out"),
            "--num",
            "5",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--prompt-template",
            str(template),
            "--cache",
            str(tmp_path / "cache"),
            "--no-progress",
        ]
    )
    assert result.exit_code == 2
    assert f"the prompt template {template} tried something the sandbox forbids" in result.output
