"""`curate train-dpo`: Direct Preference Optimisation, one loop to read top to bottom.

Each optimizer step takes `batch_size * grad_accum` preference pairs. A micro-batch is one
forward pass over 2B rows (prompt + chosen for every pair, then prompt + rejected; see
`data.collate_preference`); a completion's log-probability is the sum of its tokens'
log-probabilities (labels != -100, shifted by one), as TRL computes it. With the reference
model's log-probabilities of the same completions, `dpo_loss` gives per-pair losses and
rewards (`beta * (policy - reference)`), exactly TRL 1.16's formulas for `sigmoid` (the DPO
paper), `ipo` (normalised per completion token, as TRL does) and `hinge`.

The loss of a step is the mean over its pairs, however they fall into micro-batches (TRL
takes the mean of micro-batch means, the same when micro-batches are full). Metrics carry
TRL's names (`rewards/chosen`, `rewards/accuracies`, `logps/chosen`, ...), averaged over
the step's pairs; eval metrics the same names prefixed `eval_`.

The reference is either kept in memory and run on every batch (`ref="live"`), or run once
over every train and eval pair before training (`ref="precompute"`); precomputed values are
stored in `RUN/reference_logps/<key>.safetensors`, the key hashing the reference weights,
the pairs' token ids, the template and the max lengths, so a later run on the same data and
reference (a resume, a new learning rate) reads them instead of running the reference again.
Dropout is switched off in both models (as TRL's `disable_dropout=True`), so the policy's
log-probabilities equal the reference's at the start of training.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.errors import UserError
from curate.train import common

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from curate.instruct.templates import ChatTemplate
    from curate.train.data import PreferencePair

LOSS_TYPES = ("sigmoid", "ipo", "hinge")
REFERENCE_MODES = ("precompute", "live")
REFERENCE_DIR = "reference_logps"

# The per-step metrics, with TRL's names, in the order they are logged.
PAIR_METRICS = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
)


@dataclass(frozen=True)
class DPOSettings(common.TrainSettings):
    """A DPO run: the shared training options plus the DPO ones."""

    max_length: int = 1024  # prompt + completion, per sequence (TRL's max_length)
    # TRL 1.16's DPOConfig default learning rate (1e-6); DPO wants a far smaller one than SFT.
    optimizer: common.OptimizerSettings = field(default_factory=lambda: common.OptimizerSettings(lr=1e-6))
    max_prompt_length: int | None = None  # the prompt keeps its last tokens
    beta: float = 0.1
    loss: str = "sigmoid"  # one of LOSS_TYPES
    ref: str = "precompute"  # or "live"
    ref_model: str | None = None  # None: the initial weights of `model`


# ------------------------------------------------------------------------------ the loss


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    loss_type: str = "sigmoid",
    *,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair losses and the chosen and rejected rewards, as TRL 1.16's `DPOTrainer` computes them.

    All inputs are per-pair summed log-probabilities of shape [B]. With
    `delta = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)`:
    - sigmoid: `-logsigmoid(beta * delta)`;
    - hinge: `relu(1 - beta * delta)`;
    - ipo: `(delta' - 1 / (2 * beta)) ** 2`, where delta' divides each log-ratio by its
      completion's token count (`chosen_lengths`, `rejected_lengths`; required), as TRL does.
    Rewards are `beta * (policy - ref)`, detached.
    """
    import torch
    import torch.nn.functional as F

    chosen_logratios = policy_chosen - ref_chosen
    rejected_logratios = policy_rejected - ref_rejected
    delta = chosen_logratios - rejected_logratios
    if loss_type == "sigmoid":
        losses = -F.logsigmoid(beta * delta)
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * delta)
    elif loss_type == "ipo":
        if chosen_lengths is None or rejected_lengths is None:
            raise ValueError("the ipo loss needs chosen_lengths and rejected_lengths (completion token counts)")
        chosen_per_token = chosen_logratios / chosen_lengths.clamp(min=1.0)
        rejected_per_token = rejected_logratios / rejected_lengths.clamp(min=1.0)
        losses = (chosen_per_token - rejected_per_token - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown DPO loss {loss_type!r}; use one of {', '.join(LOSS_TYPES)}")
    return losses, beta * chosen_logratios.detach(), beta * rejected_logratios.detach()


def selective_log_softmax(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """`log_softmax(logits)` gathered at `index`, in float32, one row at a time.

    Row by row, so only one row's logits are ever copied to float32 (the whole [2B, L, V]
    tensor in float32 would double the largest allocation of a bf16 step).
    """
    import torch

    gathered = torch.gather(logits, -1, index.unsqueeze(-1)).squeeze(-1).float()
    normaliser = torch.stack([torch.logsumexp(row.float(), dim=-1) for row in logits])
    return gathered - normaliser


def sequence_logps(model, batch: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion log-probabilities of a `collate_preference` batch: (chosen [B], rejected [B]).

    One forward pass over the 2B rows; the logits at position i score the label at i + 1,
    and only labels != -100 (the completion) count.
    """
    import torch

    logits = model(**common.model_inputs(batch, device), use_cache=False).logits[:, :-1]
    labels = batch["labels"][:, 1:].to(logits.device)
    mask = labels != -100
    per_token = selective_log_softmax(logits, labels.clamp(min=0))
    logps = torch.where(mask, per_token, torch.zeros_like(per_token)).sum(dim=-1)
    chosen, rejected = logps.chunk(2, dim=0)
    return chosen, rejected


def completion_lengths(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Completion token counts of a `collate_preference` batch: (chosen [B], rejected [B]), float."""
    counts = (batch["labels"] != -100).sum(dim=-1).float()
    chosen, rejected = counts.chunk(2, dim=0)
    return chosen, rejected


def pair_sums(
    losses: torch.Tensor,
    chosen_rewards: torch.Tensor,
    rejected_rewards: torch.Tensor,
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
) -> list[float]:
    """The sums over a micro-batch's pairs of each of `PAIR_METRICS` (one device sync)."""
    import torch

    values = torch.stack(
        [
            losses.detach().sum(),
            chosen_rewards.sum(),
            rejected_rewards.sum(),
            (chosen_rewards > rejected_rewards).float().sum(),
            (chosen_rewards - rejected_rewards).sum(),
            policy_chosen.detach().sum(),
            policy_rejected.detach().sum(),
        ]
    )
    return values.float().cpu().tolist()


# ------------------------------------------------------------------------------ the reference


class Reference:
    """The reference log-probabilities of a batch: from a frozen model (live) or precomputed per pair."""

    def __init__(self, model=None, chosen: torch.Tensor | None = None, rejected: torch.Tensor | None = None) -> None:
        if (model is None) == (chosen is None or rejected is None):
            raise ValueError("a Reference is either a model or precomputed chosen and rejected log-probabilities")
        self.model, self.chosen, self.rejected = model, chosen, rejected

    def logps(self, batch: dict, indices: Sequence[int], device, use_bf16: bool) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        if self.model is None:
            picked = torch.as_tensor(list(indices), dtype=torch.long)
            return self.chosen[picked].to(device), self.rejected[picked].to(device)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            return sequence_logps(self.model, batch, device)


def frozen(model):
    """`model` in eval mode with no gradients, for use as a reference."""
    model.eval()
    model.requires_grad_(False)
    return model


def disable_dropout(model) -> None:
    """Dropout off: every nn.Dropout (TRL's `disable_dropout_in_model`), and the attention dropout
    that models such as Llama read from a plain attribute when training."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = 0.0


def load_reference(name: str, policy, device):
    """The reference model from `name`, frozen, dropout off; it must share the policy's vocabulary."""
    reference = frozen(common.load_model(name, device)[0])
    disable_dropout(reference)
    ours, theirs = policy.get_input_embeddings().num_embeddings, reference.get_input_embeddings().num_embeddings
    if ours != theirs:
        raise UserError(
            f"the reference model {name} has {theirs} token embeddings and the policy {ours}; "
            "use a reference with the policy's tokenizer"
        )
    return reference


def model_fingerprint(name: str, model) -> str:
    """The identity of a model's weights: its folder's file hashes, or a hash of its tensors.

    A local folder is fingerprinted by `weights_fingerprint` (cheap even for big shards). A hub
    id has no folder here to trust, so the loaded tensors themselves are hashed.
    """
    import torch
    import xxhash

    folder = Path(name).expanduser()
    if folder.is_dir():
        from curate.llm.local import weights_fingerprint

        return "files:" + weights_fingerprint(folder)
    digest = xxhash.xxh3_128()
    for key, tensor in sorted(model.state_dict().items()):
        raw = tensor.detach().contiguous().cpu().reshape(-1).view(torch.uint8)
        digest.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\n".encode())
        digest.update(raw.numpy().tobytes())
    return "tensors:" + digest.hexdigest()


def reference_key(
    fingerprint: str,
    train_pairs: Sequence[PreferencePair],
    eval_pairs: Sequence[PreferencePair],
    template: ChatTemplate,
    max_length: int,
    max_prompt_length: int | None,
    bf16: bool,
) -> str:
    """The name of a precomputed reference file: a hash of everything its values depend on."""
    import xxhash

    digest = xxhash.xxh3_128()
    header = {
        "reference": fingerprint,
        "template": template.fingerprint,
        "max_length": max_length,
        "max_prompt_length": max_prompt_length,
        "bf16": bf16,
        "pairs": [len(train_pairs), len(eval_pairs)],
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for pair in (*train_pairs, *eval_pairs):
        for name in ("prompt_ids", "chosen_ids", "rejected_ids"):
            ids = pair[name]
            digest.update(len(ids).to_bytes(4, "little"))
            digest.update(array("q", ids).tobytes())
    return digest.hexdigest()


def compute_reference_logps(
    model, pairs: Sequence[PreferencePair], pad_id: int, batch_size: int, device, use_bf16: bool, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's summed completion log-probabilities of every pair, in order.

    (chosen [N], rejected [N]), float32 on the CPU; run in batches of `batch_size` pairs, without gradients.
    """
    import torch
    from tqdm import tqdm

    from curate.train import data

    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    starts = range(0, len(pairs), batch_size)
    with torch.no_grad():
        for start in tqdm(starts, desc="reference log-probs", unit="batch", disable=not progress):
            batch = data.collate_preference(pairs[start : start + batch_size], pad_id)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                chosen_logps, rejected_logps = sequence_logps(model, batch, device)
            chosen.append(chosen_logps.float().cpu())
            rejected.append(rejected_logps.float().cpu())
    model.train(was_training)
    empty = torch.zeros(0, dtype=torch.float32)
    return (torch.cat(chosen) if chosen else empty), (torch.cat(rejected) if rejected else empty)


def load_reference_logps(path: Path, train_count: int, eval_count: int) -> dict[str, torch.Tensor] | None:
    """A precomputed reference file's four tensors, or None if it is absent or does not fit the data."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError):
        return None  # a damaged file is recomputed, never trusted
    expected = dict.fromkeys(("train_chosen", "train_rejected"), train_count)
    expected.update(dict.fromkeys(("eval_chosen", "eval_rejected"), eval_count))
    if any(name not in tensors or tensors[name].shape != (count,) for name, count in expected.items()):
        return None
    return tensors


def save_reference_logps(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Write the four tensors as safetensors (no pickle), whole or not at all."""
    from safetensors.torch import save_file

    from curate.io.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, str(tmp), metadata=metadata)
    return path


# ------------------------------------------------------------------------------ evaluation


def evaluate(
    model,
    pairs: Sequence[PreferencePair],
    reference: Reference,
    pad_id: int,
    batch_size: int,
    device,
    beta: float,
    loss_type: str = "sigmoid",
    use_bf16: bool = False,
) -> dict[str, float] | None:
    """`PAIR_METRICS` averaged over `pairs` (in order), without gradients; None for no pairs."""
    import torch

    from curate.train import data

    if not pairs:
        return None
    was_training = model.training
    model.eval()
    totals = [0.0] * len(PAIR_METRICS)
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            indices = range(start, min(start + batch_size, len(pairs)))
            batch = data.collate_preference([pairs[i] for i in indices], pad_id)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                policy_chosen, policy_rejected = sequence_logps(model, batch, device)
            ref_chosen, ref_rejected = reference.logps(batch, indices, device, use_bf16)
            chosen_lengths, rejected_lengths = (lengths.to(device) for lengths in completion_lengths(batch))
            losses, chosen_rewards, rejected_rewards = dpo_loss(
                policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta, loss_type,
                chosen_lengths=chosen_lengths, rejected_lengths=rejected_lengths,
            )  # fmt: skip
            sums = pair_sums(losses, chosen_rewards, rejected_rewards, policy_chosen, policy_rejected)
            totals = [total + value for total, value in zip(totals, sums)]
    model.train(was_training)
    return {name: total / len(pairs) for name, total in zip(PAIR_METRICS, totals)}


# ------------------------------------------------------------------------------ the loop


def check_settings(settings: DPOSettings) -> None:
    """One clear sentence for a setting that cannot work."""
    if settings.loss not in LOSS_TYPES:
        raise UserError(f"unknown DPO loss {settings.loss!r}; use one of {', '.join(LOSS_TYPES)}")
    if settings.ref not in REFERENCE_MODES:
        raise UserError(f"unknown reference mode {settings.ref!r}; use precompute or live")
    if not settings.beta > 0:
        raise UserError(f"beta must be above 0, not {settings.beta}")
    if settings.batch_size < 1 or settings.grad_accum < 1:
        raise UserError("batch_size and grad_accum must be at least 1")


def train_dpo(settings: DPOSettings, progress: bool = True) -> dict[str, Any]:
    """Train with DPO; log RUN/metrics.jsonl, checkpoint, save RUN/final; returns what it did.

    The result: `final` (folder), `steps`, `report` (the truncation report of the training
    pairs), `resumed_from` (checkpoint or None), `reference_logps` (the precomputed file, or None
    for a live reference) and `reference_reused` (whether that file was read, not computed).
    """
    import torch
    from tqdm import tqdm

    from curate.train import data

    check_settings(settings)
    dist, output, device, use_bf16 = common.open_run(settings)
    model, tokenizer = common.load_model(settings.model, device)
    disable_dropout(model)
    template = common.chat_template(tokenizer, settings.template, settings.model)

    # ---- data
    train_rows, eval_rows = common.read_split(settings, data.PREFERENCE)
    lengths = (settings.max_length, settings.max_prompt_length)
    train_pairs, report = data.tokenize_preference(train_rows, tokenizer, template, *lengths)
    eval_pairs, _ = data.tokenize_preference(eval_rows, tokenizer, template, *lengths)
    if not train_pairs:
        raise UserError(f"no training pair is left after tokenisation: {report.summary()}")
    pad_id = common.pad_id(tokenizer)
    global_batch = settings.batch_size * dist.world
    total_steps = common.total_steps(settings, len(train_pairs), dist.world)

    # ---- the reference, taken before any checkpoint is loaded into the policy
    same_weights = settings.ref_model is None or settings.ref_model == settings.model
    reference_file, reused = None, False
    if settings.ref == "live":
        ref_model = frozen(copy.deepcopy(model)) if same_weights else load_reference(settings.ref_model, model, device)
        train_reference = eval_reference = Reference(model=ref_model)
    else:
        ref_model = model if same_weights else load_reference(settings.ref_model, model, device)
        key = reference_key(
            model_fingerprint(settings.ref_model or settings.model, ref_model),
            train_pairs, eval_pairs, template, settings.max_length, settings.max_prompt_length, use_bf16,
        )  # fmt: skip
        reference_file = output / REFERENCE_DIR / f"{key}.safetensors"
        # The main process reads or computes the file; the others wait for it and read it. Only
        # the main process looks first: a process that found the file another had just written
        # would skip the barrier the main process waits at.
        tensors, reused = None, False
        if dist.is_main:
            tensors = load_reference_logps(reference_file, len(train_pairs), len(eval_pairs))
            reused = tensors is not None
            if tensors is None:
                train_chosen, train_rejected = compute_reference_logps(
                    ref_model, train_pairs, pad_id, settings.batch_size, device, use_bf16, progress
                )
                eval_chosen, eval_rejected = compute_reference_logps(
                    ref_model, eval_pairs, pad_id, settings.batch_size, device, use_bf16, progress
                )
                tensors = {
                    "train_chosen": train_chosen, "train_rejected": train_rejected,
                    "eval_chosen": eval_chosen, "eval_rejected": eval_rejected,
                }  # fmt: skip
                save_reference_logps(reference_file, tensors, {"reference": settings.ref_model or settings.model})
        dist.barrier()
        if tensors is None:
            tensors = load_reference_logps(reference_file, len(train_pairs), len(eval_pairs))
            reused = True
        train_reference = Reference(chosen=tensors["train_chosen"], rejected=tensors["train_rejected"])
        eval_reference = Reference(chosen=tensors["eval_chosen"], rejected=tensors["eval_rejected"])
        if ref_model is not model:
            del ref_model  # not needed again: free its memory before training
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()

    # ---- model, optimizer, schedule; resume restores all of them and the data position
    setup = common.start_training(model, settings, total_steps, output, dist, device)
    optimizer, scheduler, wrapped, run = setup.optimizer, setup.scheduler, setup.wrapped, setup.run
    start_step, resumed_from, per_token, peak = (
        setup.start_step,
        setup.resumed_from,
        setup.flops_per_token,
        setup.peak_flops,
    )
    if settings.ref == "live":
        per_token *= 4 / 3  # plus the reference's forward pass: a third of a training step's FLOPs

    start = start_step * settings.grad_accum
    batches = common.micro_batches(len(train_pairs), global_batch, settings.seed, start)
    bar = tqdm(
        total=total_steps, initial=start_step, desc="train-dpo", unit="step", disable=not (progress and dist.is_main)
    )
    for step in range(start_step, total_steps):
        started = time.perf_counter()
        micro = [indices for _, (_, indices) in zip(range(settings.grad_accum), batches)]
        pairs_in_step = sum(len(indices) for indices in micro)
        totals = [0.0] * len(PAIR_METRICS)
        tokens = 0
        for number, global_indices in enumerate(micro):
            # this process's pairs; a process left none runs one pair with weight 0 (Distributed.share)
            indices, weight = dist.share(global_indices, settings.batch_size)
            batch = data.collate_preference([train_pairs[i] for i in indices], pad_id)
            sync = number == len(micro) - 1 or not dist.active
            with contextlib.nullcontext() if sync else wrapped.no_sync():
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    policy_chosen, policy_rejected = sequence_logps(wrapped, batch, device)
                ref_chosen, ref_rejected = train_reference.logps(batch, indices, device, use_bf16)
                chosen_lengths, rejected_lengths = (lengths.to(device) for lengths in completion_lengths(batch))
                losses, chosen_rewards, rejected_rewards = dpo_loss(
                    policy_chosen, policy_rejected, ref_chosen, ref_rejected, settings.beta, settings.loss,
                    chosen_lengths=chosen_lengths, rejected_lengths=rejected_lengths,
                )  # fmt: skip
                # DDP averages gradients over processes: times the world size, the step's gradient is
                # the mean over every pair of the global batch
                (losses.sum() * weight * dist.world / pairs_in_step).backward()
            sums = pair_sums(losses, chosen_rewards, rejected_rewards, policy_chosen, policy_rejected)
            totals = [total + weight * value for total, value in zip(totals, sums)]
            tokens += int(batch["input_ids"].numel() * weight)
        *totals, tokens = dist.sum([*totals, tokens])
        means = {name: total / pairs_in_step for name, total in zip(PAIR_METRICS, totals)}
        grad_norm = setup.optimizer_step(model, means["loss"], step + 1)
        seconds = time.perf_counter() - started
        record = {
            "step": step + 1,
            **means,
            "lr": scheduler.get_last_lr()[0],
            "grad_norm": grad_norm,
            "tokens_per_s": tokens / seconds,
            "pairs": pairs_in_step,
            "mfu": common.mfu(tokens / seconds / dist.world, per_token, peak),
        }
        if run.evaluate_now(step + 1):
            evaluated = evaluate(
                model, eval_pairs, eval_reference, pad_id, settings.batch_size, device,
                settings.beta, settings.loss, use_bf16,
            )  # fmt: skip
            record.update({f"eval_{name}": value for name, value in (evaluated or {}).items()})
        run.end_step(step + 1, record, model, tokenizer, optimizer, scheduler)
        bar.update(1)
        bar.set_postfix_str(f"loss {means['loss']:.4f} acc {means['rewards/accuracies']:.2f}", refresh=False)
    bar.close()
    final = run.finish(
        model,
        tokenizer,
        report.as_dict(),
        panels=(("loss", "eval_loss"), ("rewards/accuracies", "eval_rewards/accuracies")),
    )
    dist.close()
    return {
        "final": final,
        "steps": total_steps,
        "report": report,
        "resumed_from": resumed_from,
        "reference_logps": reference_file,
        "reference_reused": reused,
    }
