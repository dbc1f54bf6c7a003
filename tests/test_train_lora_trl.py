"""LoRA DPO against TRL: one step of curate's --lora train-dpo equals TRL's DPOTrainer with the
same `peft_config` and no `ref_model` (the reference is the base, the adapters disabled).

A fresh adapter is a no-op (B = 0), so its first step is log 2 on both sides whatever either
does. Both sides' adapters are therefore set, after peft wrapped the model, to the same seeded
non-zero weights: the policy differs from its reference and every metric means something.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")
pytest.importorskip("trl")

from curate.train import lora  # noqa: E402
from curate.train.dpo import PAIR_METRICS, DPOSettings, train_dpo  # noqa: E402
from curate.train.run_folder import read_metrics  # noqa: E402
from curate.train.settings import OptimizerSettings  # noqa: E402

from .conftest import REPO  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
LORA = lora.LoraSettings(r=8, alpha=16, dropout=0.0, target="all-linear")
BETA = 0.1
pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    # TRL's get_peft_model asks transformers 5 for a renamed property (curate's apply_lora silences the same)
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("lora-trl") / "model")


def peft_config(settings: lora.LoraSettings = LORA):
    """The LoraConfig that curate's `apply_lora` builds from `settings`, for TRL's `peft_config`."""
    return peft.LoraConfig(
        r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules=settings.target_modules(), task_type="CAUSAL_LM",
    )  # fmt: skip


def seed_adapters(model) -> dict[str, torch.Tensor]:
    """Every LoRA A and B of `model` drawn from one seeded generator in name order; a copy of each."""
    generator = torch.Generator().manual_seed(3)
    adapters = {}
    with torch.no_grad():
        for name, parameter in sorted(model.named_parameters()):
            if "lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
                adapters[name] = parameter.detach().clone()
    return adapters


def rows() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def trl_first_step(tiny_model, tmp_path_factory) -> dict:
    """TRL 1.16's DPOTrainer with `peft_config` and `ref_model=None` on all 16 pairs in one batch:
    the loss and metrics of its first step, its gradient norm, its adapters and their config."""
    import datasets
    import trl

    args = trl.DPOConfig(
        output_dir=str(tmp_path_factory.mktemp("lora-trl") / "trl"), report_to="none", per_device_train_batch_size=16,
        use_cpu=True, bf16=False, activation_checkpointing=False, max_length=1024, beta=BETA, loss_type=["sigmoid"],
    )  # fmt: skip
    trainer = trl.DPOTrainer(
        model=transformers.AutoModelForCausalLM.from_pretrained(tiny_model),
        ref_model=None,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows()),
        processing_class=transformers.AutoTokenizer.from_pretrained(tiny_model),
        peft_config=peft_config(),
    )
    model = trainer.model
    # the reference is the policy with its adapters disabled: no second model, no "ref" adapter copy
    assert trainer.ref_model is None and lora.is_peft_model(model) and list(model.peft_config) == ["default"]
    adapters = seed_adapters(model)

    batch = trainer.data_collator([trainer.train_dataset[index] for index in range(len(trainer.train_dataset))])
    model.train()
    loss = trainer.compute_loss(model, batch)
    loss.backward()
    gradients = [parameter.grad for parameter in model.parameters() if parameter.grad is not None]
    metrics = {name: values[-1] for name, values in trainer._metrics["train"].items()}
    metrics["loss"] = loss.item()
    metrics["grad_norm"] = torch.linalg.vector_norm(torch.stack([g.norm() for g in gradients])).item()
    config = model.peft_config["default"]
    return {"metrics": metrics, "adapters": adapters, "config": config}


@pytest.mark.parametrize("ref", ["live", "precompute"])
def test_lora_dpo_first_step_equals_trl(tiny_model, trl_first_step, tmp_path, monkeypatch, ref):
    # curate: its own apply_lora, then the same seeded adapter weights as TRL's
    ours_adapters = {}
    apply_lora = lora.apply_lora

    def seeded_apply_lora(*args, **kwargs):
        wrapped = apply_lora(*args, **kwargs)
        ours_adapters.update(seed_adapters(wrapped))
        return wrapped

    monkeypatch.setattr(lora, "apply_lora", seeded_apply_lora)
    run = tmp_path / "run"
    settings = DPOSettings(
        model=str(tiny_model), data=(str(PAIRS),), output=run, batch_size=16, max_steps=1, eval_fraction=0.0,
        optimizer=OptimizerSettings(lr=1e-3), device="cpu", seed=0, beta=BETA, ref=ref, lora=LORA,
    )  # fmt: skip
    result = train_dpo(settings, progress=False)
    ours = read_metrics(run / "metrics.jsonl")[0]

    # the same adapters on the same modules, of the same rank and scale, and the same starting weights
    theirs_adapters = trl_first_step["adapters"]
    assert ours_adapters.keys() == theirs_adapters.keys()
    assert len(ours_adapters) == 2 * 7 * 2  # A and B on 7 linear layers in each of 2 blocks
    for name, weight in ours_adapters.items():
        assert torch.equal(weight, theirs_adapters[name]), name
    saved = json.loads((result["final"] / "adapter_config.json").read_text())
    config = trl_first_step["config"]
    assert (saved["r"], saved["lora_alpha"], saved["lora_dropout"]) == (config.r, config.lora_alpha, 0.0)
    assert set(saved["target_modules"]) == set(config.target_modules)

    theirs = trl_first_step["metrics"]
    # a real test: the adapters move the policy away from its base, the reference
    assert abs(theirs["rewards/chosen"]) > 1e-3 and abs(theirs["rewards/rejected"]) > 1e-3
    assert abs(theirs["loss"] - 0.693147) > 1e-3
    differences = {name: abs(ours[name] - theirs[name]) for name in (*PAIR_METRICS, "grad_norm")}
    print(f"ref={ref}; TRL:", {name: theirs[name] for name in differences}, "abs differences:", differences)
    for name in ("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"):
        assert differences[name] < 1e-4, (name, differences)
    for name in ("logps/chosen", "logps/rejected"):  # sums of ~-800: equal to float32's last bits
        assert ours[name] == pytest.approx(theirs[name], rel=1e-6), (name, differences)
    # the gradient of the adapters (the norm before clipping) is TRL's too
    assert ours["grad_norm"] == pytest.approx(theirs["grad_norm"], rel=1e-4), differences
