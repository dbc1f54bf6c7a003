"""A job: which steps run over which input files into which output folder, and its result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from curate.errors import RunFailed
from curate.io.input_file import InputFile
from curate.io.readers import ReaderOptions, input_schema
from curate.io.schema import rejected_schema
from curate.io.sources import SkippedInput
from curate.io.writer import WriterOptions
from curate.pipeline.step import Step


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
    # The report's charts of document lengths and of the funnel. Commands whose rows are whole
    # records, not documents, leave them out: those lengths and a one-step funnel say nothing
    # the report's tables do not, and drawing them costs more than converting 5,000 records.
    charts: bool = True
    # Files met in the input folders and globs and not read, with why (io/sources.py); taken from
    # `inputs` when it is sources.Inputs. Listed in the manifest and report, never in the job's
    # identity: the output folder appearing inside an input folder must not make it stale.
    skipped: list[SkippedInput] | None = None

    def __post_init__(self) -> None:
        if self.skipped is None:
            self.skipped = list(getattr(self.inputs, "skipped", ()))


@dataclass
class JobResult:
    output: Path
    manifest: dict
    skipped: bool  # the folder was already complete for this exact job


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
