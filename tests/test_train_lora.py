"""--lora for train-sft, train-dpo and train-rm: what trains, what is saved, resume, the DPO
reference with adapters off, merge-lora, adapter folders as models, and --load-in-4bit's errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from curate.train.lora import LoraSettings  # noqa: E402
from curate.train.run_folder import read_metrics  # noqa: E402
from curate.train.settings import OptimizerSettings  # noqa: E402

from .conftest import REPO, run_cli  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"
PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
LORA = LoraSettings(r=8, alpha=16, dropout=0.0)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("lora") / "model")


@pytest.fixture(scope="module")
def sft_run(tiny_model, tmp_path_factory) -> tuple[Path, dict]:
    """A LoRA SFT run with checkpoints and --merge, trained hard enough to move the adapter."""
    from curate.train.sft import SFTSettings, train_sft

    run = tmp_path_factory.mktemp("lora") / "sft"
    settings = SFTSettings(
        model=str(tiny_model), data=(str(SEEDS),), output=run, max_length=256, batch_size=4, max_steps=40,
        optimizer=OptimizerSettings(lr=1e-2), eval_fraction=0.0, device="cpu", lora=LORA, save_every=20, merge=True,
    )  # fmt: skip
    return run, train_sft(settings, progress=False)


def losses(run: Path, name: str = "loss") -> list[float]:
    return [record[name] for record in read_metrics(run / "metrics.jsonl")]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def lora_parameters(model) -> int:
    return sum(parameter.numel() for name, parameter in model.named_parameters() if "lora_" in name)


# ------------------------------------------------------------------------------ SFT


def test_lora_sft_learns_and_trains_only_the_adapters(sft_run, tiny_model):
    run, result = sft_run
    history = losses(run)
    assert mean(history[-5:]) < 0.95 * mean(history[:3])  # a random 64-wide model: adapters learn slowly

    final = result["final"]
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= {p.name for p in final.iterdir()}
    assert not (final / "model.safetensors").exists()  # the adapter, not a copy of the base
    config = json.loads((final / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tiny_model.resolve())
    assert (config["r"], config["lora_alpha"]) == (8, 16)

    # PEFT's own loader reads it; the base's weights are untouched, the adapter is not a no-op
    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    adapted = peft.PeftModel.from_pretrained(base, final)
    trainable, total = result["parameters"]
    assert trainable == lora_parameters(adapted) and total == sum(p.numel() for p in adapted.parameters())
    ids = torch.randint(0, 400, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        with adapted.disable_adapter():
            plain = adapted(ids).logits
        fresh = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)(ids).logits
        assert torch.equal(plain, fresh)
        assert (adapted(ids).logits - plain).abs().max() > 1e-2


def test_merged_model_equals_the_adapter(sft_run, tiny_model, tmp_path):
    run, result = sft_run
    base = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    adapted = peft.PeftModel.from_pretrained(base, result["final"]).eval()
    run_cli("merge-lora", result["final"], "-o", tmp_path / "merged")
    ids = torch.randint(0, 400, (3, 32), generator=torch.Generator().manual_seed(1))
    for folder in (tmp_path / "merged", result["merged"]):  # merge-lora, and --merge's RUN/merged
        merged = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
        assert not any("lora" in name for name in merged.state_dict())
        with torch.no_grad():
            difference = (merged(ids).logits - adapted(ids).logits).abs().max().item()
        assert difference < 1e-4, (folder, difference)
    # a second merge into the same folder needs --overwrite; a folder that is not an adapter is refused
    again = run_cli("merge-lora", result["final"], "-o", tmp_path / "merged", expect=2)
    assert "--overwrite" in again.output
    refused = run_cli("merge-lora", tiny_model, "-o", tmp_path / "other", expect=2)
    assert "not a LoRA adapter folder" in refused.output and len(refused.output.strip().splitlines()) == 1


def test_merge_lora_names_a_missing_base(sft_run, tmp_path):
    _, result = sft_run
    moved = tmp_path / "adapter"
    shutil.copytree(result["final"], moved)
    config = json.loads((moved / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tmp_path / "gone")
    (moved / "adapter_config.json").write_text(json.dumps(config))
    refused = run_cli("merge-lora", moved, "-o", tmp_path / "merged", expect=2)
    assert "--base" in refused.output and len(refused.output.strip().splitlines()) == 1


def test_a_resumed_lora_run_logs_the_same_losses(sft_run, tiny_model, tmp_path):
    from curate.train.sft import SFTSettings, train_sft

    whole, _ = sft_run
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(whole / ".curate-folder", killed / ".curate-folder")
    shutil.copytree(whole / "checkpoint-20", killed / "checkpoint-20")
    lines = (whole / "metrics.jsonl").read_text().splitlines()
    (killed / "metrics.jsonl").write_text("\n".join(lines[:22]) + "\n")
    settings = SFTSettings(
        model=str(tiny_model), data=(str(SEEDS),), output=killed, max_length=256, batch_size=4, max_steps=40,
        optimizer=OptimizerSettings(lr=1e-2), eval_fraction=0.0, device="cpu", lora=LORA, save_every=20, resume=True,
    )  # fmt: skip
    result = train_sft(settings, progress=False)
    assert result["resumed_from"] == killed / "checkpoint-20"
    assert losses(killed) == losses(whole)


def test_an_adapter_folder_answers_as_a_local_model(sft_run, tmp_path):
    from curate.llm.backend import ChatRequest, Sampling
    from curate.llm.local import LocalBackend

    _, result = sft_run
    greedy = Sampling(temperature=0.0, max_tokens=10)
    requests = [ChatRequest.of([{"role": "user", "content": f"Name a colour {n}"}], greedy) for n in range(2)]
    adapter = LocalBackend(result["final"], device="cpu")
    merged = LocalBackend(result["merged"], device="cpu")
    assert [c.text for c in adapter.complete(requests)] == [c.text for c in merged.complete(requests)]
    assert adapter.identity()["weights"] != merged.identity()["weights"]


# ------------------------------------------------------------------------------ DPO


def dpo_settings(model: Path, run: Path, **changes):
    from curate.train.settings import DPOSettings

    values = dict(
        model=str(model), data=(str(PAIRS),), output=run, batch_size=4, max_steps=12, eval_fraction=0.0,
        optimizer=OptimizerSettings(lr=1e-2), device="cpu", lora=LORA,
    )  # fmt: skip
    return DPOSettings(**(values | changes))


def test_lora_dpo_learns_with_the_base_as_reference(tiny_model, tmp_path, monkeypatch):
    from curate.train import dpo_reference
    from curate.train.dpo import train_dpo

    def no_copies(*_):
        raise AssertionError("a LoRA policy's reference is its base with the adapters off, not a copy")

    monkeypatch.setattr(dpo_reference, "frozen", no_copies)  # the live reference's copy would be frozen
    train_dpo(dpo_settings(tiny_model, tmp_path / "live", ref="live"), progress=False)
    result = train_dpo(dpo_settings(tiny_model, tmp_path / "pre", ref="precompute"), progress=False)
    live, pre = losses(tmp_path / "live"), losses(tmp_path / "pre")
    assert live == pytest.approx(pre, abs=1e-5)
    assert live[0] == pytest.approx(0.6931, abs=1e-3)  # a fresh adapter: the policy is its reference
    assert mean(live[-4:]) < 0.8 * live[0]
    assert mean(losses(tmp_path / "live", "rewards/accuracies")[-4:]) > 0.7
    assert (result["final"] / "adapter_model.safetensors").is_file() and result["reference_logps"].is_file()


def test_lora_dpo_from_an_sft_adapter(sft_run, tmp_path):
    """A LoRA SFT run's final/ is a model: DPO loads it merged into its base and adds new adapters."""
    from curate.train.dpo import train_dpo

    _, sft = sft_run
    result = train_dpo(dpo_settings(sft["final"], tmp_path / "dpo", max_steps=2), progress=False)
    config = json.loads((result["final"] / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(sft["final"].resolve())
    run_cli("merge-lora", result["final"], "-o", tmp_path / "merged")
    assert (tmp_path / "merged" / "model.safetensors").is_file()


# ------------------------------------------------------------------------------ reward model


def test_lora_reward_model_learns_and_judges_as_an_adapter(tiny_model, tmp_path):
    from curate.llm.reward_model import RewardScorer
    from curate.train.rm import RMSettings, train_rm

    settings = RMSettings(
        model=str(tiny_model), data=(str(PAIRS),), output=tmp_path / "rm", max_length=512, batch_size=4,
        max_steps=30, eval_fraction=0.0, optimizer=OptimizerSettings(lr=1e-2), device="cpu", lora=LORA, merge=True,
    )  # fmt: skip
    result = train_rm(settings, progress=False)
    accuracy = losses(tmp_path / "rm", "accuracy")
    assert mean(accuracy[-5:]) > 0.8 and mean(losses(tmp_path / "rm")[-5:]) < 0.5
    trainable, _ = result["parameters"]
    hidden = transformers.AutoConfig.from_pretrained(tiny_model).hidden_size
    adapted = peft.PeftModel.from_pretrained(
        transformers.AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1), result["final"]
    )
    assert trainable == lora_parameters(adapted) + hidden  # the adapters and the new score head
    conversations = [
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}],
        [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}],
    ]
    from_adapter = RewardScorer(result["final"], device="cpu").score(conversations)
    from_merged = RewardScorer(result["merged"], device="cpu").score(conversations)
    assert from_adapter == pytest.approx(from_merged, abs=1e-4)
    assert from_adapter[0] != pytest.approx(from_adapter[1], abs=1e-3)


