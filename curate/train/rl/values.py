"""Scalar heads over a sequence classifier's body: the reward model's score at the last token of
each conversation, and PPO's value model, which scores every token.

For decoders the head is read at the position we choose, not at the classifier's own pooled position: that
one is "the last token that is not the pad token", which is wrong when the pad token is also
the end-of-sequence token the completion ends with.
"""

from __future__ import annotations

import torch


def is_decoder_classifier(model) -> bool:
    """A causal body with a `score` head (what train-rm makes, every `...ForSequenceClassification`
    of a decoder): its value at a token sees only what comes before it."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return isinstance(getattr(base, "score", None), torch.nn.Module) and not getattr(
        base.config, "is_encoder_decoder", False
    )


def own_scores(model, sequences: list[list[int]], device) -> list[float]:
    """The classifier's own output for each token list (right-padded, masked): for encoders,
    whose head pools the way they were trained (BERT's pooler over the first token, RoBERTa's
    and DeBERTa's heads)."""
    ids, mask = _right_padded(sequences, device)
    return model(input_ids=ids, attention_mask=mask).logits[:, 0].float().tolist()


def _right_padded(sequences: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(tokens) for tokens in sequences)
    ids = torch.zeros(len(sequences), longest, dtype=torch.long)
    mask = torch.zeros(len(sequences), longest, dtype=torch.long)
    for row, tokens in enumerate(sequences):
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return ids.to(device), mask.to(device)


def score_head(model) -> torch.nn.Module:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(base, "score", None) or getattr(base, "classifier", None)
    if head is None:
        raise ValueError(f"{type(base).__name__} has no score head")
    return head


def token_values(model, input_ids, attention_mask, position_ids) -> torch.Tensor:
    """[B, L] the head's value at every position."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(base, base.base_model_prefix)
    hidden = body(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
    ).last_hidden_state
    return score_head(model)(hidden).squeeze(-1).float()


def last_token_scores(model, sequences: list[list[int]], device) -> list[float]:
    """The score at the last token of each token list (right-padded into one batch)."""
    ids, mask = _right_padded(sequences, device)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    values = token_values(model, ids, mask, positions)
    last = mask.sum(1) - 1
    return values[torch.arange(len(sequences), device=values.device), last].tolist()


def load_value_model(name: str, device, seed: int) -> torch.nn.Module:
    """PPO's value model: a reward model's weights (TRL starts it from the reward model), or a
    causal model's with a new one-value head."""
    from curate.llm.reward_model import load_reward_model

    model, _, _ = load_reward_model(name, device, seed=seed)
    return model
