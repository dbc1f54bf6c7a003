"""`curate train-rm`: a Bradley–Terry reward model, one loop to read top to bottom.

The model is `AutoModelForSequenceClassification` with one label: a causal LM folder gets a
new linear `score` head (initialised from `--seed`), a reward-model checkpoint keeps its own.
The reward of a sequence is the head's output at its last non-pad token, which is what
`LlamaForSequenceClassification` (and every `GenericForSequenceClassification`) computes once
`config.pad_token_id` is set; it is set here (the tokenizer's pad token, else its eos token, as
TRL does) and saved with the model, so `from_pretrained` of `RUN/final` scores the same way.

Data, as TRL's `RewardTrainer` (1.16) prepares conversational preference rows: each side is
the whole conversation, prompt + that answer, rendered with the chat template (no generation
prompt) and tokenised without added special tokens (`apply_chat_template(tokenize=True)`).
A pair with either side longer than `max_length` is dropped, not truncated (TRL filters such
rows out; a cut sequence would put the reward on a token in the middle of the answer); the
report counts them as `longer_than_max_length`.

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

import contextlib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from curate.errors import UserError
from curate.train import common

LONGER_THAN_MAX_LENGTH = "longer_than_max_length"  # drop reason in the truncation report


@dataclass(frozen=True)
class RMSettings(common.TrainSettings):
    max_length: int = 1024  # per sequence (prompt + answer); longer pairs are dropped
    compile: bool = False
    center_rewards_coefficient: float | None = None  # as TRL's RewardConfig: pushes rewards towards mean 0
    margin_from_scores: bool = False  # rows without `margin`: score_chosen - score_rejected


class RewardPair(TypedDict):
    chosen_ids: list[int]
    rejected_ids: list[int]
    margin: float


# ------------------------------------------------------------------------------ data


def pair_margin(row: Mapping, number: int, margin_from_scores: bool = False) -> float:
    """The row's margin: its `margin` column (read_rows keeps unknown columns in `meta`), else
    score_chosen - score_rejected when asked to, else 0 (the plain Bradley–Terry loss)."""
    meta = row.get("meta") if isinstance(row.get("meta"), Mapping) else {}
    value = row.get("margin", meta.get("margin"))
    if (
        value is None
        and margin_from_scores
        and row.get("score_chosen") is not None
        and row.get("score_rejected") is not None
    ):
        value = row["score_chosen"] - row["score_rejected"]
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"row {number}: the margin must be a finite number, not {value!r}")
    return float(value)


def tokenize_pairs(rows: Iterable[Mapping], tokenizer, template, max_length: int, margin_from_scores: bool = False):
    """`RewardPair`s from preference rows, as TRL's RewardTrainer tokenises them, and a `TruncationReport`.

    Each side: `template.render(prompt + side)` tokenised with `add_special_tokens=False`. Pairs
    with a side over `max_length` tokens are dropped (`longer_than_max_length`), never cut.
    `tokens` counts both sequences; `trained_tokens` equals it (every token feeds the reward).
    """
    from curate.instruct.templates import TemplateRenderError
    from curate.train.data import _TOKENIZE_BATCH, TEMPLATE_ERROR, TruncationReport, template_variables

    if max_length < 2:
        raise UserError(f"max_length must be at least 2 tokens, not {max_length}")
    report = TruncationReport()
    pairs: list[RewardPair] = []
    pending: list[tuple[str, str, float]] = []

    def flush() -> None:
        if not pending:
            return
        encoded = tokenizer(
            [text for chosen, rejected, _ in pending for text in (chosen, rejected)],
            add_special_tokens=False,
            verbose=False,
        )["input_ids"]
        for index, (_, _, margin) in enumerate(pending):
            chosen_ids, rejected_ids = list(encoded[2 * index]), list(encoded[2 * index + 1])
            if len(chosen_ids) > max_length or len(rejected_ids) > max_length:
                report.drop(LONGER_THAN_MAX_LENGTH)
                continue
            report.tokens += len(chosen_ids) + len(rejected_ids)
            pairs.append({"chosen_ids": chosen_ids, "rejected_ids": rejected_ids, "margin": margin})
        pending.clear()

    for row in rows:
        report.rows += 1
        if not all(key in row for key in ("prompt", "chosen", "rejected")):
            raise UserError(f"row {report.rows} is not a preference row (prompt, chosen, rejected)")
        margin = pair_margin(row, report.rows, margin_from_scores)
        variables = template_variables(row)
        try:
            chosen = template.render(list(row["prompt"]) + list(row["chosen"]), **variables)
            rejected = template.render(list(row["prompt"]) + list(row["rejected"]), **variables)
        except TemplateRenderError as error:
            report.drop(TEMPLATE_ERROR, str(error))
            continue
        pending.append((chosen, rejected, margin))
        if len(pending) >= _TOKENIZE_BATCH:
            flush()
    flush()
    report.kept = len(pairs)
    report.trained_tokens = report.tokens
    return pairs, report


def collate_pairs(pairs: Sequence[Mapping], pad_id: int) -> dict[str, Any]:
    """2B right-padded rows, every chosen sequence then every rejected one (TRL's
    `DataCollatorForPreference` layout), a 2D `attention_mask`, and `margin` [B] (float32)."""
    import torch

    if not pairs:
        raise ValueError("an empty batch")
    input_ids, attention_mask = _right_pad(
        [pair["chosen_ids"] for pair in pairs] + [pair["rejected_ids"] for pair in pairs], pad_id
    )
    margin = torch.tensor([float(pair.get("margin", 0.0)) for pair in pairs], dtype=torch.float32)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "margin": margin}


def _right_pad(sequences: Sequence[Sequence[int]], pad_id: int):
    """(input_ids, attention_mask): `sequences` right-padded with `pad_id` to the longest, 1 on real tokens."""
    import torch

    longest = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for number, ids in enumerate(sequences):
        input_ids[number, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[number, : len(ids)] = 1
    return input_ids, attention_mask


# ------------------------------------------------------------------------------ model and loss


@contextmanager
def _quiet_transformers(progress: bool):
    """Silence the load report (a new `score.weight` and an unused `lm_head` are expected here;
    other missing keys are checked by the caller) and, without progress, the loading bar."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _is_head(key: str) -> bool:
    return key.split(".")[0] in ("score", "classifier")


