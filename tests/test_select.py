"""`curate select`: the floor, the scores, the greedy diverse walk to a budget, against the fake
OpenAI-compatible server (scripted ratings and embeddings) and a tiny encoder made here."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.instruct.select import diversity
from curate.instruct.select.heuristics import floor_problem
from curate.llm.cache import CACHE_FILE
from tests.conftest import REPO, SHARED_DATA
from tests.conftest import read_rows as rows
from tests.fake_openai_server import FakeOpenAIServer
from tests.fake_routes import embed_text

INSTRUCTIONS = SHARED_DATA / "instructions"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")
REASONS = {"select:below_quality", "select:too_similar", "select:over_budget"}


def select_args(server, inputs, output: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "select", *map(str, inputs), "-o", str(output), "--judge-model", "fake-judge", "--base-url", server.base_url,
        "--embedding-model", "fake-embedder", "--embedding-base-url", server.base_url, "--cache", str(cache),
        "--timeout", "5", "--max-retries", "4", "--no-progress", *extra,
    ]  # fmt: skip


def run(arguments: list[str]):
    return CliRunner().invoke(cli, arguments, catch_exceptions=False)


def alpaca_slice(tmp_path: Path, count: int, start: int = 0) -> tuple[Path, list[dict]]:
    """`count` Alpaca rows, with near copies of some and rows below the floor mixed in."""
    records = json.loads((INSTRUCTIONS / "alpaca_5000.json").read_text(encoding="utf-8"))[start : start + count]
    for number, record in enumerate(records):
        record["id"] = f"alpaca-{number}"
    copies = [
        dict(records[i], id=f"copy-{i}", instruction=records[i]["instruction"] + " Please.") for i in range(0, 40, 4)
    ]
    floor = [
        {"id": "empty", "instruction": "Name three primary colours.", "input": "", "output": " "},
        {"id": "refusal", "instruction": "Write a haiku about rain.", "input": "", "output": "I'm sorry, but I can't help with that."},
        {"id": "echo", "instruction": "Describe the water cycle.", "input": "", "output": "Describe the water cycle."},
        {"id": "cut", "instruction": "List the planets in order.", "input": "", "output": "Mercury, Venus, Earth, Mars, and"},
    ]  # fmt: skip
    path = tmp_path / "alpaca.json"
    everything = records + copies + floor
    path.write_text(json.dumps(everything, ensure_ascii=False), encoding="utf-8")
    return path, everything


def cosines(texts: list[str]) -> np.ndarray:
    vectors = np.array([embed_text(text) for text in texts], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors @ vectors.T


def instruction_text(row: dict) -> str:
    return "\n".join(m["content"] for m in row["messages"] if m["role"] in ("system", "user"))


@needs_shared
def test_budget_diversity_quality_and_counts_and_a_rerun_sends_nothing(tmp_path):
    data, records = alpaca_slice(tmp_path, 240)
    budget, max_cosine = 60, 0.6
    with FakeOpenAIServer(faults={"429": 0.05, "500": 0.05}) as server:
        arguments = select_args(server, [data], tmp_path / "out", tmp_path / "cache", "--budget", str(budget),
                                "--max-cosine", str(max_cosine), "--complexity", "llm")  # fmt: skip
        result = run(arguments)
        assert result.exit_code == 0, result.output
        sent, embedded = server.requests, server.kinds["embeddings"]
        assert sent > 0 and embedded > 0 and server.kinds["complexity"] > 0 and server.kinds["pointwise"] > 0
        again = run(select_args(server, [data], tmp_path / "again", tmp_path / "cache", "--budget", str(budget),
                                "--max-cosine", str(max_cosine), "--complexity", "llm"))  # fmt: skip
        assert again.exit_code == 0, again.output
        assert server.requests == sent and server.kinds["embeddings"] == embedded  # all from the caches
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert len(kept) == budget  # the budget is met exactly
    assert len(kept) + len(rejected) == len(records) == manifest["counts"]["in"]
    assert {row["reason"] for row in rejected} <= REASONS
    assert {
        row["id"]: row["reason"] for row in rejected if row["id"] in ("empty", "refusal", "echo", "cut")
    } == dict.fromkeys(("empty", "refusal", "echo", "cut"), "select:below_quality")
    similarity = cosines([instruction_text(row) for row in kept])
    np.fill_diagonal(similarity, -1)
    assert similarity.max() <= max_cosine + 1e-6  # no two selected rows are closer than --max-cosine
    assert {row["reason"] for row in rejected} >= {"select:too_similar", "select:over_budget"}
    for row in rejected:
        if row["reason"] == "select:too_similar":
            assert "cosine" in row["detail"] and row["score"] is not None
    qualities = [row["quality"] for row in kept + rejected if row["quality"] is not None]
    assert np.mean([row["quality"] for row in kept]) > np.mean(qualities)
    assert all(row["complexity"] is not None and 1 <= row["complexity"] <= 5 for row in kept)
    assert (tmp_path / "out" / "scores.png").is_file() and (tmp_path / "out" / "map.png").is_file()
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Highest combined scores" in report and "## Lowest combined scores" in report
    assert rows(tmp_path / "again") == kept


def _chat_bodies(server: FakeOpenAIServer) -> set[str]:
    return {body for body in server.bodies if '"messages"' in body}


def _cached(cache: Path) -> int:
    try:
        with sqlite3.connect(cache / CACHE_FILE, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.Error:
        return 0


@needs_shared
def test_a_killed_run_resumes_without_resending(tmp_path):
    data, _ = alpaca_slice(tmp_path, 120, start=1000)
    with FakeOpenAIServer(latency=0.03) as server:

        def arguments(output: str, cache: str) -> list[str]:
            return select_args(server, [data], tmp_path / output, tmp_path / cache, "--budget", "30",
                               "--complexity", "llm", "--concurrency", "2")  # fmt: skip

        whole = run(arguments("whole", "cache-whole"))
        assert whole.exit_code == 0, whole.output
        uninterrupted = server.requests
        server.reset_counts()
        command = [sys.executable, "-m", "curate", *arguments("out", "cache")]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _cached(tmp_path / "cache") < uninterrupted // 3 and process.poll() is None:
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert not (tmp_path / "out" / "_manifest.json").exists(), "killed too late: the run had finished"
        assert 0 < _cached(tmp_path / "cache") < uninterrupted
        before = _chat_bodies(server)
        server.reset_counts()
        resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr
        after = _chat_bodies(server)
        # asked again: at most the requests in flight when the run was killed (--concurrency 2)
        assert len(after & before) <= 2 and len(after | before) == uninterrupted
    assert rows(tmp_path / "out") == rows(tmp_path / "whole")
    assert rows(tmp_path / "out", "rejected") == rows(tmp_path / "whole", "rejected")


@needs_shared
def test_korean_rows_get_korean_prompts_and_are_selected(tmp_path):
    with FakeOpenAIServer() as server:
        korean = INSTRUCTIONS / "user_oriented_instructions.ko.jsonl"
        result = run(select_args(server, [korean], tmp_path / "ko", tmp_path / "cache", "--budget", "25",
                                 "--complexity", "llm", "--max-cosine", "0.7"))  # fmt: skip
        assert result.exit_code == 0, result.output
        prompts = [json.loads(body).get("messages", [{}])[0].get("content", "") for body in server.bodies]
    assert any("학습 예제" in prompt for prompt in prompts)  # the Korean quality rubric
    assert any("복잡도" in prompt for prompt in prompts)  # the Korean complexity prompt
    kept = rows(tmp_path / "ko")
    assert len(kept) == 25
    assert all(any("가" <= char <= "힣" for char in instruction_text(row)) for row in kept)


def _naive_greedy(order, vectors, max_cosine, budget):
    kept = []
    for row in order:
        if len(kept) == budget:
            break
        if all(float(vectors[row] @ vectors[other]) <= max_cosine for other in kept):
            kept.append(row)
    return kept


@pytest.mark.parametrize("budget", [None, 1, 37, 400])
def test_the_chunked_walk_is_the_one_row_at_a_time_walk(budget):
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(30, 16))
    vectors = centres[rng.integers(0, 30, 1500)] + 0.35 * rng.normal(size=(1500, 16))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    order = rng.permutation(1500)
    picked = diversity.greedy_select(order, vectors, 0.8, budget)
    assert picked.selected == _naive_greedy(order, vectors, 0.8, budget or 1500)
    assert len(picked.selected) + len(picked.too_similar) + len(picked.over_budget) == 1500
    for row, (near, cosine) in picked.too_similar.items():
        assert near in picked.selected and cosine > 0.8
        assert float(vectors[row] @ vectors[near]) == pytest.approx(cosine, abs=1e-5)


def test_the_approximate_index_keeps_selected_rows_apart():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    vectors = np.concatenate([vectors, vectors[:500] + 0.01 * rng.normal(size=(500, 32)).astype(np.float32)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picked = diversity.greedy_select(np.arange(len(vectors)), vectors, 0.9, None, diversity.APPROXIMATE)
    assert len(picked.too_similar) >= 495  # the near copies are found
    chosen = vectors[picked.selected]
    similarity = chosen @ chosen.T
    np.fill_diagonal(similarity, -1)
    assert similarity.max() <= 0.9 + 1e-6


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "empty answer"),
        ("As an AI language model, I cannot write poems.", "refusal"),
        ("죄송하지만 그 요청은 도와드릴 수 없습니다.", "refusal"),
        ("```python\nprint(1)\n", "truncated answer (an unclosed code block)"),
        ("The steps are: first, mix the flour and", "truncated answer (ends mid-sentence)"),
        ("Tell me a joke.", "the answer repeats the question"),
        ("Why did the chicken cross the road? To get to the other side.", None),
        ("안녕하세요! 무엇을 도와드릴까요?", None),
    ],
)
def test_the_heuristic_floor(answer, problem):
    messages = [{"role": "user", "content": "Tell me a joke."}, {"role": "assistant", "content": answer}]
    assert floor_problem(messages) == problem


def test_a_tiny_encoder_and_a_proxy_complexity_need_no_server(tmp_path, one_torch_thread):
    pytest.importorskip("transformers")
    from tests.tiny_chat_model import make_tiny_chat_model

    model = make_tiny_chat_model(tmp_path / "encoder")
    data = tmp_path / "rows.jsonl"
    lines = [
        {
            "id": f"r{i}",
            "instruction": f"Explain topic number {i % 7} in exactly three sentences.",
            "output": f"Answer {i}.",
        }
        for i in range(30)
    ]
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    arguments = ["select", str(data), "-o", str(tmp_path / "out"), "--budget", "5", "--embedding-model", str(model),
                 "--max-cosine", "0.999", "--no-progress"]  # fmt: skip
    result = run(arguments)
    assert result.exit_code == 0, result.output
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert len(kept) == 5 and len(rejected) == 25
    assert {row["reason"] for row in rejected} <= REASONS and "select:too_similar" in {
        row["reason"] for row in rejected
    }
    assert all(row["quality"] is None and row["complexity"] is not None for row in kept)
    assert json.loads((tmp_path / "out" / "_manifest.json").read_text())["select"]["embeddings"]["kind"] == "local"


@pytest.mark.parametrize(
    "extra",
    [
        ["--judge", "llm"],
        ["--complexity", "llm"],
        ["--judge", "reward-model", "--judge-model", "/no/such/folder"],
        ["--min-quality", "4.5"],
        ["--embed-answer"],
        ["--embedding-base-url", "http://127.0.0.1:9/v1"],
        ["--embedding-model", "./no/such/encoder"],
        ["--complexity-model", "m"],
        ["--judge", "reward-model", "--judge-model", ".", "--rubric", "r.jinja"],
    ],
)
def test_user_mistakes_are_one_line(tmp_path, extra):
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"instruction": "Say hi.", "output": "Hi!"}) + "\n")
    result = CliRunner().invoke(cli, ["select", str(data), "-o", str(tmp_path / "out"), "--no-progress", *extra])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1


def test_preference_data_is_refused(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}) + "\n")
    result = CliRunner().invoke(cli, ["select", str(data), "-o", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2 and "SFT" in result.output


@needs_shared
def test_a_dead_server_stops_the_run_unsealed(tmp_path):
    data, _ = alpaca_slice(tmp_path, 40)
    arguments = ["select", str(data), "-o", str(tmp_path / "out"), "--judge-model", "m", "--base-url",
                 "http://127.0.0.1:9/v1", "--max-retries", "0", "--timeout", "2", "--cache", str(tmp_path / "cache"),
                 "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 1 and "requests failed" in result.output, result.output
    assert not (tmp_path / "out" / "_manifest.json").exists()


def test_max_cosine_one_keeps_exact_copies():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    vectors = np.concatenate([vectors, vectors])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert len(diversity.greedy_select(np.arange(100), vectors, 1.0, None).selected) == 100
    assert len(diversity.greedy_select(np.arange(100), vectors, 0.999, None).selected) == 50


def test_the_seed_orders_equal_scores_and_the_same_seed_gives_the_same_rows(tmp_path):
    data = tmp_path / "rows.jsonl"
    lines = [{"id": f"r{i}", "instruction": f"Say hello number {i}.", "output": f"Hello {i}!"} for i in range(40)]
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    def picked(name: str, seed: int) -> list[str]:
        arguments = [
            "select",
            str(data),
            "-o",
            str(tmp_path / name),
            "--budget",
            "10",
            "--seed",
            str(seed),
            "--no-progress",
        ]
        assert run(arguments).exit_code == 0
        return [row["id"] for row in rows(tmp_path / name)]

    assert picked("a", 0) == picked("b", 0)
    assert picked("a", 0) != picked("c", 1)  # every row scores alike: the seed alone orders them
