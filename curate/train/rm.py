"""`curate train-rm`: a Bradley–Terry reward model, one loop to read top to bottom.

The model is `AutoModelForSequenceClassification` with one label: a causal LM folder gets a
new linear `score` head (initialised from `--seed`), a reward-model checkpoint keeps its own.
The reward of a sequence is the head's output at its last non-pad token, which is what
`LlamaForSequenceClassification` (and every `GenericForSequenceClassification`) computes once
`config.pad_token_id` is set; it is set here (the tokenizer's pad token, else its eos token, as
TRL does) and saved with the model, so `from_pretrained` of `RUN/final` scores the same way.

Data, as TRL's `RewardTrainer` (1.16) prepares conversational preference rows (data/reward.py):
each side is the whole conversation, prompt + that answer, rendered with the chat template and
tokenised without added special tokens; a pair longer than `max_length` is dropped, not cut.

Loss, per pair: `-logsigmoid(r_chosen - r_rejected - margin)`, with `margin` from a `margin`
column (0 without one), plus `center_rewards_coefficient * (r_chosen + r_rejected) ** 2`
when that is set; the mean over every pair of the optimizer step (all its micro-batches).
`score_chosen` / `score_rejected` are not a margin unless `margin_from_scores=True`: judge
scores come on any scale (1-10, 0-1, log-probs), and TRL does not read them either.

Under torchrun each process takes `batch_size` pairs of every global batch (as train-sft);
a process left without pairs at an epoch's end still joins the all-reduce with a zero-weight
pair. Caveat, shared with TRL and transformers: when the pad token is the eos token and the
template ends a turn with eos, the reward is read at the token before that trailing eos.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from curate.errors import UserError
from curate.instruct.templates import template_for
from curate.llm.reward_model import load_reward_model
from curate.train import batches, run_folder
from curate.train.data import PREFERENCE
from curate.train.data.reward import collate_pairs, tokenize_pairs
from curate.train.distributed import Distributed
from curate.train.flops import Speed
from curate.train.fsdp import gradient_sync
from curate.train.lora import parameter_counts
from curate.train.models import with_adapters
from curate.train.progress import TrainingProgress
from curate.train.run_folder import RunFolder
from curate.train.settings import TrainSettings
from curate.train.startup import start


@dataclass(frozen=True)
class RMSettings(TrainSettings):
    max_length: int = 1024  # per sequence (prompt + answer); longer pairs are dropped
    center_rewards_coefficient: float | None = None  # as TRL's RewardConfig: pushes rewards towards mean 0
    margin_from_scores: bool = False  # rows without `margin`: score_chosen - score_rejected


# ------------------------------------------------------------------------------ model and loss


def rewards(model, batch: Mapping, device):
    """(r_chosen [B], r_rejected [B]) in float32 from a `collate_pairs` batch."""
    scores = model(
        input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device), use_cache=False
    ).logits
    return scores.squeeze(-1).float().chunk(2)


def pair_losses(r_chosen, r_rejected, margin=None, center_rewards_coefficient: float | None = None):
    """Per-pair loss: -logsigmoid(r_c - r_r - margin) (+ coefficient * (r_c + r_r)^2)."""
    import torch.nn.functional as F

    difference = r_chosen - r_rejected
    if margin is not None:
        difference = difference - margin.to(difference.device, difference.dtype)
    losses = -F.logsigmoid(difference)
    if center_rewards_coefficient is not None:
        losses = losses + center_rewards_coefficient * (r_chosen + r_rejected) ** 2
    return losses


def evaluate(model, eval_batches: list[dict], device, center_rewards_coefficient: float | None = None) -> dict | None:
    """Mean loss, accuracy (r_c > r_r), margin (r_c - r_r) and reward over every pair of `batches`."""
    import torch

    if not eval_batches:
        return None
    was_training = model.training
    model.eval()
    loss = correct = gap = reward = 0.0
    count = 0
    with torch.inference_mode():
        for batch in eval_batches:
            r_chosen, r_rejected = rewards(model, batch, device)
            loss += pair_losses(r_chosen, r_rejected, batch["margin"], center_rewards_coefficient).sum().item()
            correct += (r_chosen > r_rejected).sum().item()
            gap += (r_chosen - r_rejected).sum().item()
            reward += (r_chosen + r_rejected).sum().item() / 2
            count += len(r_chosen)
    model.train(was_training)
    return {"loss": loss / count, "accuracy": correct / count, "margin": gap / count, "mean_reward": reward / count}


# ------------------------------------------------------------------------------ the loop


def train_rm(settings: RMSettings, progress: bool = True) -> dict:
    """Train, log metrics.jsonl, checkpoint, and save RUN/final; under torchrun, on every process
    (each takes `batch_size` pairs of every global batch of `batch_size * world` pairs)."""
    import torch

    settings.check()
    # ---- processes, device, model (a new score head is seeded by --seed)
    dist = Distributed.from_environment()
    device = dist.device(settings.device)
    use_bf16 = settings.use_bf16(device)
    run_folder.claim(settings.output, dist)
    torch.manual_seed(settings.seed)
    model, tokenizer, head_initialised = load_reward_model(
        settings.model,
        device,
        settings.seed,
        settings.weights_dtype(),
        progress and dist.is_main,
        settings.load_in_4bit,
    )
    # with --lora, peft keeps the score head trainable beside the adapters (SEQ_CLS's modules_to_save)
    model = with_adapters(model, settings, "SEQ_CLS", announce=progress and dist.is_main)
    torch.manual_seed(settings.seed)
    template = template_for(tokenizer, settings.template, settings.model)
    if settings.template:
        # RUN/final keeps the template it was trained with: RewardScorer renders with the model's own.
        tokenizer.chat_template = template.source

    # ---- data: every process tokenises everything and takes its share of each global batch
    train_rows, eval_rows = batches.read_split(settings, PREFERENCE)
    margins = settings.margin_from_scores
    train_pairs, report = tokenize_pairs(train_rows, tokenizer, template, settings.max_length, margins)
    eval_pairs, eval_report = tokenize_pairs(eval_rows, tokenizer, template, settings.max_length, margins)
    if not train_pairs:
        raise UserError(f"no training pair is left after tokenisation ({report.summary()}); raise --max-length?")
    pad = tokenizer.pad_token_id
    eval_batches = [
        collate_pairs(eval_pairs[start : start + settings.batch_size], pad)
        for start in range(0, len(eval_pairs), settings.batch_size)
    ]
    total_steps = batches.total_steps(settings, len(train_pairs), dist.world)

    # ---- wrap or shard, optimizer and schedule; resume restores them, the weights, the RNG and the data position
    # (the score head outputs one value per position: no vocabulary-wide logits to keep lean)
    ready = start(settings, model, model, dist, device, use_bf16, total_steps)
    optimization, start_step, resumed_from = ready.optimization, ready.start_step, ready.resumed_from
    run = RunFolder(settings.output, settings, total_steps, start_step, resumed_from, dist, root=ready.wrapped)
    speed = Speed.of(model, settings.max_length, device, dist.world)
    center = settings.center_rewards_coefficient

    # ---- the loop
    micro_batches = batches.micro_batches(
        len(train_pairs), settings.batch_size * dist.world, settings.seed, start_step * settings.grad_accum
    )
    bar = TrainingProgress("train-rm", total_steps, start_step, progress and dist.is_main)
    for step in range(start_step + 1, total_steps + 1):
        started = time.perf_counter()
        micro = [indices for _, (_, indices) in zip(range(settings.grad_accum), micro_batches)]
        pairs = sum(len(indices) for indices in micro)
        local = {"loss": 0.0, "correct": 0.0, "gap": 0.0, "reward": 0.0, "tokens": 0.0}
        for number, global_indices in enumerate(micro):
            # A process whose share of an epoch's last batch is empty still joins the gradient
            # all-reduce, with one pair weighted 0 (Distributed.share).
            share, weight = dist.share(global_indices, settings.batch_size)
            batch = collate_pairs([train_pairs[i] for i in share], pad)
            # gradients are averaged over processes: scale by the world size so the step's
            # gradient is the sum over every pair of the global batch, over their count
            sync = number == len(micro) - 1 or not dist.active
            with gradient_sync(ready.wrapped, sync):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    r_chosen, r_rejected = rewards(ready.forward, batch, device)
                losses = pair_losses(r_chosen, r_rejected, batch["margin"], center) * weight
                (losses.sum() * dist.world / pairs).backward()
            if weight:
                with torch.no_grad():
                    local["loss"] += losses.sum().item()
                    local["correct"] += (r_chosen > r_rejected).sum().item()
                    local["gap"] += (r_chosen - r_rejected).sum().item()
                    local["reward"] += (r_chosen + r_rejected).sum().item() / 2
                local["tokens"] += batch["input_ids"].numel()
        step_loss, correct, gap, reward, tokens = dist.sum(list(local.values()))
        loss_value = step_loss / pairs
        grad_norm = optimization.step(model, loss_value, step, run.last_checkpoint)
        tokens_per_s, mfu = speed.measure(tokens, time.perf_counter() - started)
        record = {
            "step": step,
            "loss": loss_value,
            "accuracy": correct / pairs,
            "margin": gap / pairs,
            "mean_reward": reward / pairs,
            "lr": optimization.lr,
            "grad_norm": grad_norm,
            "tokens_per_s": tokens_per_s,
            "pairs": pairs,
            "mfu": mfu,
        }
        if run.evaluate_now(step):
            evaluated = evaluate(model, eval_batches, device, center)
            if evaluated is not None:
                record.update({f"eval_{key}": value for key, value in evaluated.items()})
        run.end_step(step, record, model, tokenizer, optimization)
        bar.update(record, f"acc {correct / pairs:.2f}")
    bar.close()
    truncation = {"train": report.as_dict(), "eval": eval_report.as_dict()}
    final = run.finish(model, tokenizer, truncation, panels=(("loss", "eval_loss"), ("accuracy", "eval_accuracy")))
    dist.close()
    return {
        "final": final,
        "steps": total_steps,
        "report": report,
        "eval_report": eval_report,
        "resumed_from": resumed_from,
        "head_initialised": head_initialised,
        "train_pairs": len(train_pairs),
        "eval_pairs": len(eval_pairs),
        "parameters": parameter_counts(model),
        "merged": run.merged,
    }
