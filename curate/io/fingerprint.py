"""An input file's identity: its size and a hash of every byte.

The hash is what decides whether an input changed, so a file edited in place with its size
and mtime restored is still seen as changed. xxh3 hashes at several GB/s, faster than the
disk reads it; the cost on the IO benchmark is in docs/BENCHMARKS.md. The mtime is recorded
for people reading the manifest and is part of the identity too, so `touch` re-runs a job
(safe, never wrong).
"""

from __future__ import annotations

import os
from pathlib import Path

import xxhash

from curate.errors import UserError
from curate.io.input_file import InputFile

_CHUNK_BYTES = 1 << 23


# Hashes taken in this process, by what the kernel says about the file: a run names the same
# file several times (an input read by two steps, a model folder both in the job identity and
# in the answer cache's key) and each is read once. The change time is in the key and no user
# can set it back (`touch -d` and utime set it to now), so an edit is never served a stale hash.
_known: dict[tuple, str] = {}


def _stat_key(stat: os.stat_result) -> tuple:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def fingerprint(path: Path) -> dict:
    """`path`, size, mtime and the xxh3-128 of the whole file."""
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        key = _stat_key(stat)
        digest = _known.get(key)
        if digest is None:
            hasher = xxhash.xxh3_128()
            buffer = bytearray(_CHUNK_BYTES)
            view = memoryview(buffer)
            while read := handle.readinto(buffer):
                hasher.update(view[:read])
            digest = hasher.hexdigest()
            if _stat_key(os.fstat(handle.fileno())) == key:  # not written to while it was read
                _known[key] = digest
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "xxh3_128": digest}


def input_size(input_file: InputFile) -> int:
    """An input's size in bytes, for progress bars: what the store says of an object, the
    file system of a file (0 when it cannot be read), without reading its bytes."""
    if input_file.url:
        from curate.io import remote

        return remote.fingerprint(input_file.url)["size"]
    try:
        return os.path.getsize(input_file.path)
    except OSError:
        return 0


def input_fingerprint(input_file: InputFile) -> dict:
    """An input's fingerprint with its path as valid UTF-8 text; one line if it cannot be read."""
    if input_file.url:
        from curate.io import remote

        return remote.fingerprint(input_file.url)
    try:
        found = fingerprint(input_file.path)
    except OSError as error:
        raise UserError(f"cannot read input {input_file.source}: {error.strerror or error}") from None
    return found | {"path": input_file.source}
