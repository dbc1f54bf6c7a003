"""A stage of dedup's state tasks (the shuffles of `--partitions`) on the executor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from curate.io.input_file import InputFile
from curate.pipeline.pool import Progress, run_tasks


def state_input(path: Path) -> InputFile:
    """What a state task names in its errors (tasks carry an InputFile)."""
    return InputFile(path, "arrow")


def run_stage(function: Callable, tasks: list, workers: int, label: str, progress: bool) -> None:
    """One stage of tasks on the executor, with its progress bar."""
    bar = Progress(None, label, progress)
    try:
        run_tasks(function, tasks, workers, bar)
    finally:
        bar.close()
