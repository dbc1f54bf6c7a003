"""What the trainer's commands call: make a model here (`curate init-model`) or run one of the
loops (`train-sft`, `train-dpo`, `train-rm`), and the lines that say what it did.

The loops are imported when they run: torch and transformers load then, not before.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from curate.train.settings import TrainSettings

# method -> (module, function); each loop is `function(settings, progress) -> result dict`.
TRAINERS: dict[str, tuple[str, str]] = {
    "sft": ("curate.train.sft", "train_sft"),
    "dpo": ("curate.train.dpo", "train_dpo"),
    "rm": ("curate.train.rm", "train_rm"),
    "ppo": ("curate.train.rl.ppo", "train_ppo"),
    "grpo": ("curate.train.rl.grpo", "train_grpo"),
}


def train(method: str, settings: TrainSettings, progress: bool = True) -> list[str]:
    """Run the `method` loop with `settings`; what it did, one line each."""
    module, function = TRAINERS[method]
    result = getattr(importlib.import_module(module), function)(settings, progress=progress)
    if os.environ.get("RANK", "0") != "0":
        return []  # under torchrun the main process says what the run did, once
    lines = [f"train-{method}: {result['steps']} steps; {result['report'].summary()}"]
    trainable, total = result["parameters"]
    lines.append(f"  trained {trainable:,} of {total:,} parameters ({100 * trainable / max(total, 1):.2f}%)")
    if result.get("reference_logps"):
        reused = "reused" if result.get("reference_reused") else "computed"
        lines.append(f"  reference log-probs {reused}: {result['reference_logps']}")
    loader = "AutoModelForSequenceClassification" if method == "rm" else "AutoModelForCausalLM"
    what = "reward model" if method == "rm" else "model"
    if settings.lora is not None:
        lines.append(
            f"  final adapter: {result['final']} (PeftModel.from_pretrained loads it; curate takes it as a model)"
        )
        if result.get("merged"):
            lines.append(f"  merged {what}: {result['merged']} ({loader}.from_pretrained and vLLM load it)")
        else:
            lines.append(f"  a plain {what}: curate merge-lora {result['final']} -o DIR")
    else:
        lines.append(f"  final {what}: {result['final']} ({loader}.from_pretrained loads it)")
    output = Path(settings.output)
    lines.append(f"  metrics: {output / 'metrics.jsonl'}; curves: {output / 'loss.png'}")
    if result.get("samples"):
        lines.append(f"  samples (prompt, completion, reward per logged step): {result['samples']}")
    return lines


def make_model(output: Path, corpus: list[str], *, size: str, seed: int, **options) -> list[str]:
    """`curate init-model`: a tokenizer trained on `corpus` and a random Llama of `size` in
    `output` (init_model.py); what it made, one line each."""
    from curate.train.init_model import init_model

    info = init_model(output, corpus, size=size, seed=seed, **options)
    read = info["corpus"]
    vocab = f"{info['vocab_size']:,}"
    if info["vocab_size"] < info["vocab_size_asked"]:
        vocab += f" (of {info['vocab_size_asked']:,} asked: the corpus has no more merges)"
    return [
        f"init-model {size}: {info['parameters']:,} parameters, vocabulary {vocab}, "
        f"tokenizer trained on {read['records_with_text']:,} documents ({read['characters']:,} characters) "
        f"from {len(read['files'])} file(s)",
        f"  wrote {output}/ in {info['seconds']['total']:.1f} s (seed {seed}); how it was made: {output}/curate_init.json",
    ]
