"""The `render` step: conversations rendered with a chat template, with their assistant spans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from curate.instruct import formats
from curate.instruct.record_step import RecordStep, SpansNotFound
from curate.instruct.render_layouts import RenderLayout
from curate.instruct.spans import assistant_spans
from curate.instruct.templates import ChatTemplate
from curate.io import markdown

SPAN = pa.struct([pa.field("start", pa.int32()), pa.field("end", pa.int32())])


def render_schema(alpaca_columns: bool, layout: RenderLayout, text_column: bool) -> pa.Schema:
    """The columns of a rendered row in `layout`, with `text` and `assistant_spans` where
    `text_column` (the layout's or --text-column's)."""
    fields = [pa.field("id", pa.string())]
    if layout.conversation:
        fields.append(pa.field("messages", formats.MESSAGE_LIST))
        if alpaca_columns:
            fields += [pa.field(name, pa.string()) for name in formats.ALPACA_KEYS]
    if layout.prompt_completion:
        fields += [pa.field("prompt", pa.string()), pa.field("completion", pa.string())]
    if text_column:
        fields += [pa.field("text", pa.string()), pa.field("assistant_spans", pa.list_(SPAN))]
    return pa.schema(fields + [pa.field("source", pa.string()), pa.field("meta", pa.string())])


class RenderStep(RecordStep):
    """Render each conversation with a template into `prompt` + `completion` (the last
    assistant turn), and with `text_column` the whole text with every assistant span."""

    name: ClassVar[str] = "render"

    def __init__(
        self,
        template: ChatTemplate,
        source_format: str,
        text_column: bool,
        layout: RenderLayout,
    ) -> None:
        self.text_column = text_column or layout.text
        alpaca_columns = formats.get_format(source_format).alpaca_fields
        super().__init__(render_schema(alpaca_columns, layout, self.text_column), source_format)
        self.template = template
        self.layout = layout
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
        row = {"id": str(canonical["id"]), "source": source, "meta": formats.meta_text(canonical.get("meta"))}
        if self.layout.conversation:
            row["messages"] = messages
            row.update({key: canonical[key] for key in formats.ALPACA_KEYS if key in canonical})
        if self.layout.prompt_completion:
            row["prompt"] = rendered.text[:last_start]
            row["completion"] = rendered.text[last_start:last_end]
        if self.text_column:
            row["text"] = rendered.text
            row["assistant_spans"] = [{"start": start, "end": end} for start, end in rendered.spans]
        self.counters["rows"] += 1
        self.counters["assistant_turns"] += len(rendered.spans)
        yield row

    def describe(self) -> dict:
        described = {"template": self.template.name, "from": self.source_format, "text_column": self.text_column}
        return described | {"columns": self.layout.name}

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
        lines += [f"- row {markdown.cell(example['id'])}: message(s) {example['messages']}" for example in examples]
        return lines
