"""`curate translate`: field-by-field translation, against the fake OpenAI-compatible server
(tests/fake_translation.py translates) with real data from ../shared/data."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.corpus import fasttext_models
from curate.instruct.rows import read_rows
from curate.instruct.translate import checks, spans
from tests.conftest import REPO, SHARED_DATA, manifest
from tests.conftest import read_rows as rows
from tests.fake_openai_server import FakeOpenAIServer
from tests.fake_translation import translate as fake_translate

INSTRUCTIONS = SHARED_DATA / "instructions"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")
REASONS = {
    "lost_span", "wrong_language", "truncated_translation", "cut_by_length", "request_failed", "empty_translation",
}  # fmt: skip
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def translate(server: FakeOpenAIServer, inputs: list[Path], output: Path, cache: Path, *extra: str):
    arguments = [
        "translate", *map(str, inputs), "-o", str(output), "--base-url", server.base_url, "--model", "fake-translator",
        "--cache", str(cache), "--timeout", "5", "--max-retries", "3", "--no-progress", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(cli, arguments, catch_exceptions=False)


def alpaca(path: Path, start: int, stop: int, extra: list[dict] | None = None) -> Path:
    records = json.loads((INSTRUCTIONS / "alpaca_5000.json").read_text(encoding="utf-8"))[start:stop]
    path.write_text(json.dumps(records + (extra or []), ensure_ascii=False), encoding="utf-8")
    return path


def korean(path: Path, count: int) -> Path:
    lines = (INSTRUCTIONS / "user_oriented_instructions.ko.jsonl").read_text(encoding="utf-8").splitlines()[:count]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prompts_sent(server: FakeOpenAIServer) -> list[str]:
    return [json.loads(body)["messages"][-1]["content"] for body in server.bodies]


def language(text: str) -> str:
    model = fasttext_models.load_model(fasttext_models.packaged_lid_model())
    labels, _ = model.predict(" ".join(text.split()), k=1)
    return labels[0].removeprefix("__label__")


def test_protected_spans_numbers_and_masks():
    text = (
        "See https://example.com/a_(b). or mail me@x.co.kr: {name}, {{ user }}, %s, %(n)d, $HOME, <b>1,000</b> "
        "and 3.14 [docs](guide/intro.md), `x = 2`\n```python\nprint(7)\n```\n주소는https://a.kr에서"
    )
    found = {(span.kind, span.text) for span in spans.protected_spans(text)}
    assert {("url", "https://example.com/a_(b)"), ("email", "me@x.co.kr"), ("placeholder", "{name}"),
            ("placeholder", "{{ user }}"), ("placeholder", "%s"), ("placeholder", "%(n)d"),
            ("placeholder", "$HOME"), ("tag", "<b>"), ("number", "1,000"), ("number", "3"), ("number", "14"),
            ("link", "guide/intro.md"), ("code", "`x = 2`"), ("code", "```python\nprint(7)\n```"),
            ("url", "https://a.kr")} <= found  # fmt: skip
    assert ("number", "7") not in found  # inside the code block
    # numbers by their digits: thousands commas join, any other separator splits
    assert spans.lost_spans("1,000 and 3.14", "1000 그리고 3,14") == []
    assert [span.text for span in spans.lost_spans("2 and 2 and {x}", "2 그리고 {x}")] == ["2"]
    masked, blocks = spans.mask_code_blocks(text)
    assert "<code-block-1/>" in masked and "print(7)" not in masked
    assert spans.unmask_code_blocks(masked.replace("<code-block-1/>", "<code-block-1 />"), blocks) == text


@needs_shared
def test_the_fake_translation_reads_as_its_target_language():
    records = json.loads((INSTRUCTIONS / "alpaca_5000.json").read_text(encoding="utf-8"))[:40]
    into_korean = " ".join(fake_translate(record["instruction"], "ko") for record in records)
    lines = (INSTRUCTIONS / "user_oriented_instructions.ko.jsonl").read_text(encoding="utf-8").splitlines()[:20]
    into_english = " ".join(fake_translate(json.loads(line)["instruction"], "en") for line in lines)
    assert language(into_korean) == "ko" and language(into_english) == "en"
    assert fake_translate("Call {name} at 10:30 via https://x.io <b>now</b>", "ko").count("{name}") == 1


@needs_shared
def test_english_alpaca_rows_become_korean_with_their_spans_and_a_rerun_sends_nothing(tmp_path):
    crafted = [
        {"instruction": "Explain what this code prints, then link https://docs.python.org/3/ for readers.",
         "input": "```python\nfor i in range(3):\n    print(i * 10)\n```", "output": "It prints 0, 10 and 20."},
        {"instruction": "Fill in the template for {name} and keep %s as it is.",
         "input": "Dear {name}, your order %s ships in 2 days.", "output": "Dear {name}, your order %s ships in 2 days."},
        {"instruction": "Fill in the template for {name} and keep %s as it is.", "input": "", "output": "Done."},
    ]  # fmt: skip
    data = alpaca(tmp_path / "alpaca.json", 0, 30, crafted)
    with FakeOpenAIServer() as server:
        result = translate(server, [data], tmp_path / "out", tmp_path / "cache", "--to", "ko")
        assert result.exit_code == 0, result.output
        sent, bodies, prompts = server.requests, server.bodies, prompts_sent(server)
        again = translate(server, [data], tmp_path / "again", tmp_path / "cache", "--to", "ko")
        assert again.exit_code == 0, again.output
        assert server.requests == sent  # every translation came from the cache
    made = manifest(tmp_path / "out")
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert made["counts"]["in"] == 33 == len(kept) + len(rejected) == made["translate"]["rows"]
    assert {row["reason"] for row in rejected} <= REASONS and len(rejected) <= 2
    # identical texts (the repeated instruction) are asked once, and every request once
    assert set(bodies.values()) == {1} and sent == made["translate"]["texts"] < made["translate"]["fields"]
    assert all("한국어로 번역" in prompt and "<text_to_translate>" in prompt for prompt in prompts)
    assert not any("print(i * 10)" in prompt for prompt in prompts)  # code blocks are sent masked
    source = {row["id"]: row for row, _ in read_rows([str(data)]).rows}
    assert {row["id"] for row in kept} <= set(source) and [row["id"] for row in rows(tmp_path / "again")] == [
        row["id"] for row in kept
    ]
    for row in kept:
        meta = json.loads(row["meta"])
        assert meta["model"] == "fake-translator" and meta["target_lang"] == "ko" and meta["source_lang"]
        assert row["messages"][-1]["content"] == row["output"] and row["source"] == "translate"
        for key in ("instruction", "input", "output"):  # digits kept, checked apart from spans.py
            assert sorted(re.findall(r"\d+", source[row["id"]][key] or "")) == sorted(
                re.findall(r"\d+", row[key] or "")
            )
    assert made["translate"]["source_langs"]["en"] >= 30  # a list of Montreal restaurants may read as French
    korean_text = " ".join(row["instruction"] + " " + row["output"] for row in kept)
    assert language(spans.prose(korean_text)) == "ko"
    code_row = next(row for row in kept if "print(i * 10)" in row["input"])
    assert "```python\nfor i in range(3):\n    print(i * 10)\n```" in code_row["input"]
    assert "https://docs.python.org/3/" in code_row["instruction"] and HANGUL.search(code_row["instruction"])
    template_row = next(row for row in kept if "your order" not in row["input"] and "%s" in row["input"])
    assert template_row["input"].count("{name}") == 1 and "%s" in template_row["input"]
    assert rows(tmp_path / "again") == kept
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "# curate translate" in report and "answered from the cache" in report and "| field | source |" in report
    assert (tmp_path / "out" / "dataset_info.json").is_file()


@needs_shared
def test_korean_rows_become_english(tmp_path):
    data = korean(tmp_path / "ko.jsonl", 20)
    with FakeOpenAIServer() as server:
        result = translate(server, [data], tmp_path / "out", tmp_path / "cache", "--to", "en", "--source-lang", "ko")
        prompts = prompts_sent(server)
    assert result.exit_code == 0, result.output
    assert all("from Korean into English" in prompt for prompt in prompts)
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert len(kept) + len(rejected) == 20 and len(kept) >= 15 and {row["reason"] for row in rejected} <= REASONS
    for row in kept:
        assert not HANGUL.search(row["instruction"]) and row["id"].startswith("user_oriented_task_")
        assert json.loads(row["meta"])["source_lang"] == "ko"
    assert language(" ".join(row["instruction"] for row in kept)) == "en"


@needs_shared
def test_faults_are_rejected_with_their_reasons(tmp_path):
    data = alpaca(tmp_path / "alpaca.json", 100, 220)
    with FakeOpenAIServer(faults={"500": 0.08, "length": 0.03, "empty": 0.03}) as server:
        server.translation_faults = {"drop_span": 0.12, "untranslated": 0.1, "truncate": 0.1}
        result = translate(server, [data], tmp_path / "out", tmp_path / "cache", "--to", "ko", "--max-retries", "0")
    assert result.exit_code == 0, result.output
    made, kept, rejected = manifest(tmp_path / "out"), rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert (
        made["counts"]["in"] == 120 == len(kept) + len(rejected) == made["counts"]["kept"] + made["counts"]["rejected"]
    )
    reasons = Counter(row["reason"] for row in rejected)
    assert set(reasons) <= REASONS
    assert {"lost_span", "wrong_language", "truncated_translation", "request_failed", "empty_translation"} <= set(
        reasons
    )
    for row in rejected:
        assert re.search(r": (instruction|input|output): ", row["detail"]), row["detail"]
        assert json.loads(row["raw"])["row"]["messages"]
    assert all("lost " in row["detail"] for row in rejected if row["reason"] == "lost_span")
    assert all("detected en" in row["detail"] for row in rejected if row["reason"] == "wrong_language")


@needs_shared
def test_a_run_after_a_partial_one_asks_nothing_twice(tmp_path):
    first, whole = alpaca(tmp_path / "first.json", 0, 10), alpaca(tmp_path / "whole.json", 0, 25)
    with FakeOpenAIServer() as server:
        assert translate(server, [first], tmp_path / "first", tmp_path / "cache", "--to", "ko").exit_code == 0
        before = server.requests
        result = translate(server, [whole], tmp_path / "whole", tmp_path / "cache", "--to", "ko")
        assert result.exit_code == 0, result.output
        assert set(server.bodies.values()) == {1}
    usage = manifest(tmp_path / "whole")["llm"]
    assert usage["cache_hits"] == before and usage["requests"] == server.requests - before > 0


@needs_shared
def test_a_killed_run_resumes_without_asking_again(tmp_path):
    data = alpaca(tmp_path / "alpaca.json", 300, 330)
    with FakeOpenAIServer(latency=0.05) as server:
        command = [
            sys.executable, "-m", "curate", "translate", str(data), "-o", str(tmp_path / "out"), "--to", "ko",
            "--model", "fake-translator", "--base-url", server.base_url, "--cache", str(tmp_path / "cache"),
            "--concurrency", "1", "--no-progress",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=REPO, env=os.environ.copy(), stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while server.answered < 10 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert 10 <= server.answered < 60, process.stderr.read().decode()
        killed_at = server.answered
        result = translate(server, [data], tmp_path / "out", tmp_path / "cache", "--to", "ko", "--concurrency", "1")
        assert result.exit_code == 0, result.output
        repeated = sum(count - 1 for count in server.bodies.values())
    assert repeated <= 1  # at most the one request in flight when the run was killed
    assert manifest(tmp_path / "out")["llm"]["cache_hits"] >= killed_at - 1
    assert manifest(tmp_path / "out")["counts"]["in"] == 30


@needs_shared
def test_regenerate_answers_translates_the_questions_and_answers_them_in_korean(tmp_path):
    data = alpaca(tmp_path / "alpaca.json", 0, 12)
    outputs = [record["output"] for record in json.loads(data.read_text())]
    with FakeOpenAIServer() as server:
        result = translate(
            server, [data], tmp_path / "out", tmp_path / "cache", "--to", "ko", "--regenerate-answers",
            "--answer-model", "fake-teacher",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        models = Counter(json.loads(body)["model"] for body in server.bodies)
        prompts = prompts_sent(server)
    asked = "\n".join(prompts)
    assert not any(f"<text_to_translate>\n{output}\n</text_to_translate>" in asked for output in outputs if output)
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert len(kept) + len(rejected) == 12 and len(kept) >= 10
    answered = len(kept) + sum(row["detail"].startswith("answer: ") for row in rejected)
    assert models["fake-teacher"] == answered and models["fake-translator"] == len(prompts) - answered
    for row in kept:
        question, answer = row["messages"][-2], row["messages"][-1]
        assert question["role"] == "user" and HANGUL.search(question["content"])
        assert answer["role"] == "assistant" and HANGUL.search(answer["content"]) and answer["content"] not in outputs
        meta = json.loads(row["meta"])
        assert meta["answer_model"] == "fake-teacher" and meta["model"] == "fake-translator"
    assert "new answer" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


@needs_shared
def test_preference_pairs_are_translated(tmp_path):
    lines = gzip.decompress((SHARED_DATA / "preferences" / "hh_rlhf_harmless_base_test.jsonl.gz").read_bytes())
    data = tmp_path / "pairs.jsonl"
    data.write_bytes(b"\n".join(lines.splitlines()[:8]) + b"\n")
    with FakeOpenAIServer() as server:
        result = translate(server, [data], tmp_path / "out", tmp_path / "cache", "--to", "ko")
        assert result.exit_code == 0, result.output
        wrong = translate(server, [data], tmp_path / "regen", tmp_path / "cache", "--to", "ko", "--regenerate-answers")
    assert wrong.exit_code == 2 and wrong.output.strip().count("\n") == 0 and "SFT" in wrong.output
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert len(kept) + len(rejected) == 8 and kept
    for row in kept:
        assert {"prompt", "chosen", "rejected"} <= set(row) and row["prompt"][-1]["role"] == "user"
        assert HANGUL.search(row["chosen"][0]["content"]) and HANGUL.search(row["rejected"][0]["content"])
    assert manifest(tmp_path / "out")["translate"]["kind"] == "preference"


@pytest.mark.parametrize(
    "extra",
    [
        ["--to", "kr"],
        ["--to", "xx"],
        ["--to", "ko", "--source-lang", "ko"],
        ["--to", "ko", "--answer-model", "m"],
    ],
)
def test_user_mistakes_are_one_line(tmp_path, extra):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"instruction": "Say hi.", "output": "Hi."}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["translate", str(data), "-o", str(tmp_path / "o"), "--model", "m", *extra])
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0 and "Error" in result.output
    missing = CliRunner().invoke(cli, ["translate", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o"), "--model", "m", "--to", "ko"])  # fmt: skip
    assert missing.exit_code == 2 and missing.output.strip().count("\n") == 0


@needs_shared
def test_an_unreadable_row_is_rejected_with_its_reason_not_a_stop(tmp_path):
    bad = [{"instruction": "Name a colour.", "input": "", "output": "   "}]
    data = alpaca(tmp_path / "alpaca.json", 0, 6, bad)
    with FakeOpenAIServer() as server:
        result = translate(server, [data], tmp_path / "out", tmp_path / "cache", "--to", "ko")
        assert result.exit_code == 0, result.output
    counts = manifest(tmp_path / "out")["counts"]
    assert counts["in"] == 7 == counts["kept"] + counts["rejected"]
    unreadable = [row for row in rows(tmp_path / "out", "rejected") if "not a readable" in row["detail"]]
    assert len(unreadable) == 1 and unreadable[0]["reason"] == "empty_turn"


@needs_shared
def test_a_dead_server_stops_the_run_unsealed(tmp_path):
    data = alpaca(tmp_path / "alpaca.json", 0, 4)
    arguments = ["translate", str(data), "-o", str(tmp_path / "out"), "--to", "ko", "--model", "m", "--base-url",
                 "http://127.0.0.1:9/v1", "--max-retries", "0", "--timeout", "2", "--cache", str(tmp_path / "cache"),
                 "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 1 and "requests failed" in result.output, result.output
    assert not (tmp_path / "out" / "_manifest.json").exists()  # a re-run with a live server does the work


def test_a_prompt_that_never_shows_the_text_is_refused(tmp_path):
    template = tmp_path / "prompt.jinja"
    template.write_text("Translate this into {{ target_language }}.")
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"instruction": "Say hello to the team.", "output": "Hello, team!"}) + "\n")
    arguments = ["translate", str(data), "-o", str(tmp_path / "out"), "--to", "ko", "--model", "m",
                 "--base-url", "http://127.0.0.1:9/v1", "--prompt-template", str(template), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2 and "never shows" in result.output, result.output


@needs_shared
def test_tool_calls_are_not_answered_anew_and_target_language_fields_are_not_sent(tmp_path):
    tools = json.loads((INSTRUCTIONS / "glaive_toolcall_demo.json").read_text(encoding="utf-8"))[:3]
    (tmp_path / "tools.json").write_text(json.dumps(tools, ensure_ascii=False), encoding="utf-8")
    with FakeOpenAIServer() as server:
        result = translate(server, [tmp_path / "tools.json"], tmp_path / "out", tmp_path / "cache", "--to", "ko",
                           "--regenerate-answers")  # fmt: skip
        assert result.exit_code == 0, result.output
        mixed = korean(tmp_path / "ko.jsonl", 8)  # Korean instructions, English answers
        server.reset_counts()
        result = translate(server, [mixed], tmp_path / "en", tmp_path / "cache", "--to", "en")
        assert result.exit_code == 0, result.output
        sent = " ".join(prompts_sent(server))
    reasons = {row["reason"] for row in rows(tmp_path / "out", "rejected")}
    assert reasons == {"has_tool_turns"}
    langid = checks.LanguageId(str(fasttext_models.packaged_lid_model()))
    answers = [json.loads(line)["instances"][0]["output"] for line in mixed.read_text().splitlines()]
    english = [answer for answer in answers if checks.in_target_already(answer, "en", langid)]
    assert len(english) >= 3 and not any(answer in sent for answer in english)  # kept as they are, not asked
    assert manifest(tmp_path / "en")["translate"]["texts_in_target_already"] > 0
