"""The `extract` step: the main text of each HTML page the WARC reader read, in a child process.

A row is a page when its `meta` says an HTML content type and names no extractor yet (the
WARC reader's rows; an extracted folder read again is not extracted twice); other rows pass
through unchanged. A page is kept with its text and `extractor` added to its meta, or
rejected as extract:timeout, extract:out_of_memory, extract:failed (the extractor raised),
extract:crashed (the child died) or extract:empty (no text), keeping its HTML.

Unlike other steps this one starts a process: one child per task, started on its first page
and killed when the task ends (`task_notes`, the task's last call) or its step copy is freed.
"""

from __future__ import annotations

import glob
import os
import weakref
from pathlib import Path
from typing import ClassVar

import click
import orjson
import pyarrow as pa

from curate.corpus.extract.extractors import EXTRACTORS
from curate.corpus.extract.worker import ExtractorProcess
from curate.corpus.filters.spec import FilterSpec
from curate.io import markdown
from curate.io.readers.batch import json_dumps
from curate.io.readers.warc import HTML_TYPES
from curate.io.schema import set_column
from curate.pipeline.step import Step, StepOutput, split_rewritten

RULES = ("empty", "timeout", "out_of_memory", "failed", "crashed")


class ExtractStep(Step):
    name: ClassVar[str] = "extract"

    def __init__(
        self, extractor: str = "resiliparse", timeout: float = 1.0, memory_bytes: int | None = 2 << 30
    ) -> None:
        super().__init__()
        self.extractor, self.timeout, self.memory_bytes = extractor, timeout, memory_bytes
        self._process: ExtractorProcess | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_process": None}  # each copy (one per task) starts its own child

    def _child(self) -> ExtractorProcess:
        if self._process is None:
            self._process = ExtractorProcess(EXTRACTORS[self.extractor].target, self.timeout, self.memory_bytes)
            weakref.finalize(self, self._process.close)
        return self._process

    def run(self, batch: pa.Table) -> StepOutput:
        if "meta" not in batch.column_names or batch.schema.field("meta").type != pa.string():
            self.counters["passed_through"] += batch.num_rows
            return StepOutput(batch)
        texts = batch.column("text").to_pylist()
        metas = batch.column("meta").to_pylist()
        new_texts, new_metas, rules = [], [], []
        for text, meta in zip(texts, metas):
            page = _page_meta(meta) if text is not None else None
            if page is None:
                self.counters["passed_through"] += 1
                new_texts.append(text), new_metas.append(meta), rules.append(None)
                continue
            self.counters["pages"] += 1
            outcome = self._child().extract(text)
            extracted = outcome.text.strip() if outcome.text is not None else None
            rule = outcome.rule or (None if extracted else "empty")
            self.counters[rule or "kept"] += 1
            page["extractor"] = self.extractor
            new_texts.append(extracted), new_metas.append(json_dumps(page)), rules.append(rule)
        batch = set_column(batch, "meta", pa.array(new_metas, pa.string()))
        return split_rewritten(self.name, batch, texts, new_texts, rules)

    def describe(self) -> dict:
        return {"extractor": self.extractor, "timeout_s": self.timeout, "memory_bytes": self.memory_bytes}

    def task_notes(self) -> dict:
        if self._process is not None:  # the task's last call: its child is no longer needed
            self.counters["child_restarts"] += max(0, self._process.starts - 1)
            self._process.close()
        counted = ("pages", "kept", *RULES, "child_restarts")
        return {"extractor": self.extractor, **{key: self.counters[key] for key in counted}}

    def report_section(self, notes: list[dict], folder: Path) -> list[str]:
        totals: dict[str, dict[str, int]] = {}
        for note in notes:
            if note.get("extractor"):
                into = totals.setdefault(note["extractor"], {})
                for key, value in note.items():
                    if key != "extractor":
                        into[key] = into.get(key, 0) + value
        if not totals:
            return []
        lines = ["## Text extraction (extract)", ""]
        lines += [
            "Of the HTML pages the WARC reader decoded, the share each extractor turned into text; "
            f"a page gets {self.timeout:g} s of CPU time (--extract-timeout) in a child process.",
            "",
            "| extractor | HTML pages | kept | kept share | empty | timeout | out of memory | failed | crashed | restarts |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, total in sorted(totals.items()):
            pages = total.get("pages", 0)
            share = f"{total.get('kept', 0) / pages:.1%}" if pages else "-"
            cells = [f"{total.get(key, 0):,}" for key in RULES]
            restarts = f"{total.get('child_restarts', 0):,}"
            row = [markdown.code(name), f"{pages:,}", f"{total.get('kept', 0):,}", share, *cells, restarts]
            lines.append("| " + " | ".join(row) + " |")
        return lines


def _page_meta(meta: str | None) -> dict | None:
    """The meta of a page still to extract, as a dict; None for any other row."""
    if not meta or '"content_type"' not in meta:
        return None
    try:
        fields = orjson.loads(meta)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(fields, dict) or fields.get("content_type") not in HTML_TYPES or "extractor" in fields:
        return None
    return fields


def reads_warc(params: dict) -> bool:
    """Whether the inputs hold WARC files (named, in a folder, or matched by a glob), or
    --input-format warc says so: then the default step list starts with extract."""
    from curate.io.sources import detect_format

    if params.get("input_format") == "warc":
        return True
    if params.get("input_format", "auto") != "auto":
        return False  # another format named: a WARC in a folder is skipped, not read
    for argument in params.get("inputs") or ():
        path = Path(argument)
        if os.path.isdir(path):
            names = (name for _, _, files in os.walk(path) for name in files)
        elif os.path.exists(path):
            names = iter([path.name])
        else:
            names = (Path(match).name for match in glob.iglob(str(argument), recursive=True))
        if any(detect_format(Path(name)) == "warc" for name in names):
            return True
    return False


MIN_MEMORY_MIB = 256  # the child's interpreter and extractor alone map about 150 MiB


def _check_memory(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value and value < MIN_MEMORY_MIB:
        raise click.BadParameter(
            f"{value} MiB cannot hold the extractor itself; give {MIN_MEMORY_MIB} or more (0: no limit)"
        )
    return value


def build(params: dict) -> ExtractStep:
    memory = params.get("extract_memory", 2048)
    return ExtractStep(
        extractor=params.get("extractor", "resiliparse"),
        timeout=params.get("extract_timeout", 1.0),
        memory_bytes=(memory << 20) if memory else None,
    )


SPEC = FilterSpec(
    name="extract",
    summary="WARC HTML to its main text (resiliparse or trafilatura); runs first when an input is WARC.",
    build=build,
    applies=reads_warc,
    options=[
        click.option(
            "--extractor",
            type=click.Choice(list(EXTRACTORS)),
            default="resiliparse",
            show_default=True,
            help="extract: the main-text extractor: "
            + "; ".join(f"{name}: {spec.summary}" for name, spec in EXTRACTORS.items())
            + ".",
        ),
        click.option(
            "--extract-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=1.0,
            show_default=True,
            metavar="SECONDS",
            help="extract: CPU seconds a page may take; a slower one is killed and rejected as extract:timeout "
            "(one that blocks is stopped after five times this in wall time).",
        ),
        click.option(
            "--extract-memory",
            type=click.IntRange(min=0),
            callback=_check_memory,
            default=2048,
            show_default=True,
            metavar="MIB",
            help="extract: address space of the extractor's child process, in MiB; a page that needs more is "
            "rejected as extract:out_of_memory. 0: no limit.",
        ),
    ],
)
