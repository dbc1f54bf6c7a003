"""AdamW, its learning-rate schedule, and one optimizer step (clip, NaN check, step, schedule)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import RunFailed
from curate.train.settings import OptimizerSettings


def make_optimizer(model, settings: OptimizerSettings):
    """AdamW; weight decay on matrices only (not on norms and biases); fused kernels on GPU."""
    import torch

    decayed, plain = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decayed if parameter.dim() >= 2 else plain).append(parameter)
    groups = [{"params": decayed, "weight_decay": settings.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    on_gpu = any(parameter.is_cuda for parameter in decayed + plain)
    return torch.optim.AdamW(groups, lr=settings.lr, betas=settings.betas, eps=settings.eps, fused=on_gpu or None)


def lr_factor(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float = 0.0) -> float:
    """Linear warmup from 0, then cosine decay to `min_lr_ratio` at `total_steps`."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_scheduler(optimizer, total_steps: int, settings: OptimizerSettings):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, settings.warmup_steps, settings.min_lr_ratio)
    )


def check_finite(loss: float, step: int, last_checkpoint: Path | None) -> None:
    _stop_unless_finite("the loss", loss, step, last_checkpoint)


def check_finite_gradient(grad_norm: float, step: int, last_checkpoint: Path | None) -> None:
    """A NaN in any micro-batch's gradient, whatever loss the caller checked."""
    _stop_unless_finite("the gradient norm", grad_norm, step, last_checkpoint)


def _stop_unless_finite(what: str, value: float, step: int, last_checkpoint: Path | None) -> None:
    if not math.isfinite(value):
        kept = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint was written yet"
        raise RunFailed(
            f"{what} became {value} at step {step}; training stopped ({kept}). "
            "Lower --lr, raise --warmup-steps, or check the data for empty or huge examples"
        )


@dataclass
class Optimization:
    """AdamW and its warmup + cosine schedule over `total_steps`, with gradient clipping."""

    optimizer: Any
    scheduler: Any
    max_grad_norm: float

    @classmethod
    def adamw(cls, model, settings: OptimizerSettings, total_steps: int, max_grad_norm: float) -> Optimization:
        optimizer = make_optimizer(model, settings)
        return cls(optimizer, make_scheduler(optimizer, total_steps, settings), max_grad_norm)

    @property
    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def step(self, model, loss: float, step: int, last_checkpoint: Path | None) -> float:
        """Clip the gradients, stop on a non-finite `loss` (before the weights change), step the
        optimizer and the schedule, clear the gradients; the gradient norm before clipping."""
        import torch

        from curate.train.fsdp import full_tensor

        # a sharded model's norm is a DTensor over every process's gradient shards
        grad_norm = full_tensor(torch.nn.utils.clip_grad_norm_(model.parameters(), self.max_grad_norm)).item()
        check_finite(loss, step, last_checkpoint)
        check_finite_gradient(grad_norm, step, last_checkpoint)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return grad_norm
