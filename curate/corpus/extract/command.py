"""`curate extract`: WARC files in, a dataset folder of each HTML page's main text out."""

from __future__ import annotations

from pathlib import Path

from curate.corpus.extract.step import ExtractStep
from curate.errors import UserError
from curate.io.readers import ReaderOptions
from curate.io.sources import expand_inputs
from curate.io.writer import WriterOptions
from curate.pipeline.executor import run_job
from curate.pipeline.job import Job, JobResult


def extract_corpus(
    inputs: list[str],
    output: Path,
    step: ExtractStep,
    *,
    options: dict,
    command_line: str,
    reader: ReaderOptions,
    writer: WriterOptions,
    input_format: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> JobResult:
    """The extract step alone over `inputs` (what `curate filter --steps extract` runs), in a
    job of its own name, so the manifest and the folder's identity say `extract`."""
    files = expand_inputs(inputs, input_format)
    if not any(file.format == "warc" for file in files):
        raise UserError(
            "curate extract reads WARC files (.warc.gz, .warc) and none of the inputs is one; "
            "for text already extracted (JSONL, Parquet, WET) use `curate filter`"
        )
    job = Job(
        command="extract",
        output=output,
        inputs=files,
        steps=[step],
        options=options,
        command_line=command_line,
        reader=reader,
        writer=writer,
    )
    return run_job(job, workers=workers, progress=progress, overwrite=overwrite)
