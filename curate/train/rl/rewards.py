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
import numbers
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
        here = str(Path.cwd())
        sys.path.insert(0, here)  # a module beside the user, as `python -m` finds it
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # any failure of the user's module is theirs to fix
            raise UserError(f"--reward {spec}: cannot import {module_name}: {first_line(error)}") from None
        finally:
            if here in sys.path:  # the module may have changed sys.path itself
                sys.path.remove(here)
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
        number = _number(value)
        if value is None:
            checked.append(math.nan)
        elif number is not None and math.isfinite(number):
            checked.append(number)
        else:
            raise UserError(f"--reward {name} returned {value!r}; each value must be a finite number or None")
    return checked


def _number(value) -> float | None:
    """A Python, numpy or one-element torch number as a float (TRL takes them all); else None."""
    if isinstance(value, bool | str | bytes):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "item") and (getattr(value, "ndim", None) == 0 or getattr(value, "shape", None) == (1,)):
        item = value.item()
        return float(item) if isinstance(item, numbers.Real) and not isinstance(item, bool) else None
    return None


class ModelReward:
    """A reward model's score of each conversation: a decoder's (a `score` head, what train-rm
    makes) at its last token; an encoder's (BERT, RoBERTa, DeBERTa: a `classifier` head) from its
    own forward, which pools as it was trained to (the first token)."""

    def __init__(self, name: str, device, policy_tokenizer, seed: int, batch_size: int = 8) -> None:
        import torch

        from curate.llm.reward_model import load_reward_model
        from curate.train.rl.values import is_decoder_classifier

        self.name = name
        with torch.random.fork_rng(devices=[]):  # the load seeds torch; the run's own stream goes on
            self.model, self.tokenizer, head_initialised = load_reward_model(name, device, seed=seed)
        if head_initialised:
            raise UserError(f"--reward {name} has no trained score head; train a reward model with curate train-rm")
        self.model.eval().requires_grad_(False)
        self.device = device
        self.batch_size = batch_size
        self.decoder = is_decoder_classifier(self.model)
        self.same_tokens = self.decoder and _same_vocabulary(self.tokenizer, policy_tokenizer)
        self.longest = _longest_input(self.model, self.tokenizer)

    def __call__(self, batch: Scored) -> list[float]:
        import torch

        from curate.train.rl.values import last_token_scores, own_scores

        sequences = [self._tokens(batch, index) for index in range(len(batch.texts))]
        scorer = last_token_scores if self.decoder else own_scores
        scores = []
        with torch.no_grad():
            for start in range(0, len(sequences), self.batch_size):
                scores += scorer(self.model, sequences[start : start + self.batch_size], self.device)
        return scores

    def _tokens(self, batch: Scored, index: int) -> list[int]:
        if self.same_tokens:
            tokens = list(batch.prompt_ids[index]) + list(batch.completion_ids[index])
        else:
            tokens = self._encoded(
                [*batch.prompts[index].messages, {"role": "assistant", "content": batch.texts[index]}]
            )
        if self.longest is not None and len(tokens) > self.longest:
            # a decoder scores the last token, so it keeps the end; an encoder pools its first
            tokens = tokens[-self.longest :] if self.decoder else tokens[: self.longest]
        return tokens

    def _encoded(self, messages: list[dict]) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            try:
                rendered = self.tokenizer.apply_chat_template(messages, tokenize=False)
            except Exception as error:  # the reward model's own template refused the conversation
                raise UserError(f"--reward {self.name}: its chat template failed: {first_line(error)}") from None
            return self.tokenizer(rendered, add_special_tokens=False)["input_ids"]
        text = "\n\n".join(message["content"] for message in messages)
        return self.tokenizer(text)["input_ids"]


def _longest_input(model, tokenizer) -> int | None:
    """The most tokens the reward model reads: its tokenizer's limit, else its position table's."""
    limits = [
        limit
        for limit in (
            getattr(tokenizer, "model_max_length", None),
            getattr(model.config, "max_position_embeddings", None),
        )
        if isinstance(limit, int) and 0 < limit < 1_000_000  # transformers' "no limit" is a huge number
    ]
    return min(limits) if limits else None


def is_function(spec: str) -> bool:
    return bool(FUNCTION_SPEC.match(spec)) and not Path(spec).exists()


def check_specs(specs: tuple[str, ...], weights: tuple[float, ...]) -> None:
    """The mistakes --reward can show before any model loads: none given, weights that do not
    match, a repeated reward, a function that cannot be imported, a folder that is not there."""
    if not specs:
        raise UserError("name at least one --reward: a reward-model folder or a module:function")
    if weights and len(weights) != len(specs):
        raise UserError(f"{len(weights)} --reward-weight values for {len(specs)} --reward; give one per reward")
    repeated = sorted({spec for spec in specs if specs.count(spec) > 1})
    if repeated:
        raise UserError(f"--reward {repeated[0]} is given twice; give it once (with the sum of its weights)")
    for spec in specs:
        if is_function(spec):
            FunctionReward(spec)
        elif (spec.startswith((".", "/", "~")) or spec.count("/") > 1) and not Path(spec).expanduser().exists():
            raise UserError(
                f"--reward {spec}: no such folder (a reward model folder, a Hugging Face id or module:function)"
            )


def _same_vocabulary(first, second) -> bool:
    return len(first) == len(second) and first.get_vocab() == second.get_vocab()


class Rewards:
    """The rewards of a run, weighted: `score(batch)` gives each completion's total and each
    reward's own values (for the metrics)."""

    def __init__(
        self, specs: tuple[str, ...], weights: tuple[float, ...], device, policy_tokenizer, seed: int = 0
    ) -> None:
        check_specs(specs, weights)
        self.weights = tuple(weights) or (1.0,) * len(specs)
        self.sources = [
            FunctionReward(spec) if is_function(spec) else ModelReward(spec, device, policy_tokenizer, seed)
            for spec in specs
        ]

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
