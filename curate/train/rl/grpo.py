"""`curate train-grpo`: Group Relative Policy Optimisation (and RLOO), one loop to read top to bottom.

Each step: every prompt of the batch gets G completions from the policy; each completion's
reward is compared with its group's (the same prompt's other completions), which replaces
PPO's value model as the baseline; the policy then takes the clipped-ratio step on those
advantages, token by token, with an optional KL penalty (`--beta`) to the frozen reference.

The formulas are TRL 1.16's `GRPOTrainer` (tests/test_train_grpo.py checks the loss against it):
- advantage, `group`: (r - mean of the group) / (std of the group + 1e-4): a group whose
  completions all earn the same reward has advantage 0, never NaN; `rloo`: r minus the mean of
  the group's other completions (RLOO's leave-one-out baseline), not scaled;
- per token: -min(ratio * A, clip(ratio, 1 - eps, 1 + eps_high) * A) + beta * KL, with ratio
  = pi / pi_old and KL = exp(ref - logp) - (ref - logp) - 1, times the ratio (TRL's
  bias-corrected estimator);
- `--loss grpo`: mean over completions of each one's token mean; `dr_grpo`: token sum over
  (completions x max new tokens); `dapo` (TRL's default): token sum over the step's tokens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from curate.errors import UserError
from curate.train.rl.common import RLSettings

ADVANTAGES = ("group", "rloo")
LOSSES = ("grpo", "dr_grpo", "dapo", "bnpo")


@dataclass(frozen=True)
class GRPOSettings(RLSettings):
    num_generations: int = 8  # G, completions per prompt
    beta: float = 0.0  # KL penalty; 0 loads no reference (unless --max-kl asks to watch the KL)
    loss: str = "dapo"
    advantage: str = "group"
    iterations: int = 1  # optimizer steps on each batch of rollouts (TRL's num_iterations)
    epsilon_high: float | None = None  # the upper clip (DAPO's clip-higher); None: epsilon

    def check(self) -> None:
        super().check()
        if self.num_generations < 2:
            raise UserError("--num-generations must be at least 2: a group needs another completion to compare with")
        if self.loss not in LOSSES or self.advantage not in ADVANTAGES:
            raise UserError(f"--loss is one of {', '.join(LOSSES)} and --advantage one of {', '.join(ADVANTAGES)}")
        rows = self.batch_size * self.num_generations
        if rows % self.grad_accum:
            raise UserError(f"--grad-accum {self.grad_accum} must divide the step's {rows} completions")


def group_advantages(rewards: torch.Tensor, group: int, kind: str = "group") -> torch.Tensor:
    """Each completion's advantage within its group of `group` consecutive completions."""
    grouped = rewards.view(-1, group)
    if kind == "rloo":
        others = (grouped.sum(1, keepdim=True) - grouped) / (group - 1)
        return (grouped - others).view(-1)
    mean = grouped.mean(1, keepdim=True)
    std = grouped.std(1, keepdim=True)
    return ((grouped - mean) / (std + 1e-4)).view(-1)


def token_losses(
    logps, old_logps, ref_logps, advantages, beta: float, eps_low: float, eps_high: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(per-token loss [N, R], ratio [N, R], per-token KL or None)."""
    ratio = torch.exp(logps - old_logps)
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    advantage = advantages.unsqueeze(1)
    per_token = -torch.min(ratio * advantage, clipped * advantage)
    kl = None
    if ref_logps is not None and beta != 0.0:
        difference = ref_logps - logps
        kl = (torch.exp(difference) - difference - 1) * ratio
        per_token = per_token + beta * kl
    return per_token, ratio, kl


def aggregate(per_token, mask, loss: str, micro_batches: int, step_tokens: float, max_new_tokens: int) -> torch.Tensor:
    """One micro-batch's share of the step's loss (so the step's gradient is the loss's)."""
    mask = mask.to(per_token.dtype)
    if loss == "grpo":
        return ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean() / micro_batches
    if loss == "bnpo":
        return (per_token * mask).sum() / mask.sum().clamp(min=1) / micro_batches
    if loss == "dr_grpo":
        return (per_token * mask).sum() / (per_token.shape[0] * max_new_tokens) / micro_batches
    return (per_token * mask).sum() / max(step_tokens, 1.0)  # dapo: every token of the step counts the same


def train_grpo(settings: GRPOSettings, progress: bool = True) -> dict:
    from curate.train.rl.loop import RLRun

    settings.check()
    run = RLRun(settings, progress, optimizer_steps_per_step=settings.iterations, name="train-grpo")
    group = settings.num_generations
    eps_high = settings.epsilon_high if settings.epsilon_high is not None else settings.epsilon
    for step in run.steps():
        started = time.perf_counter()
        prompts = [prompt for prompt in run.next_prompts() for _ in range(group)]
        rollout, totals, each = run.rollout(prompts)
        generated = time.perf_counter()
        advantages = group_advantages(torch.tensor(totals, dtype=torch.float32), group, settings.advantage)
        mask = rollout.completion_mask
        with torch.no_grad(), run.autocast():  # as the training forward computes them
            old = run.policy_logps(rollout) if settings.iterations > 1 else None
            reference = run.reference.logps(rollout, run.device) if run.reference is not None else None
        (step_tokens,) = run.dist.sum([float(mask.sum())])
        chunks = torch.arange(len(prompts)).chunk(settings.grad_accum)
        first_logps = torch.zeros(mask.shape)
        losses, clipped, counted = [], 0.0, 0.0
        for iteration in range(settings.iterations):
            for number, rows in enumerate(chunks):
                part = rollout.rows(rows)
                with run.sync(number == len(chunks) - 1), run.autocast():
                    logps = run.train_logps(part)
                    previous = old[rows].to(logps.device) if old is not None else logps.detach()
                    ref = reference[rows].to(logps.device) if reference is not None else None
                    part_advantages = advantages[rows].to(logps.device)
                    per_token, ratio, _ = token_losses(
                        logps, previous, ref, part_advantages, settings.beta, settings.epsilon, eps_high
                    )
                    part_mask = part.completion_mask.to(logps.device)
                    loss = aggregate(
                        per_token, part_mask, settings.loss, len(chunks), step_tokens, settings.sampling.max_new_tokens
                    )
                    (loss * (run.dist.world if settings.loss == "dapo" else 1)).backward()
                losses.append(float(loss.detach()) * (len(chunks) if settings.loss != "dapo" else 1))
                out_of_range = ((ratio < 1 - settings.epsilon) & (part_advantages.unsqueeze(1) < 0)) | (
                    (ratio > 1 + eps_high) & (part_advantages.unsqueeze(1) > 0)
                )
                clipped += float((out_of_range & part_mask).sum())
                counted += float(part_mask.sum())
                if iteration == 0:
                    first_logps[rows] = logps.detach().float().cpu()
            grad_norm = run.optimizer_step(sum(losses) / len(losses), step)
        kl_sums = ((first_logps - reference.cpu()) * mask).sum(1) if reference is not None else None
        record = run.record(step, rollout, totals, each, kl_sums, first_logps, started, generated)
        record |= {
            "loss": sum(losses) / len(losses) if settings.loss != "dapo" else sum(losses) / settings.iterations,
            "grad_norm": grad_norm,
            "clip_fraction": run.dist.sum([clipped])[0] / max(run.dist.sum([counted])[0], 1.0),
            "advantage_zero_share": float((advantages == 0).float().mean()),
        }
        run.end_step(step, record, rollout, totals)
    return run.finish()
