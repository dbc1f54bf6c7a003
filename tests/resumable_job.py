"""A filter job with a deliberately slow step, run in a subprocess by the resume test."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa

from curate.corpus.filters.clean import CleanText
from curate.io.readers import ReaderOptions
from curate.io.sources import expand_inputs
from curate.io.writer import WriterOptions
from curate.pipeline.executor import Job, run_job
from curate.pipeline.step import Step, StepOutput


class Pause(Step):
    """Changes nothing; sleeps per batch so a test can kill the run half-way."""

    name = "pause"

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def run(self, batch: pa.Table) -> StepOutput:
        time.sleep(self.seconds)
        return StepOutput(batch)


def make_job(inputs: str, output: Path, pause: float) -> Job:
    return Job(
        command="filter",
        output=output,
        inputs=expand_inputs([inputs]),
        steps=[CleanText(), Pause(pause)],
        options={"inputs": [inputs]},  # the pause is not part of the job's identity
        command_line="resume test",
        reader=ReaderOptions(batch_rows=100),
        writer=WriterOptions(max_rows=700, row_group_rows=300),
    )


if __name__ == "__main__":
    inputs, output, pause, workers = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    run_job(make_job(inputs, output, pause), workers=workers, progress=False)
