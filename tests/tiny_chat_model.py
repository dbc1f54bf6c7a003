"""A tiny randomly initialised Llama chat model, built here in a second (no download).

Its tokenizer is the project's byte-level BPE (`tiny_tokenizer`) with ChatML markers and
the ChatML template; `<|im_end|>` is its end-of-sequence token, so generation can stop at
the end of an assistant turn. The weights are random: the text it writes is noise.
"""

from __future__ import annotations

from pathlib import Path

from .tiny_tokenizer import REPO, train_tokenizer

CHAT_MARKERS = ["<|im_start|>", "<|im_end|>"]


def make_tiny_chat_model(folder: Path, vocab_size: int = 1000, seed: int = 0, max_positions: int = 2048) -> Path:
    """Write a tokenizer and a random 2-layer Llama (safetensors) to `folder`; return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(CHAT_MARKERS, vocab_size)
    tokenizer.chat_template = (REPO / "templates" / "chatml.jinja").read_text(encoding="utf-8")
    tokenizer.eos_token = "<|im_end|>"  # the end of an assistant turn ends generation
    tokenizer.save_pretrained(folder)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    return folder
