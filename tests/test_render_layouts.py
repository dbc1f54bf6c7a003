"""`curate render --columns`: layouts each trainer reads one way, their trainer files, and
curate's own trainer reading a rendered folder without rendering it again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from .conftest import REPO, manifest, read_rows, run_cli

SEED_TASKS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"


def render(tmp_path, *options):
    out = tmp_path / "_".join(["out", *[str(option).strip("-") for option in options]])
    run_cli("render", SEED_TASKS, "-o", out, "--template", "alpaca", "--eos-token", "</s>", *options, "--no-progress")
    return out


def test_the_default_layout_is_prompt_and_completion_only(tmp_path):
    out = render(tmp_path)
    rows = read_rows(out)
    assert set(rows[0]) == {"id", "prompt", "completion", "source", "meta"}
    assert all(row["completion"].endswith("</s>") for row in rows)
    assert manifest(out)["options"]["columns"] == "prompt-completion"

    entry = json.loads((out / "dataset_info.json").read_text())[out.name]
    assert entry["columns"] == {"prompt": "prompt", "response": "completion"}
    dataset = yaml.safe_load((out / "axolotl.yaml").read_text())["datasets"][0]
    assert dataset["type"]["field_instruction"] == "prompt" and dataset["type"]["field_output"] == "completion"
    card = (out / "README.md").read_text()
    assert "prompt-completion" in card and "template: empty" in card


def test_the_text_layout_holds_the_text_and_its_spans(tmp_path):
    out = render(tmp_path, "--columns", "text")
    rows = read_rows(out)
    assert set(rows[0]) == {"id", "text", "assistant_spans", "source", "meta"}
    for row in rows:
        (span,) = row["assistant_spans"]
        assert row["text"][span["start"] : span["end"]].endswith("</s>")
    assert yaml.safe_load((out / "axolotl.yaml").read_text())["datasets"][0]["type"] == "completion"


def _trl_reads_conversational(row: dict, seed: int) -> bool:
    """TRL's own test of a row's type (its source, run without importing TRL, which takes
    seconds) in a fresh interpreter with this string-hash seed."""
    import inspect

    from trl.data_utils import is_conversational

    source = inspect.getsource(is_conversational)
    script = f"import json, sys\nfrom typing import Any\n{source}\nprint(is_conversational(json.loads(sys.argv[1])))"
    environment = {**os.environ, "PYTHONHASHSEED": str(seed)}
    completed = subprocess.run(
        [sys.executable, "-c", script, json.dumps(row)], capture_output=True, text=True, env=environment, check=True
    )
    return completed.stdout.strip() == "True"


def test_trl_reads_the_default_layout_one_way_and_the_old_one_two_ways(tmp_path):
    pytest.importorskip("trl")
    default = read_rows(render(tmp_path))[0]
    both = read_rows(render(tmp_path, "--columns", "all"))[0]
    seeds = range(16)
    assert {_trl_reads_conversational(default, seed) for seed in seeds} == {False}
    # TRL pops one of messages/prompt/completion from a set: the answer follows the hash seed
    assert {_trl_reads_conversational(both, seed) for seed in seeds} == {True, False}


def test_train_sft_reads_a_rendered_folder_as_rendered(tmp_path):
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from curate.instruct.templates import load_template
    from curate.train import data

    from .tiny_chat_model import make_tiny_chat_model

    tokenizer = AutoTokenizer.from_pretrained(make_tiny_chat_model(tmp_path / "model"))
    unused = load_template("chatml")  # never applied: the rows are rendered already
    for options in ((), ("--columns", "text"), ("--text-column",)):
        out = render(tmp_path, *options)
        rendered = read_rows(out)
        rows = data.read_rows(out, kind="sft")
        assert [set(row) for row in rows] == [{"id", "text", "assistant_spans"}] * len(rendered)
        examples, report = data.tokenize_sft(rows, tokenizer, unused, max_length=1024)
        assert report.kept == len(rendered)
        for example, row in zip(examples, rendered):
            trained = [token for token, label in zip(example["input_ids"], example["labels"]) if label != data.IGNORE]
            answer = row.get("completion") or row["text"][row["assistant_spans"][0]["start"] :]
            assert tokenizer.decode(trained) == answer


def test_models_made_by_init_model_train_with_trl_assistant_only_loss(tmp_path):
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from curate.instruct.templates import template_for
    from curate.train import data

    run_cli("init-model", "-o", tmp_path / "model", "--corpus", REPO / "sample_data", "--size", "tiny")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    rows = data.read_rows(REPO / "sample_data" / "instructions" / "seed_tasks.ko.jsonl")[:4]
    conversations = [{"messages": row["messages"]} for row in rows]
    config = trl.SFTConfig(
        output_dir=str(tmp_path / "trl"), assistant_only_loss=True, max_length=512, packing=False, report_to="none",
        per_device_train_batch_size=2, use_cpu=True, bf16=False,
    )  # fmt: skip
    trainer = trl.SFTTrainer(
        model=model, args=config, train_dataset=datasets.Dataset.from_list(conversations), processing_class=tokenizer
    )
    ours, _ = data.tokenize_sft(conversations, tokenizer, template_for(tokenizer, None, "init-model"), 512)
    for index, example in enumerate(ours):
        feature = trainer.train_dataset[index]
        assert feature["input_ids"] == example["input_ids"]
        # TRL's labels, from the template's {% generation %} tags, train what curate's spans train
        # (the first token of an example is never a label in curate: nothing precedes it)
        assert feature["labels"][1:] == example["labels"][1:]
        assert any(label != data.IGNORE for label in feature["labels"])
