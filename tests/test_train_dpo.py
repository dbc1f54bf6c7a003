"""curate.train.dpo: TRL parity of loss and metrics, learning, reference modes and cache, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from curate.train import data  # noqa: E402
from curate.train.dpo import (  # noqa: E402
    PAIR_METRICS,
    DPOSettings,
    Reference,
    dpo_loss,
    evaluate,
    train_dpo,
)
from curate.train.run_folder import read_metrics  # noqa: E402
from curate.train.settings import OptimizerSettings  # noqa: E402

from .conftest import REPO, run_on_processes  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("dpo") / "model")


@pytest.fixture(scope="module")
def policy_model(tiny_model, tmp_path_factory) -> Path:
    """The tiny model with seeded noise on every weight: a policy that differs from its reference."""
    folder = tmp_path_factory.mktemp("dpo") / "policy"
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.02)
    model.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny_model).save_pretrained(folder)
    return folder


def settings(model: Path, run: Path, **changes) -> DPOSettings:
    values = dict(
        model=str(model), data=(str(PAIRS),), output=run, batch_size=4, max_steps=8, eval_fraction=0.0,
        optimizer=OptimizerSettings(lr=1e-3), device="cpu", seed=0,
    )  # fmt: skip
    values.update(changes)
    return DPOSettings(**values)


def rows() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]


def trl_trainer(policy_dir: Path, reference_dir: Path, output: Path, batch_size: int, **config):
    """A TRL 1.16 DPOTrainer on the sample pairs, offline, with no reporting."""
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    tokenizer = transformers.AutoTokenizer.from_pretrained(policy_dir)
    args = trl.DPOConfig(
        output_dir=str(output), report_to="none", per_device_train_batch_size=batch_size, use_cpu=True, bf16=False,
        activation_checkpointing=False, max_length=1024, **config,
    )  # fmt: skip
    return trl.DPOTrainer(
        model=transformers.AutoModelForCausalLM.from_pretrained(policy_dir),
        ref_model=transformers.AutoModelForCausalLM.from_pretrained(reference_dir),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows()),
        processing_class=tokenizer,
    )


# ------------------------------------------------------------------------------ parity with TRL


def test_first_step_loss_and_rewards_equal_trl(tiny_model, policy_model, tmp_path):
    # curate: one step over all 16 pairs; the logged metrics are those of the policy before its update
    run = tmp_path / "run"
    one_step = settings(policy_model, run, ref_model=str(tiny_model), ref="live", batch_size=16, max_steps=1)
    train_dpo(one_step, progress=False)
    ours = read_metrics(run / "metrics.jsonl")[0]

    trainer = trl_trainer(policy_model, tiny_model, tmp_path / "trl", batch_size=16, beta=0.1, loss_type=["sigmoid"])
    batch = trainer.data_collator([trainer.train_dataset[index] for index in range(len(trainer.train_dataset))])
    trainer.model.train()
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, batch).item()
    theirs = {name: values[-1] for name, values in trainer._metrics["train"].items()}
    theirs["loss"] = loss

    assert abs(theirs["rewards/chosen"]) > 1e-2 and abs(theirs["rewards/rejected"]) > 1e-2  # a real test
    differences = {name: abs(ours[name] - theirs[name]) for name in PAIR_METRICS}
    print("abs differences to TRL:", differences)
    for name in ("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"):
        assert differences[name] < 1e-4, (name, differences)
    # summed log-probs are ~-800: float32 sums agree to their last bits, not to 1e-4 absolute
    for name in ("logps/chosen", "logps/rejected"):
        assert ours[name] == pytest.approx(theirs[name], rel=1e-6), (name, differences)


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge"])
def test_loss_formulas_equal_trl_on_fixed_tensors(tiny_model, tmp_path, loss_type):
    """TRL's own `_compute_loss`, fed fixed per-token log-probs by a stub model, against `dpo_loss`."""
    from trl.trainer.utils import FusedCausalLMOutput

    trainer = trl_trainer(tiny_model, tiny_model, tmp_path / "trl", batch_size=4, beta=0.3, loss_type=[loss_type])
    trainer.precompute_ref_logps = True  # reference log-probs come from the batch, as after a precompute
    generator = torch.Generator().manual_seed(7)
    pairs, width = 4, 9
    prompt = [3, 2, 4, 1, 3, 2, 4, 1]  # 2B rows: chosen then rejected
    ends = [9, 5, 8, 4, 7, 9, 6, 9]
    completion_mask = torch.tensor([[int(p <= i < e) for i in range(width)] for p, e in zip(prompt, ends)])
    per_token = -torch.rand((2 * pairs, width - 1), generator=generator) * 3 * completion_mask[:, 1:]
    ref_chosen = -torch.rand(pairs, generator=generator) * 10
    ref_rejected = -torch.rand(pairs, generator=generator) * 10
    zeros = torch.zeros_like(per_token)

    def stub(**_):
        return FusedCausalLMOutput(log_probs=per_token, entropy=zeros, mean_logits=zeros, is_top1=zeros.bool())

    inputs = {
        "input_ids": torch.ones((2 * pairs, width), dtype=torch.long),
        "attention_mask": torch.ones((2 * pairs, width), dtype=torch.long),
        "completion_mask": completion_mask,
        "ref_chosen_logps": ref_chosen,
        "ref_rejected_logps": ref_rejected,
    }
    trainer.model.train()
    theirs = trainer._compute_loss(stub, inputs, return_outputs=False)
    metrics = {name: values[-1] for name, values in trainer._metrics["train"].items()}

    logps = per_token.sum(dim=1)
    lengths = completion_mask.sum(dim=1).float()
    losses, chosen_rewards, rejected_rewards = dpo_loss(
        logps[:pairs], logps[pairs:], ref_chosen, ref_rejected, 0.3, loss_type,
        chosen_lengths=lengths[:pairs], rejected_lengths=lengths[pairs:],
    )  # fmt: skip
    assert losses.mean().item() == pytest.approx(theirs.item(), abs=1e-6)
    assert chosen_rewards.mean().item() == pytest.approx(metrics["rewards/chosen"], abs=1e-6)
    assert rejected_rewards.mean().item() == pytest.approx(metrics["rewards/rejected"], abs=1e-6)


