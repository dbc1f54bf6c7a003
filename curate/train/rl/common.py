"""What train-ppo and train-grpo share: their settings, the frozen reference, the rollout of a
step (prompts -> completions -> rewards), the samples log, metrics over processes, and the
reward-hacking guard (`--max-kl`)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from curate.errors import RunFailed, UserError
from curate.train.rl.rollout import Sampling
from curate.train.settings import OptimizerSettings, TrainSettings

if TYPE_CHECKING:
    from curate.train.run_folder import MetricsLog


@dataclass(frozen=True)
class RLSettings(TrainSettings):
    """A PPO or GRPO run. `batch_size` is prompts per step per process; `max_length` bounds
    prompt + completion (the prompt keeps its last max_length - max_new_tokens tokens);
    `grad_accum` splits a step's rollouts into that many micro-batches."""

    max_length: int = 1024
    batch_size: int = 8
    eval_fraction: float = 0.0
    optimizer: OptimizerSettings = field(default_factory=lambda: OptimizerSettings(lr=1e-6))
    rewards: tuple[str, ...] = ()
    reward_weights: tuple[float, ...] = ()
    sampling: Sampling = field(default_factory=Sampling)
    missing_eos_penalty: float | None = None  # taken off the score of a completion without EOS
    max_kl: float | None = None  # stop when the policy's KL to the reference passes it
    epsilon: float = 0.2  # the clip range of the policy ratio

    def check(self) -> None:
        super().check()
        if self.fsdp:
            raise UserError("--fsdp is not supported by train-ppo and train-grpo yet; use DDP (plain torchrun)")
        if self.merge and self.lora is None:
            raise UserError("--merge merges a LoRA adapter into its base: it needs --lora")
        if self.sampling.max_new_tokens >= self.max_length:
            raise UserError(
                f"--max-new-tokens {self.sampling.max_new_tokens} leaves no room for the prompt in "
                f"--max-length {self.max_length}"
            )
        if self.sampling.temperature <= 0:
            raise UserError("--temperature must be above 0: the policy samples its completions")

    @property
    def max_prompt_tokens(self) -> int:
        return self.max_length - self.sampling.max_new_tokens


def disable_dropout(model) -> None:
    """RL compares log-probabilities of one policy at two moments: dropout would make them
    differ by chance (TRL switches it off too)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


class Reference:
    """Log-probabilities under the frozen starting policy: the LoRA policy with its adapter
    switched off (no second copy of the weights), else a second, frozen copy of --model."""

    def __init__(self, settings: RLSettings, policy, policy_scorer, device, dtype: torch.dtype) -> None:
        from curate.train.lean_loss import token_scorer
        from curate.train.lora import is_peft_model
        from curate.train.models import load_model

        self.adapter_off = is_peft_model(policy)
        self.policy = policy
        if self.adapter_off:
            self.scorer = policy_scorer
        else:
            reference = load_model(settings.model, device, dtype)[0]  # frozen: bf16 under bf16 autocast
            reference.eval().requires_grad_(False)
            self.scorer = token_scorer(reference, device, settings.loss_chunk_tokens)
            self.scorer.temperature = settings.sampling.temperature

    @torch.no_grad()
    def logps(self, rollout, device) -> torch.Tensor:
        from curate.train.rl.rollout import completion_logps

        switched = self.policy.disable_adapter() if self.adapter_off else contextlib.nullcontext()
        with switched:
            return completion_logps(self.scorer, rollout, device)


def write_sample(samples, step: int, rollout, totals: list[float]) -> None:
    """One rollout of the step (its first) in samples.jsonl, to read what the policy learns."""
    if samples is None:
        return
    prompt = rollout.prompts[0]
    samples.log(
        {
            "step": step,
            "prompt_id": prompt.id,
            "prompt": prompt.messages[-1]["content"],
            "completion": rollout.texts[0],
            "reward": totals[0],
            "ended": bool(rollout.ends_with_eos[0]),
        }
    )


def samples_log(output: Path, resumed_at: int | None, is_main: bool) -> MetricsLog | None:
    from curate.train.run_folder import MetricsLog

    return MetricsLog(Path(output) / "samples.jsonl", resumed_at) if is_main else None


def rollout_metrics(dist, rollout, totals: list[float], each: dict[str, list[float]], kl_sums) -> dict:
    """reward mean and std, each reward's mean, KL (per completion, summed over its tokens),
    entropy (minus the mean log-probability of the sampled tokens), completion length and the
    share of completions that end with EOS, over every process's rollouts."""
    lengths = rollout.completion_mask.sum(1).float()
    values = [
        sum(totals), sum(value * value for value in totals), float(len(totals)),
        float(lengths.sum()), float(rollout.ends_with_eos.sum()),
        float(kl_sums.sum()) if kl_sums is not None else 0.0,
    ]  # fmt: skip
    named = list(each)
    for name in named:
        present = [value for value in each[name] if not math.isnan(value)]
        values += [sum(present), float(len(present))]
    summed = dist.sum(values)
    total, squares, count, length, ended, kl = summed[:6]
    mean = total / count
    record = {
        "reward": mean,
        "reward_std": math.sqrt(max(squares / count - mean * mean, 0.0) * count / max(count - 1, 1)),
        "completion_length": length / count,
        "eos_share": ended / count,
    }
    if kl_sums is not None:
        record["kl"] = kl / count
    if len(named) > 1:
        for number, name in enumerate(named):
            part, present = summed[6 + 2 * number : 8 + 2 * number]
            record[f"reward/{name}"] = part / present if present else None
    return record


def check_kl(record: dict, max_kl: float | None, step: int, output: Path) -> None:
    """The reward-hacking guard: a policy whose KL to the reference passes --max-kl has left what
    the reward model knows how to judge. Step N's KL is that of the rollouts of the weights
    saved at step N - 1, so the last good checkpoint is one from step N - 2 or before."""
    from curate.train.checkpoint import latest_checkpoint

    kl = record.get("kl")
    if max_kl is None or kl is None or kl <= max_kl:
        return
    good = latest_checkpoint(output, at_most=step - 2)
    kept = f"the last good checkpoint is {good}" if good else "no checkpoint passed the check"
    raise RunFailed(
        f"KL to the reference reached {kl:.3f} at step {step}, over --max-kl {max_kl}; training stopped ({kept}). "
        "Raise the KL penalty, lower --lr, or check the samples for reward hacking"
    )


def apply_missing_eos_penalty(totals: list[float], rollout, penalty: float | None) -> list[float]:
    if penalty is None:
        return totals
    return [value - penalty if not ended else value for value, ended in zip(totals, rollout.ends_with_eos.tolist())]
