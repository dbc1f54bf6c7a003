"""`curate convert` and `curate render` end to end: dataset folders other tools load."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from .conftest import REPO, manifest, read_rows, run_cli, write_jsonl

SAMPLE_PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
SEED_TASKS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"


def test_convert_preference_pairs_loads_in_datasets_and_trl(tmp_path):
    pytest.importorskip("trl")
    import datasets
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    from .tiny_tokenizer import train_tokenizer

    out = tmp_path / "prefs"
    run_cli("convert", SAMPLE_PAIRS, "-o", out, "--to", "preference", "--no-progress")
    counts = manifest(out)["counts"]
    assert counts == {**counts, "in": 16, "kept": 16, "rejected": 0}
    for name in ("README.md", "axolotl.yaml"):
        assert (out / name).is_file()

    loaded = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert loaded.num_rows == 16 and {"prompt", "chosen", "rejected"} <= set(loaded.column_names)
    example = loaded[0]
    assert is_conversational(example)
    tokenizer = train_tokenizer(["<|im_start|>", "<|im_end|>"], vocab_size=600)
    tokenizer.chat_template = (REPO / "templates" / "chatml.jinja").read_text()
    applied = maybe_apply_chat_template(example, tokenizer)
    assert applied["prompt"].endswith("<|im_start|>assistant\n")
    assert applied["chosen"].startswith(example["chosen"][0]["content"])


def test_convert_alpaca_to_messages_loads_as_trl_conversational(tmp_path, shared_data):
    pytest.importorskip("trl")
    import datasets
    from trl.data_utils import is_conversational

    out = tmp_path / "sft"
    run_cli(
        "convert", shared_data / "instructions" / "alpaca_5000.json", "-o", out, "--to", "messages", "--no-progress"
    )
    counts = manifest(out)["counts"]
    assert counts["in"] == 5000 and counts["kept"] + counts["rejected"] == 5000
    loaded = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert loaded.num_rows == counts["kept"]
    assert {"messages", "instruction", "input", "output"} <= set(loaded.column_names)
    assert is_conversational(loaded[0])
    info = json.loads((out / "dataset_info.json").read_text())
    assert len(info) == 1


def test_convert_malformed_korean_pairs_accounts_for_every_line(tmp_path, shared_data):
    source = shared_data / "preferences" / "ko_harmless_base_test.malformed.txt"
    lines = [line for line in source.read_bytes().split(b"\n") if line.strip()]
    out = tmp_path / "ko"
    result = run_cli(
        "convert",
        source,
        "--input-format",
        "jsonl",
        "--from",
        "hh-rlhf",
        "-o",
        out,
        "--to",
        "preference",
        "--no-progress",
    )
    counts = manifest(out)["counts"]
    print("\n" + result.output)
    assert counts["in"] == len(lines)
    assert counts["kept"] + counts["rejected"] == counts["in"]
    assert sum(counts["by_reason"].values()) == counts["rejected"]
    assert len(read_rows(out)) == counts["kept"] and len(read_rows(out, "rejected")) == counts["rejected"]
    rejected = read_rows(out, "rejected")
    assert all(row["reason"] and row["raw"] for row in rejected)
    assert counts["by_reason"].get("unparseable:json", 0) > 1000
    assert any(reason.startswith("convert:") for reason in counts["by_reason"])


def test_convert_without_format_hint_names_the_keys(tmp_path, shared_data):
    source = shared_data / "preferences" / "ko_harmless_base_test.malformed.txt"
    result = run_cli("convert", source, "--input-format", "jsonl", "-o", tmp_path / "x", "--to", "preference", expect=2)
    assert "cannot tell the format" in result.output and "--from" in result.output


def test_convert_refuses_preference_to_sft(tmp_path):
    result = run_cli("convert", SAMPLE_PAIRS, "-o", tmp_path / "x", "--to", "messages", expect=2)
    assert "same kind" in result.output


def test_convert_hh_rlhf_round_trips_through_preference(tmp_path, shared_data):
    source = shared_data / "preferences" / "hh_rlhf_harmless_base_test.jsonl.gz"
    run_cli("convert", source, "-o", tmp_path / "pref", "--to", "preference", "--no-progress")
    run_cli("convert", tmp_path / "pref", "-o", tmp_path / "back", "--to", "hh-rlhf", "--no-progress")
    original = [json.loads(line) for line in gzip.open(source, "rt", encoding="utf-8")]
    kept = manifest(tmp_path / "pref")["counts"]["kept"]
    back = read_rows(tmp_path / "back")
    assert len(back) == kept
    originals = {(row["chosen"], row["rejected"]) for row in original}
    assert all((row["chosen"], row["rejected"]) in originals for row in back)


def test_a_converted_folder_converts_again_unchanged(tmp_path, shared_data):
    """A curate folder as input is read through its meta column: hints and extras survive."""
    source = shared_data / "instructions" / "messages_sft_demo.jsonl"
    run_cli("convert", source, "-o", tmp_path / "once", "--to", "messages", "--no-progress")
    run_cli("convert", tmp_path / "once", "-o", tmp_path / "twice", "--to", "messages", "--no-progress")
    once, twice = read_rows(tmp_path / "once"), read_rows(tmp_path / "twice")
    assert len(once) == 500 and once == twice
    assert "loss_weight" in once[0]["meta"]


def test_render_seed_tasks_with_alpaca(tmp_path):
    out = tmp_path / "alpaca"
    run_cli(
        "render", SEED_TASKS, "-o", out, "--template", "alpaca", "--eos-token", "</s>", "--text-column",
        "--columns", "all", "--no-progress",
    )  # fmt: skip
    rows = read_rows(out)
    assert len(rows) == 12
    for row in rows:
        assert row["text"] == row["prompt"] + row["completion"]
        assert row["completion"] == row["output"] + "</s>"
        assert row["prompt"].startswith("Below is an instruction that describes a task")
        assert ("### Input:\n" in row["prompt"]) == bool(row["input"])
        (span,) = row["assistant_spans"]
        assert row["text"][span["start"] : span["end"]] == row["completion"]


def test_render_with_a_tokenizer_folder(tmp_path):
    pytest.importorskip("transformers")
    from .tiny_tokenizer import train_tokenizer

    tokenizer = train_tokenizer(["<|im_start|>", "<|im_end|>"], vocab_size=600)
    tokenizer.chat_template = (REPO / "templates" / "chatml.jinja").read_text()
    tokenizer.save_pretrained(tmp_path / "tok")
    conversations = [
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "안녕?"},
                {"role": "assistant", "content": "안녕하세요!"},
            ]
        },
    ]
    source = write_jsonl(tmp_path / "chats.jsonl", conversations)
    out = tmp_path / "out"
    run_cli("render", source, "-o", out, "--tokenizer", tmp_path / "tok", "--text-column", "--no-progress")
    (row,) = read_rows(out)
    expected = tokenizer.apply_chat_template(conversations[0]["messages"], tokenize=False)
    assert row["text"] == expected
    assert [row["text"][span["start"] : span["end"]] for span in row["assistant_spans"]] == [
        "hello<|im_end|>\n",
        "안녕하세요!<|im_end|>\n",
    ]
    assert row["completion"] == "안녕하세요!<|im_end|>\n"


def test_render_rejects_rows_the_template_cannot_render(tmp_path):
    template = tmp_path / "no_system.jinja"
    template.write_text(
        "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
        "[{{ m.role }}]{{ m.content }}{% endfor %}"
    )
    rows = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
            ]
        },
    ]
    out = tmp_path / "out"
    run_cli("render", write_jsonl(tmp_path / "in.jsonl", rows), "-o", out, "--template", template, "--no-progress")
    counts = manifest(out)["counts"]
    assert counts["kept"] == 1 and counts["by_reason"] == {"render:template_error": 1}
    (rejected,) = read_rows(out, "rejected")
    assert "no system role" in rejected["detail"] and json.loads(rejected["raw"]) == rows[1]


def test_render_stops_on_a_sandbox_escape(tmp_path):
    template = tmp_path / "evil.jinja"
    template.write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    result = run_cli("render", SEED_TASKS, "-o", tmp_path / "out", "--template", template, expect=2)
    assert "sandbox forbids" in result.output and "Traceback" not in result.output


def test_render_needs_a_template(tmp_path):
    result = run_cli("render", SEED_TASKS, "-o", tmp_path / "out", expect=2)
    assert "--template" in result.output


def test_render_refuses_preference_data(tmp_path):
    result = run_cli("render", SAMPLE_PAIRS, "-o", tmp_path / "out", "--template", "chatml", expect=2)
    assert "preference data" in result.output


def test_rendering_is_the_same_with_two_workers(tmp_path, shared_data):
    source = shared_data / "instructions" / "alpaca_5000.json"
    parts = []
    for name in ("a", "b"):
        write_jsonl(tmp_path / name / "one.jsonl", json.loads(source.read_text())[:300])
        write_jsonl(tmp_path / name / "two.jsonl", json.loads(source.read_text())[300:600])
    for name, workers in (("a", "1"), ("b", "2")):
        run_cli(
            "render",
            tmp_path / name,
            "-o",
            tmp_path / f"out-{name}",
            "--template",
            "chatml",
            "--workers",
            workers,
            "--no-progress",
        )
        parts.append([{**row, "source": Path(row["source"]).name} for row in read_rows(tmp_path / f"out-{name}")])
    assert parts[0] == parts[1] and len(parts[0]) > 590
