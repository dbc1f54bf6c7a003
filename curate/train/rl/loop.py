"""The frame of an RL run, shared by train-ppo and train-grpo: load the policy (and PPO's value
model), the prompts, the rewards and the reference; wrap, optimise, checkpoint and resume as
the other trainers do; and, each step, roll out, log metrics and a sample, and watch the KL.
The algorithms' own steps (grpo.py, ppo.py) are the loops between `steps()` and `finish()`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import torch

from curate.train import batches, run_folder
from curate.train.distributed import Distributed
from curate.train.fsdp import gradient_sync
from curate.train.lean_loss import token_scorer
from curate.train.lora import apply_lora, parameter_counts
from curate.train.models import load_model, model_inputs, pad_id, with_adapters
from curate.train.progress import TrainingProgress
from curate.train.rl import common
from curate.train.rl.prompts import read_prompts
from curate.train.rl.rewards import ModelReward, Rewards, check_specs
from curate.train.rl.rollout import Rollout, encode_prompts, generate
from curate.train.rl.values import load_value_model, token_values
from curate.train.run_folder import RunFolder
from curate.train.startup import start


def hash_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step) * 1_009 + rank


class PolicyAndValue(torch.nn.Module):
    """PPO trains both in one backward pass (as TRL's PolicyAndValueWrapper): one module, so DDP
    syncs both and one AdamW steps both."""

    def __init__(self, scorer, value) -> None:
        super().__init__()
        self.scorer = scorer
        self.value = value

    def forward(self, inputs: dict, labels):
        logps, rows = self.scorer(inputs, labels)
        return logps, rows, token_values(self.value, **inputs)


class PromptReport:
    """What became of the data's records: prompts trained on, held out, and records without a prompt."""

    def __init__(self, train: int, held_out: int, rejected: list[dict]) -> None:
        self.counts = {"train_prompts": train, "eval_prompts": held_out, "records_without_prompt": len(rejected)}
        self.rejected = rejected[:100]

    def summary(self) -> str:
        counts = self.counts
        text = f"{counts['train_prompts']:,} prompts ({counts['eval_prompts']:,} held out for eval_reward)"
        if counts["records_without_prompt"]:
            text += f"; {counts['records_without_prompt']:,} records without a user turn skipped"
        return text

    def as_dict(self) -> dict:
        return {**self.counts, "rejected": self.rejected}


class RLRun:
    def __init__(self, settings, progress: bool, optimizer_steps_per_step: int, name: str, value: bool = False):
        self.settings = settings
        self.dist = Distributed.from_environment()
        self.device = self.dist.device(settings.device)
        self.use_bf16 = settings.use_bf16(self.device)
        run_folder.claim(settings.output, self.dist)
        check_specs(settings.rewards, settings.reward_weights)  # a mistyped --reward costs no model load
        torch.manual_seed(settings.seed)
        announce = progress and self.dist.is_main
        policy, self.tokenizer = load_model(
            settings.model, self.device, settings.weights_dtype(), settings.load_in_4bit
        )
        self.policy = with_adapters(policy, settings, "CAUSAL_LM", announce=announce)
        common.disable_dropout(self.policy)
        from curate.instruct.templates import template_for

        self.template = template_for(self.tokenizer, settings.template, settings.model)
        self.pad = pad_id(self.tokenizer)

        prompts, rejected = read_prompts(list(settings.data))
        self.train_prompts, self.eval_prompts = batches.split_rows(prompts, settings.eval_fraction, settings.seed)
        self.report = PromptReport(len(self.train_prompts), len(self.eval_prompts), rejected)
        self.rewards = Rewards(settings.rewards, settings.reward_weights, self.device, self.tokenizer, settings.seed)

        self.scorer = token_scorer(self.policy, self.device, settings.loss_chunk_tokens)
        self.scorer.temperature = settings.sampling.temperature
        self.value = self._value_model() if value else None
        trainee = PolicyAndValue(self.scorer, self.value) if self.value is not None else self.scorer
        self.trainee = trainee
        per_step = settings.batch_size * self.dist.world
        if settings.max_steps:
            self.total_steps = settings.max_steps
        else:
            self.total_steps = max(1, math.ceil(settings.epochs * len(self.train_prompts) / per_step))
        self._restore_value()
        ready = start(
            settings, self.policy, trainee, self.dist, self.device, self.use_bf16,
            self.total_steps * optimizer_steps_per_step,
        )  # fmt: skip
        self.ready = ready
        self.optimization, self.start_step, self.resumed_from = ready.optimization, ready.start_step, ready.resumed_from
        reference_dtype = torch.bfloat16 if self.use_bf16 else torch.float32
        self.reference = (
            common.Reference(settings, self.policy, self.scorer, self.device, reference_dtype)
            if self._needs_reference()
            else None
        )
        companions = {"value": self.value} if self.value is not None else None
        self.folder = RunFolder(
            settings.output, settings, self.total_steps, self.start_step, self.resumed_from, self.dist,
            root=ready.wrapped, companions=companions,
        )  # fmt: skip
        resumed_at = self.start_step if self.resumed_from else None
        self.samples = common.samples_log(settings.output, resumed_at, self.dist.is_main)
        self._prompt_batches = batches.micro_batches(len(self.train_prompts), per_step, settings.seed, self.start_step)
        self.bar = TrainingProgress(name, self.total_steps, self.start_step, announce)

    # ---- setup
    def _value_model(self) -> torch.nn.Module:
        """PPO's value model: from the first reward model that reads the policy's tokens (a decoder
        with the same vocabulary), as TRL starts it; else from the policy's weights."""
        settings = self.settings
        readers = [s.name for s in self.rewards.sources if isinstance(s, ModelReward) and s.same_tokens]
        source = readers[0] if readers else settings.model
        model = load_value_model(source, self.device, settings.seed)
        if settings.lora is not None:
            model = apply_lora(model, settings.lora, "SEQ_CLS", source)
        common.disable_dropout(model)
        return model.train()

    def _restore_value(self) -> None:
        from curate.train import checkpoint

        latest = checkpoint.latest_checkpoint(self.settings.output) if self.settings.resume else None
        if self.value is not None and latest is not None:
            checkpoint.restore_weights(latest / "value", self.value)

    def _needs_reference(self) -> bool:
        settings = self.settings
        return self.value is not None or getattr(settings, "beta", 0.0) != 0.0 or settings.max_kl is not None

    # ---- each step
    def steps(self) -> Iterator[int]:
        """The steps still to run. Each starts torch's generator from (seed, step, process): a
        resumed run samples what the whole run would have, and processes sample differently."""
        for step in range(self.start_step + 1, self.total_steps + 1):
            torch.manual_seed(hash_seed(self.settings.seed, step, self.dist.rank))
            yield step

    def next_prompts(self) -> list:
        """This process's prompts of the step: always --batch-size of them, so every process runs
        the same micro-batches (an epoch's short last batch is filled up from its own prompts)."""
        _, indices = next(self._prompt_batches)
        per_step = self.settings.batch_size * self.dist.world
        full = [indices[number % len(indices)] for number in range(per_step)]
        mine, _ = self.dist.share(full, self.settings.batch_size)
        return [self.train_prompts[index] for index in mine]

    def rollout(self, prompts: list) -> tuple[Rollout, list[float], dict]:
        """The policy's completions of `prompts` and their rewards (the missing-EOS penalty taken off)."""
        ids = encode_prompts(self.tokenizer, self.template, prompts, self.settings.max_prompt_tokens)
        with self.autocast():
            rollout = generate(self.policy, self.tokenizer, prompts, ids, self.settings.sampling, self.pad, self.device)
        totals, each = self.rewards.score(rollout.scored())
        return rollout, common.apply_missing_eos_penalty(totals, rollout, self.settings.missing_eos_penalty), each

    def inputs(self, rollout: Rollout) -> tuple[dict, torch.Tensor]:
        labels = rollout.input_ids.masked_fill(~rollout.attention_mask.bool(), -100)
        labels[:, : rollout.context] = -100
        batch = {
            "input_ids": rollout.input_ids, "attention_mask": rollout.attention_mask,
            "position_ids": rollout.position_ids,
        }  # fmt: skip
        return model_inputs(batch, self.device), labels.to(self.device)

    @staticmethod
    def per_token(logps, rollout: Rollout) -> torch.Tensor:
        placed = torch.zeros(rollout.completion_mask.shape, dtype=logps.dtype, device=logps.device)
        return placed.masked_scatter(rollout.completion_mask.to(logps.device), logps)

    @torch.no_grad()
    def policy_logps(self, rollout: Rollout) -> torch.Tensor:
        logps, _ = self.scorer(*self.inputs(rollout))
        return self.per_token(logps, rollout)

    def train_logps(self, rollout: Rollout) -> torch.Tensor:
        logps, _ = self.ready.forward(*self.inputs(rollout))
        return self.per_token(logps, rollout)

    def train_logps_and_values(self, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
        logps, _, values = self.ready.forward(*self.inputs(rollout))
        return self.per_token(logps, rollout), values[:, rollout.context - 1 : -1]

    def sync(self, now: bool) -> contextlib.AbstractContextManager:
        return gradient_sync(self.ready.wrapped, now or not self.dist.active)

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.use_bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def optimizer_step(self, loss: float, step: int) -> float:
        """Step on the processes' mean loss: a NaN on any one stops them all."""
        (total,) = self.dist.sum([loss])
        return self.optimization.step(self.trainee, total / self.dist.world, step, self.folder.last_checkpoint)

    def record(
        self, step: int, rollout: Rollout, totals, each, kl_sums, logps, started: float, generated: float
    ) -> dict:
        """The step's shared metrics: rewards, KL, entropy, lengths, EOS share, speed, lr."""
        mask = rollout.completion_mask
        record = {"step": step, **common.rollout_metrics(self.dist, rollout, totals, each, kl_sums)}
        entropy_sum, tokens, trained = self.dist.sum(
            [float(-(logps * mask).sum()), float(mask.sum()), float(rollout.attention_mask.sum())]
        )
        now = time.perf_counter()
        record |= {
            "entropy": entropy_sum / max(tokens, 1.0),
            "lr": self.optimization.lr,
            "rollout_tokens_per_s": tokens / max(generated - started, 1e-9),
            "tokens_per_s": trained / max(now - generated, 1e-9),
        }
        return record

    def end_step(self, step: int, record: dict, rollout: Rollout, totals: list[float]) -> None:
        """Evaluate when due, stop on a KL past --max-kl, log the metrics and a sample, checkpoint."""
        if self.eval_prompts and self.folder.evaluate_now(step, everywhere=True):  # each process its share
            record["eval_reward"] = self.evaluate()
        if step % self.settings.log_every == 0 or step == self.total_steps:
            common.write_sample(self.samples, step, rollout, totals)
        try:
            common.check_kl(record, self.settings.max_kl, step, self.settings.output)
        except Exception:
            if self.folder.metrics is not None:
                self.folder.metrics.log(record)
            raise
        self.folder.end_step(step, record, self.policy, self.tokenizer, self.optimization)
        reward = f"reward {record['reward']:.3f}"
        kl = f"kl {record['kl']:.3f}" if record.get("kl") is not None else None
        self.bar.update(record, *[part for part in (reward, kl) if part])

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean reward of one completion per held-out prompt, the prompts shared among the processes."""
        totals = []
        mine = self.eval_prompts[self.dist.rank :: self.dist.world]
        chunk = self.settings.batch_size * max(getattr(self.settings, "num_generations", 1), 1)
        for begin in range(0, len(mine), chunk):
            totals += self.rollout(mine[begin : begin + chunk])[1]
        total, count = self.dist.sum([sum(totals), float(len(totals))])
        return total / count

    def finish(self) -> dict:
        self.bar.close()
        panels = (("reward", "eval_reward"), ("kl",), ("loss",))
        final = self.folder.finish(self.policy, self.tokenizer, self.report.as_dict(), panels=panels)
        if self.samples is not None:
            self.samples.close()
        self.dist.close()
        return {
            "final": final,
            "steps": self.total_steps,
            "report": self.report,
            "resumed_from": self.resumed_from,
            "parameters": parameter_counts(self.policy),
            "merged": self.folder.merged,
            "samples": self.settings.output / "samples.jsonl",
        }