# ------------------------------------------------------------------------------ the command line


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
@pytest.mark.parametrize("command", ["train-sft", "train-dpo", "train-rm"])
def test_load_in_4bit_without_cuda_is_one_line(command, tiny_model, tmp_path):
    data = SEEDS if command == "train-sft" else PAIRS
    result = run_cli(command, data, "-o", tmp_path / "run", "--model", tiny_model, "--lora", "--load-in-4bit", expect=2)
    assert "needs a CUDA GPU" in result.output and len(result.output.strip().splitlines()) == 1
    result = run_cli(command, data, "-o", tmp_path / "run2", "--model", tiny_model, "--load-in-4bit", expect=2)
    assert "add --lora" in result.output


def test_bad_lora_target_is_one_line(tiny_model, tmp_path):
    result = run_cli(
        "train-sft", SEEDS, "-o", tmp_path / "run", "--model", tiny_model, "--lora", "--lora-target", "no_such_proj",
        "--max-steps", "1", "--no-progress", expect=2,
    )  # fmt: skip
    assert "--lora-target" in result.output and len(result.output.strip().splitlines()) == 1


def test_the_qlora_preparation_runs_on_a_plain_model(tiny_model):
    """`--load-in-4bit` needs CUDA to load; the preparation it runs after loading (peft's
    prepare_model_for_kbit_training, then the adapters, with checkpointing) is checked here."""
    from curate.train.lora import apply_lora, parameter_counts

    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    wrapped = apply_lora(model, LORA, "CAUSAL_LM", str(tiny_model), quantized=True, checkpointing=True)
    wrapped.train()
    trainable, total = parameter_counts(wrapped)
    assert trainable == lora_parameters(wrapped) and 0 < trainable < total
    ids = torch.randint(0, 400, (2, 16), generator=torch.Generator().manual_seed(0))
    wrapped(input_ids=ids, labels=ids).loss.backward()
    grads = [p.grad for name, p in wrapped.named_parameters() if "lora_B" in name]  # A gets none while B = 0
    assert grads and all(grad is not None and grad.abs().sum() > 0 for grad in grads)


def test_hostile_adapter_folders_are_one_line(sft_run, tmp_path):
    """A loop of adapters naming each other, and a rank the weights do not hold (peft would
    build adapters of that size before reading the file), are refused before anything loads."""
    _, result = sft_run

    def adapter_copy(name: str, **config_changes) -> Path:
        folder = tmp_path / name
        shutil.copytree(result["final"], folder)
        config = json.loads((folder / "adapter_config.json").read_text()) | config_changes
        (folder / "adapter_config.json").write_text(json.dumps(config))
        return folder

    first = adapter_copy("first", base_model_name_or_path=str(tmp_path / "second"))
    adapter_copy("second", base_model_name_or_path=str(first))
    itself = adapter_copy("itself", base_model_name_or_path=str(tmp_path / "itself"))
    inflated = adapter_copy("inflated", r=1_000_000)
    for folder, message in ((first, "loop"), (itself, "names itself"), (inflated, "declares rank 1000000")):
        refused = run_cli("merge-lora", folder, "-o", tmp_path / f"{folder.name}-merged", expect=2)
        assert message in refused.output and len(refused.output.strip().splitlines()) == 1, refused.output
