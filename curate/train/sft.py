"""`curate train-sft`: supervised fine-tuning, one loop to read top to bottom.

Loss is next-token cross-entropy on assistant tokens only (labels -100 elsewhere), summed
over the accumulated micro-batches and divided by the number of trained tokens in all of
them, so an optimizer step weighs every trained token the same however the tokens fall
into micro-batches (and a packed run equals an unpacked one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from curate.errors import UserError
from curate.instruct.templates import template_for
from curate.train import batches, run_folder
from curate.train.data import collate_sft, pack, tokenize_sft
from curate.train.distributed import Distributed
from curate.train.flops import Speed
from curate.train.fsdp import gradient_sync
from curate.train.lean_loss import token_scorer
from curate.train.lora import parameter_counts
from curate.train.models import load_model, model_inputs, pad_id, with_adapters
from curate.train.progress import TrainingProgress
from curate.train.run_folder import RunFolder
from curate.train.settings import TrainSettings
from curate.train.startup import start


@dataclass(frozen=True)
class SFTSettings(TrainSettings):
    packing: bool = True


def _share(items: list, indices: list[int], dist, batch_size: int) -> list:
    """This process's rows of a global micro-batch (`Distributed.share`); the row an idle
    process runs only to join the gradient sync has every label -100, so nothing is trained."""
    share, weight = dist.share(indices, batch_size)
    rows = [items[index] for index in share]
    if not weight:
        rows = [{**rows[0], "labels": [-100] * len(rows[0]["labels"])}]
    return rows


def evaluate(scorer, eval_batches: list[dict], device) -> float | None:
    """Mean next-token cross-entropy over the trained tokens of `eval_batches`."""
    import torch

    if not eval_batches:
        return None
    scorer.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for batch in eval_batches:
            logps, _ = scorer(model_inputs(batch, device), batch["labels"].to(device))
            total -= logps.sum().item()
            tokens += logps.numel()
    scorer.train()
    return total / max(tokens, 1)


def train_sft(settings: SFTSettings, progress: bool = True) -> dict:
    """Train, log metrics.jsonl, checkpoint, and save RUN/final; under torchrun, on every process."""
    import torch

    settings.check()
    # ---- processes, device, model
    dist = Distributed.from_environment()
    device = dist.device(settings.device)
    use_bf16 = settings.use_bf16(device)
    run_folder.claim(settings.output, dist)
    torch.manual_seed(settings.seed)
    model, tokenizer = load_model(settings.model, device, settings.weights_dtype(), settings.load_in_4bit)
    model = with_adapters(model, settings, "CAUSAL_LM", announce=progress and dist.is_main)
    template = template_for(tokenizer, settings.template, settings.model)

    # ---- data: every process tokenises everything and takes its share of each global batch
    train_rows, eval_rows = batches.read_split(settings)
    train_examples, report = tokenize_sft(train_rows, tokenizer, template, settings.max_length)
    eval_examples, _ = tokenize_sft(eval_rows, tokenizer, template, settings.max_length)
    if not train_examples:
        raise UserError(f"no training example is left after tokenisation: {report.summary()}")
    pad = pad_id(tokenizer)
    train_items = pack(train_examples, settings.max_length) if settings.packing else train_examples
    eval_items = pack(eval_examples, settings.max_length) if settings.packing else eval_examples
    attention = model.config._attn_implementation  # the packed mask's form depends on it (collate_sft)

    def collate(items: list) -> dict:
        return collate_sft(items, pad, settings.packing, attn_implementation=attention)

    eval_batches = [
        collate(eval_items[start : start + settings.batch_size])
        for start in range(0, len(eval_items), settings.batch_size)
    ]
    total_steps = batches.total_steps(settings, len(train_items), dist.world)

    # ---- wrap or shard, optimizer and schedule; resume restores them, the weights, the RNG and the data position
    scorer = token_scorer(model, device, settings.loss_chunk_tokens)  # the loss, never [B, L, V] logits at once
    ready = start(settings, model, scorer, dist, device, use_bf16, total_steps)
    optimization, start_step, resumed_from = ready.optimization, ready.start_step, ready.resumed_from
    run = RunFolder(settings.output, settings, total_steps, start_step, resumed_from, dist, root=ready.wrapped)
    speed = Speed.of(model, settings.max_length, device, dist.world)

    # ---- the loop
    micro_batches = batches.micro_batches(
        len(train_items), settings.batch_size * dist.world, settings.seed, start_step * settings.grad_accum
    )
    bar = TrainingProgress("train-sft", total_steps, start_step, progress and dist.is_main)
    for step in range(start_step + 1, total_steps + 1):
        started = time.perf_counter()
        micro = [
            collate(_share(train_items, indices, dist, settings.batch_size))
            for _, (_, indices) in zip(range(settings.grad_accum), micro_batches)
        ]
        local_trained = sum(int((batch["labels"][:, 1:] != -100).sum()) for batch in micro)
        (trained,) = dist.sum([local_trained])
        local_loss, local_tokens = 0.0, 0
        for number, batch in enumerate(micro):
            # gradients are averaged over processes: scale by the world size so the step's
            # gradient is the sum over every trained token of the global batch, over their count
            sync = number == len(micro) - 1 or not dist.active
            with gradient_sync(ready.wrapped, sync):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    logps, _ = ready.forward(model_inputs(batch, device), batch["labels"].to(device))
                loss_sum = -logps.sum()
                (loss_sum * dist.world / max(trained, 1)).backward()
            local_loss += loss_sum.item()
            local_tokens += int(batch["input_ids"].numel())
        step_loss, tokens = dist.sum([local_loss, local_tokens])
        loss_value = step_loss / max(trained, 1)
        grad_norm = optimization.step(model, loss_value, step, run.last_checkpoint)
        tokens_per_s, mfu = speed.measure(tokens, time.perf_counter() - started)
        record = {
            "step": step,
            "loss": loss_value,
            "lr": optimization.lr,
            "grad_norm": grad_norm,
            "tokens_per_s": tokens_per_s,
            "trained_tokens": int(trained),
            "mfu": mfu,
        }
        if run.evaluate_now(step):
            record["eval_loss"] = evaluate(scorer, eval_batches, device)
        run.end_step(step, record, model, tokenizer, optimization)
        bar.update(record)
    bar.close()
    final = run.finish(model, tokenizer, report.as_dict(), panels=(("loss", "eval_loss"),))
    dist.close()
    return {
        "final": final,
        "steps": total_steps,
        "report": report,
        "resumed_from": resumed_from,
        "parameters": parameter_counts(model),
        "merged": run.merged,
    }
