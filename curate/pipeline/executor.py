"""The local executor: run a list of steps over input files in worker processes.

One input file is one task. A task reads its file, passes each batch through the steps,
and writes kept and rejected rows to its own part files; when it is done it writes a
marker. Output names and bytes depend only on the task, never on which worker ran it or
how many there were, so `--workers 1` and `--workers 8` give byte-identical shards.

A dry run does all of this but writes no part files: its markers hold counts only.
A sampled run reads only the first N documents in input order: its tasks run one after
another in the main process, each given what is left of the budget by the tasks before it,
and the files after the budget is spent are never opened.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import xxhash
from tqdm import tqdm

import curate
from curate.errors import RunFailed, UserError
from curate.io.manifest import FORMAT_VERSION, read_manifest, schema_to_json, write_json_atomic
from curate.io.readers import ReadBatch, ReaderOptions, input_schema, read_file
from curate.io.schema import rejected_schema
from curate.io.sources import InputFile, fingerprint
from curate.io.writer import ShardWriter, WriterOptions, write_empty
from curate.pipeline import counts, folder, plots
from curate.pipeline.folder import KEPT, REJECTED, FolderState
from curate.pipeline.report import build_report, write_report
from curate.pipeline.step import Step

# Options that change how a run goes, not what it writes: left out of the job's identity.
RUNTIME_OPTIONS = frozenset({"workers", "progress", "overwrite"})


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class Job:
    command: str
    output: Path
    inputs: list[InputFile]
    steps: list[Step]
    options: dict  # the command's options as the user gave them, for the manifest
    command_line: str
    reader: ReaderOptions = field(default_factory=ReaderOptions)
    writer: WriterOptions = field(default_factory=WriterOptions)
    dry_run: bool = False  # count and report, write no shards
    sample: int | None = None  # read only the first N documents, in input order
    # Writes files derived from the finished run (a dataset card, trainer configs) given the
    # folder and its manifest; runs after the report and before the manifest, which stays last.
    finishing: Callable[[Path, dict], None] | None = None


@dataclass
class JobResult:
    output: Path
    manifest: dict
    skipped: bool  # the folder was already complete for this exact job


@dataclass
class _Task:
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


def job_fingerprint(job: Job, input_fingerprints: list[dict]) -> str:
    identity = {
        "format_version": FORMAT_VERSION,
        "command": job.command,
        "options": {key: value for key, value in job.options.items() if key not in RUNTIME_OPTIONS},
        "inputs": input_fingerprints,
    }
    # Also in the options when the CLI made the job; named here for jobs built in code.
    if job.dry_run:
        identity["dry_run"] = True
    if job.sample is not None:
        identity["sample"] = job.sample
    return xxhash.xxh3_128_hexdigest(repr(sorted(_flatten(identity))).encode())


def _flatten(value, prefix: str = ""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}/{key}")
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{position}]")
    else:
        yield (prefix, repr(value))


def plan_schemas(job: Job) -> tuple[pa.Schema, pa.Schema]:
    """The kept and rejected schemas every shard of this job will have."""
    schemas = [input_schema(item, job.reader) for item in job.inputs]
    unique = list({schema.to_string(): schema for schema in schemas}.values())
    try:
        kept = pa.unify_schemas(unique, promote_options="permissive") if len(unique) > 1 else unique[0]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise RunFailed(f"the input files have columns of conflicting types: {error}") from None
    extra_rejected = []
    for step in job.steps:
        kept = step.output_schema(kept)
        extra_rejected += [pa.field(name, dtype) for name, dtype in step.rejected_columns.items()]
    return kept, rejected_schema(kept, extra_rejected)


# ---------------------------------------------------------------------------- worker side


def _no_progress(records: int, nbytes: int) -> None:
    pass


_progress: Callable[[int, int], None] = _no_progress


def report_progress(records: int, nbytes: int) -> None:
    """Tell the progress bar that a task function has done `records` records and `nbytes` input bytes."""
    _progress(records, nbytes)


def _die_with_parent(main_pid: int) -> None:
    """Linux: have the kernel SIGKILL this worker when the main process dies.

    Without it, `kill -9` of the main process leaves workers that finish their task and
    write into a folder that a resumed run is already rewriting.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != main_pid:  # the main process died before prctl took effect
        os._exit(1)


