"""train-grpo's loss equals TRL 1.16's GRPOTrainer on the same fixed rollouts (1e-5): every
aggregation (--loss), the KL penalty (--beta), clip-higher and the sampling temperature."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
trl = pytest.importorskip("trl")
pytest.importorskip("datasets")

from curate.train.lean_loss import token_scorer  # noqa: E402
from curate.train.rl.grpo import aggregate, token_losses  # noqa: E402
from curate.train.rl.rollout import Rollout, completion_logps  # noqa: E402

from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROWS, PROMPT, COMPLETION = 4, 5, 6


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_chat_model(tmp_path_factory.mktemp("grpo-trl") / "model")


def trl_trainer(model_folder, output, **config):
    from datasets import Dataset

    def unused_reward(prompts, completions, **columns):
        return [0.0] * len(completions)

    args = trl.GRPOConfig(
        output_dir=str(output), use_cpu=True, bf16=False, report_to="none", gradient_checkpointing=False,
        per_device_train_batch_size=ROWS, num_generations=2, max_completion_length=COMPLETION, logging_steps=1,
        save_strategy="no", disable_dropout=True, **config,
    )  # fmt: skip
    model = transformers.AutoModelForCausalLM.from_pretrained(model_folder, dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_folder)
    data = Dataset.from_dict({"prompt": ["a", "b", "c", "d"]})
    trainer = trl.GRPOTrainer(
        model=model, reward_funcs=unused_reward, args=args, train_dataset=data, processing_class=tokenizer
    )
    trainer.current_gradient_accumulation_steps = 1  # Trainer.train() sets it; _compute_loss divides by it
    return trainer


def fixed_rollout(vocab: int) -> tuple[dict, Rollout]:
    """Prompts of one length (TRL passes no position ids), completions padded on the right."""
    generator = torch.Generator().manual_seed(0)
    prompt_ids = torch.randint(10, vocab, (ROWS, PROMPT), generator=generator)
    completion_ids = torch.randint(10, vocab, (ROWS, COMPLETION), generator=generator)
    completion_mask = torch.ones(ROWS, COMPLETION, dtype=torch.long)
    completion_mask[1, 4:] = 0
    completion_mask[3, 2:] = 0
    inputs = {
        "prompt_ids": prompt_ids, "prompt_mask": torch.ones(ROWS, PROMPT, dtype=torch.long),
        "completion_ids": completion_ids, "completion_mask": completion_mask,
        "advantages": torch.tensor([1.0, -0.5, 0.7, -1.2]), "num_items_in_batch": completion_mask.sum(),
    }  # fmt: skip
    rollout = Rollout(
        prompts=[None] * ROWS, input_ids=torch.cat([prompt_ids, completion_ids], 1),
        attention_mask=torch.cat([inputs["prompt_mask"], completion_mask], 1), context=PROMPT,
        completion_mask=completion_mask.bool(), ends_with_eos=torch.zeros(ROWS, dtype=torch.bool), texts=[""] * ROWS,
    )  # fmt: skip
    return inputs, rollout


CASES = [
    {"loss_type": "dapo"},
    {"loss_type": "grpo"},
    {"loss_type": "dr_grpo"},
    {"loss_type": "bnpo"},
    {"loss_type": "dapo", "epsilon_high": 0.28},
    {"loss_type": "grpo", "beta": 0.04},
    {"loss_type": "dapo", "beta": 0.1, "temperature": 0.7},
]


@pytest.mark.parametrize("config", CASES, ids=lambda config: "-".join(f"{k}={v}" for k, v in config.items()))
def test_grpo_loss_and_gradients_equal_trl(config, tiny_model, tmp_path):
    trainer = trl_trainer(tiny_model, tmp_path / "trl", **config)
    trainer.model.train()
    inputs, rollout = fixed_rollout(trainer.model.config.vocab_size)
    temperature = config.get("temperature", 1.0)
    ours = transformers.AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    scorer = token_scorer(ours, "cpu")
    scorer.temperature = temperature
    mask = rollout.completion_mask
    with torch.no_grad():  # the policy that sampled, perturbed so that ratios leave the clip range
        noise = torch.Generator().manual_seed(1)
        old = completion_logps(scorer, rollout, "cpu") + 0.3 * torch.randn(mask.shape, generator=noise)
        reference = completion_logps(scorer, rollout, "cpu") + 0.2 * torch.randn(mask.shape, generator=noise)
    inputs["old_per_token_logps"] = old.masked_fill(~mask, 0.0)
    if config.get("beta"):
        inputs["ref_per_token_logps"] = reference.masked_fill(~mask, 0.0)

    trl_loss = trainer._compute_loss(trainer.model, inputs)
    trl_loss.backward()

    logps = completion_logps(scorer, rollout, "cpu")
    eps_high = config.get("epsilon_high", 0.2)
    per_token, _, _ = token_losses(
        logps, inputs["old_per_token_logps"], inputs.get("ref_per_token_logps"), inputs["advantages"],
        config.get("beta", 0.0), 0.2, eps_high,
    )  # fmt: skip
    loss = aggregate(per_token, mask, config["loss_type"], 1, float(mask.sum()), COMPLETION)
    loss.backward()

    assert abs(loss.item() - trl_loss.item()) < 1e-5, (loss.item(), trl_loss.item())
    theirs = dict(trainer.model.named_parameters())
    for name, parameter in ours.named_parameters():
        assert torch.allclose(parameter.grad, theirs[name].grad, atol=1e-5, rtol=1e-4), name
