"""LoRA adapter folders (PEFT's format, as `train-* --lora` writes them) wherever a model folder
is accepted: the base the adapter names is loaded, checked like any model folder, and the
adapter merged into it, so what answers, judges or trains next is a plain model.

Only `adapter_model.safetensors` is read: a folder with PEFT's pickled `adapter_model.bin`
instead is refused, as pickled weights are everywhere else.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

from curate.errors import UserError
from curate.llm.devices import first_line

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MAX_CONFIG_BYTES = 1 << 20
MAX_CHAIN = 8  # adapters on adapters, each merged into the one below
# peft task types -> what the merged model is
CAUSAL_TASK, CLASSIFIER_TASK = "CAUSAL_LM", "SEQ_CLS"


def is_adapter_folder(name: str | Path) -> bool:
    folder = Path(name).expanduser()
    return folder.is_dir() and (folder / ADAPTER_CONFIG).is_file()


def adapter_config(folder: str | Path) -> dict:
    """The adapter's config, checked: small JSON naming a base and holding safetensors weights."""
    folder = Path(folder).expanduser()
    path = folder / ADAPTER_CONFIG
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UserError(f"{path} is {path.stat().st_size:,} bytes; an adapter config is a few KB")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} is not JSON: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("base_model_name_or_path"), str):
        raise UserError(f"{path} does not name its base model (base_model_name_or_path)")
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise UserError(f"{folder} has no {ADAPTER_WEIGHTS}; curate loads adapter weights from safetensors only")
    _check_ranks(folder, config)
    return config


def _check_ranks(folder: Path, config: dict) -> None:
    """peft builds every adapter the config describes before it reads the weights: refuse ranks
    larger than the weights file's own, which would allocate more than the file holds."""
    from safetensors import SafetensorError, safe_open

    path = folder / ADAPTER_WEIGHTS
    try:
        with safe_open(str(path), framework="pt") as weights:
            names = [name for name in weights.keys() if ".lora_A." in name]  # noqa: SIM118 (not a mapping)
            ranks = [weights.get_slice(name).get_shape()[0] for name in names]
    except (SafetensorError, OSError, IndexError) as error:
        raise UserError(f"{path} is not a readable safetensors file: {str(error).splitlines()[0]}") from None
    declared = [config.get("r", 8), *(config.get("rank_pattern") or {}).values()]
    if any(not isinstance(rank, int) or isinstance(rank, bool) or rank < 1 for rank in declared):
        raise UserError(f"{folder / ADAPTER_CONFIG}: every LoRA rank must be a positive whole number")
    if ranks and max(declared) > max(ranks):
        raise UserError(
            f"{folder / ADAPTER_CONFIG} declares rank {max(declared)} but its weights hold rank {max(ranks)} at most"
        )


def adapter_base(folder: str | Path, base: str | None = None) -> str:
    """The base model an adapter folder was trained on (`base` overrides it), which must exist
    when it is a path."""
    return adapter_chain(folder, base)[1]


def adapter_chain(folder: str | Path, base: str | None = None) -> tuple[list[Path], str]:
    """The folders an adapter stands on (itself, then each adapter it names as its base, then
    the base model's folder when it is one) and the base it names (`base` overrides it)."""
    named = base or adapter_config(folder)["base_model_name_or_path"]
    chain = [Path(folder).expanduser().resolve()]
    link = Path(named).expanduser()
    while is_adapter_folder(link):  # an adapter trained on an adapter: each is merged into the one below
        if link.resolve() in chain or len(chain) > MAX_CHAIN:
            raise UserError(
                f"the adapter {folder} names itself, a loop or a chain of over {MAX_CHAIN} adapters as its base; "
                "pass the base model's folder with --base"
            )
        chain.append(link.resolve())
        link = Path(adapter_config(link)["base_model_name_or_path"]).expanduser()
    if link.is_dir():
        chain.append(link.resolve())
    if (named.startswith(("/", ".", "~")) or named.count("/") > 1) and not Path(named).expanduser().is_dir():
        raise UserError(
            f"the adapter {folder} was trained on {named}, which is not here; pass the base model's folder with --base"
        )
    return chain, named


def attach_adapter(model, folder: str | Path, merge: bool = True):
    """`model` (the adapter's base, loaded) with the adapter in `folder`, merged into its weights
    unless `merge` is False (a `PeftModel` then)."""
    from peft import PeftModel
    from safetensors import SafetensorError

    adapter_config(folder)
    try:
        with warnings.catch_warnings():  # peft asks transformers 5 for a renamed, deprecated property
            warnings.filterwarnings("ignore", category=FutureWarning)
            wrapped = PeftModel.from_pretrained(model, str(Path(folder).expanduser()), is_trainable=False)
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as error:
        raise UserError(f"cannot load the adapter {folder}: {first_line(error)}") from None
    return wrapped.merge_and_unload() if merge else wrapped


def load_merged(folder: str | Path, load_base: Callable[[str], object], base: str | None = None):
    """The adapter in `folder` merged into its base, loaded by `load_base(name)`."""
    return attach_adapter(load_base(adapter_base(folder, base)), folder)


def tokenizer_source(folder: str | Path, base: str) -> str:
    """Where an adapter's tokenizer lives: the adapter folder when it saved one (curate's runs do), else the base."""
    folder = Path(folder).expanduser()
    return str(folder) if (folder / "tokenizer_config.json").is_file() else base
