"""The options every trainer shares, and DPO's (here so the command line reads its defaults
without loading the loop); SFTSettings and RMSettings add their own beside their loops."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curate.errors import UserError
from curate.train.lora import LoraSettings


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
    compile: bool = False  # torch.compile the model's forward pass
    resume: bool = False
    lora: LoraSettings | None = None  # None: train every weight
    load_in_4bit: bool = False  # QLoRA: the frozen base in NF4 (CUDA only)
    merge: bool = False  # with LoRA: also write RUN/merged, the adapter merged into the base
    fsdp: bool = False  # shard parameters, gradients and optimizer state over the processes (FSDP2)
    loss_chunk_tokens: int | None = None  # positions per chunk of the lean loss (None: ~256 MiB of logits)

    def check(self) -> None:
        """One clear sentence for a shared setting that cannot work."""
        if self.batch_size < 1 or self.grad_accum < 1:
            raise UserError("batch_size and grad_accum must be at least 1")
        if self.load_in_4bit and self.lora is None:
            raise UserError("--load-in-4bit trains adapters on a frozen 4-bit base: add --lora")
        if self.merge and self.lora is None:
            raise UserError("--merge merges a LoRA adapter into its base: it needs --lora")
        if self.fsdp and self.load_in_4bit:
            raise UserError("--fsdp does not shard 4-bit weights; use --lora without --load-in-4bit, or one GPU")
        if self.lora is not None and (self.lora.r < 1 or self.lora.alpha <= 0 or not 0 <= self.lora.dropout < 1):
            raise UserError("--lora-r must be at least 1, --lora-alpha above 0 and --lora-dropout in [0, 1)")

    def weights_dtype(self):
        """The dtype to load the weights in: float32 master weights for a full fine-tune (bf16
        comes from autocast, AdamW's moments stay float32); a LoRA run's frozen base in its
        checkpoint's own dtype (bf16 for most published models), its adapters float32 (peft)."""
        import torch

        return "auto" if self.lora is not None else torch.float32

    def use_bf16(self, device) -> bool:
        """bf16 autocast: --bf16 when given, else on a GPU."""
        return self.bf16 if self.bf16 is not None else device.type == "cuda"


@dataclass(frozen=True)
class DPOSettings(TrainSettings):
    """A DPO run: the shared training options plus the DPO ones."""

    max_length: int = 1024  # prompt + completion, per sequence (TRL's max_length)
    # TRL 1.16's DPOConfig default learning rate (1e-6); DPO wants a far smaller one than SFT.
    optimizer: OptimizerSettings = field(default_factory=lambda: OptimizerSettings(lr=1e-6))
    max_prompt_length: int | None = None  # the prompt keeps its last tokens
    beta: float = 0.1
    loss: str = "sigmoid"  # a name of dpo_losses.LOSSES
    ref: str = "precompute"  # or "live" (dpo_reference.REFERENCE_MODES)
    ref_model: str | None = None  # None: the initial weights of `model`