@pytest.mark.parametrize("loss_type", ["ipo", "hinge"])
def test_ipo_and_hinge_train_and_log_trl_metrics(tiny_model, tmp_path, loss_type):
    run = tmp_path / "run"
    train_dpo(settings(tiny_model, run, loss=loss_type, max_steps=3, ref="live"), progress=False)
    history = read_metrics(run / "metrics.jsonl")
    expected = 1.0 if loss_type == "hinge" else (1 / (2 * 0.1)) ** 2  # at step 1 the policy is the reference
    assert history[0]["loss"] == pytest.approx(expected, abs=1e-5)
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["rewards/margins"] > 0


def test_dpo_loss_rejects_ipo_without_lengths_and_unknown_losses():
    values = torch.zeros(2)
    with pytest.raises(ValueError, match="ipo"):
        dpo_loss(values, values, values, values, 0.1, "ipo")
    with pytest.raises(ValueError, match="unknown"):
        dpo_loss(values, values, values, values, 0.1, "kto")


# ------------------------------------------------------------------------------ learning


def test_training_makes_the_policy_prefer_the_chosen_answers(tiny_model, tmp_path):
    run = tmp_path / "run"
    steps = 200
    result = train_dpo(settings(tiny_model, run, max_steps=steps, optimizer=OptimizerSettings(lr=2e-3)), progress=False)
    history = read_metrics(run / "metrics.jsonl")
    assert [record["step"] for record in history] == list(range(1, steps + 1))
    assert {"lr", "grad_norm", "tokens_per_s", "mfu", *PAIR_METRICS} <= set(history[-1])
    # step 1: the policy is the reference, so every reward is 0 and the loss log(2)
    assert history[0]["loss"] == pytest.approx(0.693147, abs=1e-5) and history[0]["rewards/margins"] == 0.0
    late = [record["loss"] for record in history[-20:]]
    assert sum(late) / len(late) < 0.05

    # reward accuracy over every training pair, the trained policy against the initial model
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model)
    from curate.instruct.templates import tokenizer_template

    pairs, _ = data.tokenize_preference(data.read_rows(PAIRS), tokenizer, tokenizer_template(tiny_model), 1024)
    policy = transformers.AutoModelForCausalLM.from_pretrained(result["final"])
    reference = Reference(model=transformers.AutoModelForCausalLM.from_pretrained(tiny_model).eval())
    before = evaluate(reference.model, pairs, reference, tokenizer.pad_token_id, 8, torch.device("cpu"), 0.1)
    after = evaluate(policy, pairs, reference, tokenizer.pad_token_id, 8, torch.device("cpu"), 0.1)
    print(f"{steps} steps: reward accuracy {after['rewards/accuracies']:.3f}, loss {after['loss']:.4f}")
    assert before["rewards/accuracies"] == 0.0 and before["loss"] == pytest.approx(0.6931, abs=1e-4)
    assert after["rewards/accuracies"] > 0.9
    assert after["loss"] < 0.1


# ------------------------------------------------------------------------------ reference modes


