"""`curate train-sft` on a tiny model made here: TRL parity, learning, resume, NaN stop, two processes."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from curate.errors import RunFailed
from curate.train.run_folder import read_metrics
from curate.train.settings import OptimizerSettings
from tests.conftest import run_on_processes

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"

# ChatML with generation tags, for TRL's assistant_only_loss; renders the same text as templates/chatml.jinja
TAGGED_CHATML = (
    "{%- for message in messages -%}"
    "{%- if message.role == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}{% generation %}{{- message.content + '<|im_end|>\\n' -}}{% endgeneration %}"
    "{%- else -%}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from tests.tiny_chat_model import make_tiny_chat_model

    return make_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "model")


def settings(model: Path, output: Path, **changes):
    from curate.train.sft import SFTSettings

    base = SFTSettings(
        model=str(model), data=(str(SEEDS),), output=output, template="chatml", max_length=256, batch_size=4,
        max_steps=8, optimizer=OptimizerSettings(lr=3e-3, warmup_steps=2), eval_fraction=0.0, seed=0,
    )  # fmt: skip
    return replace(base, **changes)


def losses(run: Path) -> list[float]:
    return [record["loss"] for record in read_metrics(run / "metrics.jsonl")]


def conversations() -> list[list[dict]]:
    from curate.train.data import read_rows

    return [row["messages"] for row in read_rows(SEEDS)][:6]


def test_sft_loss_equals_trl_assistant_only_loss(tiny_model, tmp_path):
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    from curate.instruct.templates import load_template
    from curate.train import data
    from curate.train.lean_loss import LeanCausalLM

    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    model.eval()
    rows = [{"messages": messages} for messages in conversations()]

    specials = {key: str(value) for key, value in tokenizer.special_tokens_map.items() if isinstance(value, str)}
    examples, _ = data.tokenize_sft(rows, tokenizer, load_template("chatml", specials), 256)
    batch = data.collate_sft(examples, tokenizer.pad_token_id, packed=False)
    with torch.no_grad():  # the loss the loop trains on: chunked, at the trained positions only
        logps, _ = LeanCausalLM(model, chunk_tokens=7)(
            {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}, batch["labels"]
        )
    ours = (-logps.sum() / logps.numel()).item()

    tokenizer.chat_template = TAGGED_CHATML
    config = trl.SFTConfig(
        output_dir=str(tmp_path / "trl"), assistant_only_loss=True, max_length=256, packing=False, report_to="none",
        per_device_train_batch_size=len(rows), use_cpu=True, bf16=False,
    )  # fmt: skip
    trainer = trl.SFTTrainer(
        model=model, args=config, train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer
    )
    features = [trainer.train_dataset[index] for index in range(len(rows))]
    assert [feature["input_ids"] for feature in features] == [example["input_ids"] for example in examples]
    trl_batch = trainer.data_collator(features)
    with torch.no_grad():
        theirs = trainer.compute_loss(model, trl_batch).item()
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_training_lowers_the_loss_and_writes_the_run(tiny_model, tmp_path):
    from curate.train.sft import train_sft

    run = tmp_path / "run"
    result = train_sft(settings(tiny_model, run, max_steps=200, eval_fraction=0.2, log_every=1), progress=False)
    history = losses(run)
    assert len(history) == 200
    assert sum(history[-10:]) / 10 < 0.5 * sum(history[:3]) / 3
    last = read_metrics(run / "metrics.jsonl")[-1]
    assert {"step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu", "eval_loss"} <= set(last)
    assert (run / "loss.png").is_file() and json.loads((run / "truncation.json").read_text())["rows"] > 0
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(result["final"])
    assert reloaded.config.vocab_size == transformers.AutoConfig.from_pretrained(tiny_model).vocab_size


def test_a_resumed_run_logs_the_same_losses_as_an_uninterrupted_one(tiny_model, tmp_path):
    from curate.train.sft import train_sft

    whole = tmp_path / "whole"
    train_sft(settings(tiny_model, whole, save_every=4), progress=False)
    # a run killed after its step-4 checkpoint: the checkpoint and what it had logged by then
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(whole / ".curate-folder", killed / ".curate-folder")  # a killed run's folder is curate's too
    shutil.copytree(whole / "checkpoint-4", killed / "checkpoint-4")
    lines = (whole / "metrics.jsonl").read_text().splitlines()
    (killed / "metrics.jsonl").write_text("\n".join(lines[:6]) + "\n")  # two lines past the checkpoint
    result = train_sft(settings(tiny_model, killed, save_every=4, resume=True), progress=False)
    assert result["resumed_from"] == killed / "checkpoint-4"
    assert losses(killed) == losses(whole)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(tiny_model, tmp_path, monkeypatch):
    from curate.train import sft

    real = sft.token_scorer
    calls = []

    def poisoned_scorer(*args, **kwargs):
        scorer = real(*args, **kwargs)
        forward = scorer.forward

        def poisoned(inputs, labels):
            calls.append(1)
            logps, rows = forward(inputs, labels)
            return (logps * float("nan"), rows) if len(calls) == 3 else (logps, rows)

        scorer.forward = poisoned
        return scorer

    monkeypatch.setattr(sft, "token_scorer", poisoned_scorer)
    run = tmp_path / "run"
    with pytest.raises(RunFailed, match=r"the loss became nan at step 3.*checkpoint-2"):
        sft.train_sft(settings(tiny_model, run, save_every=1), progress=False)
    assert (run / "checkpoint-2" / "model.safetensors").is_file()


@pytest.mark.skipif(
    not hasattr(torch, "distributed") or not torch.distributed.is_available(), reason="no torch.distributed"
)
def test_two_processes_equal_one_on_the_same_global_batch(tiny_model, tmp_path):
    common_args = [
        str(SEEDS), "--model", str(tiny_model), "--template", "chatml", "--max-length", "256", "--max-steps", "4",
        "--lr", "3e-3", "--eval-fraction", "0.17", "--no-packing", "--no-progress",
    ]  # fmt: skip
    run_on_processes(["train-sft", *common_args, "-o", str(tmp_path / "one"), "--batch-size", "4"], REPO)
    run_on_processes(["train-sft", *common_args, "-o", str(tmp_path / "two"), "--batch-size", "2"], REPO, processes=2)
    one, two = read_metrics(tmp_path / "one" / "metrics.jsonl"), read_metrics(tmp_path / "two" / "metrics.jsonl")
    assert [record["trained_tokens"] for record in one] == [record["trained_tokens"] for record in two]
    # 10 training rows in global batches of 4: step 3 has 2 rows, so the second process has none and idles
    assert len(one) == 4
    for first, second in zip(one, two):
        assert first["loss"] == pytest.approx(second["loss"], abs=1e-5)
