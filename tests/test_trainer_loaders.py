"""Every LLaMA-Factory and Axolotl file curate writes, loaded by that trainer's own loader.

Slow: each trainer lives in a virtual environment of its own (installing either beside curate
would replace transformers and TRL), made on first use under $CURATE_TRAINER_VENVS (default
~/.cache/curate/trainer-venvs) from PyPI, or taken from $CURATE_LLAMAFACTORY_PYTHON /
$CURATE_AXOLOTL_PYTHON. The checks load data only: no model, no GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import REPO, SHARED_DATA, manifest, run_cli

pytestmark = pytest.mark.slow

CHECKS = Path(__file__).parent / "trainer_loaders"
TORCH = "torch==2.13.0"  # the CPU build; pinned so no trainer pulls a CUDA one
RECIPES = {
    "llamafactory": [
        ["install", TORCH],
        ["install", "-c", "{constraints}", "llamafactory==0.9.5"],
        # PyPI's torchvision and torchaudio are CUDA builds that do not load beside the CPU torch
        ["uninstall", "-y", "torchvision", "torchaudio"],
    ],
    "axolotl": [
        ["install", TORCH],
        ["install", "--no-deps", "axolotl==0.19.0"],
        # axolotl's own requirements pull GPU-only packages; these are what its data loaders import
        ["install", "-c", "{constraints}", "transformers==5.16.1", "trl==1.9.0", "datasets==4.8.4",
         "accelerate==1.13.0", "peft==0.20.0", "pydantic==2.12.5", "tokenizers==0.23.1", "huggingface_hub==1.17.0",
         "addict", "fire", "PyYAML==6.0.3", "requests", "colorama", "packaging==26.0", "pillow", "posthog==6.7.11",
         "numba"],
    ],
}  # fmt: skip


def trainer_python(name: str) -> str:
    given = os.environ.get(f"CURATE_{name.upper()}_PYTHON")
    if given:
        return given
    root = Path(os.environ.get("CURATE_TRAINER_VENVS", Path.home() / ".cache" / "curate" / "trainer-venvs"))
    venv = root / name
    python = venv / "bin" / "python"
    if not (venv / ".complete").is_file():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        constraints = root / "constraints.txt"
        constraints.write_text(TORCH + "\n")
        for step in RECIPES[name]:
            command = [str(python), "-m", "pip", "--quiet", *[part.format(constraints=constraints) for part in step]]
            subprocess.run(command, check=True)
        (venv / ".complete").write_text("")
    return str(python)


def check(name: str, *arguments: Path) -> dict[str, dict]:
    environment = {**os.environ, "AXOLOTL_DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TRL_EXPERIMENTAL_SILENCE": "1"}
    completed = subprocess.run(
        [trainer_python(name), str(CHECKS / f"{name}_check.py"), *map(str, arguments)],
        capture_output=True, text=True, env=environment, cwd=str(CHECKS), timeout=1200,
    )  # fmt: skip
    results = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    assert results, completed.stderr[-3000:]
    return {Path(result["folder"]).name: result for result in results}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A folder for every layout a trainer file is written for, from data with system prompts,
    multi-turn history and Korean text where the shared data has them."""
    root = tmp_path_factory.mktemp("trainer-files")
    sft = [REPO / "sample_data/instructions/seed_tasks.en.jsonl"]
    if SHARED_DATA.is_dir():
        sft = [SHARED_DATA / "instructions/messages_sft_demo.jsonl"]
    made = {}
    for fmt in ("alpaca", "messages", "sharegpt", "prompt-completion"):
        run_cli("convert", *sft, "-o", root / fmt, "--to", fmt, "--no-progress")
        made[fmt] = root / fmt
    for fmt in ("preference", "sharegpt-preference"):
        run_cli("convert", REPO / "sample_data/preferences/pairs.jsonl", "-o", root / fmt, "--to", fmt, "--no-progress")
        made[fmt] = root / fmt
    run_cli("convert", *sft, "-o", root / "sharegpt-systems", "--to", "sharegpt", "--no-progress")
    for layout in ("prompt-completion", "text", "all"):
        name = f"render-{layout}"
        run_cli("render", *sft, "-o", root / name, "--template", "chatml", "--columns", layout, "--no-progress")
        made[name] = root / name
    run_cli("init-model", "-o", root / "model", "--corpus", REPO / "sample_data", "--size", "tiny")
    made["model"] = root / "model"
    return made


def kept(folder: Path) -> int:
    return manifest(folder)["counts"]["kept"]


def test_llamafactory_reads_every_dataset_info_entry(folders):
    with_entry = [folder for name, folder in folders.items() if (folder / "dataset_info.json").is_file()]
    assert {folder.name for folder in with_entry} >= {"alpaca", "messages", "sharegpt", "sharegpt-preference"}
    for name, result in check("llamafactory", *with_entry).items():
        assert "error" not in result, result
        assert result["rows"] == result["valid"] == kept(folders[name]), result


def test_axolotl_reads_every_axolotl_yaml(folders):
    with_entry = [folder for name, folder in folders.items() if (folder / "axolotl.yaml").is_file()]
    assert {folder.name for folder in with_entry} >= {"alpaca", "messages", "prompt-completion", "preference"}
    for name, result in check("axolotl", folders["model"], *with_entry).items():
        assert "error" not in result, result
        assert result["rows"] == result["valid"] == kept(folders[name]), result


def test_folders_without_an_entry_say_why_in_their_card(folders):
    for folder in folders.values():
        card = folder / "README.md"
        if not card.is_file():
            continue
        text = card.read_text()
        if not (folder / "axolotl.yaml").is_file():
            assert "No `axolotl.yaml` is written" in text, folder
        if not (folder / "dataset_info.json").is_file():
            assert "No `dataset_info.json` is written" in text, folder
        assert pq.read_schema(next((folder / "data").glob("*.parquet")))