def test_precomputed_and_live_references_give_the_same_first_step(policy_model, tiny_model, tmp_path, monkeypatch):
    from curate.train import dpo_reference

    live = tmp_path / "live"
    cached = tmp_path / "cached"
    train_dpo(settings(policy_model, live, ref_model=str(tiny_model), ref="live", max_steps=1), progress=False)
    first = train_dpo(settings(policy_model, cached, ref_model=str(tiny_model), max_steps=1), progress=False)
    assert not first["reference_reused"] and first["reference_logps"].parent == cached / "reference_logps"
    stored = first["reference_logps"].read_bytes()
    live_record = read_metrics(live / "metrics.jsonl")[0]
    cached_record = read_metrics(cached / "metrics.jsonl")[0]
    for name in PAIR_METRICS:
        assert cached_record[name] == pytest.approx(live_record[name], abs=1e-5), name

    # the same data and reference again: the file is read, the reference never runs
    calls = []
    monkeypatch.setattr(dpo_reference, "compute_reference_logps", lambda *args, **kwargs: calls.append(1))
    again = train_dpo(settings(policy_model, cached, ref_model=str(tiny_model), max_steps=1), progress=False)
    assert again["reference_reused"] and again["reference_logps"] == first["reference_logps"] and not calls
    assert again["reference_logps"].read_bytes() == stored
    reread = read_metrics(cached / "metrics.jsonl")[0]
    assert {name: reread[name] for name in PAIR_METRICS} == {name: cached_record[name] for name in PAIR_METRICS}
    assert list((cached / "reference_logps").iterdir()) == [first["reference_logps"]]  # no pickle, nothing else

    # other tokens (a shorter max_length) are another key
    monkeypatch.undo()
    shorter_settings = settings(policy_model, cached, ref_model=str(tiny_model), max_steps=1, max_length=64)
    shorter = train_dpo(shorter_settings, progress=False)
    assert shorter["reference_logps"] != first["reference_logps"] and not shorter["reference_reused"]


def test_a_resumed_run_logs_the_same_metrics_as_an_uninterrupted_one(tiny_model, tmp_path, monkeypatch):
    from curate.errors import RunFailed
    from curate.train import optim

    whole = tmp_path / "whole"
    train_dpo(settings(tiny_model, whole, save_every=4), progress=False)

    # a run killed at step 6, after its step-4 checkpoint and with steps 1-5 logged
    killed = tmp_path / "killed"
    finite = optim.check_finite

    def dies_at_step_six(loss, step, last_checkpoint):
        if step == 6:
            raise RunFailed("killed")
        finite(loss, step, last_checkpoint)

    monkeypatch.setattr(optim, "check_finite", dies_at_step_six)
    with pytest.raises(RunFailed):
        train_dpo(settings(tiny_model, killed, save_every=4), progress=False)
    monkeypatch.undo()
    assert [record["step"] for record in read_metrics(killed / "metrics.jsonl")] == [1, 2, 3, 4, 5]

    result = train_dpo(settings(tiny_model, killed, save_every=4, resume=True), progress=False)
    assert result["resumed_from"] == killed / "checkpoint-4" and result["reference_reused"]
    resumed, uninterrupted = read_metrics(killed / "metrics.jsonl"), read_metrics(whole / "metrics.jsonl")
    assert [record["step"] for record in resumed] == list(range(1, 9))
    for ours, theirs in zip(resumed, uninterrupted):
        for name in (*PAIR_METRICS, "lr", "grad_norm"):
            assert ours[name] == pytest.approx(theirs[name], abs=1e-6), (ours["step"], name)


def test_bad_settings_get_one_clear_sentence(tiny_model, tmp_path):
    from curate.errors import UserError

    with pytest.raises(UserError, match="unknown DPO loss"):
        train_dpo(settings(tiny_model, tmp_path / "run", loss="kto"), progress=False)
    with pytest.raises(UserError, match="precompute or live"):
        train_dpo(settings(tiny_model, tmp_path / "run", ref="frozen"), progress=False)


def test_two_processes_equal_one_on_the_same_global_batch(tiny_model, tmp_path):
    common_args = [
        str(PAIRS), "--model", str(tiny_model), "--template", "chatml", "--max-length", "256", "--max-steps", "4",
        "--lr", "1e-3", "--eval-fraction", "0.1", "--no-progress",
    ]  # fmt: skip
    run_on_processes(["train-dpo", *common_args, "-o", str(tmp_path / "one"), "--batch-size", "4"], REPO)
    run_on_processes(["train-dpo", *common_args, "-o", str(tmp_path / "two"), "--batch-size", "2"], REPO, processes=2)
    one, two = read_metrics(tmp_path / "one" / "metrics.jsonl"), read_metrics(tmp_path / "two" / "metrics.jsonl")
    # 14 training pairs in global batches of 4: step 4 has 2, so the second process idles with weight 0
    assert [record["pairs"] for record in one] == [record["pairs"] for record in two] == [4, 4, 4, 2]
    for first, second in zip(one, two):
        for name in ("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies"):
            assert first[name] == pytest.approx(second[name], abs=1e-5), name
