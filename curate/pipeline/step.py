"""The Step protocol: a named transformation over Arrow batches of corpus rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from curate.io.schema import set_column, with_columns


@dataclass
class StepOutput:
    kept: pa.Table
    rejected: pa.Table | None = None  # the dropped rows, with a `reason` column


class Step:
    """Subclasses set `name`, declare the columns they add, and implement `run`.

    A step is a plain object: the executor pickles it into each worker, calls `run` once
    per batch, then collects `counters` (free-form counts the step wants in the report).
    Steps never start processes or touch files.
    """

    name: ClassVar[str] = "step"
    # Columns this step adds to the rows it keeps, and to the rows it rejects; declared up
    # front so every shard of a dataset folder has the same schema.
    added_columns: ClassVar[Mapping[str, pa.DataType]] = {}
    rejected_columns: ClassVar[Mapping[str, pa.DataType]] = {}
    # A step that may turn one row into several (a seed task with several instances) says
    # so; the executor then checks only that no row is lost.
    one_to_one: ClassVar[bool] = True
    # A step over whole records (convert, render) gets them parsed, as the reader read them:
    # `run(batch, parsed)`, `parsed` the records of `batch`'s rows in order (its `text` holds
    # each as JSON too). Only the first step of a task can: later ones see another step's rows.
    reads_records: ClassVar[bool] = False

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()

    def run(self, batch: pa.Table) -> StepOutput:
        raise NotImplementedError

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        """The columns of the rows this step keeps, given those it receives."""
        return with_columns(schema, self.added_columns)

    def describe(self) -> dict:
        """The step's settings, for reports."""
        return {}

    def start_task(self, task_index: int) -> None:
        """Called in the worker before the first batch of input task `task_index`."""

    def task_notes(self) -> dict:
        """What this task wants in the report beyond counters (JSON values); {} for nothing."""
        return {}

    def report_section(self, notes: list[dict], folder: Path) -> list[str]:
        """Markdown lines for report.md, from every task's notes; may draw charts into `folder`."""
        return []


def split_by_rule(step_name: str, batch: pa.Table, rules: Sequence[str | None]) -> StepOutput:
    """Keep the rows whose rule is None; reject the others with reason `<step>:<rule>`."""
    keep_mask = pa.array([rule is None for rule in rules], pa.bool_())
    kept = batch.filter(keep_mask)
    if kept.num_rows == batch.num_rows:
        return StepOutput(kept)
    reasons = [f"{step_name}:{rule}" for rule in rules if rule is not None]
    rejected = batch.filter(pc.invert(keep_mask))
    return StepOutput(kept, rejected.append_column("reason", pa.array(reasons, pa.string())))


def split_rewritten(
    step_name: str,
    batch: pa.Table,
    originals: Sequence[str],
    rewritten: Sequence[str | None],
    rules: Sequence[str | None],
) -> StepOutput:
    """`split_by_rule` for a step that rewrites text: kept rows get their `rewritten` text,
    rejected rows keep the text they arrived with."""
    texts = [new if rule is None else old for new, old, rule in zip(rewritten, originals, rules)]
    return split_by_rule(step_name, set_column(batch, "text", pa.array(texts, pa.string())), rules)
