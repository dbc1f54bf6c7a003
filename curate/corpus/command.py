"""`curate filter`: read a corpus, run the document steps, write a dataset folder."""

from __future__ import annotations

from pathlib import Path

from curate.io.readers import ReaderOptions
from curate.io.sources import expand_inputs
from curate.io.writer import WriterOptions
from curate.pipeline.executor import run_job
from curate.pipeline.job import Job, JobResult
from curate.pipeline.step import Step


def filter_corpus(
    inputs: list[str],
    output: Path,
    steps: list[Step],
    *,
    options: dict,
    command_line: str,
    reader: ReaderOptions,
    writer: WriterOptions,
    input_format: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    dry_run: bool = False,
    sample: int | None = None,
) -> JobResult:
    """Run `steps` over `inputs` into the dataset folder `output`.

    `dry_run` counts and reports without writing shards; `sample` reads only the first
    `sample` documents of the inputs, in input order.
    """
    job = Job(
        command="filter",
        output=output,
        inputs=expand_inputs(inputs, input_format),
        steps=steps,
        options=options,
        command_line=command_line,
        reader=reader,
        writer=writer,
        dry_run=dry_run,
        sample=sample,
    )
    return run_job(job, workers=workers, progress=progress, overwrite=overwrite)
