"""`curate train-dpo`: Direct Preference Optimisation, one loop to read top to bottom.

Each optimizer step takes `batch_size * grad_accum` preference pairs. A micro-batch is one
forward pass over 2B rows (prompt + chosen for every pair, then prompt + rejected; see
`data.collate_preference`); a completion's log-probability is the sum of its tokens'
log-probabilities (labels != -100, shifted by one; logps.py), as TRL computes it. With the
reference model's log-probabilities of the same completions (dpo_reference.py), the loss named
by --loss (dpo_losses/) gives per-pair losses and rewards (`beta * (policy - reference)`),
exactly TRL 1.16's formulas.

The loss of a step is the mean over its pairs, however they fall into micro-batches (TRL
takes the mean of micro-batch means, the same when micro-batches are full). Metrics carry
TRL's names (`rewards/chosen`, `rewards/accuracies`, `logps/chosen`, ...), averaged over
the step's pairs; eval metrics the same names prefixed `eval_`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from curate.errors import UserError
from curate.instruct.templates import template_for
from curate.train import batches, run_folder
from curate.train.data import PREFERENCE, PreferencePair, collate_preference, tokenize_preference
from curate.train.distributed import Distributed
from curate.train.dpo_losses import LOSSES, dpo_loss
from curate.train.dpo_reference import REFERENCE_MODES, Reference, disable_dropout, prepare_references
from curate.train.flops import Speed
from curate.train.fsdp import gradient_sync
from curate.train.lean_loss import token_scorer
from curate.train.logps import completion_lengths, sequence_logps
from curate.train.lora import parameter_counts
from curate.train.models import load_model, pad_id, with_adapters
from curate.train.progress import TrainingProgress
from curate.train.run_folder import RunFolder
from curate.train.settings import DPOSettings
from curate.train.startup import start

if TYPE_CHECKING:  # pragma: no cover
    import torch

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

    if not pairs:
        return None
    was_training = model.training
    model.eval()
    totals = [0.0] * len(PAIR_METRICS)
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            indices = range(start, min(start + batch_size, len(pairs)))
            batch = collate_preference([pairs[i] for i in indices], pad_id)
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


def check_settings(settings: DPOSettings) -> None:
    """One clear sentence for a setting that cannot work."""
    if settings.loss not in LOSSES:
        raise UserError(f"unknown DPO loss {settings.loss!r}; use one of {', '.join(LOSSES)}")
    if settings.ref not in REFERENCE_MODES:
        raise UserError(f"unknown reference mode {settings.ref!r}; use {' or '.join(REFERENCE_MODES)}")
    if not settings.beta > 0:
        raise UserError(f"beta must be above 0, not {settings.beta}")
    settings.check()


def train_dpo(settings: DPOSettings, progress: bool = True) -> dict[str, Any]:
    """Train with DPO; log RUN/metrics.jsonl, checkpoint, save RUN/final; returns what it did.

    The result: `final` (folder), `steps`, `report` (the truncation report of the training
    pairs), `resumed_from` (checkpoint or None), `reference_logps` (the precomputed file, or None
    for a live reference) and `reference_reused` (whether that file was read, not computed).
    """
    import torch

    check_settings(settings)
    # ---- processes, device, model
    dist = Distributed.from_environment()
    device = dist.device(settings.device)
    use_bf16 = settings.use_bf16(device)
    run_folder.claim(settings.output, dist)
    torch.manual_seed(settings.seed)
    model, tokenizer = load_model(settings.model, device, settings.weights_dtype(), settings.load_in_4bit)
    # LoRA first, then dropout off everywhere, the adapters' dropout included (TRL's order)
    model = with_adapters(model, settings, "CAUSAL_LM", announce=progress and dist.is_main)
    disable_dropout(model)
    template = template_for(tokenizer, settings.template, settings.model)

    # ---- data: every process tokenises everything and takes its share of each global batch
    train_rows, eval_rows = batches.read_split(settings, PREFERENCE)
    lengths = (settings.max_length, settings.max_prompt_length)
    train_pairs, report = tokenize_preference(train_rows, tokenizer, template, *lengths)
    eval_pairs, _ = tokenize_preference(eval_rows, tokenizer, template, *lengths)
    if not train_pairs:
        raise UserError(f"no training pair is left after tokenisation: {report.summary()}")
    pad = pad_id(tokenizer)
    total_steps = batches.total_steps(settings, len(train_pairs), dist.world)

    # ---- the reference, taken before any checkpoint is loaded into the policy
    scorer = token_scorer(model, device, settings.loss_chunk_tokens)  # never [2B, L, V] logits at once
    references = prepare_references(
        settings, scorer, train_pairs, eval_pairs, template, pad, dist, device, use_bf16, progress
    )

    # ---- wrap or shard, optimizer and schedule; resume restores them, the weights, the RNG and the data position
    ready = start(settings, model, scorer, dist, device, use_bf16, total_steps)
    optimization, start_step, resumed_from = ready.optimization, ready.start_step, ready.resumed_from
    run = RunFolder(settings.output, settings, total_steps, start_step, resumed_from, dist, root=ready.wrapped)
    speed = Speed.of(model, settings.max_length, device, dist.world)
    if settings.ref == "live":
        speed = speed.scaled(4 / 3)  # plus the reference's forward pass: a third of a training step's FLOPs

    # ---- the loop
    micro_batches = batches.micro_batches(
        len(train_pairs), settings.batch_size * dist.world, settings.seed, start_step * settings.grad_accum
    )
    bar = TrainingProgress("train-dpo", total_steps, start_step, progress and dist.is_main)
    for step in range(start_step + 1, total_steps + 1):
        started = time.perf_counter()
        micro = [indices for _, (_, indices) in zip(range(settings.grad_accum), micro_batches)]
        pairs_in_step = sum(len(indices) for indices in micro)
        totals = [0.0] * len(PAIR_METRICS)
        tokens = 0
        for number, global_indices in enumerate(micro):
            # this process's pairs; a process left none runs one pair with weight 0 (Distributed.share)
            indices, weight = dist.share(global_indices, settings.batch_size)
            batch = collate_preference([train_pairs[i] for i in indices], pad)
            sync = number == len(micro) - 1 or not dist.active
            with gradient_sync(ready.wrapped, sync):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    policy_chosen, policy_rejected = sequence_logps(ready.forward, batch, device)
                ref_chosen, ref_rejected = references.train.logps(batch, indices, device, use_bf16)
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
        grad_norm = optimization.step(model, means["loss"], step, run.last_checkpoint)
        tokens_per_s, mfu = speed.measure(tokens, time.perf_counter() - started)
        record = {
            "step": step,
            **means,
            "lr": optimization.lr,
            "grad_norm": grad_norm,
            "tokens_per_s": tokens_per_s,
            "pairs": pairs_in_step,
            "mfu": mfu,
        }
        if run.evaluate_now(step):
            evaluated = evaluate(
                scorer, eval_pairs, references.eval, pad, settings.batch_size, device,
                settings.beta, settings.loss, use_bf16,
            )  # fmt: skip
            record.update({f"eval_{name}": value for name, value in (evaluated or {}).items()})
        run.end_step(step, record, model, tokenizer, optimization)
        bar.update(record, f"acc {means['rewards/accuracies']:.2f}")
    bar.close()
    panels = (("loss", "eval_loss"), ("rewards/accuracies", "eval_rewards/accuracies"))
    final = run.finish(model, tokenizer, report.as_dict(), panels)
    dist.close()
    return {
        "final": final,
        "steps": total_steps,
        "report": report,
        "resumed_from": resumed_from,
        "reference_logps": references.file,
        "reference_reused": references.reused,
        "parameters": parameter_counts(model),
        "merged": run.merged,
    }
