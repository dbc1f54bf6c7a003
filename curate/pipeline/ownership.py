"""Which output folders curate may write and clear, and one writer at a time in each.

A folder is curate's when it holds `.curate-folder`, a marker written when curate first
claimed the folder (new or empty), with a random folder id that the folder's manifest and
run state repeat. A folder without it is never written into unless empty, and nothing in
it is ever deleted, with or without --overwrite: a planted `_manifest.json` or `.curate/`
proves nothing. Inside curate's folders, only what curate wrote is removed (`clear_made`).

While a run writes a folder it holds an OS lock (`flock`) on `.curate.lock` there, so a
second run into the same folder stops at once, naming the holder's PID, and a killed run
leaves no stale lock: the kernel drops it with the process. Worker processes are spawned,
not forked, so they never inherit the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import curate
from curate.errors import UserError
from curate.io.atomic import atomic_path

MARKER = ".curate-folder"
LOCK = ".curate.lock"
# with the marker's temporary name (io/atomic.py): a run checking a folder while another writes
# its marker must not take that half-written file for a user's
INTERNAL = frozenset({MARKER, LOCK, f".{MARKER}.tmp"})
# Parquet files curate names in data/ and rejected/: sealed shards, task parts, temporaries.
SHARD_NAME = re.compile(r"(shard-\d{5}\.parquet|part-\d{5}-[\w.-]*\.parquet(\.tmp)?|\.shard-\d{5}\.parquet\.tmp)")

_held: dict[str, int] = {}  # realpath of a folder -> the descriptor holding its lock
_recipe: list[str] = []  # the recipe running now, written into the markers of folders it makes


@contextmanager
def made_by(recipe: Path) -> Iterator[None]:
    """Folders claimed inside this block record that `recipe` made them (cli/recipe.py passes
    --overwrite only for those)."""
    _recipe.append(str(recipe))
    try:
        yield
    finally:
        _recipe.pop()


def marker(folder: Path) -> dict | None:
    """`folder`'s marker, when curate claimed it."""
    try:
        with open(Path(folder) / MARKER, encoding="utf-8") as handle:
            found = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or not isinstance(found.get("folder_id"), str) or not found["folder_id"]:
        return None
    return found


def folder_id(folder: Path) -> str | None:
    """The id in `folder`'s marker; None when curate did not claim it."""
    found = marker(folder)
    return None if found is None else found["folder_id"]


def entries(folder: Path) -> set[str]:
    """The names in `folder`, less the marker and the lock."""
    return {path.name for path in folder.iterdir()} - INTERNAL


def claim(folder: Path, what: str = "output folder", foreign: str = "is not a curate dataset folder") -> str:
    """Make `folder` (new or empty) curate's, or check that it is; lock it for this process.
    Returns the folder id. Raises UserError for a folder curate did not make that is not empty
    (saying it `foreign`), and for a folder another run is writing."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{what} {folder} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot write to {what} {folder}: {error.strerror or error}") from None
    _refuse_foreign(folder, foreign)
    lock(folder, what)
    identifier = folder_id(folder)  # again, now that no other run can be writing it
    if identifier is None:
        _refuse_foreign(folder, foreign)
        identifier = secrets.token_hex(16)
        created = {"folder_id": identifier, "created": datetime.now(UTC).isoformat(timespec="seconds")}
        created["curate_version"] = curate.__version__
        if _recipe:
            created["recipe"] = _recipe[-1]
        try:
            with atomic_path(folder / MARKER) as tmp:
                tmp.write_text(json.dumps(created) + "\n", encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot write to {what} {folder}: {error.strerror or error}") from None
    return identifier


def _refuse_foreign(folder: Path, foreign: str) -> None:
    if folder_id(folder) is None and entries(folder):
        raise UserError(
            f"{folder} is not empty and {foreign} (no {MARKER} marker from the run that made it); "
            "curate never writes into or deletes from it: choose a new or empty folder"
        )


def lock(folder: Path, what: str = "output folder") -> None:
    """Hold `folder`'s lock until `release` or the end of this process; a no-op if held here."""
    key = os.path.realpath(folder)
    if key in _held:
        return
    try:
        descriptor = os.open(Path(folder) / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise UserError(f"cannot write to {what} {folder}: {error.strerror or error}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(descriptor)
        raise UserError(
            f"{what} {folder} is being written by another curate run (PID {holder}); "
            "wait for it to finish, or choose another output folder"
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    _held[key] = descriptor


def release(folder: Path) -> None:
    descriptor = _held.pop(os.path.realpath(folder), None)
    if descriptor is not None:
        os.ftruncate(descriptor, 0)
        os.close(descriptor)


def clear_made(folder: Path, made: Iterable[str], subfolders: Iterable[str] = ()) -> None:
    """Delete what curate wrote in its `folder`: the top-level names in `made` and, inside each
    of `subfolders`, the files curate names as shards; anything else stays."""
    subfolders = set(subfolders)
    for name in set(made) - INTERNAL:
        path = folder / name
        if Path(name).name != name or not (path.exists() or path.is_symlink()):
            continue  # only plain names in this folder: a recorded list never points elsewhere
        if name in subfolders and path.is_dir() and not path.is_symlink():
            for item in path.iterdir():
                if SHARD_NAME.fullmatch(item.name) and item.is_file():
                    item.unlink()
            if not any(path.iterdir()):
                path.rmdir()
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