def _init_worker(progress_queue, main_pid: int) -> None:
    global _progress
    _die_with_parent(main_pid)
    _progress = lambda records, nbytes: progress_queue.put((records, nbytes))  # noqa: E731


class _NoWriter:
    """Stands in for a ShardWriter in dry runs."""

    def write(self, table: pa.Table) -> None:
        pass

    def close(self) -> list:
        return []


def _writer(task: _Task, sub: str, schema: pa.Schema) -> ShardWriter | _NoWriter:
    if task.dry_run:
        return _NoWriter()
    return ShardWriter(task.output / sub, folder.part_prefix(task.index), schema, task.writer)


def _read(task: _Task) -> Iterator[ReadBatch]:
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
                batch = ReadBatch(batch.docs.slice(0, left), batch.rejected, batch.records - extra, batch.position)
            left -= batch.docs.num_rows
            yield batch
            if left <= 0:
                return


def _no_lengths() -> list[int]:
    return [0] * (len(counts.LENGTH_EDGES) - 1)


def run_task(task: _Task) -> dict:
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
            rejected_writer.write(batch.rejected)
        table, table_bytes = batch.docs, counts.text_bytes(batch.docs)
        read["bytes"] += table_bytes
        counts.merge(read, {"lengths": counts.length_histogram(table)})
        for step, tally in zip(task.steps, steps):
            if table.num_rows == 0:
                break
            step_started = time.perf_counter()
            output = step.run(table)
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


# ------------------------------------------------------------------------------ main side


class Progress:
    def __init__(self, total_bytes: int | None, label: str, enabled: bool) -> None:
        self.records = 0
        self.started = time.perf_counter()
        self.bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=label,
            disable=not enabled,
            dynamic_ncols=True,
            file=sys.stderr,
        )

    def update(self, records: int, nbytes: int) -> None:
        self.records += records
        self.bar.update(nbytes)
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.records:,} docs, {self.records / elapsed:,.0f} docs/s", refresh=False)

    def close(self) -> None:
        self.bar.close()


def _run_inline(
    function: Callable, tasks: list, progress: Progress, sample: int | None = None, done: dict | None = None
) -> None:
    """Run tasks one by one in this process; with `sample`, give each what is left of it."""
    markers = dict(done or {})
    for task in sorted(tasks, key=lambda item: item.index):
        if sample is not None:
            used = sum(marker["counts"]["read"]["docs"] for index, marker in markers.items() if index < task.index)
            task = replace(task, limit=max(sample - used, 0))
        markers[task.index] = _run_here(function, task, progress)


def _run_here(function: Callable, task, progress: Progress) -> dict:
    """Run one task in this process, on a fresh copy as a worker would get: step state and
    counters never carry from one task to the next."""
    global _progress
    _progress = progress.update
    try:
        return _run_guarded(function, pickle.loads(pickle.dumps(task)))
    finally:
        _progress = _no_progress


def _task_failed(task, error: BaseException) -> RunFailed | UserError:
    """Name the input file: a worker's traceback alone would not."""
    if isinstance(error, UserError):  # the user can fix it (a template the sandbox stopped): exit 2
        return UserError(f"{task.input.source}: {error}")
    detail = str(error) if isinstance(error, RunFailed) else f"{type(error).__name__}: {error}"
    return RunFailed(f"failed on {task.input.source}: {detail}")


def _run_guarded(function: Callable, task) -> dict:
    try:
        return function(task)
    except Exception as error:
        raise _task_failed(task, error) from error


def run_tasks(function: Callable, tasks: list, workers: int, progress: Progress) -> None:
    """Run `function(task)` for every task: in this process for one worker, else in a pool.

    A task has `index` and `input` (an InputFile, named in errors); `function` must be
    importable by name, and reports progress with `report_progress`.
    """
    if workers == 1 or len(tasks) <= 1:
        _run_inline(function, tasks, progress)
    else:
        _run_pool(function, tasks, workers, progress)


