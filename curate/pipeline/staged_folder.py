"""Folders a command writes whole, as a set of files (a model, a tokenizer): claimed and locked
like every output folder (ownership.py), refused before any work when another program's, and
replaced file by file, only the files curate wrote, with the info file that lists them last."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from curate.errors import UserError
from curate.io.atomic import atomic_path
from curate.io.manifest import read_json
from curate.pipeline import ownership


@dataclass(frozen=True)
class StagedFolder:
    info_file: str  # lists the files written and the folder id, written last
    staging: str  # the folder inside the output that `save` writes into
    what: str  # "model folder"
    writers: str  # "curate init-model or merge-lora"
    holds: str  # "a model"

    def check(self, output: Path, overwrite: bool) -> None:
        """Claim `output` (new or empty) or check that an earlier run wrote it, before the work
        starts; replacing needs `overwrite`. A new folder is made only when the files are
        written, so a run that fails before leaves nothing behind."""
        if not output.is_dir() or not ownership.entries(output):
            if output.exists() and not output.is_dir():
                raise UserError(f"output {output} exists and is not a folder")
            return
        ownership.claim(output, self.what, f"was not written by {self.writers}")
        if not ownership.entries(output) - {self.staging}:
            return
        previous = read_json(output / self.info_file)
        if previous is None or previous.get("folder_id") != ownership.folder_id(output):
            raise UserError(
                f"{output} is not empty and was not written by {self.writers}; choose a new or empty folder"
            )
        if not overwrite:
            raise UserError(
                f"{output} already holds {self.holds}; pass --overwrite to replace it, or choose another folder"
            )

    def write(self, output: Path, info: dict, save: Callable[[Path], None]) -> None:
        """`save(folder)` writes into the staging folder inside `output`; its files then replace
        those an earlier run wrote, and the info file (`info`, with the folder id and the files)
        comes last."""
        ownership.claim(output, self.what, f"was not written by {self.writers}")
        staging = output / self.staging
        try:
            shutil.rmtree(staging, ignore_errors=True)  # a killed run's, inside a folder curate claimed
            staging.mkdir()
            save(staging)
            made = sorted(path.name for path in staging.iterdir())
            previous = read_json(output / self.info_file) or {}
            ownership.clear_made(output, set(previous.get("files", ())) - {self.info_file})
            for name in made:
                os.replace(staging / name, output / name)
            staging.rmdir()
            info |= {"folder_id": ownership.folder_id(output), "files": [*made, self.info_file]}
            with atomic_path(output / self.info_file) as tmp:
                tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            noun = self.holds.split()[-1]
            raise UserError(f"cannot write the {noun} to {output}: {error.strerror or error}") from None
        finally:
            ownership.release(output)
