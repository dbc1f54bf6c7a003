"""The model folder `curate init-model` and `curate merge-lora` write: claimed and locked like
every output folder (pipeline/ownership.py), and replaced only file by file, only the files
curate wrote."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from curate.errors import UserError
from curate.io.atomic import atomic_path
from curate.io.manifest import read_json
from curate.pipeline import ownership

INIT_FILE = "curate_init.json"
STAGING = ".init-model.tmp"


def check_model_folder(output: Path, overwrite: bool) -> None:
    """Claim `output` (new or empty) or check that an earlier init-model wrote it, before the
    work starts; replacing a model needs `overwrite`. A new folder is made only when the
    model is written, so a run that fails before leaves nothing behind."""
    if not output.is_dir() or not ownership.entries(output):
        if output.exists() and not output.is_dir():
            raise UserError(f"output {output} exists and is not a folder")
        return
    ownership.claim(output, "model folder", "was not written by curate init-model or merge-lora")
    if not ownership.entries(output) - {STAGING}:
        return
    previous = read_json(output / INIT_FILE)
    if previous is None or previous.get("folder_id") != ownership.folder_id(output):
        raise UserError(
            f"{output} is not empty and was not written by curate init-model or merge-lora; choose a new or empty folder"
        )
    if not overwrite:
        raise UserError(f"{output} already holds a model; pass --overwrite to replace it, or choose another folder")


def write_model_folder(output: Path, info: dict, save: Callable[[Path], None]) -> None:
    """`save(folder)` writes the model and tokenizer into a staging folder inside `output`; its
    files then replace those an earlier init-model wrote, and `curate_init.json` (`info`, with
    the folder id and the files) is written last."""
    ownership.claim(output, "model folder", "was not written by curate init-model or merge-lora")
    staging = output / STAGING
    try:
        shutil.rmtree(staging, ignore_errors=True)  # a killed run's, inside a folder curate claimed
        staging.mkdir()
        save(staging)
        made = sorted(path.name for path in staging.iterdir())
        previous = read_json(output / INIT_FILE) or {}
        ownership.clear_made(output, set(previous.get("files", ())) - {INIT_FILE})
        for name in made:
            os.replace(staging / name, output / name)
        staging.rmdir()
        info |= {"folder_id": ownership.folder_id(output), "files": [*made, INIT_FILE]}
        with atomic_path(output / INIT_FILE) as tmp:
            tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise UserError(f"cannot write the model to {output}: {error.strerror or error}") from None
    finally:
        ownership.release(output)
