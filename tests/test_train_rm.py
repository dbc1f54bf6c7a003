"""curate.train.rm: TRL parity of tokens and loss, margins, training, scoring, saving, resume, two processes."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from curate.instruct.templates import tokenizer_template  # noqa: E402
from curate.llm.reward_model import RewardScorer, load_reward_model  # noqa: E402
from curate.train import rm  # noqa: E402
from curate.train.batches import split_rows  # noqa: E402
from curate.train.data import read_rows, reward  # noqa: E402
from curate.train.run_folder import read_metrics  # noqa: E402
from curate.train.settings import OptimizerSettings  # noqa: E402

from .conftest import REPO, run_cli, write_jsonl  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def one_thread(one_torch_thread):
    """The shared fixture (conftest), under the name these tests ask for."""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("tiny-rm"))


@pytest.fixture(scope="module")
def pairs_folder(tmp_path_factory) -> Path:
    """The sample pairs converted by `curate convert` to a preference dataset folder."""
    out = tmp_path_factory.mktemp("prefs") / "pairs"
    run_cli("convert", PAIRS, "-o", out, "--to", "preference", "--workers", "1", "--no-progress")
    return out


def sample_rows() -> list[dict]:
    return read_rows(PAIRS, kind="preference")


def settings(model_dir: Path, data: Path, output: Path, **overrides) -> rm.RMSettings:
    values = dict(
        model=str(model_dir),
        data=(str(data),),
        output=output,
        max_length=512,
        batch_size=4,
        eval_fraction=0.125,
        optimizer=OptimizerSettings(lr=1e-3, warmup_steps=10),
        log_every=10,
    )
    values.update(overrides)
    return rm.RMSettings(**values)


@pytest.fixture(scope="module")
def trained(model_dir, pairs_folder, tmp_path_factory, one_thread) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("rm-run")
    result = rm.train_rm(settings(model_dir, pairs_folder, output, max_steps=200), progress=False)
    return output, result


# ------------------------------------------------------------------------------ (1) TRL parity


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_tokens_and_loss_equal_trl_reward_trainer(model_dir, tmp_path, one_thread):
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")

    rows = sample_rows()
    for number, row in enumerate(rows):
        row["margin"] = 0.5 * (number % 3)  # TRL's optional margin column
    model, tokenizer, new_head = load_reward_model(str(model_dir), CPU, seed=0)
    assert new_head  # a causal LM folder: the score head is new
    pairs, report = reward.tokenize_pairs(rows, tokenizer, tokenizer_template(model_dir), max_length=1024)
    assert report.kept == len(rows) == 16

    dataset = datasets.Dataset.from_list(
        [{key: row[key] for key in ("prompt", "chosen", "rejected", "margin")} for row in rows]
    )
    args = trl.RewardConfig(
        output_dir=str(tmp_path / "trl"), report_to="none", max_length=1024, per_device_train_batch_size=8, use_cpu=True
    )
    trainer = trl.RewardTrainer(
        model=copy.deepcopy(model), args=args, train_dataset=dataset, processing_class=copy.deepcopy(tokenizer)
    )
    # the same token ids for every pair: whole conversations, rendered with the chat template
    assert [list(ids) for ids in trainer.train_dataset["chosen_ids"]] == [pair["chosen_ids"] for pair in pairs]
    assert [list(ids) for ids in trainer.train_dataset["rejected_ids"]] == [pair["rejected_ids"] for pair in pairs]

    ours_batch = reward.collate_pairs(pairs[:8], tokenizer.pad_token_id)
    trl_batch = trainer.data_collator([trainer.train_dataset[index] for index in range(8)])
    assert torch.equal(ours_batch["input_ids"], trl_batch["input_ids"])
    assert torch.equal(ours_batch["margin"], trl_batch["margin"])

    model.train()
    trainer.model.train()
    r_chosen, r_rejected = rm.rewards(model, ours_batch, CPU)
    ours = rm.pair_losses(r_chosen, r_rejected, ours_batch["margin"]).mean()
    theirs = trainer.compute_loss(trainer.model, dict(trl_batch))
    assert abs(ours.item() - theirs.item()) < 1e-4, (ours.item(), theirs.item())
    assert trainer._metrics["train"]["accuracy"][-1] == pytest.approx((r_chosen > r_rejected).float().mean().item())
    assert trainer._metrics["train"]["margin"][-1] == pytest.approx((r_chosen - r_rejected).mean().item(), abs=1e-5)
    # and the same gradient of the new head
    ours.backward()
    theirs.backward()
    assert torch.allclose(model.score.weight.grad, trainer.model.score.weight.grad, atol=1e-5)


def test_pairs_longer_than_max_length_are_dropped_not_cut(model_dir):
    rows = sample_rows()
    _, tokenizer, _ = load_reward_model(str(model_dir), CPU)
    template = tokenizer_template(model_dir)
    full, _ = reward.tokenize_pairs(rows, tokenizer, template, max_length=4096)
    limit = sorted(max(len(pair["chosen_ids"]), len(pair["rejected_ids"])) for pair in full)[8]
    kept, report = reward.tokenize_pairs(rows, tokenizer, template, max_length=limit)
    too_long = sum(max(len(pair["chosen_ids"]), len(pair["rejected_ids"])) > limit for pair in full)
    assert report.dropped == {reward.LONGER_THAN_MAX_LENGTH: too_long} and too_long > 0
    assert report.kept == len(kept) == 16 - too_long and report.truncated == 0
    assert all(pair in full for pair in kept)  # survivors are whole


# ------------------------------------------------------------------------------ (3) margins


def test_margin_column_shifts_the_loss_as_the_formula_says(model_dir, tmp_path):
    records = [json.loads(line) for line in PAIRS.read_text().splitlines()[:4]]
    margins = [0.0, 1.0, -2.0, 3.5]
    for record, margin in zip(records, margins):
        record["margin"] = margin
        record["score_chosen"], record["score_rejected"] = 9.0, 4.0
    folder = tmp_path / "with-margin"
    run_cli("convert", write_jsonl(tmp_path / "m.jsonl", records), "-o", folder, "--to", "preference", "--workers", "1")
    rows = read_rows(folder, kind="preference")  # the margin column travels in meta

    model, tokenizer, _ = load_reward_model(str(model_dir), CPU, seed=3)
    template = tokenizer_template(model_dir)
    pairs, _ = reward.tokenize_pairs(rows, tokenizer, template, 512)
    assert [pair["margin"] for pair in pairs] == margins
    batch = reward.collate_pairs(pairs, tokenizer.pad_token_id)
    with torch.no_grad():
        r_chosen, r_rejected = rm.rewards(model, batch, CPU)
        with_margin = rm.pair_losses(r_chosen, r_rejected, batch["margin"])
        without = rm.pair_losses(r_chosen, r_rejected)
    for number, margin in enumerate(margins):
        difference = r_chosen[number].item() - r_rejected[number].item()
        assert with_margin[number].item() == pytest.approx(math.log1p(math.exp(-(difference - margin))), abs=1e-6)
        assert without[number].item() == pytest.approx(math.log1p(math.exp(-difference)), abs=1e-6)
    assert with_margin[0].item() == without[0].item()  # margin 0 is the plain loss
    assert with_margin[1].item() > without[1].item() > with_margin[2].item()  # a margin asks for a wider gap

    # scores are not a margin unless asked; then score_chosen - score_rejected fills rows without one
    plain = [
        {key: row[key] for key in ("prompt", "chosen", "rejected", "score_chosen", "score_rejected")} for row in rows
    ]
    assert [pair["margin"] for pair in reward.tokenize_pairs(plain, tokenizer, template, 512)[0]] == [0.0] * 4
    scored, _ = reward.tokenize_pairs(plain, tokenizer, template, 512, margin_from_scores=True)
    assert [pair["margin"] for pair in scored] == [5.0] * 4
    scored, _ = reward.tokenize_pairs(rows, tokenizer, template, 512, margin_from_scores=True)
    assert [pair["margin"] for pair in scored] == margins  # an explicit margin wins


def test_center_rewards_coefficient_adds_the_squared_sum():
    r_chosen, r_rejected = torch.tensor([1.0, -0.5]), torch.tensor([0.25, 2.0])
    plain = rm.pair_losses(r_chosen, r_rejected)
    centred = rm.pair_losses(r_chosen, r_rejected, center_rewards_coefficient=0.01)
    assert torch.allclose(centred - plain, 0.01 * (r_chosen + r_rejected) ** 2)


# ------------------------------------------------------------------------------ (2) training, (4) scoring, (5) saving


def test_training_separates_the_sample_pairs(trained):
    output, result = trained
    assert result["steps"] == 200 and result["train_pairs"] == 14 and result["eval_pairs"] == 2
    assert result["head_initialised"]
    records = read_metrics(output / "metrics.jsonl")
    assert [record["step"] for record in records] == list(range(10, 201, 10))
    for key in ("loss", "accuracy", "margin", "lr", "grad_norm", "tokens_per_s"):
        assert all(math.isfinite(record[key]) for record in records), key
    assert {"eval_loss", "eval_accuracy", "eval_margin"} <= set(records[-1])
    first, last = records[0], records[-1]
    assert last["loss"] < 0.5 * first["loss"]
    assert last["margin"] > first["margin"]
    assert sum(record["accuracy"] for record in records[-5:]) / 5 > 0.9
    truncation = json.loads((output / "truncation.json").read_text())
    assert truncation["train"]["kept"] == 14 and truncation["train"]["dropped"] == {}


def test_scorer_ranks_chosen_above_rejected(trained, pairs_folder):
    output, _ = trained
    rows = read_rows(pairs_folder, kind="preference")
    train_rows, _ = split_rows(rows, 0.125, 0)
    scorer = RewardScorer(output / "final", device="cpu", batch_size=3)
    chosen = scorer.score([row["prompt"] + row["chosen"] for row in train_rows])
    rejected = scorer.score([row["prompt"] + row["rejected"] for row in train_rows])
    assert len(chosen) == len(rejected) == len(train_rows) == 14
    assert all(isinstance(value, float) for value in chosen + rejected)
    accuracy = sum(c > r for c, r in zip(chosen, rejected)) / len(train_rows)
    assert accuracy > 0.9
    # batching and order do not change a score
    both = [row["prompt"] + row["chosen"] for row in train_rows[:5]]
    one_by_one = [scorer.score([conversation])[0] for conversation in both]
    assert scorer.score(both[::-1])[::-1] == pytest.approx(one_by_one, abs=1e-5)
    assert scorer.score([]) == []


def test_final_model_loads_offline_and_scores_the_same(trained, monkeypatch):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    output, _ = trained
    final = output / "final"
    model = AutoModelForSequenceClassification.from_pretrained(final, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(final, local_files_only=True)
    assert model.config.num_labels == 1 and model.config.pad_token_id == tokenizer.pad_token_id is not None
    conversations = [row["prompt"] + row["chosen"] for row in sample_rows()[:3]]
    encoded = tokenizer.apply_chat_template(
        conversations, tokenize=True, return_dict=True, padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        scores = model(**encoded).logits[:, 0].tolist()
    assert scores == pytest.approx(RewardScorer(final, device="cpu").score(conversations), abs=1e-5)


def test_resume_gives_the_uninterrupted_run(model_dir, pairs_folder, tmp_path, one_thread):
    straight = rm.train_rm(settings(model_dir, pairs_folder, tmp_path / "a", max_steps=6, log_every=1), progress=False)
    interrupted = tmp_path / "b"
    rm.train_rm(settings(model_dir, pairs_folder, interrupted, max_steps=6, log_every=1, save_every=3), progress=False)
    # as if killed after step 4: final/ never written, the log runs past the checkpoint
    import shutil

    shutil.rmtree(interrupted / "final")
    lines = (interrupted / "metrics.jsonl").read_text().splitlines()
    (interrupted / "metrics.jsonl").write_text("\n".join(lines[:4]) + "\n")
    resumed = rm.train_rm(
        settings(model_dir, pairs_folder, interrupted, max_steps=6, log_every=1, save_every=3, resume=True),
        progress=False,
    )
    assert resumed["resumed_from"] == interrupted / "checkpoint-3"
    from safetensors.torch import load_file

    a = load_file(str(straight["final"] / "model.safetensors"))
    b = load_file(str(resumed["final"] / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[key], b[key], atol=1e-6) for key in a)
    losses = [record["loss"] for record in read_metrics(interrupted / "metrics.jsonl")]
    assert losses == pytest.approx([record["loss"] for record in read_metrics(tmp_path / "a" / "metrics.jsonl")])


TWO_PROCESS_SCRIPT = """
import sys
from pathlib import Path
from curate.train import rm
from curate.train.settings import OptimizerSettings

