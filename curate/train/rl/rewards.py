"""What a completion earns in train-ppo and train-grpo (`--reward`, repeatable, `--reward-weight`).

A reward is one of:
- a reward-model folder or Hugging Face id (what `curate train-rm` writes, any one-label
  `AutoModelForSequenceClassification`, or a LoRA adapter of one): the score at the last
  token of prompt + completion. When it shares the policy's tokenizer it reads the very tokens
  the policy wrote, as TRL's PPO does; otherwise the conversation is decoded and rendered
  again with the reward model's own tokenizer and chat template;
- a Python function `module:function` (a verifiable reward), called as TRL calls its reward
  functions: `f(prompts=..., completions=..., completion_ids=..., **columns)`, where prompts
  and completions are strings for string prompts and message lists for conversations, and
  every other column of the data comes as a list by its name. It returns one number (or
  None: no opinion) per completion. It runs in this process: it is the user's own code.

Several rewards add up, each times its weight; a None counts as nothing (TRL's nansum).
"""

from __future__ import annotations

import importlib
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from curate.errors import UserError
from curate.llm.devices import first_line

FUNCTION_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass
class Scored:
    """What the policy wrote for a batch of prompts, as the rewards read it."""

    prompts: list  # RLPrompt, one per completion
    texts: list[str]  # the completions, decoded, up to their end-of-sequence token
    prompt_ids: list[list[int]]
    completion_ids: list[list[int]]  # up to and including the end-of-sequence token


class FunctionReward:
    def __init__(self, spec: str) -> None:
        self.name = spec
        module_name, function_name = spec.split(":")
        sys.path.insert(0, str(Path.cwd()))  # a module beside the user, as `python -m` finds it
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # any failure of the user's module is theirs to fix
            raise UserError(f"--reward {spec}: cannot import {module_name}: {first_line(error)}") from None
        finally:
            sys.path.pop(0)
        self.function = getattr(module, function_name, None)
        if not callable(self.function):
            raise UserError(f"--reward {spec}: {module_name} has no function {function_name}")

    def __call__(self, batch: Scored) -> list[float]:
        columns: dict[str, list] = {}
        for prompt in batch.prompts:
            for key in prompt.columns:
                columns.setdefault(key, [])
        for name, values in columns.items():
            values.extend(prompt.columns.get(name) for prompt in batch.prompts)
        conversational = bool(batch.prompts) and batch.prompts[0].conversational
        completions = (
            [[{"role": "assistant", "content": text}] for text in batch.texts] if conversational else list(batch.texts)
        )
        reserved = {"prompts", "completions", "completion_ids"}
        try:
            values = self.function(
                prompts=[prompt.as_given for prompt in batch.prompts],
                completions=completions,
                completion_ids=[list(ids) for ids in batch.completion_ids],
                **{name: value for name, value in columns.items() if name not in reserved},
            )
        except Exception as error:  # the user's function failed: say where, in one line
            raise UserError(f"--reward {self.name} failed: {type(error).__name__}: {first_line(error)}") from None
        return _checked_values(self.name, values, len(batch.texts))


def _checked_values(name: str, values, count: int) -> list[float]:
    try:
        values = list(values)
    except TypeError:
        raise UserError(f"--reward {name} returned {type(values).__name__}, not a list of numbers") from None
    if len(values) != count:
        raise UserError(f"--reward {name} returned {len(values)} values for {count} completions")
    checked = []
    for value in values:
        if value is None:
            checked.append(math.nan)
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            checked.append(float(value))
        else:
            raise UserError(f"--reward {name} returned {value!r}; each value must be a finite number or None")
    return checked


class ModelReward:
    """A reward model's score at the last token of each conversation."""

    def __init__(self, name: str, device, policy_tokenizer, batch_size: int = 8) -> None:
        from curate.llm.reward_model import load_reward_model

        self.name = name
        self.model, self.tokenizer, head_initialised = load_reward_model(name, device)
        if head_initialised:
            raise UserError(f"--reward {name} has no trained score head; train a reward model with curate train-rm")
        self.model.eval().requires_grad_(False)
        self.device = device
        self.batch_size = batch_size
        self.same_tokens = _same_vocabulary(self.tokenizer, policy_tokenizer)

    def __call__(self, batch: Scored) -> list[float]:
        import torch

        from curate.train.rl.values import last_token_scores

        sequences = [self._tokens(batch, index) for index in range(len(batch.texts))]
        scores = []
        with torch.no_grad():
            for start in range(0, len(sequences), self.batch_size):
                scores += last_token_scores(self.model, sequences[start : start + self.batch_size], self.device)
        return scores

    def _tokens(self, batch: Scored, index: int) -> list[int]:
        if self.same_tokens:
            return list(batch.prompt_ids[index]) + list(batch.completion_ids[index])
        messages = [*batch.prompts[index].messages, {"role": "assistant", "content": batch.texts[index]}]
        if getattr(self.tokenizer, "chat_template", None):
            rendered = self.tokenizer.apply_chat_template(messages, tokenize=False)
            return self.tokenizer(rendered, add_special_tokens=False)["input_ids"]
        text = "\n\n".join(message["content"] for message in messages)
        return self.tokenizer(text)["input_ids"]


def _same_vocabulary(first, second) -> bool:
    return len(first) == len(second) and first.get_vocab() == second.get_vocab()


class Rewards:
    """The rewards of a run, weighted: `score(batch)` gives each completion's total and each
    reward's own values (for the metrics)."""

    def __init__(self, specs: tuple[str, ...], weights: tuple[float, ...], device, policy_tokenizer) -> None:
        if not specs:
            raise UserError("name at least one --reward: a reward-model folder or a module:function")
        if weights and len(weights) != len(specs):
            raise UserError(f"{len(weights)} --reward-weight values for {len(specs)} --reward; give one per reward")
        self.weights = tuple(weights) or (1.0,) * len(specs)
        self.sources = [self._source(spec, device, policy_tokenizer) for spec in specs]

    @staticmethod
    def _source(spec: str, device, policy_tokenizer):
        if FUNCTION_SPEC.match(spec) and not Path(spec).exists():
            return FunctionReward(spec)
        return ModelReward(spec, device, policy_tokenizer)

    @property
    def models(self) -> list[str]:
        return [source.name for source in self.sources if isinstance(source, ModelReward)]

    def score(self, batch: Scored) -> tuple[list[float], dict[str, list[float]]]:
        each = {source.name: source(batch) for source in self.sources}
        totals = []
        for index in range(len(batch.texts)):
            parts = [weight * values[index] for weight, values in zip(self.weights, each.values(), strict=True)]
            totals.append(sum(part for part in parts if not math.isnan(part)))
        return totals, each
