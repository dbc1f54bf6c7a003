"""LoRA and QLoRA through peft: adapters on a frozen base, what trains, and how much.

A LoRA run trains only the low-rank adapters (and a reward model's new score head, which
peft keeps trainable as a `modules_to_save` module for SEQ_CLS); its checkpoints and `final/`
hold PEFT's own adapter files (`adapter_config.json`, `adapter_model.safetensors`), which
`PeftModel.from_pretrained` loads. The adapter config names the base by its absolute path
when it is a local folder, so the adapter loads from any working directory.

QLoRA loads the base in 4-bit NF4 with bitsandbytes (bf16 compute, double quantisation, as
the QLoRA paper and TRL's recipes do) and runs peft's `prepare_model_for_kbit_training`.
bitsandbytes' 4-bit kernels need CUDA; elsewhere it is one line and exit 2.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

from curate.errors import UserError

ALL_LINEAR = "all-linear"


@dataclass(frozen=True)
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target: str = ALL_LINEAR  # or comma-separated module names: q_proj,v_proj

    def target_modules(self) -> str | list[str]:
        if self.target.strip() == ALL_LINEAR:
            return ALL_LINEAR
        names = [name.strip() for name in self.target.split(",") if name.strip()]
        if not names:
            raise UserError(
                f"--lora-target names no module: {self.target!r}; use all-linear or names like q_proj,v_proj"
            )
        return names


def require_peft() -> None:
    if importlib.util.find_spec("peft") is None:
        raise UserError("--lora needs the peft package: pip install 'curate[train]'")


def quantization_config():
    """NF4 4-bit weights with bf16 compute, for `from_pretrained(quantization_config=...)`."""
    import torch

    if not torch.cuda.is_available():
        raise UserError("--load-in-4bit needs a CUDA GPU (bitsandbytes' 4-bit kernels); this machine has none")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UserError("--load-in-4bit needs the bitsandbytes package: pip install 'curate[qlora]'")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )


def base_name(name: str) -> str:
    """How an adapter config names its base: the absolute path of a local folder, else the hub id."""
    folder = Path(name).expanduser()
    return str(folder.resolve()) if folder.is_dir() else name


def apply_lora(
    model, settings: LoraSettings, task: str, base: str, quantized: bool = False, checkpointing: bool = False
):
    """`model` with fresh LoRA adapters (peft `get_peft_model`); `task` is CAUSAL_LM or SEQ_CLS.

    A quantized base first goes through `prepare_model_for_kbit_training` (norms in fp32,
    inputs that carry gradients for checkpointing). With gradient checkpointing on a frozen
    base the embeddings' outputs must require grad, or no gradient reaches the adapters.
    """
    require_peft()
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    _refuse_tied_targets(model, settings)
    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules(),
        task_type=task,
    )
    try:
        with warnings.catch_warnings():  # peft asks transformers 5 for a renamed, deprecated property
            warnings.filterwarnings("ignore", category=FutureWarning)
            wrapped = get_peft_model(model, config)
    except ValueError as error:  # no module matched --lora-target
        raise UserError(f"--lora-target {settings.target!r}: {str(error).splitlines()[0]}") from None
    wrapped.peft_config["default"].base_model_name_or_path = base_name(base)
    if checkpointing and not quantized:
        wrapped.enable_input_require_grads()
    return wrapped


def _refuse_tied_targets(model, settings: LoraSettings) -> None:
    """An adapter on an embedding its output layer shares (tied weights) would be merged into
    both; peft warns and merges wrongly, so it is refused."""
    targets = settings.target_modules()
    config = getattr(model, "config", None)
    if targets == ALL_LINEAR or not getattr(config, "tie_word_embeddings", False):
        return
    shared = {model.get_input_embeddings(), model.get_output_embeddings()}
    if None in shared:  # a reward model: no output embedding shares the input's weights
        return
    tied = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if module in shared}
    named = sorted(tied & set(targets))
    if named:
        raise UserError(
            f"--lora-target {','.join(named)}: this model ties its input and output embeddings, "
            "so an adapter there cannot be merged; target the attention and MLP layers (all-linear)"
        )


def parameter_counts(model) -> tuple[int, int]:
    """(trainable, total) parameters; a 4-bit weight counts its elements, not its packed bytes."""
    trainable = total = 0
    for parameter in model.parameters():
        count = parameter.numel()
        if parameter.__class__.__name__ == "Params4bit":
            count *= 2  # two 4-bit values per stored byte
        total += count
        if parameter.requires_grad:
            trainable += count
    return trainable, total


def describe_parameters(model) -> str:
    trainable, total = parameter_counts(model)
    return f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / max(total, 1):.2f}%)"


def is_peft_model(model) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "get_base_model")
