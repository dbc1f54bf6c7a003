"""What every training loop shares: optimizer, schedule, checkpoints, metrics, MFU.

Checkpoints are a folder: the model and tokenizer as `save_pretrained` writes them
(safetensors), plus `trainer_state.pt` with the optimizer, scheduler, RNG states and data
position. The state file holds only tensors and plain values and is loaded with
`torch.load(weights_only=True)`, so a checkpoint cannot run code when it is resumed.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.errors import RunFailed, UserError
from curate.io.atomic import atomic_path

STATE_FILE = "trainer_state.pt"

# Dense bf16 peak FLOP/s of the GPUs curate is benchmarked on, for MFU.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "4090": 165e12}


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
    """The options every trainer shares; SFTSettings, DPOSettings and RMSettings add their own."""

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


# ------------------------------------------------------------------------------ FLOPs and MFU


def flops_per_token(parameters: int, layers: int, hidden: int, sequence: int) -> float:
    """Training FLOPs per token: 6N for the matmuls (forward + backward) plus causal attention,
    12 * layers * hidden * sequence / 2 (the PaLM appendix count, halved for the causal mask)."""
    return 6 * parameters + 6 * layers * hidden * sequence


def peak_flops(device_name: str) -> float | None:
    for key, flops in PEAK_BF16_FLOPS.items():
        if key in device_name:
            return flops
    return None


def mfu(tokens_per_second: float, per_token: float, peak: float | None) -> float | None:
    return None if not peak else tokens_per_second * per_token / peak


# ------------------------------------------------------------------------------ metrics


class MetricsLog:
    """`metrics.jsonl`: one JSON object per logged step, flushed at once so a killed run keeps it."""

    def __init__(self, path: Path, resume_from_step: int | None = None) -> None:
        self.path = path
        if resume_from_step is not None and path.exists():
            # a resumed run continues the log: drop what the killed run logged after its checkpoint
            kept = [
                line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= resume_from_step
            ]
            path.write_text("".join(line + "\n" for line in kept))
        elif path.exists():
            path.unlink()
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run, closed by close()

    def log(self, record: dict) -> None:
        self._handle.write(json.dumps(record, sort_keys=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def check_finite(loss: float, step: int, last_checkpoint: Path | None) -> None:
    if not math.isfinite(loss):
        kept = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint was written yet"
        raise RunFailed(
            f"the loss became {loss} at step {step}; training stopped ({kept}). "
            "Lower --lr, raise --warmup-steps, or check the data for empty or huge examples"
        )


# ------------------------------------------------------------------------------ checkpoints


def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]), "python_pos": random.getstate()[2]}
    numpy_state = np.random.get_state()
    state["numpy"] = torch.from_numpy(numpy_state[1].astype("int64"))
    state["numpy_pos"] = int(numpy_state[2])
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), state["python_pos"]))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype("uint32"), state["numpy_pos"], 0, 0.0))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def quiet_transformers() -> None:
    """No "Loading weights" / "Writing model shards" bars: they bury curate's own output."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def save_checkpoint(folder: Path, model, tokenizer, optimizer, scheduler, progress: dict) -> Path:
    """Write the checkpoint into `folder` whole: written beside it, then renamed into place."""
    import torch

    quiet_transformers()
    folder = Path(folder)
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging, safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(staging)
    state = {"progress": progress, "rng": rng_state()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    with atomic_path(staging / STATE_FILE) as tmp:
        torch.save(state, tmp)
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    return folder


def load_state(folder: Path) -> dict:
    """A checkpoint's trainer state, loaded without unpickling code (weights_only=True)."""
    import torch

    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise RunFailed(f"{folder} is not a curate checkpoint (no {STATE_FILE})")
    return torch.load(path, map_location="cpu", weights_only=True)


def latest_checkpoint(run: Path) -> Path | None:
    candidates = sorted(
        (path for path in Path(run).glob("checkpoint-*") if (path / STATE_FILE).is_file() and path.name[11:].isdigit()),
        key=lambda path: int(path.name[11:]),
    )
    return candidates[-1] if candidates else None


# ------------------------------------------------------------------------------ models and batches


def pick_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_model(name: str, device, dtype=None):
    """A causal LM from a folder or Hugging Face id; safetensors weights only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name, use_safetensors=True, dtype=dtype)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot load the model {name}: {str(error).splitlines()[0]}") from None
    return model.to(device), tokenizer


def model_inputs(batch: dict, device) -> dict:
    names = (
        "input_ids",
        "attention_mask",
        "position_ids",
        "cu_seq_lens_q",
        "cu_seq_lens_k",
        "max_length_q",
        "max_length_k",
    )
    moved = {name: batch[name] for name in names if name in batch}
    return {name: value.to(device) if hasattr(value, "to") else value for name, value in moved.items()}


def open_run(settings: TrainSettings):
    """(dist, output, device, use_bf16) for a loop: the torchrun process group (a no-op without
    torchrun), the run folder (made), this process's device, and whether to autocast to bf16
    (--bf16, else on GPU); torch's generator is seeded with --seed."""
    import torch

    from curate.train.distributed import Distributed

    dist = Distributed.from_environment()
    output = Path(settings.output)
    output.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    device = dist.device(settings.device)
    use_bf16 = settings.bf16 if settings.bf16 is not None else device.type == "cuda"
    return dist, output, device, use_bf16


def read_split(settings: TrainSettings, kind: str | None = None) -> tuple[list, list]:
    """Every row of --data (`data.read_rows`, checked to be of `kind` when given), split into
    train and eval rows by --eval-fraction and --seed. Every process reads and splits it all."""
    from curate.train import data

    rows = [row for path in settings.data for row in data.read_rows(path, kind=kind)]
    return split_rows(rows, settings.eval_fraction, settings.seed)


def total_steps(settings: TrainSettings, count: int, world: int) -> int:
    """Optimizer steps: --max-steps, else --epochs over `count` rows (or pairs), at least one."""
    per_step = settings.batch_size * world * settings.grad_accum
    return settings.max_steps or max(1, math.ceil(count * settings.epochs / per_step))


def pad_id(tokenizer) -> int:
    """The tokenizer's pad token, else its eos token (padding is masked, so any id will do)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def split_rows(rows: list, eval_fraction: float, seed: int) -> tuple[list, list]:
    if eval_fraction <= 0 or len(rows) < 2:
        return rows, []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = max(1, round(len(rows) * eval_fraction))
    held_out = set(order[:held])
    return [row for n, row in enumerate(rows) if n not in held_out], [
        row for n, row in enumerate(rows) if n in held_out
    ]


def epoch_order(count: int, seed: int, epoch: int) -> list[int]:
    order = list(range(count))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def micro_batches(count: int, batch_size: int, seed: int, start: int):
    """(epoch, indices) of every micro-batch from global micro-batch number `start` on, forever."""
    per_epoch = math.ceil(count / batch_size)
    number = start
    while True:
        epoch, within = divmod(number, per_epoch)
        order = epoch_order(count, seed, epoch)
        yield number, order[within * batch_size : (within + 1) * batch_size]
        number += 1


def chat_template(tokenizer, template_name: str | None, model_name: str):
    """--template (a shipped name or .jinja file) with the tokenizer's special tokens, else the model's own."""
    from curate.instruct.templates import load_template, loaded_tokenizer_template, tokenizer_special_token_map

    if template_name:
        return load_template(template_name, tokenizer_special_token_map(tokenizer))
    template = loaded_tokenizer_template(tokenizer, model_name)
    if template is None:
        raise UserError(f"{model_name} has no chat template; pass --template (e.g. chatml or alpaca)")
    return template


def restore(checkpoint: Path, model, optimizer, scheduler) -> int:
    """Load a checkpoint's weights, optimizer, scheduler and RNG into the live objects; its step."""
    from safetensors.torch import load_file

    state = load_state(checkpoint)
    weights = {}
    for path in sorted(Path(checkpoint).glob("*.safetensors")):
        weights.update(load_file(str(path)))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    if unexpected or [key for key in missing if key not in tied and "lm_head" not in key]:
        raise RunFailed(f"{checkpoint} does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return int(state["progress"]["step"])


class RunFolder:
    """What a loop writes into its run folder, from the main process only: a metrics.jsonl
    line per logged step, `checkpoint-N/` every `save_every` steps, and at the end `final/`,
    truncation.json and the curves. Steps are counted from 1."""

    def __init__(
        self, output: Path, settings, total_steps: int, start_step: int, resumed_from: Path | None, dist=None
    ) -> None:
        from curate.train.distributed import Distributed

        self.output = Path(output)
        self.settings = settings
        self.total_steps = total_steps
        self.dist = dist or Distributed()
        self.last_checkpoint = resumed_from  # named when a NaN stops the run
        self.metrics = (
            MetricsLog(self.output / "metrics.jsonl", start_step if resumed_from else None)
            if self.dist.is_main
            else None
        )

    def evaluate_now(self, step: int) -> bool:
        every = self.settings.eval_every
        return self.dist.is_main and ((every and step % every == 0) or step == self.total_steps)

    def end_step(self, step: int, record: dict, model, tokenizer, optimizer, scheduler) -> None:
        last = step == self.total_steps
        evaluated = any(key.startswith("eval_") for key in record)
        if self.metrics is not None and (step % self.settings.log_every == 0 or last or evaluated):
            self.metrics.log(record)
        if self.settings.save_every and step % self.settings.save_every == 0 and not last:
            if self.dist.is_main:
                self.last_checkpoint = save_checkpoint(
                    self.output / f"checkpoint-{step}", model, tokenizer, optimizer, scheduler, {"step": step}
                )
            self.dist.barrier()

    def finish(self, model, tokenizer, truncation: dict, panels: tuple[tuple[str, ...], ...]) -> Path:
        from curate.io.manifest import write_json_atomic
        from curate.train.curves import write_curves

        final = self.output / "final"
        if self.dist.is_main:
            self.metrics.close()
            save_checkpoint(final, model, tokenizer, None, None, {"step": self.total_steps})
            write_json_atomic(self.output / "truncation.json", truncation)
            write_curves(self.output, panels)
        self.dist.barrier()
        return final


@dataclass
class Started:
    """What every loop sets up the same way before its first step."""

    optimizer: Any
    scheduler: Any
    wrapped: Any  # the model under DDP when there are several processes, else the model
    run: RunFolder
    start_step: int  # steps done by the run this one resumes (0 for a new run)
    resumed_from: Path | None
    flops_per_token: float
    peak_flops: float | None

    def optimizer_step(self, model, loss: float, step: int) -> float:
        """Clip the gradients, stop on a non-finite `loss` (before the weights change), step the
        optimizer and the schedule, clear the gradients; the gradient norm before clipping."""
        import torch

        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), self.run.settings.max_grad_norm).item()
        check_finite(loss, step, self.run.last_checkpoint)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return grad_norm


def start_training(model, settings: TrainSettings, total_steps: int, output: Path, dist, device) -> Started:
    """Checkpointing, train mode, AdamW and its schedule, `--resume` (weights, optimizer,
    scheduler, RNG and data position), DDP, the run folder and the FLOPs for MFU."""
    import torch

    if settings.gradient_checkpointing:
        # transformers 5 renamed it; the old name still works there, with a deprecation warning
        (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
    model.train()
    optimizer = make_optimizer(model, settings.optimizer)
    scheduler = make_scheduler(optimizer, total_steps, settings.optimizer)
    start_step, resumed_from = 0, None
    if settings.resume and (checkpoint := latest_checkpoint(output)) is not None:
        start_step = restore(checkpoint, model, optimizer, scheduler)
        resumed_from = checkpoint
    wrapped = model
    if dist.active:
        wrapped = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    config = model.config.get_text_config()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    return Started(
        optimizer, scheduler, wrapped, RunFolder(output, settings, total_steps, start_step, resumed_from, dist),
        start_step, resumed_from,
        flops_per_token(parameters, config.num_hidden_layers, config.hidden_size, settings.max_length),
        peak_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None,
    )  # fmt: skip
