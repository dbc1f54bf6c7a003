"""A job's identity: a hash of everything that decides what a dataset folder holds.

A folder whose recorded identity equals the job's is finished (skip) or resumable; any other
is stale. Options that only change how a run goes (`RUNTIME_OPTIONS`: worker count, executor, progress
bar, --overwrite; the model commands add how a server is reached) are left out, so they never
force a rebuild.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import xxhash

from curate.io.fingerprint import fingerprint
from curate.io.manifest import FORMAT_VERSION

RUNTIME_OPTIONS = frozenset({"workers", "progress", "overwrite", "executor", "ray_address", "partitions"})
# Options naming what a command writes, or inputs fingerprinted on their own: not hashed as files read.
NOT_READ = frozenset({"inputs", "output", "best_of_n_out", "cache"})
_SKIPPED_NAMES = frozenset({".curate-folder", ".curate.lock", ".curate"})


def job_identity(command: str, options: Mapping, *, runtime_options: frozenset[str] = RUNTIME_OPTIONS, **parts) -> str:
    """The identity of `command` run with `options` on what `parts` name (input fingerprints,
    template hashes, model identities...): the same for the same job, whatever the key order."""
    kept = {key: value for key, value in options.items() if key not in runtime_options}
    identity = {
        "format_version": FORMAT_VERSION,
        "command": command,
        "options": kept,
        # a word list, model or template an option names is known by its bytes, not its path:
        # an edited --badwords list or a retrained --quality-model makes the folder stale
        "files_read": {
            key: _content(value) for key, value in kept.items() if key not in NOT_READ and _names_file(value)
        },
        **parts,
    }
    return xxhash.xxh3_128_hexdigest(repr(sorted(_flatten(identity))).encode())


def _flatten(value, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}/{key}")
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{position}]")
    else:
        yield (prefix, repr(value))


def _names_file(value: object) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_names_file(item) for item in value)
    return isinstance(value, str) and bool(value) and "\0" not in value and os.path.exists(value)


def _content(value: object) -> object:
    """What a file or folder named by an option holds: the xxh3 of every file (by relative path)."""
    if isinstance(value, (list, tuple)):
        return [_content(item) for item in value]
    if not isinstance(value, str) or not os.path.exists(value):
        return None
    path = Path(value)
    if path.is_file():
        return fingerprint(path)["xxh3_128"]
    if not path.is_dir():
        return "not a file"
    found = {}
    for top, folders, names in os.walk(path):
        folders[:] = sorted(name for name in folders if name not in _SKIPPED_NAMES)
        for name in sorted(names):
            if name not in _SKIPPED_NAMES and os.path.isfile(os.path.join(top, name)):
                file = Path(top) / name
                found[str(file.relative_to(path))] = fingerprint(file)["xxh3_128"]
    return found
