"""`curate train-ppo`: InstructGPT's step 3, PPO against a reward model, one loop to read top to bottom.

Each step: the policy answers a batch of prompts; the reward model scores each completion at
its last token; every token also pays a KL penalty (`--kl-coef` x log pi/pi_ref) for straying
from the frozen reference, the guard against reward hacking. A value model predicts the return
at every token; GAE turns rewards and values into advantages (whitened), and several PPO epochs
take clipped policy and value steps on the same rollouts.

The formulas are TRL's PPOTrainer (v1.9, trl.experimental.ppo; tests/test_train_ppo_trl.py
compares the terms with it on the same rollouts): the score is added at the token after the
completion's last (at its last when it fills the budget); the value loss reaches one token
further than the policy loss; `missing_eos_penalty` lowers the score of a completion that never
ended. The adaptive KL controller (`--target-kl`) is Ziegler et al.'s proportional one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from curate.errors import UserError
from curate.train.rl.common import RLSettings
from curate.train.rl.rollout import Sampling
from curate.train.rl.values import token_values


@dataclass(frozen=True)
class PPOSettings(RLSettings):
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.7, max_new_tokens=53))  # TRL's
    kl_coef: float = 0.05
    kl_estimator: str = "k1"  # k1: log pi/pi_ref; k3: (r - 1) - log r, unbiased and never negative
    target_kl: float | None = None  # adaptive controller: aim the per-completion KL at this
    kl_horizon: int = 10_000
    vf_coef: float = 0.1
    cliprange_value: float = 0.2
    gamma: float = 1.0
    lam: float = 0.95
    ppo_epochs: int = 4
    mini_batches: int = 1
    whiten_rewards: bool = False

    def check(self) -> None:
        super().check()
        if self.kl_estimator not in ("k1", "k3"):
            raise UserError("--kl-estimator is k1 or k3")
        if self.batch_size % (self.mini_batches * self.grad_accum):
            raise UserError(
                f"--batch-size {self.batch_size} must split into --mini-batches {self.mini_batches} "
                f"x --grad-accum {self.grad_accum}"
            )


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    mean = masked_mean(values, mask)
    variance = masked_mean((values - mean) ** 2, mask)
    count = mask.sum()
    variance = variance * count / (count - 1).clamp(min=1)  # Bessel, as TRL
    whitened = (values - mean) * torch.rsqrt(variance + 1e-8)
    return whitened if shift_mean else whitened + mean


def advantages_and_returns(
    logprobs, ref_logprobs, values, scores, mask, settings: PPOSettings, kl_coef: float
) -> dict[str, torch.Tensor]:
    """The rollout's per-token rewards (KL penalty, score at the end), GAE advantages (whitened)
    and returns. `mask` [N, R] marks the kept completion tokens; returns a dict of tensors."""
    mask = mask.bool()
    lengths = mask.sum(1)
    last = lengths - 1
    width = mask.shape[1]
    positions = torch.arange(width, device=mask.device).unsqueeze(0)
    value_mask = positions <= (last + 1).unsqueeze(1)  # the value loss reaches one token further
    logprobs = logprobs.masked_fill(~mask, 0.0)
    ref_logprobs = ref_logprobs.masked_fill(~mask, 0.0)
    values = values.masked_fill(~value_mask, 0.0)
    log_ratio = ref_logprobs - logprobs
    kl = -log_ratio if settings.kl_estimator == "k1" else (log_ratio.exp() - 1) - log_ratio
    non_score = -kl_coef * kl
    rewards = non_score.clone()
    end = torch.where(last + 1 < width, last + 1, last)
    rewards[torch.arange(len(end), device=rewards.device), end] += scores
    if settings.whiten_rewards:
        rewards = masked_whiten(rewards, value_mask, shift_mean=False).masked_fill(~value_mask, 0.0)
    running = torch.zeros_like(scores)
    reversed_advantages = []
    for t in reversed(range(width)):
        next_values = values[:, t + 1] if t < width - 1 else 0.0
        delta = rewards[:, t] + settings.gamma * next_values - values[:, t]
        running = delta + settings.gamma * settings.lam * running
        reversed_advantages.append(running)
    advantages = torch.stack(reversed_advantages[::-1], dim=1)
    returns = advantages + values
    advantages = masked_whiten(advantages, mask).masked_fill(~mask, 0.0)
    return {
        "logprobs": logprobs, "values": values, "returns": returns, "advantages": advantages, "kl": kl,
        "non_score": non_score, "mask": mask, "value_mask": value_mask,
    }  # fmt: skip


def ppo_loss(new_logprobs, value_predictions, terms: dict, settings: PPOSettings) -> tuple[torch.Tensor, dict]:
    """Clipped policy loss + vf_coef x clipped value loss on a micro-batch of `terms`, and its stats."""
    mask, value_mask = terms["mask"], terms["value_mask"]
    new_logprobs = new_logprobs.masked_fill(~mask, 0.0)
    predictions = value_predictions.masked_fill(~value_mask, 0.0)
    clipped_predictions = torch.clamp(
        predictions, terms["values"] - settings.cliprange_value, terms["values"] + settings.cliprange_value
    )
    value_losses = (predictions - terms["returns"]) ** 2
    clipped_value_losses = (clipped_predictions - terms["returns"]) ** 2
    value_loss = 0.5 * masked_mean(torch.max(value_losses, clipped_value_losses), value_mask)
    log_ratio = new_logprobs - terms["logprobs"]
    ratio = torch.exp(log_ratio)
    policy_losses = -terms["advantages"] * ratio
    clipped_policy_losses = -terms["advantages"] * torch.clamp(ratio, 1 - settings.epsilon, 1 + settings.epsilon)
    policy_loss = masked_mean(torch.max(policy_losses, clipped_policy_losses), mask)
    with torch.no_grad():
        stats = {
            "policy_loss": float(policy_loss),
            "value_loss": float(value_loss),
            "clip_fraction": float(masked_mean((clipped_policy_losses > policy_losses).float(), mask)),
            "value_clip_fraction": float(masked_mean((clipped_value_losses > value_losses).float(), value_mask)),
            "approx_kl": float(0.5 * (log_ratio**2).mean()),
            "ratio": float(ratio.mean()),
        }
    return policy_loss + settings.vf_coef * value_loss, stats


class AdaptiveKL:
    """Ziegler et al. (2019): move the KL coefficient so the KL stays near `target`."""

    def __init__(self, coef: float, target: float | None, horizon: int) -> None:
        self.value, self.target, self.horizon = coef, target, horizon

    def update(self, kl: float, samples: int) -> None:
        if self.target is None:
            return
        error = min(max(kl / self.target - 1, -0.2), 0.2)
        self.value *= 1 + error * samples / self.horizon


def train_ppo(settings: PPOSettings, progress: bool = True) -> dict:
    from curate.train.rl.loop import RLRun

    settings.check()
    steps_per_rollout = settings.ppo_epochs * settings.mini_batches
    run = RLRun(settings, progress, optimizer_steps_per_step=steps_per_rollout, name="train-ppo", value=True)
    controller = AdaptiveKL(settings.kl_coef, settings.target_kl, settings.kl_horizon)
    if run.resumed_from is not None:
        from curate.train.checkpoint import load_state

        controller.value = float(load_state(run.resumed_from)["progress"].get("kl_coef", settings.kl_coef))
    for step in run.steps():
        started = time.perf_counter()
        rollout, totals, each = run.rollout(run.next_prompts())
        generated = time.perf_counter()
        with torch.no_grad(), run.autocast():  # as the training forward computes them
            logprobs = run.policy_logps(rollout)
            reference = run.reference.logps(rollout, run.device)
            inputs, _ = run.inputs(rollout)
            values = token_values(run.value, **inputs)[:, rollout.context - 1 : -1]
            scores = torch.tensor(totals, dtype=torch.float32, device=values.device)
            terms = advantages_and_returns(
                logprobs, reference.to(logprobs.device), values, scores,
                rollout.completion_mask.to(values.device), settings, controller.value,
            )  # fmt: skip
        rows = len(rollout.texts)
        collected: dict[str, list[float]] = {}
        for _ in range(settings.ppo_epochs):
            order = torch.randperm(rows)
            for mini_batch in order.chunk(settings.mini_batches):
                micro_batches = mini_batch.chunk(settings.grad_accum)
                mini_batch_losses = []
                for number, indices in enumerate(micro_batches):
                    part = rollout.rows(indices)
                    part_terms = {name: value[indices.to(value.device)] for name, value in terms.items()}
                    with run.sync(number == len(micro_batches) - 1), run.autocast():
                        new_logprobs, predictions = run.train_logps_and_values(part)
                        loss, stats = ppo_loss(new_logprobs, predictions.float(), part_terms, settings)
                        (loss / len(micro_batches)).backward()
                    for name, value in stats.items():
                        collected.setdefault(name, []).append(value)
                    mini_batch_losses.append(stats["policy_loss"] + settings.vf_coef * stats["value_loss"])
                grad_norm = run.optimizer_step(sum(mini_batch_losses) / len(mini_batch_losses), step)
        kl_sums = terms["kl"].sum(1).cpu()
        record = run.record(step, rollout, totals, each, kl_sums, logprobs.cpu(), started, generated)
        means = {name: sum(values) / len(values) for name, values in collected.items()}
        record |= {
            "loss": means["policy_loss"] + settings.vf_coef * means["value_loss"],
            **means,
            "grad_norm": grad_norm,
            "non_score_reward": float(terms["non_score"].sum(1).mean()),
            "kl_coef": controller.value,
        }
        controller.update(record["kl"], rows * run.dist.world)
        run.folder.progress_extra = {"kl_coef": controller.value}
        run.end_step(step, record, rollout, totals)
    return run.finish()
