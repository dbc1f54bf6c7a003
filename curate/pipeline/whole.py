"""Dataset folders for commands that hold all their rows in memory (self-instruct, prefs).

They decide every row in one pass in the main process (a model answers, a loop keeps or
drops), so they have no per-file tasks: their resume comes from the answer cache. This
writes their kept and rejected rows as the same sealed shards and manifest as every other
curate folder.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import xxhash

import curate
from curate.io.manifest import FORMAT_VERSION, schema_to_json
from curate.io.writer import ShardWriter, WriterOptions, write_empty
from curate.pipeline import folder
from curate.pipeline.folder import KEPT, REJECTED, FolderState


def job_identity(command: str, options: dict, runtime_options: frozenset[str], **parts) -> str:
    """A fingerprint of what decides the output: the options (minus those that only change how
    it runs) and any other `parts` (input fingerprints, template hashes, model identities)."""
    import orjson

    identity = {
        "format_version": FORMAT_VERSION,
        "command": command,
        "options": {key: value for key, value in sorted(options.items()) if key not in runtime_options},
        **parts,
    }
    return xxhash.xxh3_128_hexdigest(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS))


def prepare(output: Path, identity: str, overwrite: bool, command_line: str) -> FolderState:
    """`folder.prepare` for a command of one task; a folder to be written is first cleared of
    what a killed run left (its temporary files and unsealed parts)."""
    state = folder.prepare(output, identity, overwrite, {"command": command_line, "tasks": 1})
    if state is not FolderState.COMPLETE:
        folder.remove_unfinished(output, [0])
    return state


def write_rows(
    output: Path,
    kept: list[dict],
    kept_schema: pa.Schema,
    rejected: list[dict],
    rejected_schema: pa.Schema,
    writer: WriterOptions | None = None,
) -> dict:
    """Write the rows as sealed shards of `output`; the manifest's `shards` entry."""
    parts = {}
    for sub, rows, schema in ((KEPT, kept, kept_schema), (REJECTED, rejected, rejected_schema)):
        shards = ShardWriter(output / sub, folder.part_prefix(0), schema, writer or WriterOptions())
        if rows:
            shards.write(pa.Table.from_pylist(rows, schema=schema))
        parts[sub] = [asdict(part) for part in shards.close()]
    marker = {"parts": parts}
    data_shards = folder.seal_shards(output, [marker], KEPT)
    if not data_shards:
        write_empty(output / KEPT / "shard-00000.parquet", kept_schema)
        size = (output / KEPT / "shard-00000.parquet").stat().st_size
        data_shards = [{"path": f"{KEPT}/shard-00000.parquet", "rows": 0, "bytes": size}]
    return {KEPT: data_shards, REJECTED: folder.seal_shards(output, [marker], REJECTED)}


def manifest(
    command: str,
    command_line: str,
    options: dict,
    identity: str,
    inputs: list[dict],
    schemas: tuple[pa.Schema, pa.Schema],
    shards: dict,
    by_reason: dict[str, int],
    kept: int,
    started: tuple[datetime, float],
    **extra,
) -> dict:
    """The manifest of a whole-folder command: the same keys as the executor's, plus `extra`."""
    started_at, started_clock = started
    rejected = sum(by_reason.values())
    return {
        "format_version": FORMAT_VERSION,
        "curate_version": curate.__version__,
        "command": command,
        "command_line": command_line,
        "options": options,
        "job_fingerprint": identity,
        "inputs": inputs,
        "schema": {KEPT: schema_to_json(schemas[0]), REJECTED: schema_to_json(schemas[1])},
        "shards": shards,
        "counts": {
            "in": kept + rejected,
            "kept": kept,
            "rejected": rejected,
            "unreadable": 0,
            "by_reason": dict(sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))),
        },
        **extra,
        "timings": {
            "started": started_at.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started_clock, 3),
            "workers": 1,
            "resumed_tasks": 0,
        },
    }


def now() -> tuple[datetime, float]:
    return datetime.now(UTC), time.perf_counter()
