"""`curate generate`: a teacher answers every prompt, against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from curate.cli import cli
from tests.conftest import SHARED_DATA
from tests.conftest import read_rows as rows
from tests.fake_openai_server import FakeOpenAIServer

INSTRUCTIONS = SHARED_DATA / "instructions"
needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="../shared/data is absent (the fake server answers from it)"
)
REASONS = ("request_failed", "empty_answer", "cut_by_length", "duplicate_answer", "no_user_turn")


def generate(server: FakeOpenAIServer, inputs: list[Path], output: Path, cache: Path, *extra: str):
    arguments = [
        "generate", *map(str, inputs), "-o", str(output), "--base-url", server.base_url, "--model", "fake-teacher",
        "--cache", str(cache), "--timeout", "2", "--max-retries", "3", "--no-progress", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(cli, arguments, catch_exceptions=False)


@needs_shared
def test_every_prompt_is_answered_or_rejected_and_a_rerun_sends_nothing(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    korean = INSTRUCTIONS / "user_oriented_instructions.ko.jsonl"
    lines = korean.read_text(encoding="utf-8").splitlines()[:20]
    prompts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    faults = {"429": 0.1, "500": 0.05, "empty": 0.1, "length": 0.1}
    with FakeOpenAIServer(faults=faults) as server:
        result = generate(server, [prompts], tmp_path / "out", tmp_path / "cache", "--n", "2")
        assert result.exit_code == 0, result.output
        sent = server.requests
        again = generate(server, [prompts], tmp_path / "again", tmp_path / "cache", "--n", "2")
        assert again.exit_code == 0, again.output
        assert server.requests == sent  # every answer came from the cache
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert manifest["counts"]["in"] == manifest["counts"]["kept"] + manifest["counts"]["rejected"]
    assert len(kept) + len(rejected) == 20 * 2 and manifest["generate"]["prompts"] == 20
    assert {row["reason"] for row in rejected} <= set(REASONS) and {"empty_answer", "cut_by_length"} <= {
        row["reason"] for row in rejected
    }
    for row in kept:
        assert row["messages"][-1]["role"] == "assistant" and row["messages"][-1]["content"].strip()
        assert row["messages"][-2]["role"] == "user" and any("\uac00" <= c <= "\ud7a3" for c in row["instruction"])
        assert row["output"] == row["messages"][-1]["content"] and json.loads(row["meta"])["model"] == "fake-teacher"
    assert rows(tmp_path / "again") == kept
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "# curate generate" in report and "cut\\_by\\_length" in report and "answered from the cache" in report


@needs_shared
def test_conversations_are_answered_at_their_last_user_turn(tmp_path):
    conversations = tmp_path / "chats.jsonl"
    chats = [
        {"id": "c1", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                                  {"role": "assistant", "content": "Hello"},
                                  {"role": "user", "content": "What is the capital of France?"},
                                  {"role": "assistant", "content": "Paris."}]},
        {"id": "c2", "messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Red."}]},
    ]  # fmt: skip
    conversations.write_text("".join(json.dumps(chat) + "\n" for chat in chats), encoding="utf-8")
    with FakeOpenAIServer() as server:
        result = generate(server, [conversations], tmp_path / "out", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    kept, second = rows(tmp_path / "out")
    assert [message["content"] for message in kept["messages"][:4]] == [
        "Be brief.",
        "Hi",
        "Hello",
        "What is the capital of France?",
    ]
    assert kept["messages"][4]["role"] == "assistant" and kept["instruction"] is None and kept["id"] == "c1"
    assert second["instruction"] == "Name a colour." and second["output"] == second["messages"][-1]["content"]


def test_a_missing_key_or_input_is_one_line(tmp_path):
    result = CliRunner().invoke(
        cli, ["generate", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o"), "--model", "m"]
    )
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0 and "Error" in result.output


@needs_shared
def test_questions_without_answers_are_read_as_they_are(tmp_path):
    questions = tmp_path / "questions.jsonl"
    records = [
        {"id": "q1", "instruction": "한국의 수도는 어디인가요?"},
        {"id": "q2", "instruction": "Summarise the text.", "input": "Cats sleep a lot.", "output": ""},
        {"id": "q3", "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hello?"}]},
        {"id": "q4", "prompt": "Write a haiku about rain."},
        {"id": "q5", "instruction": "   "},
    ]
    questions.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    with FakeOpenAIServer() as server:
        result = generate(server, [questions], tmp_path / "out", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    kept = {row["id"]: row for row in rows(tmp_path / "out")}
    assert sorted(kept) == ["q1", "q2", "q3", "q4"]
    assert kept["q2"]["messages"][0]["content"] == "Summarise the text.\n\nCats sleep a lot."
    assert [m["role"] for m in kept["q3"]["messages"]] == ["system", "user", "assistant"]
    assert kept["q1"]["instruction"] == "한국의 수도는 어디인가요?" and kept["q1"]["output"]
    assert [(row["id"], row["reason"]) for row in rows(tmp_path / "out", "rejected")] == [("q5", "not_a_question")]
