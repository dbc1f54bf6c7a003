"""Loading a causal language model to train, and getting it ready: safetensors only."""

from __future__ import annotations

from curate.errors import UserError
from curate.llm.devices import first_line
from curate.train.checkpoint import quiet_transformers
from curate.train.settings import TrainSettings


def load_model(name: str, device, dtype=None):
    """A causal LM from a folder or Hugging Face id; safetensors weights only."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from curate.llm.model_files import check_model_folder

    quiet_transformers()
    check_model_folder(name, AutoModelForCausalLM)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name, use_safetensors=True, dtype=dtype)
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:
        raise UserError(f"cannot load the model {name}: {first_line(error)}") from None
    return model.to(device), tokenizer


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
