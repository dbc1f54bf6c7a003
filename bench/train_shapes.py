"""The model shapes the training benches train, randomly initialised, and their FLOPs per token.

Shapes, from the published config.json files (no weights are downloaded):
- qwen0.5b (Qwen/Qwen2.5-0.5B): Qwen2, hidden 896, 24 layers, 14 heads / 2 kv, MLP 4864,
  vocab 151936, tied embeddings, rope theta 1e6.
- llama1b (meta-llama/Llama-3.2-1B): Llama, hidden 2048, 16 layers, 32 heads / 8 kv, MLP 8192,
  vocab 128256, tied embeddings, rope theta 5e5.
- llama8b (meta-llama/Llama-3.1-8B): Llama, hidden 4096, 32 layers, 32 heads / 8 kv, MLP 14336,
  vocab 128256, untied output head, rope theta 5e5.
Llama-3's rope scaling is left out (it costs nothing). --smoke swaps in a tiny shape of the
same family (hidden 64, 2 layers, vocab 4096) and keeps the tying.

FLOPs per token (`flops_per_token`): 2N forward + 2N for the activations' gradients + 2 per
TRAINED parameter for the weight gradients, plus causal attention, 12 * layers * hidden *
sequence / 2 (the PaLM appendix count, halved for the causal mask). A full fine-tune trains
every parameter: 6N + attention, nanoGPT's and PaLM's count. LoRA (and QLoRA) never computes
the frozen weights' gradients: 4N + 6 x adapter parameters + attention. N counts every
parameter of the base (embeddings and the output head too; tied ones once); for QLoRA the
bf16 model's N (the 4-bit base's dequantisation is not counted); recomputation under
gradient checkpointing is not counted either (MFU, not hardware FLOPs utilisation).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

SEED = 0
INFO = "bench_model.json"  # written beside config.json: what the bench built, read back by later runs

MODELS = {
    "qwen0.5b": {
        "family": "qwen2", "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
        "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936, "rope_theta": 1e6,
        "rms_norm_eps": 1e-6, "max_position_embeddings": 32768, "tie_word_embeddings": True,
    },
    "llama1b": {
        "family": "llama", "hidden_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 8192, "vocab_size": 128256, "rope_theta": 5e5,
        "rms_norm_eps": 1e-5, "max_position_embeddings": 131072, "head_dim": 64, "tie_word_embeddings": True,
    },
    "llama8b": {
        "family": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256, "rope_theta": 5e5,
        "rms_norm_eps": 1e-5, "max_position_embeddings": 131072, "head_dim": 128, "tie_word_embeddings": False,
    },
}  # fmt: skip
SMOKE_SHAPE = {
    "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "intermediate_size": 128, "vocab_size": 4096, "max_position_embeddings": 8192, "head_dim": 16,
}  # fmt: skip


def flops_per_token(parameters: int, layers: int, hidden: int, sequence: int, trainable: int | None = None) -> float:
    """Training FLOPs per token (see the module doc): 4N + 2T + 6 * layers * hidden * sequence,
    T the trained parameters (N for a full fine-tune: 6N + attention)."""
    trained = parameters if trainable is None else trainable
    return 4 * parameters + 2 * trained + 6 * layers * hidden * sequence


def model_config(name: str, special: dict, smoke: bool, overrides: dict | None = None):
    """The model's transformers config: the published shape, or a tiny one of the same family.

    `special` holds the tokenizer's bos/eos/pad ids; `overrides` replaces shape entries (the
    lean-loss bench keeps Qwen's 151,936-entry vocabulary on its tiny --smoke shape)."""
    from transformers import LlamaConfig, Qwen2Config

    shape = dict(MODELS[name])
    family = shape.pop("family")
    if smoke:
        shape.update(SMOKE_SHAPE)
    shape.update(overrides or {})
    if family == "qwen2":
        shape.pop("head_dim", None)  # Qwen2 derives it: hidden / heads
    config_class = Qwen2Config if family == "qwen2" else LlamaConfig
    return config_class(**shape, **special)


def special_ids(tokenizer) -> dict:
    return {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def random_model(config, device: str, dtype):
    """A randomly initialised causal LM (seed 0) made directly on `device` in `dtype`: on a GPU
    an 8B model is ready in seconds, where float32 initialisation on the CPU takes minutes."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(SEED)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model


def build_model(spec: dict) -> dict:
    """Build `spec["name"]` at random and save it (safetensors, with the tokenizer saved in
    `spec["tokenizer"]`) to `spec["folder"]`; run in a fresh process (`call_in_process`).

    spec: name, smoke, folder, tokenizer (a folder), device ("cuda"/"cpu"), dtype ("float32"/
    "bfloat16"), attention (written into config.json, where `from_pretrained` reads it, so
    curate's trainers get the same attention as TRL without being told).
    """
    import torch
    from transformers import AutoTokenizer

    folder = Path(spec["folder"])
    tokenizer = AutoTokenizer.from_pretrained(spec["tokenizer"])
    config = model_config(spec["name"], special_ids(tokenizer), spec["smoke"])
    if config.vocab_size < len(tokenizer):
        raise SystemExit(
            f"the tokenizer has {len(tokenizer)} tokens, more than {spec['name']}'s vocab {config.vocab_size}"
        )
    started = time.perf_counter()
    model = random_model(config, spec["device"], getattr(torch, spec["dtype"]))
    if spec["device"] == "cuda":
        torch.cuda.synchronize()
    built = time.perf_counter() - started
    info = {
        "name": spec["name"],
        "architecture": type(model).__name__,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),  # tied: counted once
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
        "vocab": config.vocab_size,
        "tied": bool(config.tie_word_embeddings),
        "dtype": spec["dtype"],
        "smoke": spec["smoke"],
        "attention": spec["attention"],
        "folder": str(folder),
        "build_seconds": built,
    }
    started = time.perf_counter()
    model.save_pretrained(folder, safe_serialization=True)
    del model
    tokenizer.save_pretrained(folder)
    info["save_seconds"] = time.perf_counter() - started
    info["bytes"] = sum(path.stat().st_size for path in folder.glob("*.safetensors"))
    config_path = folder / "config.json"
    saved = json.loads(config_path.read_text())
    saved["attn_implementation"] = spec["attention"]
    config_path.write_text(json.dumps(saved, indent=2) + "\n")
    (folder / INFO).write_text(json.dumps(info, indent=2) + "\n")
    return info


def saved_model(folder: Path, spec: dict) -> dict | None:
    """The info of a model this bench saved in `folder` earlier with the same name, size, dtype
    and attention, else None (then it is built again)."""
    path = Path(folder) / INFO
    if not path.is_file():
        return None
    info = json.loads(path.read_text())
    same = all(info.get(key) == spec[key] for key in ("name", "smoke", "dtype", "attention"))
    return info if same else None
