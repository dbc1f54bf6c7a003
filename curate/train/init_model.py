"""`curate init-model`: a tokenizer trained here and a randomly initialised Llama, no download.

For tests, the demo, and anyone who wants to run the whole journey (self-instruct with a
local model, train-sft, train-dpo) on a laptop without fetching weights. The weights are
random: the text such a model writes is noise until it is trained.

The tokenizer is `curate train-tokenizer`'s byte-level BPE (corpus/tokenize/train.py, whose
docstring gives the special tokens' ids and roles), trained on the corpus with the shipped
ChatML template: any UTF-8 text round-trips, `<|im_end|>` ends a turn and generation,
`<|endoftext|>` starts a document, `<|pad|>` only pads, and nothing is unknown.

Sizes (Llama: RMSNorm, SwiGLU, RoPE theta 10000, grouped-query attention, 2048 positions,
tied input and output embeddings as small models do: SmolLM, Qwen2.5-0.5B, Llama-3.2-1B).
Parameters measured with the default 8,000-token vocabulary (each 1,000 tokens more add
64,000 to tiny and 512,000 to small):

    tiny   hidden 64, 2 layers, 4 heads (2 kv), MLP 128:       586,048 parameters
           (512,000 of them the embedding); 2.3 MB of float32 safetensors
    small  hidden 512, 8 layers, 8 heads (4 kv), MLP 1536:  29,270,528 parameters
           (4,096,000 of them the embedding); 117 MB of float32 safetensors

Measured on sample_data/ (100k characters, CPU): the tokenizer trains and either model is
built and saved in under half a second; `curate init-model` takes 5-6 s in all, nearly
all of it importing torch and transformers.

A model is deterministic: the same corpus, options and seed give byte-identical
`model.safetensors` and `tokenizer.json` (with the same torch, transformers and tokenizers).
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from curate.corpus.tokenize.texts import CorpusStats, corpus_texts, no_text_error, record_texts
from curate.corpus.tokenize.train import (
    BOS,
    IM_END,
    PAD,
    SPECIAL_TOKENS,
    check_vocab_size,
    portable_tokenizer_config,
    train_bpe_tokenizer,
)
from curate.errors import UserError
from curate.train.model_folder import check_model_folder, write_model_folder

# Used by the tests and by code that made tokenizers through this module before train-tokenizer.
__all__ = ["CorpusStats", "corpus_texts", "init_model", "record_texts", "train_bpe_tokenizer"]


@dataclass(frozen=True)
class ModelSize:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    tie_word_embeddings: bool = True


SIZES = {
    # For tests: builds in about a second, forward passes in milliseconds.
    "tiny": ModelSize(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128
    ),
    # For the demo: ~29M parameters with an 8k vocabulary. A training step of 8 x 256 tokens
    # (AdamW, float32) took 2.3 s on 2 CPU cores; the loss starts at ln(vocab), 9.1 for 8k.
    "small": ModelSize(
        hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4, intermediate_size=1536
    ),
}
MAX_POSITIONS = 2048
ROPE_THETA = 10000.0


# ------------------------------------------------------------------------------ model


def llama_config(size: str, tokenizer, max_positions: int = MAX_POSITIONS):
    """The `LlamaConfig` of a size, with the tokenizer's vocabulary and special ids."""
    from transformers import LlamaConfig

    if size not in SIZES:
        raise UserError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    shape = SIZES[size]
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=max_positions,
        rope_theta=ROPE_THETA,
        tie_word_embeddings=shape.tie_word_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_model(tokenizer, size: str, seed: int = 0, max_positions: int = MAX_POSITIONS):
    """A randomly initialised `LlamaForCausalLM` (float32) for `tokenizer`; same seed, same weights."""
    import torch
    from transformers import LlamaForCausalLM

    config = llama_config(size, tokenizer, max_positions)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Stop at the end of a turn, and at the end of a document when continuing raw text.
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.bos_token_id]
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def parameter_count(model) -> int:
    """Parameters, tied embeddings counted once."""
    return sum(parameter.numel() for parameter in model.parameters())


