"""The model folder `curate init-model` and `curate merge-lora` write: claimed and locked like
every output folder (pipeline/ownership.py), and replaced only file by file, only the files
curate wrote."""

from __future__ import annotations

from curate.pipeline.staged_folder import StagedFolder

INIT_FILE = "curate_init.json"
STAGING = ".init-model.tmp"


MODEL_FOLDER = StagedFolder(INIT_FILE, STAGING, "model folder", "curate init-model or merge-lora", "a model")
check_model_folder = MODEL_FOLDER.check
write_model_folder = MODEL_FOLDER.write
