"""`curate dedup` as a library call: pass 1 and 2 before the executor's tasks, pass 3 as its step."""

from __future__ import annotations

import time
from pathlib import Path

from curate.corpus.dedup.decisions import CLUSTERS_FILE, find_duplicates
from curate.corpus.dedup.distributed import find_duplicates_in_tasks
from curate.corpus.dedup.features import FeatureTask, finished, hash_file
from curate.corpus.dedup.removal import DuplicateRemoval
from curate.corpus.dedup.settings import DedupSettings
from curate.io.fingerprint import input_size
from curate.io.manifest import read_json
from curate.io.readers import ReaderOptions
from curate.io.sources import expand_inputs
from curate.io.writer import WriterOptions
from curate.pipeline import folder
from curate.pipeline.executor import run_job
from curate.pipeline.job import Job, JobResult
from curate.pipeline.pool import Progress, run_tasks


def dedup_corpus(
    inputs: list[str],
    output: Path,
    settings: DedupSettings,
    *,
    options: dict,
    command_line: str,
    reader: ReaderOptions | None = None,
    writer: WriterOptions | None = None,
    input_format: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    partitions: int = 0,
) -> JobResult:
    """Remove exact and near duplicates (and with `settings.lines`, frequent lines) from `inputs`.
    `partitions` > 0 finds the duplicates by tasks in that many partitions on the executor
    (distributed.py), with the same decisions."""
    reader, writer = reader or ReaderOptions(), writer or WriterOptions()
    files = expand_inputs(inputs, input_format)
    state = folder.state_path(output, "dedup")
    removal = DuplicateRemoval(state, settings)
    job = Job(
        command="dedup",
        output=output,
        inputs=files,
        steps=[removal],
        options=options,
        command_line=command_line,
        reader=reader,
        writer=writer,
    )

    def hash_and_cluster(workers: int, show_progress: bool) -> None:
        state.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        if read_json(state / CLUSTERS_FILE) is None:
            todo = [
                FeatureTask(index, item, state, reader, settings)
                for index, item in enumerate(files)
                if not finished(state, index)
            ]
            size = sum(input_size(files[task.index]) for task in todo)
            bar = Progress(size, "dedup: hashing", show_progress)
            try:
                run_tasks(hash_file, todo, workers, bar)
            finally:
                bar.close()
        find = None
        if partitions:

            def find(corpus):
                return find_duplicates_in_tasks(state, corpus, settings, partitions, workers, show_progress)

        removal.summary = find_duplicates(
            state, len(files), settings, hashing_seconds=time.perf_counter() - started, find=find
        )

    return run_job(job, workers=workers, progress=progress, overwrite=overwrite, before_tasks=hash_and_cluster)