class _Pool:
    """Worker processes with the queue they report progress on."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # fork is unsafe with threads in the parent
        self.workers = workers
        self.progress_queue = context.Queue()
        self.executor = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(self.progress_queue, os.getpid())
        )


_sharing = False
_shared: _Pool | None = None


@contextmanager
def shared_pool() -> Iterator[None]:
    """Let every `run_tasks` inside use the same worker processes, started on first use.

    A command with several passes (dedup) then pays for starting workers once: a spawned
    worker takes about a second to import numpy, pyarrow and numba.
    """
    global _sharing, _shared
    _sharing, _shared = True, None
    try:
        yield
    finally:
        if _shared is not None:
            # Idle workers exit on their own; not waiting lets that overlap the sealing and the
            # report (about 0.3 s). They are joined at the latest when the interpreter exits.
            _shared.executor.shutdown(wait=False, cancel_futures=True)
        _sharing, _shared = False, None


def _pool(workers: int) -> tuple[_Pool, bool]:
    """The shared pool inside `shared_pool()` (started if needed), else a new one; and whether it is shared."""
    global _shared
    if not _sharing:
        return _Pool(workers), False
    if _shared is None or _shared.workers != workers:
        if _shared is not None:
            _shared.executor.shutdown(wait=True)
        _shared = _Pool(workers)
    return _shared, True


def _run_pool(function: Callable, tasks: list, workers: int, progress: Progress) -> None:
    """Run tasks on `workers - 1` worker processes and in this process, which is the last worker.

    This process starts working at once, while a spawned worker first spends about a
    second importing numpy, pyarrow and numba: on short jobs that start-up is most of
    what a second worker would add. Workers take tasks from the front of the list, this
    process from the back; which process ran a task never changes what it writes.
    """
    handle, shared = _pool(workers - 1)
    pool, progress_queue = handle.executor, handle.progress_queue
    waiting = list(tasks)
    futures: dict[Future, object] = {}

    def feed_workers() -> None:
        while waiting and sum(not future.done() for future in futures) < 2 * handle.workers:
            task = waiting.pop(0)
            futures[pool.submit(function, task)] = task

    def check(done) -> None:
        _drain(progress_queue, progress)
        for future in done:
            error = future.exception()
            if error is not None:
                raise _task_failed(futures[future], error) from error

    try:
        feed_workers()
        while waiting:
            _run_here(function, waiting.pop(), progress)
            check([future for future in futures if future.done()])
            feed_workers()
        pending = {future for future in futures if not future.done()}
        if pending:
            # This process now only waits: import the chart library meanwhile (about half a
            # second of serial time otherwise; started earlier it would slow its own tasks).
            threading.Thread(target=plots.chart_library_available, daemon=True).start()
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            check(done)
        check(futures)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        if not shared:
            pool.shutdown(wait=True)


def _drain(progress_queue, progress: Progress) -> None:
    while True:
        try:
            records, nbytes = progress_queue.get_nowait()
        except queue.Empty:
            return
        progress.update(records, nbytes)


def run_job(
    job: Job,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    before_tasks: Callable[[int, bool], None] | None = None,
) -> JobResult:
    """Run `job` into `job.output`: start, resume or skip, then seal the folder.

    `before_tasks(workers, progress)` runs once the folder is prepared and before the
    tasks: commands with a whole-corpus pass (dedup) do it there, keeping their state in
    `folder.state_path(job.output, name)` so that a killed run resumes it too. It may
    finish configuring `job.steps`: tasks copy their steps only when they start.
    """
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    _refuse_inputs_inside_output(job)
    kept_schema, rejected_schema_ = plan_schemas(job)  # before touching OUT: bad options leave nothing behind
    input_fingerprints = [fingerprint(item.path) for item in job.inputs]
    identity = job_fingerprint(job, input_fingerprints)
    job_info = {"command": job.command_line, "tasks": len(job.inputs)}
    if job.dry_run:
        job_info["dry_run"] = True  # an unfinished dry run holds nothing worth keeping
    state = folder.prepare(job.output, identity, overwrite, job_info)
    if state is FolderState.COMPLETE:
        return JobResult(job.output, read_manifest(job.output), skipped=True)

    done = folder.finished_tasks(job.output)
    todo = [index for index in range(len(job.inputs)) if index not in done]
    folder.remove_unfinished(job.output, todo)
    tasks = [
        _Task(
            index,
            job.inputs[index],
            job.output,
            job.steps,
            job.reader,
            job.writer,
            kept_schema,
            rejected_schema_,
            dry_run=job.dry_run,
        )
        for index in todo
    ]
    # A sample's budget passes from each file to the next, so its tasks run in order, here.
    workers = 1 if job.sample is not None else max(1, min(workers or default_workers(), len(job.inputs)))
    with shared_pool():
        if before_tasks is not None:
            before_tasks(workers, progress)
        total_bytes = sum(job.inputs[index].path.stat().st_size for index in todo)
        bar = Progress(None if job.sample is not None else total_bytes, job.command, progress)
        try:
            if job.sample is not None:
                _run_inline(run_task, tasks, bar, sample=job.sample, done=done)
            else:
                run_tasks(run_task, tasks, workers, bar)
        finally:
            bar.close()

    markers = [marker for _, marker in sorted(folder.finished_tasks(job.output).items())]
    if len(markers) != len(job.inputs):
        raise RunFailed(f"only {len(markers)} of {len(job.inputs)} tasks finished; re-run the command to resume")
    merged = _merged_counts(markers)
    manifest = _seal(job, markers, merged, kept_schema, rejected_schema_, input_fingerprints, identity)
    manifest["timings"] = {
        "started": started_at.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 3),
        "task_seconds": round(sum(marker["counts"]["seconds"] for marker in markers), 3),
        "workers": workers,
        "resumed_tasks": len(done),
    }
    notes = {step.name: [marker.get("notes", {}).get(step.name, {}) for marker in markers] for step in job.steps}
    write_report(job.output, build_report(manifest, merged, job.steps, notes), job.steps, notes)
    if job.finishing is not None:
        job.finishing(job.output, manifest)
    folder.finish(job.output, manifest)
    return JobResult(job.output, manifest, skipped=False)


def _refuse_inputs_inside_output(job: Job) -> None:
    output = job.output.resolve()
    for item in job.inputs:
        if output in item.path.resolve().parents:
            raise UserError(f"input {item.path} is inside the output folder {job.output}; write the output elsewhere")


def _merged_counts(markers: list[dict]) -> dict:
    total: dict = {}
    for marker in markers:
        counts.merge(total, marker["counts"])
    return total


def _seal(job, markers, merged, kept_schema, rejected_schema_, input_fingerprints, identity) -> dict:
    data_shards = folder.seal_shards(job.output, markers, KEPT)
    if not data_shards and not job.dry_run:
        write_empty(job.output / KEPT / "shard-00000.parquet", kept_schema)
        size = (job.output / KEPT / "shard-00000.parquet").stat().st_size
        data_shards = [{"path": f"{KEPT}/shard-00000.parquet", "rows": 0, "bytes": size}]
    rejected_shards = folder.seal_shards(job.output, markers, REJECTED)
    by_reason: dict[str, int] = dict(merged["read"]["rejected"])
    for step in merged["steps"]:
        counts.merge(by_reason, step["rejected"])
    unreadable = sum(merged["read"]["rejected"].values())
    manifest = {
        "format_version": FORMAT_VERSION,
        "curate_version": curate.__version__,
        "command": job.command,
        "command_line": job.command_line,
        "options": job.options,
        "job_fingerprint": identity,
    }
    if job.dry_run:
        manifest["dry_run"] = True  # no shards: a report of what a real run would keep
    if job.sample is not None:
        manifest["sample"] = job.sample  # counts are of the first `sample` documents only
    return manifest | {
        "inputs": input_fingerprints,
        "schema": {KEPT: schema_to_json(kept_schema), REJECTED: schema_to_json(rejected_schema_)},
        "shards": {KEPT: data_shards, REJECTED: rejected_shards},
        "counts": {
            "in": merged["read"]["records"],
            "kept": merged["kept"]["docs"],
            "rejected": sum(by_reason.values()),
            "unreadable": unreadable,
            "by_reason": dict(sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))),
        },
    }
