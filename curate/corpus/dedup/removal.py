"""Pass 3 of dedup: the step that splits each batch into kept and rejected rows as decided."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa

from curate.corpus.dedup.decisions import FREQUENT_LINES_FILE, decisions_path
from curate.corpus.dedup.hashing import hash_texts
from curate.corpus.dedup.settings import DedupSettings
from curate.corpus.dedup.state_files import read_array, read_arrow
from curate.errors import UserError
from curate.io.schema import set_column
from curate.pipeline.step import Step, StepOutput

LINE_DUPLICATE = "line_duplicate"  # every line of the document was a frequent line
LINE_COUNTERS = ("lines_removed", "line_chars_removed", "docs_with_lines_removed")
SNIPPET_CHARS = 160


def snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"


class DuplicateRemoval(Step):
    """Reject the rows pass 2 decided are duplicates; with --lines, cut frequent lines from the rest.

    The executor gives it one input task at a time, in order: `start_task` loads that
    task's decisions, and rows are matched to them by their position in the file.
    """

    name = "dedup"
    rejected_columns: ClassVar = {"duplicate_of": pa.string(), "cluster_size": pa.int64()}

    def __init__(self, folder: Path, settings: DedupSettings) -> None:
        super().__init__()
        self.folder = folder
        self.settings = settings
        self.summary: dict | None = None  # pass 2's result, set before the tasks start
        self._decided: pa.Table | None = None
        self._rows = np.zeros(0, np.int64)
        self._cursor = 0
        self._frequent: np.ndarray | None = None
        self._wanted: dict[int, int] = {}
        self._snippets: dict[str, str] = {}

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        # checked here, where the executor plans the schemas before it touches the folder
        column = self.settings.keep_column
        if column is not None:
            field = schema.field(column) if column in schema.names else None
            if field is None:
                raise UserError(
                    f"--keep highest:{column}: the inputs have no column '{column}' (columns: {', '.join(schema.names)})"
                )
            if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
                raise UserError(f"--keep highest:{column}: column '{column}' is {field.type}, not a number")
        return super().output_schema(schema)

    def describe(self) -> dict:
        settings = self.settings
        minhash = settings.minhash_settings
        described = {
            "exact": settings.exact,
            "minhash": settings.minhash,
            "lines": settings.lines,
            "keep": settings.keep,
        }
        if settings.minhash:
            described |= {
                "ngram": minhash.ngram,
                "char_ngram": minhash.char_ngram,
                "num_perm": minhash.num_perm,
                "bands": minhash.bands,
                "rows": minhash.rows,
                "seed": minhash.seed,
                "lsh_threshold": round(minhash.threshold, 4),
                "verify": settings.verify,
                "jaccard_threshold": round(settings.jaccard_threshold, 4),  # what each pair is checked against
            }
        if settings.lines:
            described["line_threshold"] = settings.line_threshold
        if self.summary is not None:
            described["result"] = self.summary
        return described

    def start_task(self, task_index: int) -> None:
        self._decided = read_arrow(decisions_path(self.folder, task_index))
        self._rows = self._decided.column("row").to_numpy()
        self._cursor = 0
        self._wanted = {
            member["row"]: member["ordinal"]
            for cluster in (self.summary or {}).get("largest", [])
            for member in cluster["members"]
            if member["task"] == task_index
        }
        self._snippets = {}
        if self.settings.lines:
            self._frequent = read_array(self.folder / FREQUENT_LINES_FILE)

    def task_notes(self) -> dict:
        notes: dict = {"snippets": self._snippets} if self._snippets else {}
        lines = {key: value for key, value in self.counters.items() if key in LINE_COUNTERS}
        if lines:
            notes["lines"] = lines
        return notes

    def run(self, batch: pa.Table) -> StepOutput:
        count = batch.num_rows
        low = self._cursor
        self._cursor += count
        for row, ordinal in self._wanted.items():
            if low <= row < low + count:
                self._snippets[str(ordinal)] = snippet(batch.column("text")[row - low].as_py() or "")
        first, last = np.searchsorted(self._rows, [low, low + count])
        rejected = None
        kept = batch
        if last > first:
            local = self._rows[first:last] - low
            decided = self._decided.slice(first, last - first)
            rejected = batch.take(pa.array(local))
            for name in ("duplicate_of", "cluster_size", "reason"):
                rejected = set_column(rejected, name, decided.column(name))
            mask = np.ones(count, np.bool_)
            mask[local] = False
            kept = batch.filter(pa.array(mask))
        if self._frequent is not None and len(self._frequent) and kept.num_rows:
            kept, emptied = self._remove_frequent_lines(kept)
            if emptied is not None:
                rejected = (
                    emptied if rejected is None else pa.concat_tables([rejected, emptied.select(rejected.column_names)])
                )
        return StepOutput(kept, rejected)

    def _remove_frequent_lines(self, kept: pa.Table) -> tuple[pa.Table, pa.Table | None]:
        texts = kept.column("text")
        hashes = hash_texts(
            texts, np.zeros(kept.num_rows, np.bool_), self.settings.minhash_settings, minhash=False, lines=True
        )
        frequent = self._frequent
        found = np.minimum(np.searchsorted(frequent, hashes.line_hashes), len(frequent) - 1)
        hit = frequent[found] == hashes.line_hashes
        if not hit.any():
            return kept, None
        line_starts = np.zeros(kept.num_rows + 1, np.int64)
        np.cumsum(hashes.line_counts, out=line_starts[1:])
        original = kept
        values = texts.to_pylist()
        emptied = np.zeros(kept.num_rows, np.bool_)
        for doc in np.unique(np.repeat(np.arange(kept.num_rows), hashes.line_counts)[hit]).tolist():
            lines = values[doc].split("\n")
            flags = hit[line_starts[doc] : line_starts[doc + 1]]
            removed = [line for line, flag in zip(lines, flags) if flag]
            values[doc] = "\n".join(line for line, flag in zip(lines, flags) if not flag)
            self.counters["lines_removed"] += len(removed)
            self.counters["line_chars_removed"] += sum(len(line) + 1 for line in removed)
            self.counters["docs_with_lines_removed"] += 1
            emptied[doc] = not values[doc].strip()
        kept = set_column(kept, "text", pa.array(values, pa.string()))
        if not emptied.any():
            return kept, None
        gone = original.filter(pa.array(emptied))  # rejected with their text as it was
        gone = set_column(gone, "duplicate_of", pa.nulls(gone.num_rows, pa.string()))
        gone = set_column(gone, "cluster_size", pa.nulls(gone.num_rows, pa.int64()))
        gone = set_column(gone, "reason", pa.array([LINE_DUPLICATE] * gone.num_rows, pa.string()))
        return kept.filter(pa.array(~emptied)), gone

    def report_section(self, notes: list[dict], folder: Path) -> list[str]:
        from curate.corpus.dedup.report import dedup_section

        snippets = {key: value for note in notes for key, value in note.get("snippets", {}).items()}
        lines = {key: sum(note.get("lines", {}).get(key, 0) for note in notes) for key in LINE_COUNTERS}
        return dedup_section(self.describe(), snippets, lines, folder)
