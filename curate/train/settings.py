"""The options every trainer shares; SFTSettings, DPOSettings and RMSettings add their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class OptimizerSettings:
    lr: float = 2e-5
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # the cosine ends at lr * min_lr_ratio


@dataclass(frozen=True)
class TrainSettings:
    model: str
    data: tuple[str, ...]
    output: Path
    template: str | None = None  # None: the model's own chat template
    max_length: int = 2048  # tokens per example (per sequence for pairs)
    batch_size: int = 8  # rows (pairs for DPO and RM) per micro-batch, per process
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int | None = None  # overrides epochs
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    max_grad_norm: float = 1.0
    eval_fraction: float = 0.05
    eval_every: int = 0  # steps; 0: at the end only
    log_every: int = 1
    save_every: int = 0  # steps; 0: only the final checkpoint
    seed: int = 0  # the split, the data order and any new head's initialisation
    device: str = "auto"
    bf16: bool | None = None  # None: on GPU
    gradient_checkpointing: bool = False
    resume: bool = False

    def use_bf16(self, device) -> bool:
        """bf16 autocast: --bf16 when given, else on a GPU."""
        return self.bf16 if self.bf16 is not None else device.type == "cuda"
