"""`curate merge-lora` and `--merge`: a LoRA adapter merged into its base, saved as a plain model
folder (safetensors, config, tokenizer) that transformers, vLLM and every trainer load with no
peft installed. The base is loaded in its own dtype, on the CPU by default, never in 4-bit: a
QLoRA adapter is merged into the full-precision base it was trained on top of.
"""

from __future__ import annotations

import time
from pathlib import Path

from curate.errors import UserError
from curate.llm import adapters
from curate.train.model_folder import check_model_folder, write_model_folder


def merge_adapter(
    adapter: Path,
    output: Path,
    base: str | None = None,
    dtype: str = "auto",
    device: str = "cpu",
    overwrite: bool = False,
) -> dict:
    """Write `adapter` merged into its base (or `base`) to `output`; what was made."""
    import torch

    from curate.llm.reward_model import load_reward_model
    from curate.train.models import load_model, load_tokenizer

    started = time.perf_counter()
    output = Path(output)
    config = adapters.adapter_config(adapter)
    chain, base_name = adapters.adapter_chain(adapter, base)
    if output.expanduser().resolve() in chain:
        raise UserError(f"{output} is the adapter or a model it stands on; write the merged model to another folder")
    check_model_folder(output, overwrite)
    place = torch.device(device)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    if config.get("task_type") == adapters.CLASSIFIER_TASK:
        model = load_reward_model(base_name, place, dtype=torch_dtype)[0]
    else:
        model = load_model(base_name, place, dtype=torch_dtype)[0]
    merged = adapters.attach_adapter(model, adapter)
    tokenizer = load_tokenizer(adapters.tokenizer_source(adapter, base_name))

    def save(folder: Path) -> None:
        merged.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)

    info = {
        "made_by": "curate merge-lora",
        "adapter": str(Path(adapter).expanduser().resolve()),
        "base": base_name,
        "task_type": config.get("task_type"),
        "parameters": sum(parameter.numel() for parameter in merged.parameters()),
        "dtype": str(next(merged.parameters()).dtype).removeprefix("torch."),
    }
    write_model_folder(output, info, save)
    return info | {"output": output, "seconds": time.perf_counter() - started}