# ------------------------------------------------------------------------------ folder


def _save(model, tokenizer, folder: Path) -> None:
    from transformers.utils import logging as transformers_logging

    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # "Writing model shards" for one small file
    try:
        model.save_pretrained(folder, safe_serialization=True)
    finally:
        if bars:
            transformers_logging.enable_progress_bar()
    tokenizer.save_pretrained(folder)
    portable_tokenizer_config(folder)
    # safetensors writes its file as 0600; give every file the permissions the umask gives
    # the folder (less execute), so a server running as another user can read the model.
    mode = folder.stat().st_mode & 0o666
    for path in folder.iterdir():
        path.chmod(mode)


def _versions() -> dict:
    import tokenizers
    import torch
    import transformers

    import curate

    return {
        "curate": curate.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


def init_model(
    output: Path,
    corpus: list[str],
    size: str = "small",
    vocab_size: int = 8000,
    seed: int = 0,
    text_field: str = "text",
    max_documents: int | None = None,
    overwrite: bool = False,
) -> dict:
    """Train a tokenizer on `corpus`, build a random Llama of `size` for it, write both to `output`.

    `output` then loads with `AutoTokenizer.from_pretrained` and
    `AutoModelForCausalLM.from_pretrained`, offline. It also holds `curate_init.json`: how
    the model was made (size, vocabulary, corpus fingerprints, seed, parameters, versions),
    which is returned. The folder is written beside `output` and renamed into place, so
    `output` never holds half a model. A non-empty `output` is replaced only when it holds
    an earlier init-model (and `overwrite` is set); any other folder is never touched.
    """
    output = Path(output)
    if size not in SIZES:
        raise UserError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if max_documents is not None and max_documents < 1:
        raise UserError(f"--max-documents must be at least 1, not {max_documents}")
    check_vocab_size(vocab_size, len(SPECIAL_TOKENS))
    check_model_folder(output, overwrite)

    started = time.perf_counter()
    stats = CorpusStats()
    tokenizer = train_bpe_tokenizer(corpus_texts(corpus, stats, text_field, max_documents), vocab_size)
    if stats.texts == 0:
        raise no_text_error(corpus, stats, text_field)
    tokenizer_seconds = time.perf_counter() - started

    model = build_model(tokenizer, size, seed)
    parameters = parameter_count(model)
    embedding = model.get_input_embeddings().weight.numel()
    info = {
        "command": "init-model",
        "size": size,
        "architecture": "LlamaForCausalLM",
        "shape": asdict(SIZES[size]),
        "max_position_embeddings": MAX_POSITIONS,
        "rope_theta": ROPE_THETA,
        "parameters": parameters,
        "embedding_parameters": embedding,
        "vocab_size": len(tokenizer),
        "vocab_size_asked": vocab_size,
        "special_tokens": {
            "bos_token": BOS,
            "eos_token": IM_END,
            "pad_token": PAD,
            "unk_token": None,
            "ids": {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS},
        },
        "chat_template": "chatml",
        "seed": seed,
        "corpus": {
            "inputs": list(corpus),
            "text_field": text_field,
            "max_documents": max_documents,
            "files": stats.files,
            "records": stats.records,
            "records_with_text": stats.with_text,
            "texts": stats.texts,
            "characters": stats.characters,
            "unreadable": stats.unreadable,
            "stopped_at_max_documents": stats.truncated,
            "skipped_inputs": stats.skipped,
        },
        "versions": _versions(),
    }

    def save(folder: Path) -> None:
        _save(model, tokenizer, folder)
        info["seconds"] = {"tokenizer": round(tokenizer_seconds, 3), "total": round(time.perf_counter() - started, 3)}

    write_model_folder(output, info, save)
    info["output"] = str(output)
    return info