def load_reward_model(name: str, device, seed: int = 0, dtype=None, progress: bool = False):
    """(model, tokenizer, head_initialised): a one-label sequence classifier with pad_token_id set.

    The score head is initialised from `seed` (torch's generator is seeded right before the
    load, as TRL's `set_seed` does) when the checkpoint has none. `dtype` None loads float32
    (TRL's default for reward models; bf16 then comes from autocast, not from the weights).
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        torch.manual_seed(seed)
        with _quiet_transformers(progress):
            model, info = AutoModelForSequenceClassification.from_pretrained(
                name, num_labels=1, use_safetensors=True, dtype=dtype or torch.float32, output_loading_info=True
            )
    except (OSError, ValueError) as error:
        raise UserError(f"cannot load the model {name}: {str(error).splitlines()[0]}") from None
    missing = sorted(info.get("missing_keys") or ())
    body = [key for key in missing if not _is_head(key)]
    if body:
        raise UserError(
            f"{name} does not fit {type(model).__name__}: {len(body)} weights are missing (e.g. {body[0]}); "
            "use a causal LM or reward model folder whose config matches its weights"
        )
    if model.config.num_labels != 1:
        raise UserError(f"{name} has {model.config.num_labels} labels; a reward model has one")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise UserError(f"{name}: the tokenizer has neither a pad nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    # The reward is read at the last token that is not pad_token_id (GenericForSequenceClassification).
    model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer, any(_is_head(key) for key in missing)


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


def evaluate(model, batches: list[dict], device, center_rewards_coefficient: float | None = None) -> dict | None:
    """Mean loss, accuracy (r_c > r_r), margin (r_c - r_r) and reward over every pair of `batches`."""
    import torch

    if not batches:
        return None
    was_training = model.training
    model.eval()
    loss = correct = gap = reward = 0.0
    count = 0
    with torch.inference_mode():
        for batch in batches:
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
    from tqdm import tqdm

    from curate.train import data

    if settings.batch_size < 1 or settings.grad_accum < 1:
        raise UserError("batch_size and grad_accum must be at least 1")
    dist, output, device, use_bf16 = common.open_run(settings)
    model, tokenizer, head_initialised = load_reward_model(
        settings.model, device, settings.seed, progress=progress and dist.is_main
    )
    torch.manual_seed(settings.seed)
    template = common.chat_template(tokenizer, settings.template, settings.model)
    if settings.template:
        # RUN/final keeps the template it was trained with: RewardScorer renders with the model's own.
        tokenizer.chat_template = template.source

    # ---- data: every process tokenises everything and takes its share of each global batch
    train_rows, eval_rows = common.read_split(settings, data.PREFERENCE)
    margins = settings.margin_from_scores
    train_pairs, report = tokenize_pairs(train_rows, tokenizer, template, settings.max_length, margins)
    eval_pairs, eval_report = tokenize_pairs(eval_rows, tokenizer, template, settings.max_length, margins)
    if not train_pairs:
        raise UserError(f"no training pair is left after tokenisation ({report.summary()}); raise --max-length?")
    pad_id = tokenizer.pad_token_id
    eval_batches = [
        collate_pairs(eval_pairs[start : start + settings.batch_size], pad_id)
        for start in range(0, len(eval_pairs), settings.batch_size)
    ]
    global_batch = settings.batch_size * dist.world
    total_steps = common.total_steps(settings, len(train_pairs), dist.world)

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
    center = settings.center_rewards_coefficient

    batches = common.micro_batches(len(train_pairs), global_batch, settings.seed, start_step * settings.grad_accum)
    bar = tqdm(
        total=total_steps, initial=start_step, desc="train-rm", unit="step", disable=not (progress and dist.is_main)
    )
    for step in range(start_step, total_steps):
        started = time.perf_counter()
        micro = [indices for _, (_, indices) in zip(range(settings.grad_accum), batches)]
        pairs = sum(len(indices) for indices in micro)
        local = {"loss": 0.0, "correct": 0.0, "gap": 0.0, "reward": 0.0, "tokens": 0.0}
        for number, global_indices in enumerate(micro):
            # A process whose share of an epoch's last batch is empty still joins the gradient
            # all-reduce, with one pair weighted 0 (Distributed.share).
            share, weight = dist.share(global_indices, settings.batch_size)
            batch = collate_pairs([train_pairs[i] for i in share], pad_id)
            # gradients are averaged over processes: scale by the world size so the step's
            # gradient is the sum over every pair of the global batch, over their count
            sync = number == len(micro) - 1 or not dist.active
            with contextlib.nullcontext() if sync else wrapped.no_sync():
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    r_chosen, r_rejected = rewards(forward, batch, device)
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
        grad_norm = setup.optimizer_step(model, loss_value, step + 1)
        seconds = time.perf_counter() - started
        record = {
            "step": step + 1,
            "loss": loss_value,
            "accuracy": correct / pairs,
            "margin": gap / pairs,
            "mean_reward": reward / pairs,
            "lr": scheduler.get_last_lr()[0],
            "grad_norm": grad_norm,
            "tokens_per_s": tokens / seconds,
            "pairs": pairs,
            "mfu": common.mfu(tokens / seconds / dist.world, per_token, peak),
        }
        if run.evaluate_now(step + 1):
            evaluated = evaluate(model, eval_batches, device, center)
            if evaluated is not None:
                record.update({f"eval_{key}": value for key, value in evaluated.items()})
        run.end_step(step + 1, record, model, tokenizer, optimizer, scheduler)
        bar.update(1)
        bar.set_postfix_str(f"loss {loss_value:.4f} acc {correct / pairs:.2f}", refresh=False)
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
    }


# ------------------------------------------------------------------------------ scoring (curate prefs)


class RewardScorer:
    """Scores whole conversations with a trained reward model (`RUN/final`, or any one-label
    sequence classifier with a chat template), for `curate prefs` to judge candidates.

        scorer = RewardScorer("runs/rm/final")
        scorer.score([[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]])

    Each conversation is rendered with the model's own chat template (or `template`) in
    curate's sandbox, as in training (no generation prompt), tokenised without added special
    tokens, and scored in right-padded batches of `batch_size` (longest first, so a batch
    wastes little padding) without gradients. One float per conversation, in order.
    """

    def __init__(
        self, model_dir: str | Path, device: str = "auto", batch_size: int = 8, template: str | None = None, dtype=None
    ) -> None:
        if batch_size < 1:
            raise UserError(f"batch_size must be at least 1, not {batch_size}")
        self.device = common.pick_device(device)
        self.batch_size = batch_size
        self.model, self.tokenizer, head_initialised = load_reward_model(str(model_dir), self.device, dtype=dtype)
        if head_initialised:
            raise UserError(f"{model_dir} has no reward head (score weights); train one with `curate train-rm`")
        self.model.eval()
        self.template = common.chat_template(self.tokenizer, template, str(model_dir))

    def score(self, conversations: Sequence[Sequence[Mapping]]) -> list[float]:
        import torch

        from curate.instruct.templates import TemplateRenderError

        texts = []
        for number, messages in enumerate(conversations):
            try:
                texts.append(self.template.render(list(messages)))
            except TemplateRenderError as error:
                raise UserError(f"conversation {number}: {error}") from None
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        empty = [number for number, ids in enumerate(encoded) if not ids]
        if empty:
            raise UserError(f"conversation {empty[0]} renders to no tokens; a reward needs at least one")
        order = sorted(range(len(encoded)), key=lambda index: -len(encoded[index]))
        pad_id = self.tokenizer.pad_token_id
        scores = [0.0] * len(encoded)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                input_ids, attention_mask = _right_pad([encoded[index] for index in chunk], pad_id)
                logits = self.model(
                    input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device), use_cache=False
                ).logits
                for row, index in enumerate(chunk):
                    scores[index] = float(logits[row, 0].float().item())
        return scores
