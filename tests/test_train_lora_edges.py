"""A LoRA run's adapter where a model is expected, and the mistakes around it: a full fine-tune
and a reward model started from an SFT adapter, a merge that would overwrite its own base, an
adapter on tied embeddings, a resume with another rank, and a new run in an old run folder."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from curate.train.run_folder import read_metrics  # noqa: E402

from .conftest import REPO, run_cli  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"
PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
QUICK = ("--max-length", "128", "--batch-size", "2", "--eval-fraction", "0", "--device", "cpu", "--no-progress")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("edges") / "model")


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory) -> Path:
    """An SFT LoRA run's final/ (r 4, two checkpoints), trained with a high rate to move it."""
    run = tmp_path_factory.mktemp("edges") / "sft"
    run_cli(
        "train-sft", SEEDS, "-o", run, "--model", tiny_model, "--lora", "--lora-r", "4", "--lora-dropout", "0",
        "--max-steps", "4", "--save-every", "2", "--lr", "1e-2", *QUICK,
    )  # fmt: skip
    return run / "final"


def test_a_full_fine_tune_starts_from_an_adapter_folder(adapter, tmp_path):
    run = tmp_path / "full"
    run_cli("train-sft", SEEDS, "-o", run, "--model", adapter, "--max-steps", "2", *QUICK)
    assert len(read_metrics(run / "metrics.jsonl")) == 2
    trained = transformers.AutoModelForCausalLM.from_pretrained(run / "final")
    assert not (run / "final" / "adapter_config.json").exists()
    assert sum(parameter.numel() for parameter in trained.parameters()) > 0


def test_a_reward_model_starts_from_a_causal_adapter(adapter, tiny_model, tmp_path):
    """The SFT adapter merged into its base is the reward model's body; the score head is new."""
    from curate.llm.reward_model import load_reward_model
    from curate.train.models import load_model

    model, _, head_initialised = load_reward_model(str(adapter), "cpu")
    merged = load_model(str(adapter), "cpu")[0]
    assert head_initialised
    body = merged.model.state_dict()
    for key, value in model.model.state_dict().items():
        assert torch.equal(value, body[key]), key
    plain = load_reward_model(str(tiny_model), "cpu")[0]
    assert any(not torch.equal(a, b) for a, b in zip(plain.model.parameters(), model.model.parameters(), strict=True))
    run_cli("train-rm", PAIRS, "-o", tmp_path / "rm", "--model", adapter, "--max-steps", "1", *QUICK)


def test_merge_lora_refuses_to_overwrite_what_the_adapter_stands_on(adapter, tiny_model):
    for target in (tiny_model, adapter):
        refused = run_cli("merge-lora", adapter, "-o", target, "--overwrite", expect=2)
        assert "stands on" in refused.output and len(refused.output.strip().splitlines()) == 1
    assert (adapter / "adapter_config.json").is_file() and (tiny_model / "model.safetensors").is_file()


@pytest.mark.parametrize("target", ["lm_head", "embed_tokens,q_proj"])
def test_an_adapter_on_tied_embeddings_is_refused(target, tiny_model, tmp_path):
    refused = run_cli(
        "train-sft", SEEDS, "-o", tmp_path / "run", "--model", tiny_model, "--lora", "--lora-target", target,
        "--max-steps", "1", *QUICK, expect=2,
    )  # fmt: skip
    assert "ties its input and output embeddings" in refused.output
    assert len(refused.output.strip().splitlines()) == 1


def test_resuming_with_another_rank_is_one_line(adapter, tiny_model):
    run = adapter.parent
    refused = run_cli(
        "train-sft", SEEDS, "-o", run, "--model", tiny_model, "--lora", "--lora-r", "8", "--resume",
        "--max-steps", "4", "--save-every", "2", *QUICK, expect=2,
    )  # fmt: skip
    assert "does not fit this run's model" in refused.output and len(refused.output.strip().splitlines()) == 1


def test_a_new_run_replaces_the_earlier_runs_checkpoints(tiny_model, tmp_path):
    run = tmp_path / "run"
    run_cli("train-sft", SEEDS, "-o", run, "--model", tiny_model, "--max-steps", "4", "--save-every", "2", *QUICK)
    assert (run / "checkpoint-2").is_dir()
    (run / "checkpoint-2" / "note.txt").write_text("a user's file inside a checkpoint goes with it")
    again = run_cli("train-sft", SEEDS, "-o", run, "--model", tiny_model, "--max-steps", "1", *QUICK)
    assert "removed the earlier run's 1 checkpoint folders" in again.output
    assert not (run / "checkpoint-2").exists() and len(read_metrics(run / "metrics.jsonl")) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_asking_for_cuda_without_one_is_one_line(tiny_model, tmp_path):
    refused = run_cli(
        "train-sft", SEEDS, "-o", tmp_path / "run", "--model", tiny_model, "--max-steps", "1",
        "--device", "cuda", "--no-progress", expect=2,
    )  # fmt: skip
    assert "no CUDA GPU" in refused.output and len(refused.output.strip().splitlines()) == 1
