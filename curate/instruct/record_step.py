"""What convert's and render's steps share: parse each whole record, keep or reject its rows.

Their input rows come from the readers in record mode: `text` holds one record as JSON
text and `meta` where it was read. A row that cannot be converted or rendered goes to
rejected/ with a reason (`convert:<why>`, `render:<why>`), the record's original bytes in
`raw` and the particulars in `detail`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import orjson
import pyarrow as pa

from curate.instruct import formats
from curate.instruct.rows import canonical_rows
from curate.instruct.templates import TemplateRenderError
from curate.io.schema import RECORD_REJECTED_SCHEMA
from curate.pipeline.step import Step, StepOutput


class SpansNotFound(Exception):
    """The template does not render this conversation's assistant messages as given."""


def _reason_and_detail(error: Exception) -> tuple[str, str]:
    if isinstance(error, formats.Unconvertible):
        return error.reason, error.detail
    if isinstance(error, TemplateRenderError):
        return "template_error", error.detail
    return "spans_not_found", str(error)


class RecordStep(Step):
    """Shared plumbing: parse each row's record, build kept rows and rejected rows."""

    rejected_columns: ClassVar = {"detail": pa.string()}
    one_to_one: ClassVar[bool] = False  # a seed task with several instances gives several rows
    reads_records: ClassVar[bool] = True

    def __init__(self, schema: pa.Schema, source_format: str) -> None:
        super().__init__()
        self.schema = schema
        self.source_format = source_format

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        return self.schema

    def rows_of(self, canonical: dict, source: str) -> Iterator[dict]:
        raise NotImplementedError

    def run(self, batch: pa.Table, parsed: list[dict] | None = None) -> StepOutput:
        kept: list[dict] = []
        rejected: list[dict] = []
        columns = batch.select(["id", "text", "source", "meta"]).to_pydict()
        records = parsed if parsed is not None else map(orjson.loads, columns["text"])
        rows = zip(columns["id"], columns["text"], columns["source"], columns["meta"], records)
        for row_id, text, source, where, record in rows:
            try:
                for canonical in canonical_rows(record, where, self.source_format, row_id):
                    kept.extend(self.rows_of(canonical, source))
            except (formats.Unconvertible, TemplateRenderError, SpansNotFound) as error:
                reason, detail = _reason_and_detail(error)
                rejected.append(
                    {
                        "id": row_id,
                        "source": source,
                        "meta": where,
                        "reason": f"{self.name}:{reason}",
                        "detail": detail,
                        "raw": text.encode("utf-8"),
                    }
                )
        kept_table = pa.Table.from_pylist(kept, schema=self.schema)
        return StepOutput(
            kept_table, pa.Table.from_pylist(rejected, schema=RECORD_REJECTED_SCHEMA) if rejected else None
        )
