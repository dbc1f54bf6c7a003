"""A job's identity: a hash of everything that decides what a dataset folder holds.

A folder whose recorded identity equals the job's is finished (skip) or resumable; any other
is stale. Options that only change how a run goes (`RUNTIME_OPTIONS`: worker count, progress
bar, --overwrite; the model commands add how a server is reached) are left out, so they never
force a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import xxhash

from curate.io.manifest import FORMAT_VERSION

RUNTIME_OPTIONS = frozenset({"workers", "progress", "overwrite"})


def job_identity(command: str, options: Mapping, *, runtime_options: frozenset[str] = RUNTIME_OPTIONS, **parts) -> str:
    """The identity of `command` run with `options` on what `parts` name (input fingerprints,
    template hashes, model identities...): the same for the same job, whatever the key order."""
    identity = {
        "format_version": FORMAT_VERSION,
        "command": command,
        "options": {key: value for key, value in options.items() if key not in runtime_options},
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
