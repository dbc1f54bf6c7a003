"""`curate train-sft`: supervised fine-tuning, one loop to read top to bottom.

Loss is next-token cross-entropy on assistant tokens only (labels -100 elsewhere), summed
over the accumulated micro-batches and divided by the number of trained tokens in all of
them, so an optimizer step weighs every trained token the same however the tokens fall
into micro-batches (and a packed run equals an unpacked one).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from curate.errors import UserError
from curate.train import common


@dataclass(frozen=True)
class SFTSettings(common.TrainSettings):
    packing: bool = True
    compile: bool = False


def token_loss_sum(logits, labels):
    """Summed next-token cross-entropy over labels != -100, and how many tokens that is."""
    import torch.nn.functional as F

    shifted_logits = logits[:, :-1, :].float()
    shifted_labels = labels[:, 1:]
    loss = F.cross_entropy(
        shifted_logits.reshape(-1, shifted_logits.size(-1)),
        shifted_labels.reshape(-1),
        ignore_index=-100,
        reduction="sum",
    )
    return loss, int((shifted_labels != -100).sum())


def _share(items: list, indices: list[int], dist, batch_size: int) -> list:
    """This process's rows of a global micro-batch (`Distributed.share`); the row an idle
    process runs only to join the gradient sync has every label -100, so nothing is trained."""
    share, weight = dist.share(indices, batch_size)
    rows = [items[index] for index in share]
    if not weight:
        rows = [{**rows[0], "labels": [-100] * len(rows[0]["labels"])}]
    return rows


def evaluate(model, batches: list[dict], device) -> float | None:
    import torch

    if not batches:
        return None
    model.eval()
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for batch in batches:
            logits = model(**common.model_inputs(batch, device)).logits
            loss, count = token_loss_sum(logits, batch["labels"].to(device))
            total += loss.item()
            tokens += count
    model.train()
    return total / max(tokens, 1)


def train_sft(settings: SFTSettings, progress: bool = True) -> dict:
    """Train, log metrics.jsonl, checkpoint, and save RUN/final; under torchrun, on every process."""
    import torch
    from tqdm import tqdm

    from curate.train import data

    dist, output, device, use_bf16 = common.open_run(settings)
    model, tokenizer = common.load_model(settings.model, device)
    template = common.chat_template(tokenizer, settings.template, settings.model)

    # ---- data: every process tokenises everything and takes its share of each global batch
    train_rows, eval_rows = common.read_split(settings)
    train_examples, report = data.tokenize_sft(train_rows, tokenizer, template, settings.max_length)
    eval_examples, _ = data.tokenize_sft(eval_rows, tokenizer, template, settings.max_length)
    if not train_examples:
        raise UserError(f"no training example is left after tokenisation: {report.summary()}")
    pad_id = common.pad_id(tokenizer)
    train_items = data.pack(train_examples, settings.max_length) if settings.packing else train_examples
    eval_items = data.pack(eval_examples, settings.max_length) if settings.packing else eval_examples
    attention = model.config._attn_implementation  # the packed mask's form depends on it (data.collate_sft)

    def collate(items: list) -> dict:
        return data.collate_sft(items, pad_id, settings.packing, attn_implementation=attention)

    eval_batches = [
        collate(eval_items[start : start + settings.batch_size])
        for start in range(0, len(eval_items), settings.batch_size)
    ]
    global_batch = settings.batch_size * dist.world
    total_steps = common.total_steps(settings, len(train_items), dist.world)

    # ---- model, optimizer, schedule; resume restores all of them and the data position
    setup = common.start_training(model, settings, total_steps, output, dist, device)
    optimizer, scheduler, wrapped, run = setup.optimizer, setup.scheduler, setup.wrapped, setup.run
    start_step, resumed_from, per_token, peak = (
        setup.start_step,
        setup.resumed_from,
        setup.flops_per_token,
        setup.peak_flops,
    )
    forward = torch.compile(wrapped) if settings.compile else wrapped

    batches = common.micro_batches(len(train_items), global_batch, settings.seed, start_step * settings.grad_accum)
    bar = tqdm(
        total=total_steps, initial=start_step, desc="train-sft", unit="step", disable=not (progress and dist.is_main)
    )
    for step in range(start_step, total_steps):
        started = time.perf_counter()
        micro = [
            collate(_share(train_items, indices, dist, settings.batch_size))
            for _, (_, indices) in zip(range(settings.grad_accum), batches)
        ]
        local_trained = sum(int((batch["labels"][:, 1:] != -100).sum()) for batch in micro)
        (trained,) = dist.sum([local_trained])
        local_loss, local_tokens = 0.0, 0
        for number, batch in enumerate(micro):
            # gradients are averaged over processes: scale by the world size so the step's
            # gradient is the sum over every trained token of the global batch, over their count
            sync = number == len(micro) - 1 or not dist.active
            with contextlib.nullcontext() if sync else wrapped.no_sync():
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    logits = forward(**common.model_inputs(batch, device)).logits
                loss_sum, _ = token_loss_sum(logits, batch["labels"].to(device))
                (loss_sum * dist.world / max(trained, 1)).backward()
            local_loss += loss_sum.item()
            local_tokens += int(batch["input_ids"].numel())
        step_loss, tokens = dist.sum([local_loss, local_tokens])
        loss_value = step_loss / max(trained, 1)
        grad_norm = setup.optimizer_step(model, loss_value, step + 1)
        seconds = time.perf_counter() - started
        record = {
            "step": step + 1,
            "loss": loss_value,
            "lr": scheduler.get_last_lr()[0],
            "grad_norm": grad_norm,
            "tokens_per_s": tokens / seconds,
            "trained_tokens": int(trained),
            "mfu": common.mfu(tokens / seconds / dist.world, per_token, peak),
        }
        if run.evaluate_now(step + 1):
            record["eval_loss"] = evaluate(model, eval_batches, device)
        run.end_step(step + 1, record, model, tokenizer, optimizer, scheduler)
        bar.update(1)
        bar.set_postfix_str(f"loss {loss_value:.4f}", refresh=False)
    bar.close()
    final = run.finish(model, tokenizer, report.as_dict(), panels=(("loss", "eval_loss"),))
    dist.close()
    return {"final": final, "steps": total_steps, "report": report, "resumed_from": resumed_from}
