"""One task of a job: read one input file, pass each batch through the steps, write parts.

A task writes its kept and rejected rows to its own part files and, when it is done, a
marker listing them with its counts; runs in a worker process or in the main one. A dry run
writes no parts (its marker holds counts only); a task with a `limit` reads only that many
documents of its file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pyarrow as pa

from curate.errors import RunFailed
from curate.io.input_file import InputFile
from curate.io.manifest import write_json_atomic
from curate.io.readers import ReadBatch, ReaderOptions, read_file
from curate.io.writer import ShardWriter, WriterOptions
from curate.pipeline import counts, folder
from curate.pipeline.folder import KEPT, REJECTED
from curate.pipeline.pool import report_progress
from curate.pipeline.step import Step


@dataclass
class Task:
    index: int
    input: InputFile
    output: Path
    steps: list[Step]
    reader: ReaderOptions
    writer: WriterOptions
    kept_schema: pa.Schema
    rejected_schema: pa.Schema
    dry_run: bool = False
    limit: int | None = None  # most documents to read from this file (sampled runs)


class _NoWriter:
    """Stands in for a ShardWriter in dry runs."""

    def write(self, table: pa.Table) -> None:
        pass

    def close(self) -> list:
        return []


def _writer(task: Task, sub: str, schema: pa.Schema) -> ShardWriter | _NoWriter:
    if task.dry_run:
        return _NoWriter()
    return ShardWriter(task.output / sub, folder.part_prefix(task.index), schema, task.writer)


def _read(task: Task) -> Iterator[ReadBatch]:
    """The file's batches; with a limit, only up to its limit-th document, then the file is closed."""
    if task.limit is None:
        yield from read_file(task.input, task.reader)
        return
    left = task.limit
    if left <= 0:
        return
    # Batches of at most `left` documents, so the reader stops close to the last one needed.
    reader = replace(task.reader, batch_rows=max(1, min(task.reader.batch_rows, left)))
    with closing(read_file(task.input, reader)) as batches:
        for batch in batches:
            extra = batch.docs.num_rows - left
            if extra > 0:
                # Unreadable records of this batch stay: the reader does not say whether they came
                # before or after the cut (only Parquet batches, cut by rows, can overshoot here).
                parsed = None if batch.parsed is None else batch.parsed[:left]
                batch = replace(batch, docs=batch.docs.slice(0, left), records=batch.records - extra, parsed=parsed)
            left -= batch.docs.num_rows
            yield batch
            if left <= 0:
                return


def _no_lengths() -> list[int]:
    return [0] * (len(counts.LENGTH_EDGES) - 1)


def run_task(task: Task) -> dict:
    """Process one input file; write its parts and its done-marker; return the marker."""
    started = time.perf_counter()
    kept_writer = _writer(task, KEPT, task.kept_schema)
    rejected_writer = _writer(task, REJECTED, task.rejected_schema)
    read = {"records": 0, "docs": 0, "bytes": 0, "rejected": {}, "rejected_bytes": {}, "lengths": _no_lengths()}
    steps = [
        {
            "name": step.name,
            "docs_in": 0,
            "docs_out": 0,
            "bytes_in": 0,
            "bytes_out": 0,
            "rejected": {},
            "rejected_bytes": {},
            "seconds": 0.0,
        }
        for step in task.steps
    ]
    kept = {"docs": 0, "bytes": 0, "lengths": _no_lengths()}
    for step in task.steps:
        step.start_task(task.index)
    position = 0
    for batch in _read(task):
        read["records"] += batch.records
        read["docs"] += batch.docs.num_rows
        if batch.rejected is not None:
            counts.merge(read["rejected"], counts.reason_counts(batch.rejected))
            counts.merge(read["rejected_bytes"], counts.reason_bytes(batch.rejected, "raw"))
            counts.merge(read["rejected_bytes"], counts.too_long_bytes(batch.rejected))
            rejected_writer.write(batch.rejected)
        table, table_bytes = batch.docs, counts.text_bytes(batch.docs)
        read["bytes"] += table_bytes
        counts.merge(read, {"lengths": counts.length_histogram(table)})
        parsed = batch.parsed
        for step, tally in zip(task.steps, steps):
            if table.num_rows == 0:
                break
            step_started = time.perf_counter()
            output = step.run(table, parsed) if step.reads_records and parsed is not None else step.run(table)
            parsed = None
            tally["seconds"] += time.perf_counter() - step_started
            rejected = output.rejected if output.rejected is not None else table.slice(0, 0)
            rows_out = output.kept.num_rows + rejected.num_rows
            if rows_out < table.num_rows or (step.one_to_one and rows_out != table.num_rows):
                raise RunFailed(
                    f"step {step.name} returned {output.kept.num_rows} + {rejected.num_rows} rows for {table.num_rows}"
                )
            kept_bytes = counts.text_bytes(output.kept)
            tally["docs_in"] += table.num_rows
            tally["bytes_in"] += table_bytes
            tally["docs_out"] += output.kept.num_rows
            tally["bytes_out"] += kept_bytes
            if rejected.num_rows:
                counts.merge(tally["rejected"], counts.reason_counts(rejected))
                counts.merge(tally["rejected_bytes"], counts.reason_bytes(rejected))
                rejected_writer.write(rejected)
            table, table_bytes = output.kept, kept_bytes
        if table.num_rows:
            kept["docs"] += table.num_rows
            kept["bytes"] += table_bytes
            counts.merge(kept, {"lengths": counts.length_histogram(table)})
            kept_writer.write(table)
        report_progress(batch.records, batch.position - position)
        position = batch.position
    for step, tally in zip(task.steps, steps):
        tally["counters"] = dict(step.counters)
    notes = {step.name: noted for step in task.steps if (noted := step.task_notes())}
    marker = {
        "index": task.index,
        "input": task.input.source,
        "parts": {
            KEPT: [asdict(part) for part in kept_writer.close()],
            REJECTED: [asdict(part) for part in rejected_writer.close()],
        },
        "counts": {"read": read, "steps": steps, "kept": kept, "seconds": time.perf_counter() - started},
    }
    if notes:
        marker["notes"] = notes  # kept apart from counts, which add up across tasks
    write_json_atomic(folder.marker_path(task.output, task.index), marker)
    return marker
