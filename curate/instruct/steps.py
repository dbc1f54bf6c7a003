"""Steps that turn instruction records into converted or rendered rows.

Their input rows come from the readers in record mode: `text` holds one record as JSON
text and `meta` where it was read. A row that cannot be converted or rendered goes to
rejected/ with a reason (`convert:<why>`, `render:<why>`), the record's original bytes in
`raw` and the particulars in `detail`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import orjson
import pyarrow as pa

from curate.instruct import formats
from curate.instruct.templates import ChatTemplate, TemplateRenderError, assistant_spans
from curate.pipeline.step import Step, StepOutput

SPAN = pa.struct([pa.field("start", pa.int32()), pa.field("end", pa.int32())])
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("meta", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("raw", pa.binary()),
    ]
)
# Formats whose rows keep the Alpaca fields (instruction, input, output) beside the messages.
ALPACA_ORIGIN = ("alpaca", "seed-tasks")


class SpansNotFound(Exception):
    """The template does not render this conversation's assistant messages as given."""


def _reason_and_detail(error: Exception) -> tuple[str, str]:
    if isinstance(error, formats.Unconvertible):
        return error.reason, error.detail
    if isinstance(error, TemplateRenderError):
        return "template_error", error.detail
    return "spans_not_found", str(error)


class _RecordStep(Step):
    """Shared plumbing: parse each row's record, build kept rows and rejected rows."""

    rejected_columns: ClassVar = {"detail": pa.string()}
    one_to_one: ClassVar[bool] = False  # a seed task with several instances gives several rows

    def __init__(self, schema: pa.Schema, source_format: str) -> None:
        super().__init__()
        self.schema = schema
        self.source_format = source_format

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        return self.schema

    def rows_of(self, canonical: dict, source: str) -> Iterator[dict]:
        raise NotImplementedError

    def run(self, batch: pa.Table) -> StepOutput:
        kept: list[dict] = []
        rejected: list[dict] = []
        columns = batch.select(["id", "text", "source", "meta"]).to_pydict()
        for row_id, text, source, where in zip(columns["id"], columns["text"], columns["source"], columns["meta"]):
            try:
                for canonical in self._canonical_rows(orjson.loads(text), row_id, where):
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
        return StepOutput(kept_table, pa.Table.from_pylist(rejected, schema=REJECTED_SCHEMA) if rejected else None)

    def _canonical_rows(self, record: dict, row_id: str, where: str) -> list[dict]:
        # A Parquet row (a curate dataset folder's, say) holds its meta as JSON text and its
        # unused columns as nulls: from_arrow_row reads those back; a JSON record is read as is.
        from_parquet = "row" in orjson.loads(where)
        rows = (
            formats.from_arrow_row(record, self.source_format)
            if from_parquet
            else formats.read_row(record, self.source_format)
        )
        for row in rows:
            row.setdefault("id", row_id)
        return rows


class ConvertStep(_RecordStep):
    """Read records in one format and write them in another, through the canonical form."""

    name: ClassVar[str] = "convert"

    def __init__(self, source_format: str, target_format: str) -> None:
        self.alpaca_columns = source_format in ALPACA_ORIGIN
        super().__init__(formats.output_schema(target_format, alpaca_columns=self.alpaca_columns), source_format)
        self.target_format = target_format

    def rows_of(self, canonical: dict, source: str) -> Iterator[dict]:
        self.counters["rows"] += 1
        yield formats.to_arrow_row(canonical, self.target_format, source=source, alpaca_columns=self.alpaca_columns)

    def describe(self) -> dict:
        return {"from": self.source_format, "to": self.target_format}


def render_schema(alpaca_columns: bool, text_column: bool) -> pa.Schema:
    fields = [pa.field("id", pa.string()), pa.field("messages", formats.MESSAGE_LIST)]
    if alpaca_columns:
        fields += [pa.field(name, pa.string()) for name in formats.ALPACA_KEYS]
    fields += [pa.field("prompt", pa.string()), pa.field("completion", pa.string())]
    if text_column:
        fields += [pa.field("text", pa.string()), pa.field("assistant_spans", pa.list_(SPAN))]
    return pa.schema(fields + [pa.field("source", pa.string()), pa.field("meta", pa.string())])


class RenderStep(_RecordStep):
    """Render each conversation with a template into `prompt` + `completion` (the last
    assistant turn), and with `text_column` the whole text with every assistant span."""

    name: ClassVar[str] = "render"

    def __init__(self, template: ChatTemplate, source_format: str, text_column: bool) -> None:
        super().__init__(render_schema(source_format in ALPACA_ORIGIN, text_column), source_format)
        self.template = template
        self.text_column = text_column
        self.examples: list[dict] = []

    def start_task(self, task_index: int) -> None:
        self.examples = []

    def rows_of(self, canonical: dict, source: str) -> Iterator[dict]:
        messages = canonical["messages"]
        variables = {key: canonical[key] for key in ("instruction", "input") if key in canonical}
        rendered = assistant_spans(self.template, messages, **variables)
        if rendered.problem:
            raise SpansNotFound(rendered.problem)
        if rendered.rewritten:
            self.counters["rows_with_rewritten_assistant_turns"] += 1
            if len(self.examples) < 3:
                self.examples.append({"id": canonical["id"], "messages": rendered.rewritten})
        last_start, last_end = rendered.spans[-1]
        row = {
            "id": str(canonical["id"]),
            "messages": messages,
            "prompt": rendered.text[:last_start],
            "completion": rendered.text[last_start:last_end],
            "source": source,
            "meta": formats.meta_text(canonical.get("meta")),
        }
        row.update({key: canonical[key] for key in formats.ALPACA_KEYS if key in canonical})
        if self.text_column:
            row["text"] = rendered.text
            row["assistant_spans"] = [{"start": start, "end": end} for start, end in rendered.spans]
        self.counters["rows"] += 1
        self.counters["assistant_turns"] += len(rendered.spans)
        yield row

    def describe(self) -> dict:
        return {"template": self.template.name, "from": self.source_format, "text_column": self.text_column}

    def task_notes(self) -> dict:
        return {"rewritten_examples": self.examples} if self.examples else {}

    def report_section(self, notes: list[dict], folder: Path) -> list[str]:
        examples = [example for note in notes for example in note.get("rewritten_examples", [])][:5]
        if not examples:
            return []
        lines = [
            "",
            "### Assistant turns the template changed",
            "",
            "The template trimmed, rewrote (thinking removed, for example) or ended differently these",
            "assistant turns; their spans cover the text as rendered, which is what the model is trained on.",
            "",
        ]
        lines += [f"- row `{example['id']}`: message(s) {example['messages']}" for example in examples]
        return lines
