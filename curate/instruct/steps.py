"""Steps that turn instruction records into converted or rendered rows.

Their input rows come from the readers in record mode: `text` holds one record as JSON
text and `meta` where it was read. A row that cannot be converted or rendered goes to
rejected/ with a reason (`convert:<why>`, `render:<why>`), the record's original bytes in
`raw` and the particulars in `detail`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import orjson
import pyarrow as pa

from curate.instruct import formats
from curate.instruct.templates import ChatTemplate, TemplateRenderError, assistant_spans
from curate.pipeline.step import Step, StepOutput

MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
SPAN = pa.struct([pa.field("start", pa.int32()), pa.field("end", pa.int32())])
DETAIL_COLUMNS = {"detail": pa.string()}


def meta_text(meta: object) -> str:
    if not meta:
        return "{}"
    if isinstance(meta, str):
        return meta
    return json.dumps(meta, ensure_ascii=False, sort_keys=True)


class _RecordStep(Step):
    """Shared plumbing: parse each row's record, build kept rows and rejected rows."""

    rejected_columns: ClassVar = DETAIL_COLUMNS
    one_to_one: ClassVar[bool] = False  # a seed task with several instances gives several rows

    def __init__(self, schema: pa.Schema) -> None:
        super().__init__()
        self.schema = schema

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        return self.schema

    def rows_of(self, record: dict, row_id: str, source: str) -> Iterator[dict]:
        raise NotImplementedError

    def run(self, batch: pa.Table) -> StepOutput:
        kept: list[dict] = []
        rejected: list[dict] = []
        columns = batch.select(["id", "text", "source", "meta"]).to_pydict()
        for row_id, text, source, where in zip(columns["id"], columns["text"], columns["source"], columns["meta"]):
            record = orjson.loads(text)
            try:
                kept.extend(self.rows_of(record, row_id, source))
            except formats.Unconvertible as error:
                rejected.append(self._rejected(row_id, source, where, text, f"{self.name}:{error.reason}", error.detail))
            except TemplateRenderError as error:
                rejected.append(self._rejected(row_id, source, where, text, f"{self.name}:template_error", error.detail))
            except SpansNotFound as error:
                rejected.append(self._rejected(row_id, source, where, text, f"{self.name}:spans_not_found", str(error)))
        kept_table = pa.Table.from_pylist(kept, schema=self.schema)
        if not rejected:
            return StepOutput(kept_table)
        rejected_schema = pa.schema(
            [
                pa.field("id", pa.string()),
                pa.field("source", pa.string()),
                pa.field("meta", pa.string()),
                pa.field("reason", pa.string()),
                pa.field("detail", pa.string()),
                pa.field("raw", pa.binary()),
            ]
        )
        return StepOutput(kept_table, pa.Table.from_pylist(rejected, schema=rejected_schema))

    @staticmethod
    def _rejected(row_id: str, source: str, where: str, text: str, reason: str, detail: str) -> dict:
        return {
            "id": row_id,
            "source": source,
            "meta": where,
            "reason": reason,
            "detail": detail,
            "raw": text.encode("utf-8"),
        }


def _canonical_rows(record: dict, source_format: str, row_id: str) -> list[dict]:
    rows = formats.read_row(record, source_format)
    for row in rows:
        row.setdefault("id", row_id)
    return rows


class ConvertStep(_RecordStep):
    """Read records in one format and write them in another, through the canonical form."""

    name: ClassVar[str] = "convert"

    def __init__(self, source_format: str, target_format: str) -> None:
        super().__init__(formats.output_schema(target_format, alpaca_columns=source_format in ALPACA_ORIGIN))
        self.source_format = source_format
        self.target_format = target_format

    def rows_of(self, record: dict, row_id: str, source: str) -> Iterator[dict]:
        alpaca_columns = self.source_format in ALPACA_ORIGIN
        for canonical in _canonical_rows(record, self.source_format, row_id):
            self.counters["rows"] += 1
            yield formats.to_arrow_row(canonical, self.target_format, source=source, alpaca_columns=alpaca_columns)

    def describe(self) -> dict:
        return {"from": self.source_format, "to": self.target_format}


ALPACA_ORIGIN = ("alpaca", "seed-tasks")


class SpansNotFound(Exception):
    """The template does not render this conversation's assistant messages as given."""


def render_schema(alpaca_columns: bool, text_column: bool) -> pa.Schema:
    fields = [pa.field("id", pa.string()), pa.field("messages", pa.list_(MESSAGE))]
    if alpaca_columns:
        fields += [pa.field(name, pa.string()) for name in ("instruction", "input", "output")]
    fields += [pa.field("prompt", pa.string()), pa.field("completion", pa.string())]
    if text_column:
        fields += [pa.field("text", pa.string()), pa.field("assistant_spans", pa.list_(SPAN))]
    return pa.schema(fields + [pa.field("source", pa.string()), pa.field("meta", pa.string())])


class RenderStep(_RecordStep):
    """Render each conversation with a template into `prompt` + `completion` (the last
    assistant turn), and with `text_column` the whole text with every assistant span."""

    name: ClassVar[str] = "render"

    def __init__(self, template: ChatTemplate, source_format: str, text_column: bool) -> None:
        super().__init__(render_schema(source_format in ALPACA_ORIGIN, text_column))
        self.template = template
        self.source_format = source_format
        self.text_column = text_column
        self.examples: list[dict] = []

    def start_task(self, task_index: int) -> None:
        self.examples = []

    def rows_of(self, record: dict, row_id: str, source: str) -> Iterator[dict]:
        for canonical in _canonical_rows(record, self.source_format, row_id):
            messages = [{"role": message["role"], "content": message["content"]} for message in canonical["messages"]]
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
                "id": canonical["id"],
                "messages": messages,
                "prompt": rendered.text[:last_start],
                "completion": rendered.text[last_start:last_end],
                "source": source,
                "meta": meta_text(canonical.get("meta")),
            }
            for key in ("instruction", "input", "output"):
                if key in canonical:
                    row[key] = canonical[key]
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
