"""Rollouts: the policy answers a batch of prompts (batched `generate`), and the per-token
log-probabilities of what it wrote, under the policy as it trains or under the reference.

A rollout's rows are [left-padded prompt | completion]: the completion keeps its tokens up to
and including the first end-of-sequence token and is padded after it, so every loss and every
reward sees exactly the tokens a user would get.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import GenerationConfig

from curate.errors import UserError
from curate.instruct.templates import ChatTemplate
from curate.train.rl.prompts import RLPrompt
from curate.train.rl.rewards import Scored


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256


@dataclass
class Rollout:
    prompts: list[RLPrompt]  # one per row
    input_ids: torch.Tensor  # [N, P + R]
    attention_mask: torch.Tensor  # [N, P + R]: the prompt's tokens and the kept completion tokens
    context: int  # P, the padded prompt length
    completion_mask: torch.Tensor  # [N, R] bool: the kept completion tokens
    ends_with_eos: torch.Tensor  # [N] bool
    texts: list[str]

    @property
    def completions(self) -> torch.Tensor:
        return self.input_ids[:, self.context :]

    @property
    def position_ids(self) -> torch.Tensor:
        return (self.attention_mask.cumsum(1) - 1).clamp(min=0)

    def rows(self, indices) -> Rollout:
        """The rollout of the rows `indices` (a micro-batch)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return Rollout(
            [self.prompts[int(i)] for i in index], self.input_ids[index], self.attention_mask[index], self.context,
            self.completion_mask[index], self.ends_with_eos[index], [self.texts[int(i)] for i in index],
        )  # fmt: skip

    def scored(self) -> Scored:
        prompt_ids, completion_ids = [], []
        for row in range(len(self.texts)):
            prompt_part = self.input_ids[row, : self.context][self.attention_mask[row, : self.context].bool()]
            prompt_ids.append(prompt_part.tolist())
            completion_ids.append(self.completions[row][self.completion_mask[row]].tolist())
        return Scored(self.prompts, self.texts, prompt_ids, completion_ids)


def encode_prompts(tokenizer, template: ChatTemplate, prompts: list[RLPrompt], max_prompt_tokens: int) -> list:
    """Each prompt rendered with the chat template, generation prompt added, as token ids; a
    prompt longer than `max_prompt_tokens` keeps its last tokens (the question stays)."""
    encoded = []
    for prompt in prompts:
        text = template.render(prompt.messages, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise UserError(f"the chat template rendered prompt {prompt.id} as nothing")
        encoded.append(ids[-max_prompt_tokens:])
    return encoded


def eos_ids(model, tokenizer) -> set[int]:
    """The tokens that end a completion: the tokenizer's and the generation config's."""
    found = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, list | tuple):
            found.update(int(item) for item in value)
    if not found:
        raise UserError("the tokenizer has no end-of-sequence token; a completion could never end")
    return found


@torch.no_grad()
def generate(
    model, tokenizer, prompts: list[RLPrompt], prompt_ids: list[list[int]], sampling: Sampling, pad: int, device
) -> Rollout:
    """Sample one completion per prompt (repeat a prompt for several) in one `generate` call."""
    ends = eos_ids(model, tokenizer)
    context = max(len(ids) for ids in prompt_ids)
    ids = torch.full((len(prompt_ids), context), pad, dtype=torch.long)
    mask = torch.zeros(len(prompt_ids), context, dtype=torch.long)
    for row, tokens in enumerate(prompt_ids):
        ids[row, context - len(tokens) :] = torch.tensor(tokens, dtype=torch.long)
        mask[row, context - len(tokens) :] = 1
    # a fresh config, not the model's generation_config.json: its repetition penalty, min_p or
    # top_k would sample from another distribution than the log-probs, ratios and KL assume
    config = GenerationConfig(
        do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0,
        max_new_tokens=sampling.max_new_tokens, pad_token_id=pad, eos_token_id=sorted(ends), use_cache=True,
    )  # fmt: skip
    was_training = model.training
    model.eval()
    output = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config)
    model.train(was_training)
    completions = output[:, context:].cpu()
    if completions.shape[1] == 0:
        completions = torch.full((len(prompt_ids), 1), pad, dtype=torch.long)
    is_end = torch.zeros_like(completions, dtype=torch.bool)
    for token in ends:
        is_end |= completions == token
    ended = is_end.any(1)
    first_end = torch.where(ended, is_end.int().argmax(1), completions.shape[1] - 1)
    keep = torch.arange(completions.shape[1]).unsqueeze(0) <= first_end.unsqueeze(1)
    completions = completions.masked_fill(~keep, pad)
    texts = [
        tokenizer.decode(row[row_keep][:-1] if row_ended else row[row_keep], skip_special_tokens=True)
        for row, row_keep, row_ended in zip(completions, keep, ended.tolist(), strict=True)
    ]
    return Rollout(
        prompts, torch.cat([ids, completions], 1), torch.cat([mask, keep.long()], 1), context, keep, ended, texts
    )


def completion_logps(scorer, rollout: Rollout, device) -> torch.Tensor:
    """[N, R] float32: the log-probability of each kept completion token under the scorer's model
    (a `token_scorer` whose `temperature` is the sampling one), 0 at the other positions."""
    labels = rollout.input_ids.masked_fill(~rollout.attention_mask.bool(), -100)
    labels[:, : rollout.context] = -100
    inputs = {
        "input_ids": rollout.input_ids.to(device),
        "attention_mask": rollout.attention_mask.to(device),
        "position_ids": rollout.position_ids.to(device),
    }
    logps, _ = scorer(inputs, labels.to(device))
    per_token = torch.zeros(rollout.completion_mask.shape, dtype=logps.dtype, device=logps.device)
    return per_token.masked_scatter(rollout.completion_mask.to(logps.device), logps)
