"""What every loop does between loading its model and its first step, in the one order that
works for DDP and FSDP alike: ready the model, load a resumed checkpoint's weights (into the
whole model), wrap it (DDP) or shard it (FSDP2), build AdamW over what the processes now
hold, then load the checkpoint's optimizer, schedule and RNG states."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.train import checkpoint
from curate.train.distributed import Distributed
from curate.train.models import prepare_for_training
from curate.train.optim import Optimization
from curate.train.settings import TrainSettings


@dataclass
class Started:
    wrapped: Any  # what the loop runs: the trainee under DDP, sharded, or itself
    forward: Any  # `wrapped`, compiled with --compile
    optimization: Optimization
    start_step: int
    resumed_from: Path | None


def start(settings: TrainSettings, model, trainee, dist: Distributed, device, use_bf16: bool, total_steps: int):
    """`trainee` (the model, or a loss module holding it) ready to train on every process; see
    the module doc. `model` is the transformers model inside it, whose weights checkpoints hold."""
    import torch

    prepare_for_training(model, settings)
    resumed_from = checkpoint.latest_checkpoint(settings.output) if settings.resume else None
    if resumed_from is not None:
        checkpoint.load_state(resumed_from)  # an unreadable state is refused before any weight changes
        checkpoint.restore_weights(resumed_from, model)
    if settings.fsdp and not dist.active and dist.is_main:
        print("--fsdp: one process, nothing to shard over; training unsharded", file=sys.stderr)
    wrapped = dist.wrap(trainee, device, settings.fsdp, use_bf16)
    optimization = Optimization.adamw(trainee, settings.optimizer, total_steps, settings.max_grad_norm)
    start_step = 0
    if resumed_from is not None:
        start_step = checkpoint.restore_state(resumed_from, trainee, optimization.optimizer, optimization.scheduler)
    forward = torch.compile(wrapped) if settings.compile else wrapped
    return Started(wrapped, forward, optimization, start_step, resumed_from)
