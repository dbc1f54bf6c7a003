"""The local executor: run a job's steps over its input files in worker processes.

One input file is one task (pipeline/task.py). Output names and bytes depend only on the
task, never on which worker ran it or how many there were, so `--workers 1` and
`--workers 8` give byte-identical shards. Finished tasks leave a marker, so a killed run
resumes where it stopped; the folder is sealed (parts renamed to shards, report, manifest
last) once every task is done.

A sampled run reads only the first N documents in input order: its tasks run one after
another in the main process, each given what is left of the budget by the tasks before it,
and the files after the budget is spent are never opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from curate.errors import RunFailed, UserError
from curate.io.fingerprint import input_fingerprint
from curate.io.input_file import path_text, utf8_safe, utf8_text
from curate.io.manifest import read_manifest
from curate.io.readers.batch import TOO_LONG
from curate.io.sources import mark_output, print_skipped
from curate.pipeline import counts, folder
from curate.pipeline.folder import Clock, FolderState
from curate.pipeline.identity import job_identity
from curate.pipeline.job import Job, JobResult, plan_schemas
from curate.pipeline.pool import Progress, default_workers, run_here, run_tasks, shared_pool
from curate.pipeline.report import build_report, write_report
from curate.pipeline.task import Task, run_task


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
    clock = Clock()
    _refuse_inputs_inside_output(job)
    _refuse_unextracted_warc(job)
    kept_schema, rejected_schema = plan_schemas(job)  # before touching OUT: bad options leave nothing behind
    input_fingerprints = [input_fingerprint(item) for item in job.inputs]
    skipped = mark_output(job.skipped, job.output)
    flags = {}
    if job.dry_run:
        flags["dry_run"] = True  # no shards: a report of what a real run would keep
    if job.sample is not None:
        flags["sample"] = job.sample  # counts are of the first `sample` documents only
    # dry_run and sample are in the options when the CLI made the job; named here for jobs built in code
    identity = job_identity(job.command, job.options, inputs=input_fingerprints, **flags)
    job_info = {"command": utf8_text(job.command_line), "tasks": len(job.inputs)}
    if job.dry_run:
        job_info["dry_run"] = True  # an unfinished dry run holds nothing worth keeping
    state = folder.prepare(job.output, identity, overwrite, job_info)
    if state is FolderState.COMPLETE:
        print_skipped(skipped, see=path_text(job.output / "report.md"))
        return JobResult(job.output, read_manifest(job.output), skipped=True)

    done = folder.finished_tasks(job.output)
    todo = [index for index in range(len(job.inputs)) if index not in done]
    folder.remove_unfinished(job.output, todo)
    tasks = [
        Task(
            index,
            job.inputs[index],
            job.output,
            job.steps,
            job.reader,
            job.writer,
            kept_schema,
            rejected_schema,
            dry_run=job.dry_run,
        )
        for index in todo
    ]
    # A sample's budget passes from each file to the next, so its tasks run in order, here.
    workers = 1 if job.sample is not None else max(1, min(workers or default_workers(), len(job.inputs)))
    with shared_pool():
        if before_tasks is not None:
            before_tasks(workers, progress)
        total_bytes = sum(input_fingerprints[index]["size"] for index in todo)
        bar = Progress(None if job.sample is not None else total_bytes, job.command, progress)
        try:
            if job.sample is not None:
                _run_sampled(tasks, bar, job.sample, done)
            else:
                run_tasks(run_task, tasks, workers, bar)
        finally:
            bar.close()

    markers = [marker for _, marker in sorted(folder.finished_tasks(job.output).items())]
    if len(markers) != len(job.inputs):
        raise RunFailed(f"only {len(markers)} of {len(job.inputs)} tasks finished; re-run the command to resume")
    merged = _merged_counts(markers)
    by_reason: dict[str, int] = dict(merged["read"]["rejected"])
    for step in merged["steps"]:
        counts.merge(by_reason, step["rejected"])
    manifest = folder.manifest(
        command=job.command,
        command_line=utf8_text(job.command_line),
        options=utf8_safe(job.options),
        identity=identity,
        inputs=input_fingerprints,
        schemas=(kept_schema, rejected_schema),
        shards=folder.seal(job.output, markers, kept_schema, job.dry_run),
        counts=folder.row_counts(
            merged["read"]["records"], merged["kept"]["docs"], by_reason, _unreadable(merged["read"]["rejected"])
        ),
        flags=flags,
        extra={"skipped_inputs": [entry.to_json() for entry in skipped]},
    )
    task_seconds = sum(marker["counts"]["seconds"] for marker in markers)
    manifest["timings"] = clock.timings(workers, len(done), task_seconds)
    notes = {step.name: [marker.get("notes", {}).get(step.name, {}) for marker in markers] for step in job.steps}
    write_report(job.output, build_report(manifest, merged, job.steps, notes), job.steps, notes, job.charts)
    if job.finishing is not None:
        job.finishing(job.output, manifest)
    folder.finish(job.output, manifest)
    print_skipped(skipped, see=path_text(job.output / "report.md"))
    return JobResult(job.output, manifest, skipped=False)


def _unreadable(read_rejected: dict[str, int]) -> int:
    """Records the readers could not read (kept whole in `raw`); an over-long one was read, and a
    WARC record that is not an HTML page (`extract:not_html`...) was read and is simply not one."""
    return sum(
        rows for reason, rows in read_rejected.items() if reason != TOO_LONG and not reason.startswith("extract:")
    )


def _run_sampled(tasks: list[Task], progress: Progress, sample: int, done: dict[int, dict]) -> None:
    """Run the tasks of a sampled job in input order, each limited to what is left of `sample`."""
    markers = dict(done)
    for task in sorted(tasks, key=lambda item: item.index):
        used = sum(marker["counts"]["read"]["docs"] for index, marker in markers.items() if index < task.index)
        markers[task.index] = run_here(run_task, replace(task, limit=max(sample - used, 0)), progress)


def _refuse_inputs_inside_output(job: Job) -> None:
    output = job.output.resolve()
    for item in job.inputs:
        if not item.url and output in item.path.resolve().parents:
            raise UserError(
                f"input {item.source} is inside the output folder {path_text(job.output)}; write the output elsewhere"
            )


def _refuse_unextracted_warc(job: Job) -> None:
    """A WARC file's rows are its pages' raw HTML: only a job that extracts their text first may
    read one (tokenize, dedup or convert would keep the markup as text)."""
    if any(step.name == "extract" for step in job.steps):
        return
    warc = next((item for item in job.inputs if item.format == "warc"), None)
    if warc is not None:
        raise UserError(
            f"{warc.source} is a WARC of HTML pages: extract its text first "
            f"(curate extract {warc.source} -o TEXT, or curate filter, which extracts), then curate {job.command} TEXT"
        )


def _merged_counts(markers: list[dict]) -> dict:
    total: dict = {}
    for marker in markers:
        counts.merge(total, marker["counts"])
    return total
