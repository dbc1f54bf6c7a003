"""Verifiable rewards for the RL tests, named as `--reward tests.rl_rewards:NAME`."""

from __future__ import annotations

LOW_IDS = 100  # a random tiny model samples about 1 token in 10 below this id


def low_ids(prompts, completions, completion_ids, **columns):
    """The share of the completion's tokens whose id is below LOW_IDS: a tiny model can learn it."""
    return [sum(1 for token in ids if token < LOW_IDS) / max(len(ids), 1) for ids in completion_ids]


def echo_columns(prompts, completions, completion_ids, target, **columns):
    """1 when the row's `target` column is a string (the data's columns arrive by name), else fail."""
    assert len(target) == len(completions) and all(isinstance(value, str) for value in target)
    assert all(isinstance(prompt, str) for prompt in prompts) and all(isinstance(text, str) for text in completions)
    return [1.0 if value == "yes" else None for value in target]


def wrong_length(prompts, completions, **columns):
    return [0.0]


def broken(prompts, completions, **columns):
    raise KeyError("answer")


def numpy_share(prompts, completions, completion_ids, **columns):
    """low_ids as numpy and torch numbers, as reward code computed with them returns them."""
    import numpy
    import torch

    shares = low_ids(prompts, completions, completion_ids)
    return [numpy.float32(value) if n % 2 else torch.tensor(value) for n, value in enumerate(shares)]
