"""Dataset folders of commands that decide their rows in memory (self-instruct, prefs).

They decide every row in one pass in the main process (a model answers, a loop keeps or
drops), so they have no per-file tasks: their resume comes from the answer cache. Their
folder is one task's: the same identity, parts, sealing and manifest as the executor's
(pipeline/identity.py, pipeline/folder.py), so `inspect`, resume and re-runs treat it like
any other curate folder.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from curate.io.writer import ShardWriter, WriterOptions
from curate.pipeline import folder
from curate.pipeline.folder import KEPT, REJECTED, FolderState


def prepare(output: Path, identity: str, overwrite: bool, command_line: str) -> FolderState:
    """`folder.prepare` for a job of one task; a folder to be written is first cleared of what
    a killed run left (its temporary files and unsealed parts)."""
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
) -> dict[str, list[dict]]:
    """Write the rows as task 0's parts and seal them; the manifest's `shards` entry."""
    parts = {}
    for sub, rows, schema in ((KEPT, kept, kept_schema), (REJECTED, rejected, rejected_schema)):
        shards = ShardWriter(output / sub, folder.part_prefix(0), schema, writer or WriterOptions())
        if rows:
            shards.write(pa.Table.from_pylist(rows, schema=schema))
        parts[sub] = [asdict(part) for part in shards.close()]
    return folder.seal(output, [{"parts": parts}], kept_schema)


def sealed_manifest(
    output: Path,
    *,
    command: str,
    command_line: str,
    options: dict,
    identity: str,
    inputs: list[dict],
    kept: list[dict],
    kept_schema: pa.Schema,
    rejected: list[dict],
    rejected_schema: pa.Schema,
    clock: folder.Clock,
    writer: WriterOptions | None = None,
    extra: dict | None = None,
) -> dict:
    """Write the rows (`write_rows`) and return the folder's manifest; every rejected row has a
    `reason`. The caller writes its report, then `folder.finish(output, manifest)`."""
    by_reason = dict(Counter(row["reason"] for row in rejected))
    manifest = folder.manifest(
        command=command,
        command_line=command_line,
        options=options,
        identity=identity,
        inputs=inputs,
        schemas=(kept_schema, rejected_schema),
        shards=write_rows(output, kept, kept_schema, rejected, rejected_schema, writer),
        counts=folder.row_counts(len(kept) + len(rejected), len(kept), by_reason),
        extra=extra,
    )
    manifest["timings"] = clock.timings(workers=1)
    return manifest
