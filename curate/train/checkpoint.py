"""Checkpoints: save, find the latest, restore, and resume a run where a checkpoint left it.

A checkpoint is a folder: the model and tokenizer as `save_pretrained` writes them
(safetensors), plus `trainer_state.pt` with the optimizer, scheduler, RNG states and data
position. The state file holds only tensors and plain values and is loaded with
`torch.load(weights_only=True)`, so a checkpoint cannot run code when it is resumed.
"""

from __future__ import annotations

import pickle
import random
import shutil
import zipfile
from pathlib import Path
from typing import Any

from curate.errors import RunFailed, UserError
from curate.io.atomic import atomic_path
from curate.train.optim import Optimization

STATE_FILE = "trainer_state.pt"


def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]), "python_pos": random.getstate()[2]}
    numpy_state = np.random.get_state()
    state["numpy"] = torch.from_numpy(numpy_state[1].astype("int64"))
    state["numpy_pos"] = int(numpy_state[2])
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), state["python_pos"]))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype("uint32"), state["numpy_pos"], 0, 0.0))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def quiet_transformers() -> None:
    """No "Loading weights" / "Writing model shards" bars: they bury curate's own output."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def save_checkpoint(
    folder: Path,
    model,
    tokenizer,
    optimizer,
    scheduler,
    progress: dict,
    gathered: tuple | None = None,
    companions: dict | None = None,
) -> Path:
    """Write the checkpoint into `folder` whole: written beside it, then renamed into place.

    `gathered` is `fsdp.full_state(model, optimizer)` for a sharded model, which every process
    gathers before the main one writes; without it the model and optimizer are read here.
    `companions` are models trained beside it (PPO's value model), each saved in a subfolder.
    """
    import torch

    from curate.train.fsdp import full_state
    from curate.train.lora import is_peft_model

    quiet_transformers()
    weights, optimizer_state = gathered if gathered is not None else full_state(model, optimizer)
    folder = Path(folder)
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    options = {"state_dict": _without_tied_copies(model, weights)} if weights else {}
    if is_peft_model(model):
        options["save_embedding_layers"] = False  # curate never resizes the vocabulary: adapters only
    model.save_pretrained(staging, safe_serialization=True, **options)
    if tokenizer is not None:
        tokenizer.save_pretrained(staging)
    for name, companion in (companions or {}).items():
        companion.save_pretrained(staging / name, safe_serialization=True)
    state = {"progress": progress, "rng": rng_state()}
    if optimizer_state is not None:
        state["optimizer"] = optimizer_state
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    with atomic_path(staging / STATE_FILE) as tmp:
        torch.save(state, tmp)
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    return folder


def _without_tied_copies(model, weights: dict) -> dict:
    """A gathered state dict holds a tied weight (lm_head tied to the embeddings) twice, as two
    tensors; the copy is dropped, as save_pretrained drops it for a model's own state."""
    config = getattr(model, "config", None)
    if not getattr(config, "tie_word_embeddings", False):
        return weights
    tied = getattr(model, "all_tied_weights_keys", None) or getattr(model, "_tied_weights_keys", None) or {}
    return {key: value for key, value in weights.items() if key not in tied}


def load_state(folder: Path) -> dict:
    """A checkpoint's trainer state, loaded without unpickling code (weights_only=True)."""
    import torch

    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise RunFailed(f"{folder} is not a curate checkpoint (no {STATE_FILE})")
    _check_state_archive(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as error:
        # weights_only refuses anything but tensors and plain values; say so in one line
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"{path} cannot be resumed from: it is not a trainer state curate wrote ({reason[:200]}); "
            "remove that checkpoint folder to resume from an earlier one"
        ) from None


def _check_state_archive(path: Path) -> None:
    """torch.save writes a zip of uncompressed records: refuse anything else before torch reads
    it, so a crafted archive cannot declare more data than the file holds."""
    problem = None
    try:
        with zipfile.ZipFile(path) as archive:
            records = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        problem = f"not a torch.save archive ({error})"
    else:
        if any(record.compress_type != zipfile.ZIP_STORED for record in records):
            problem = "its records are compressed, which torch.save never does"
        elif sum(record.file_size for record in records) > path.stat().st_size:
            problem = "its records declare more bytes than the file holds"
    if problem is not None:
        raise UserError(
            f"{path} cannot be resumed from: {problem}; remove that checkpoint folder to resume from an earlier one"
        )


def latest_checkpoint(run: Path, at_most: int | None = None) -> Path | None:
    """The run's newest complete checkpoint (of step `at_most` or before, when given)."""
    candidates = sorted(
        (path for path in Path(run).glob("checkpoint-*") if (path / STATE_FILE).is_file() and path.name[11:].isdigit()),
        key=lambda path: int(path.name[11:]),
    )
    if at_most is not None:
        candidates = [path for path in candidates if int(path.name[11:]) <= at_most]
    return candidates[-1] if candidates else None


def restore_weights(checkpoint: Path, model) -> None:
    """Load a checkpoint's weights into the model (before it is sharded or wrapped)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = {}
    for path in sorted(Path(checkpoint).glob("*.safetensors")):
        try:
            weights.update(load_file(str(path)))
        except SafetensorError as error:
            raise UserError(f"{path} is not a readable safetensors file: {str(error).splitlines()[0]}") from None
    try:
        missing, unexpected = load_weights(model, weights)
    except RuntimeError as error:  # a tensor of another shape: another --lora-r, or another model
        raise UserError(
            f"{checkpoint} does not fit this run's model ({_size_mismatch(error)}); resume with the run's own "
            "options, or start a new run in another folder"
        ) from None
    if unexpected or missing:
        raise UserError(
            f"{checkpoint} does not fit this run's model: missing {missing[:3]}, unexpected {unexpected[:3]}; "
            "resume with the run's own options, or start a new run in another folder"
        )


def _size_mismatch(error: RuntimeError) -> str:
    """The first line of torch's load_state_dict error that names a tensor, not its preamble."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if "size mismatch" in line]
    return (named or lines or [type(error).__name__])[0][:300]


def restore_state(checkpoint: Path, model, optimizer, scheduler) -> int:
    """Load a checkpoint's optimizer, scheduler and RNG states into the live objects (the
    optimizer built for the model as it trains: sharded or not); its step."""
    from curate.train.fsdp import load_optimizer_state

    state = load_state(checkpoint)
    try:
        step = state["progress"]["step"]
        named = Path(checkpoint).name.removeprefix("checkpoint-")
        if type(step) is not int or (named.isdigit() and step != int(named)) or step < 0:
            raise ValueError(f"its step {step!r} is not the checkpoint's")
        if optimizer is not None:
            load_optimizer_state(model, optimizer, state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as error:
        # a state torch.load accepted but that does not hold what curate saves, or not for this run
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"{Path(checkpoint) / STATE_FILE} does not fit this run ({type(error).__name__}: {detail[:200]}); "
            "remove that checkpoint folder to resume from an earlier one"
        ) from None
    return step


def restore(checkpoint: Path, model, optimizer, scheduler) -> int:
    """Load a checkpoint's weights, optimizer, scheduler and RNG into the live objects; its step."""
    load_state(checkpoint)  # a state that cannot be read is refused before any weight is touched
    restore_weights(checkpoint, model)
    return restore_state(checkpoint, model, optimizer, scheduler)


def load_weights(model, weights: dict) -> tuple[list[str], list[str]]:
    """Load a checkpoint's tensors into the model: a LoRA run's are PEFT adapter weights; the
    (missing, unexpected) keys that matter (tied and base weights are not missing)."""
    from curate.train.lora import is_peft_model

    if is_peft_model(model):
        from peft import set_peft_model_state_dict

        result = set_peft_model_state_dict(model, weights)
        adapter_keys = [key for key in result.missing_keys if "lora_" in key or "modules_to_save" in key]
        return adapter_keys, list(result.unexpected_keys)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    return [key for key in missing if key not in tied and "lm_head" not in key], list(unexpected)


def resume(run: Path, model, optimization: Optimization) -> tuple[int, Path | None]:
    """Restore the run folder's latest checkpoint into the model and optimization; the steps it
    had done and where it was (0 and None when there is none: a new run)."""
    checkpoint = latest_checkpoint(run)
    if checkpoint is None:
        return 0, None
    return restore(checkpoint, model, optimization.optimizer, optimization.scheduler), checkpoint