model, data, output = sys.argv[1:4]
rm.train_rm(rm.RMSettings(model=model, data=(data,), output=Path(output), max_length=512, batch_size=2,
    eval_fraction=0.125, max_steps=5, log_every=1, optimizer=OptimizerSettings(lr=1e-3)), progress=False)
"""


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_equal_one_on_the_same_global_batch(model_dir, pairs_folder, tmp_path, one_thread):
    """14 pairs in global batches of 4: step 4 takes the epoch's last 2, so the second process
    has none and must still join the gradient all-reduce."""
    import os
    import subprocess
    import sys

    one = rm.train_rm(
        settings(
            model_dir,
            pairs_folder,
            tmp_path / "one",
            max_steps=5,
            log_every=1,
            optimizer=OptimizerSettings(lr=1e-3),
        ),
        progress=False,
    )
    script = tmp_path / "two_processes.py"
    script.write_text(TWO_PROCESS_SCRIPT)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
         str(model_dir), str(pairs_folder), str(tmp_path / "two")],
        cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = (
        read_metrics(tmp_path / "one" / "metrics.jsonl"),
        read_metrics(tmp_path / "two" / "metrics.jsonl"),
    )
    assert [record["pairs"] for record in first] == [record["pairs"] for record in second] == [4, 4, 4, 2, 4]
    for a, b in zip(first, second):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5) and a["accuracy"] == b["accuracy"]
    from safetensors.torch import load_file

    x = load_file(str(one["final"] / "model.safetensors"))
    y = load_file(str(tmp_path / "two" / "final" / "model.safetensors"))
    assert all(torch.allclose(x[key], y[key], atol=1e-5) for key in x)
