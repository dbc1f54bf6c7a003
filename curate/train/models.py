"""Loading a causal language model to train, and getting it ready: safetensors only."""

from __future__ import annotations

import sys

from curate.errors import UserError
from curate.llm import adapters
from curate.llm.devices import first_line
from curate.train import lora
from curate.train.checkpoint import quiet_transformers
from curate.train.settings import TrainSettings


def load_model(name: str, device, dtype=None, load_in_4bit: bool = False):
    """A causal LM from a folder or Hugging Face id; safetensors weights only. An adapter
    folder (a LoRA run's final/) is merged into the base it names; `load_in_4bit` loads the
    weights in NF4 (QLoRA, CUDA only)."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from curate.llm.model_files import check_model_folder

    quiet_transformers()
    if adapters.is_adapter_folder(name):
        base = adapters.adapter_base(name)
        model = adapters.attach_adapter(load_model(base, device, dtype, load_in_4bit)[0], name)
        return model, load_tokenizer(adapters.tokenizer_source(name, base))
    check_model_folder(name, AutoModelForCausalLM)
    placement = {"quantization_config": lora.quantization_config(), "device_map": {"": device}} if load_in_4bit else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name, use_safetensors=True, dtype=dtype, **placement)
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:
        raise UserError(f"cannot load the model {name}: {first_line(error)}") from None
    return (model if load_in_4bit else model.to(device)), tokenizer


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot load the tokenizer of {name}: {first_line(error)}") from None


def with_adapters(model, settings: TrainSettings, task: str, announce: bool = True):
    """The model to train: fresh LoRA adapters on it with --lora (task CAUSAL_LM or SEQ_CLS), else
    itself; says on stderr how many parameters train."""
    if settings.lora is not None:
        model = lora.apply_lora(
            model, settings.lora, task, settings.model, settings.load_in_4bit, settings.gradient_checkpointing
        )
    else:  # a full fine-tune trains every weight, those of an adapter folder's merged base included
        model.requires_grad_(True)
    if announce:
        print(lora.describe_parameters(model), file=sys.stderr, flush=True)
    return model


def model_inputs(batch: dict, device) -> dict:
    names = (
        "input_ids",
        "attention_mask",
        "position_ids",
        "cu_seq_lens_q",
        "cu_seq_lens_k",
        "max_length_q",
        "max_length_k",
    )
    moved = {name: batch[name] for name in names if name in batch}
    return {name: value.to(device) if hasattr(value, "to") else value for name, value in moved.items()}


def pad_id(tokenizer) -> int:
    """The tokenizer's pad token, else its eos token (padding is masked, so any id will do)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def prepare_for_training(model, settings: TrainSettings) -> None:
    """Gradient checkpointing when asked, and train mode."""
    if settings.gradient_checkpointing:
        # transformers 5 renamed it; the old name still works there, with a deprecation warning
        (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
    model.train()
