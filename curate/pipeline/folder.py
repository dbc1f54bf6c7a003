"""The life of a dataset folder: start, resume, or find it already finished; then seal it.

While a run is under way the folder holds `.curate/job.json` (which job this is) and one
`.curate/done/task-NNNNN.json` per finished input task, listing the part files that task
wrote. Sealing renames parts to `shard-NNNNN.parquet` in task order, then writes the
manifest last. Every step of sealing can be repeated, so a run killed while sealing
finishes on the next try.

A dry run's folder has the same life but no `data/` or `rejected/`: report.md,
report.json, the charts and a manifest with `"dry_run": true`. It is never taken for a
finished dataset of another job, and any run into it replaces it without --overwrite.

Only folders curate claimed are written, resumed or replaced, one run at a time
(pipeline/ownership.py); the manifest repeats the folder's id and lists the files curate
wrote, which are all that replacing the folder removes.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import pyarrow as pa

import curate
from curate.errors import RunFailed, UserError
from curate.io.manifest import FORMAT_VERSION, MANIFEST, read_json, schema_to_json, write_json_atomic
from curate.io.writer import write_empty
from curate.pipeline import ownership

STATE = ".curate"
KEPT = "data"
REJECTED = "rejected"


class FolderState(Enum):
    FRESH = "fresh"
    RESUME = "resume"
    COMPLETE = "complete"


def prepare(folder: Path, identity: str, overwrite: bool, job_info: dict | None = None) -> FolderState:
    """Decide whether to start, resume or skip, holding the folder's lock from here to `finish`.

    Only a folder curate claimed (pipeline/ownership.py) is resumed, skipped or replaced, and
    replacing it removes only what curate wrote there (`clear`); a folder that is neither
    empty nor curate's is refused, and so is one whose manifest or run state does not repeat
    the folder's id (planted or copied from elsewhere)."""
    identifier = ownership.claim(folder)
    finished, job = _recorded(folder, identifier)
    if finished is not None or job is not None:
        recorded = finished if finished is not None else job
        if recorded.get("job_fingerprint") == identity:  # the manifest's name for the job identity
            if finished is not None:
                ownership.release(folder)  # nothing to write
                return FolderState.COMPLETE
            # files that appeared while the run was stopped are the user's: never listed as ours
            _add_foreign(folder, job)
            return FolderState.RESUME
        # A dry run's folder holds a report and no data: any later run may replace it.
        if not overwrite and not recorded.get("dry_run"):
            what = "a finished dataset" if finished is not None else "an unfinished run"
            raise UserError(
                f"{folder} already holds {what} made from other inputs or options; "
                "pass --overwrite to replace it, or choose another output folder"
            )
        clear(folder, finished, job)
    elif (folder / STATE).exists():
        shutil.rmtree(folder / STATE)  # state without its job.json: a run killed as it started
    try:
        (folder / STATE / "done").mkdir(parents=True, exist_ok=True)
        foreign = sorted(ownership.entries(folder) - {STATE})  # the user's files: never ours to remove
        write_json_atomic(
            folder / STATE / "job.json",
            {"job_fingerprint": identity, "folder_id": identifier, "foreign": foreign, **(job_info or {})},
        )
    except OSError as error:
        raise UserError(f"cannot write to output folder {folder}: {error.strerror or error}") from None
    return FolderState.FRESH


def _recorded(folder: Path, identifier: str) -> tuple[dict | None, dict | None]:
    """The folder's manifest and run state, each checked to repeat the folder's id."""
    found = []
    for path in (folder / MANIFEST, folder / STATE / "job.json"):
        if not path.exists():
            found.append(None)
            continue
        recorded = read_json(path)
        if recorded is None or recorded.get("folder_id") != identifier:
            raise UserError(
                f"{path} was not written by curate into this folder (its folder id does not match "
                f"{ownership.MARKER}); curate will not replace it: remove it yourself or choose another folder"
            )
        found.append(recorded)
    return found[0], found[1]


def clear(folder: Path, finished: dict | None, job: dict | None) -> None:
    """Remove what curate wrote into its `folder`: what the manifest lists as curate's files,
    or for an unfinished run its state and shard parts only (anything else there may be the
    user's, added while it was stopped)."""
    made = set(finished.get("files", ())) | {MANIFEST} if finished is not None else {KEPT, REJECTED}
    ownership.clear_made(folder, made | {STATE}, subfolders=(KEPT, REJECTED))


def _add_foreign(folder: Path, job: dict) -> None:
    """Record in the run state every top-level name that is not the run's own (its state and
    shard folders): a file added while a killed run was stopped is never swept into `files`."""
    foreign = set(job.get("foreign", ())) | (ownership.entries(folder) - {STATE, KEPT, REJECTED})
    if foreign != set(job.get("foreign", ())):
        write_json_atomic(folder / STATE / "job.json", {**job, "foreign": sorted(foreign)})


def state_path(folder: Path, name: str) -> Path:
    """Where a command keeps its own resumable state; it goes when the dataset is sealed.

    Create it only once the folder is prepared (in run_job's `before_tasks`): a `.curate/`
    without its job.json reads as someone else's unfinished run.
    """
    return folder / STATE / name


def marker_path(folder: Path, task_index: int) -> Path:
    return folder / STATE / "done" / f"task-{task_index:05d}.json"


