"""Check a local model folder before transformers loads it: its weights must hold the model
its config describes.

safetensors checks each file's header itself (its size, its JSON, every tensor's offsets
inside the file), so a weights file cannot make the loader allocate more than it holds. The
config can: transformers builds the model the config describes and fills every weight the
files lack with fresh random values, so a 1 MB folder whose config.json asks for forty
wide layers costs gigabytes of memory before anything fails. Here the config's model is
built on the meta device (no memory), its parameters counted and compared with the elements
the safetensors headers declare; a model the weights do not cover is refused in one line.
A Hugging Face id is fetched by transformers and checked by safetensors only.
"""

from __future__ import annotations

import math
from pathlib import Path

from curate.errors import UserError

# Parameters a model may have beyond its weights files: a new reward head (hidden size x 1)
# on a causal LM's body, buffers counted as parameters by some architectures.
MISSING_SHARE = 0.05
MISSING_FLOOR = 1 << 20
MAX_CONFIG_BYTES = 4 << 20  # config.json of real models is a few KB


def weights_elements(folder: Path) -> int:
    """Elements declared by every `*.safetensors` file of `folder`, read from their headers only."""
    from safetensors import SafetensorError, safe_open

    total = 0
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as weights:
                for name in weights.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    total += math.prod(weights.get_slice(name).get_shape())
        except (SafetensorError, OSError) as error:
            raise UserError(f"{path} is not a readable safetensors file: {str(error).splitlines()[0]}") from None
    return total


def described_parameters(folder: Path, auto_class) -> int:
    """Parameters of the model `folder`'s config.json describes, built on the meta device."""
    import torch
    from transformers import AutoConfig

    config_path = folder / "config.json"
    if config_path.is_file() and config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise UserError(f"{config_path} is {config_path.stat().st_size:,} bytes; a model's config is a few KB")
    try:
        config = AutoConfig.from_pretrained(str(folder))
        with torch.device("meta"):
            model = auto_class.from_config(config)
    except Exception as error:
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(
            f"cannot build the model the config of {folder} describes: {type(error).__name__}: {detail}"
        ) from None
    return sum(parameter.numel() for parameter in model.parameters())


def check_model_folder(name: str, auto_class) -> None:
    """Refuse a local model folder whose weights do not hold the model its config describes.
    Does nothing for a Hugging Face id or a folder without safetensors weights (the loader
    says what is missing)."""
    folder = Path(name)
    if not folder.is_dir() or not any(folder.glob("*.safetensors")):
        return
    held = weights_elements(folder)
    described = described_parameters(folder, auto_class)
    if described > held + max(MISSING_FLOOR, int(held * MISSING_SHARE)):
        raise UserError(
            f"{folder}: config.json describes a model of {described:,} parameters but its weights hold "
            f"{held:,}; the config does not belong to these weights (transformers would fill the rest with "
            "random values, taking the memory of the whole model)"
        )
