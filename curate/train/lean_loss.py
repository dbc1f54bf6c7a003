"""Next-token log-probabilities without the full [B, L, V] logits: what SFT and DPO train on.

The plain path runs the whole causal LM and gets float32 logits for every position and every
vocabulary entry. This one runs the decoder, keeps the positions that have a label, and runs
the output head on a few of them at a time; each chunk is checkpointed, so backward recomputes
its logits instead of keeping them. The largest extra tensor is one chunk's logits.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

CHUNK_BYTES = 2**28  # one chunk's float32 logits: about 256 MiB


def causal_parts(model) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(decoder, output head) of a transformers causal LM, through a peft wrapper if there is one."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    if decoder is None or head is None or decoder is base:
        raise ValueError(f"{type(base).__name__} has no separate decoder and output head")
    return decoder, head


def _text_config(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _vocab(head: torch.nn.Module) -> int:
    out_features = getattr(head, "out_features", None)
    return int(out_features) if out_features else int(head.weight.shape[0])


class LeanCausalLM(torch.nn.Module):
    """A causal LM that returns the log-probability of each labelled token, chunk by chunk.

    `forward(inputs, labels)` takes `model_inputs(batch, device)` and the batch's labels and
    returns (logps [N] float32, rows [N] long): position i scores label i + 1, only labels
    != -100 count, in row-major order, and `rows` is each one's batch row.
    """

    def __init__(self, model, chunk_tokens: int | None = None):
        super().__init__()
        self.model = model
        self.temperature = 1.0  # RL scores tokens as they were sampled: logits over the temperature
        _, head = causal_parts(model)
        self.chunk_tokens = chunk_tokens or max(1, CHUNK_BYTES // (4 * _vocab(head)))

    def forward(self, inputs: dict, labels: Tensor) -> tuple[Tensor, Tensor]:
        decoder, head = causal_parts(self.model)
        config = _text_config(self.model)
        hidden = decoder(**inputs, use_cache=False)[0]
        targets = labels[:, 1:].to(hidden.device)
        mask = targets != -100
        selected = hidden[:, :-1][mask]
        targets = targets[mask]
        rows = mask.nonzero()[:, 0]

        def chunk_logps(hidden_chunk: Tensor, target_chunk: Tensor) -> Tensor:
            logits = head(hidden_chunk)
            scale = getattr(config, "logit_scale", None)
            if scale is not None:
                logits = logits * scale
            cap = getattr(config, "final_logit_softcapping", None)
            if cap is not None:
                logits = torch.tanh(logits / cap) * cap
            logits = logits.float()
            if self.temperature != 1.0:
                logits = logits / self.temperature
            picked = logits.gather(-1, target_chunk.unsqueeze(-1)).squeeze(-1)
            return picked - torch.logsumexp(logits, dim=-1)

        pieces = []
        # at least one chunk, even an empty one: every parameter then takes part in backward
        # (a process whose rows are all padding must still join DDP's gradient sync)
        for start in range(0, max(selected.shape[0], 1), self.chunk_tokens):
            part = (selected[start : start + self.chunk_tokens], targets[start : start + self.chunk_tokens])
            if torch.is_grad_enabled():
                pieces.append(torch.utils.checkpoint.checkpoint(chunk_logps, *part, use_reentrant=False))
            else:
                pieces.append(chunk_logps(*part))
        logps = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
        return logps, rows


class PlainCausalLM(torch.nn.Module):
    """`LeanCausalLM`'s interface over the model's own logits, for an architecture whose logits
    the lean path does not reproduce (`lean_matches_plain`): all [B, L, V] of them at once."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.temperature = 1.0

    def forward(self, inputs: dict, labels: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.model(**inputs, use_cache=False).logits[:, :-1] / self.temperature
        targets = labels[:, 1:].to(logits.device)
        mask = targets != -100
        picked = logits[mask].float()
        logps = picked.gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1) - torch.logsumexp(picked, dim=-1)
        return logps, mask.nonzero()[:, 0]


def token_scorer(model, device, chunk_tokens: int | None = None) -> torch.nn.Module:
    """What the loops train through: `LeanCausalLM` when it reproduces `model`'s log-probabilities,
    else `PlainCausalLM` (with a warning, as it takes far more memory)."""
    vocab = _vocab(causal_parts(model)[1]) if _has_parts(model) else 0
    if vocab and lean_matches_plain(model, vocab, device):
        return LeanCausalLM(model, chunk_tokens)
    print(
        f"warning: the chunked loss does not reproduce {type(model).__name__}'s logits; "
        "computing every position's logits at once (more memory)",
        file=sys.stderr,
    )
    return PlainCausalLM(model)


def _has_parts(model) -> bool:
    try:
        causal_parts(model)
    except ValueError:
        return False
    return True


def token_loss_sum(logps: Tensor) -> Tensor:
    """Summed next-token cross-entropy of `LeanCausalLM` log-probabilities."""
    return -logps.sum()


def sequence_logps_from(logps: Tensor, rows: Tensor, num_rows: int) -> Tensor:
    """Per-row sums of `LeanCausalLM` log-probabilities: [num_rows] float32."""
    totals = torch.zeros(num_rows, dtype=torch.float32, device=logps.device)
    return totals.index_add(0, rows, logps.float())


def _tolerance(dtype: torch.dtype, logits: Tensor) -> float:
    """1e-4 in float32; in 16-bit a few rounding steps of the largest logit, since the head runs
    on a different number of rows in each path and a 16-bit result may round the other way."""
    if torch.finfo(dtype).bits >= 32:
        return 1e-4
    return max(1e-4, 4 * torch.finfo(dtype).eps * float(logits.abs().max()))


def lean_matches_plain(model, vocab_size: int, device) -> bool:
    """Whether `LeanCausalLM` reproduces the model's own log-probabilities, on one row of 8 random
    tokens: False for an architecture that changes its logits in a way the lean path does not know."""
    generator = torch.Generator().manual_seed(0)  # the global RNG is the run's, left untouched
    ids = torch.randint(0, vocab_size, (1, 8), generator=generator).to(device)
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(input_ids=ids, use_cache=False).logits[:, :-1].float()
            plain = logits.log_softmax(-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1).flatten()
            try:
                lean, _ = LeanCausalLM(model)({"input_ids": ids}, ids)
            except Exception:  # a model the lean path cannot even run: the plain path it is
                return False
            dtype = causal_parts(model)[1].weight.dtype
            return lean.shape == plain.shape and bool((lean - plain).abs().max() <= _tolerance(dtype, logits))
    finally:
        model.train(training)