def part_prefix(task_index: int) -> str:
    return f"part-{task_index:05d}"


def finished_tasks(folder: Path) -> dict[int, dict]:
    done = {}
    for path in sorted((folder / STATE / "done").glob("task-*.json")):
        marker = read_json(path)
        if marker is not None:
            done[marker["index"]] = marker
    return done


def remove_unfinished(folder: Path, unfinished: list[int]) -> None:
    """Delete what killed runs left: temporary files and the parts of unfinished tasks."""
    prefixes = tuple(part_prefix(index) + "-" for index in unfinished)
    for sub in (KEPT, REJECTED):
        for path in (folder / sub).glob("*"):
            if path.name.endswith(".tmp") or (prefixes and path.name.startswith(prefixes)):
                path.unlink()


def seal_shards(folder: Path, markers: list[dict], sub: str) -> list[dict]:
    """Rename every task's parts to `shard-NNNNN.parquet` in task order; idempotent."""
    shards = []
    parts = [part for marker in markers for part in marker["parts"][sub]]
    for number, part in enumerate(parts):
        source = folder / sub / part["name"]
        target = folder / sub / f"shard-{number:05d}.parquet"
        if source.exists():
            source.replace(target)
        elif not target.exists():
            raise RunFailed(f"{source} is missing; re-run with --overwrite to rebuild {folder}")
        shards.append({"path": f"{sub}/{target.name}", "rows": part["rows"], "bytes": part["bytes"]})
    return shards


def seal(folder: Path, markers: list[dict], kept_schema: pa.Schema, dry_run: bool = False) -> dict[str, list[dict]]:
    """Seal every task's parts into shards (`shards` of the manifest). A dataset always has a
    data shard: an empty one when nothing was kept (a dry run has none)."""
    data_shards = seal_shards(folder, markers, KEPT)
    if not data_shards and not dry_run:
        empty = folder / KEPT / "shard-00000.parquet"
        write_empty(empty, kept_schema)
        data_shards = [{"path": f"{KEPT}/{empty.name}", "rows": 0, "bytes": empty.stat().st_size}]
    shards = {KEPT: data_shards, REJECTED: seal_shards(folder, markers, REJECTED)}
    for sub, listed in shards.items():
        _verify_sealed(folder, sub, {Path(shard["path"]).name for shard in listed})
    return shards


def _verify_sealed(folder: Path, sub: str, listed: set[str]) -> None:
    """`sub` must hold exactly the shards the manifest will list: readers trust the manifest."""
    present = {path.name for path in (folder / sub).iterdir()} if (folder / sub).is_dir() else set()
    if listed - present:
        raise RunFailed(f"{folder / sub} lost {sorted(listed - present)[0]} while sealing; re-run the command")
    stray = sorted(present - listed)
    if stray:
        raise UserError(
            f"{folder / sub} holds {stray[0]}"
            + (f" and {len(stray) - 1} more" if len(stray) > 1 else "")
            + ", which this run did not write; move it out of the dataset folder and run the command again"
        )


def row_counts(records_in: int, kept: int, by_reason: dict[str, int], unreadable: int = 0) -> dict:
    """The manifest's `counts`: `in = kept + rejected`, rejected by reason, most frequent first."""
    return {
        "in": records_in,
        "kept": kept,
        "rejected": sum(by_reason.values()),
        "unreadable": unreadable,
        "by_reason": dict(sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))),
    }


@dataclass
class Clock:
    """When a run started, for the manifest's `timings`."""

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)

    def timings(self, workers: int, resumed_tasks: int = 0, task_seconds: float | None = None) -> dict:
        timings = {
            "started": self.started_at.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - self.started, 3),
        }
        if task_seconds is not None:
            timings["task_seconds"] = round(task_seconds, 3)
        return timings | {"workers": workers, "resumed_tasks": resumed_tasks}


def manifest(
    *,
    command: str,
    command_line: str,
    options: dict,
    identity: str,
    inputs: list[dict],
    schemas: tuple[pa.Schema, pa.Schema],
    shards: dict[str, list[dict]],
    counts: dict,
    flags: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """The manifest every command writes, without `timings` (the caller adds them last).

    `flags` (a dry run, a sample) follow the identity; `extra` (a command's own summary:
    model usage, self-instruct's rounds) follows the counts."""
    kept_schema, rejected_schema = schemas
    return {
        "format_version": FORMAT_VERSION,
        "curate_version": curate.__version__,
        "command": command,
        "command_line": command_line,
        "options": options,
        "job_fingerprint": identity,
        **(flags or {}),
        "inputs": inputs,
        "schema": {KEPT: schema_to_json(kept_schema), REJECTED: schema_to_json(rejected_schema)},
        "shards": shards,
        "counts": counts,
        **(extra or {}),
    }


def finish(folder: Path, manifest: dict) -> None:
    """Write the manifest last, naming the folder's id and every file curate wrote there, then
    drop the run state and the lock."""
    job = read_json(folder / STATE / "job.json") or {}
    foreign = set(job.get("foreign", ()))
    manifest["folder_id"] = ownership.folder_id(folder)
    manifest["files"] = sorted((ownership.entries(folder) - foreign - {STATE}) | {MANIFEST})
    write_json_atomic(folder / MANIFEST, manifest)
    shutil.rmtree(folder / STATE, ignore_errors=True)
    ownership.release(folder)
