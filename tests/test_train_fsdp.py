"""--fsdp (FSDP2) on two gloo processes: the same losses as one process on the same global batch,
checkpoints saved whole (transformers / peft load them), and a resumed run that continues the curve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curate.train.run_folder import read_metrics
from tests.conftest import run_on_processes

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = [
    pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed"),
    pytest.mark.usefixtures("one_torch_thread"),
]
REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"
PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from tests.tiny_chat_model import make_tiny_chat_model

    return make_tiny_chat_model(tmp_path_factory.mktemp("fsdp") / "model")


def losses(run: Path, name: str = "loss") -> list[float]:
    return [record[name] for record in read_metrics(run / "metrics.jsonl")]


def killed_copy(run: Path, step: int, killed: Path) -> Path:
    """`run` as a run killed right after its checkpoint-`step`/: the checkpoint, the folder's
    marker, and the metrics logged up to that step."""
    killed.mkdir()
    shutil.copy(run / ".curate-folder", killed / ".curate-folder")
    shutil.copytree(run / f"checkpoint-{step}", killed / f"checkpoint-{step}")
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (killed / "metrics.jsonl").write_text("\n".join(lines[:step]) + "\n")
    return killed


def test_fsdp_sft_equals_one_process_and_resumes(tiny_model, tmp_path):
    common = [
        str(SEEDS), "--model", str(tiny_model), "--template", "chatml", "--max-length", "256", "--max-steps", "6",
        "--lr", "3e-3", "--eval-fraction", "0", "--no-packing", "--no-progress", "--save-every", "3",
    ]  # fmt: skip
    run_on_processes(["train-sft", *common, "-o", str(tmp_path / "one"), "--batch-size", "4"], REPO)
    sharded = ["train-sft", *common, "--batch-size", "2", "--fsdp"]
    run_on_processes([*sharded, "-o", str(tmp_path / "two")], REPO, processes=2)
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(one) == len(two) == 6
    assert two == pytest.approx(one, abs=1e-4)

    # the checkpoint and final/ hold the whole model, as one process saves it
    whole = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "one" / "final")
    gathered = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "two" / "final")
    for (name, ours), theirs in zip(whole.state_dict().items(), gathered.state_dict().values()):
        assert torch.allclose(ours, theirs, atol=1e-4), name

    # a run killed after its step-3 checkpoint resumes, sharded, to the same curve
    killed = killed_copy(tmp_path / "two", 3, tmp_path / "killed")
    run_on_processes([*sharded, "-o", str(killed), "--resume"], REPO, processes=2)
    assert losses(killed) == pytest.approx(one, abs=1e-4)


def test_fsdp_lora_dpo_saves_the_whole_adapter(tiny_model, tmp_path):
    peft = pytest.importorskip("peft")
    common = [
        str(PAIRS), "--model", str(tiny_model), "--max-steps", "4", "--lr", "5e-3", "--eval-fraction", "0",
        "--no-progress", "--lora", "--lora-r", "4", "--ref", "live", "--save-every", "2",
    ]  # fmt: skip
    run_on_processes(["train-dpo", *common, "-o", str(tmp_path / "one"), "--batch-size", "4"], REPO)
    sharded = ["train-dpo", *common, "--batch-size", "2", "--fsdp"]
    run_on_processes([*sharded, "-o", str(tmp_path / "two")], REPO, processes=2)
    assert losses(tmp_path / "two") == pytest.approx(losses(tmp_path / "one"), abs=1e-4)
    assert losses(tmp_path / "one")[-1] < losses(tmp_path / "one")[0]

    # every process's share of the adapter is in the file: the same adapter as one process trains
    def adapter(run: Path):
        base = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
        return peft.PeftModel.from_pretrained(base, run / "final")

    ours, theirs = adapter(tmp_path / "one"), adapter(tmp_path / "two")
    lora_weights = [name for name, _ in ours.named_parameters() if "lora_" in name]
    assert lora_weights
    for name in lora_weights:
        assert torch.allclose(ours.get_parameter(name), theirs.get_parameter(name), atol=1e-4), name

    killed = killed_copy(tmp_path / "two", 2, tmp_path / "killed")
    run_on_processes([*sharded, "-o", str(killed), "--resume"], REPO, processes=2)
    assert losses(killed) == pytest.approx(losses(tmp_path / "one"), abs=1e-4)
