"""`curate convert` and `curate render`: read instruction records, write a dataset folder.

Each runs one step (instruct/convert.py, instruct/render.py) over whole records on the executor,
with the inputs' format named by --from or found by instruct/rows.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from curate.errors import UserError
from curate.instruct import formats
from curate.instruct.convert import ConvertStep
from curate.instruct.formats.base import Layout
from curate.instruct.interop import write_interop_files
from curate.instruct.render import RenderStep
from curate.instruct.render_layouts import DEFAULT_LAYOUT, LAYOUTS
from curate.instruct.rows import source_format
from curate.instruct.templates import ChatTemplate
from curate.io.readers import ReaderOptions
from curate.io.sources import expand_inputs
from curate.io.writer import WriterOptions
from curate.pipeline.executor import run_job
from curate.pipeline.job import Job, JobResult
from curate.pipeline.step import Step


def _run_record_job(
    command: str,
    inputs: list[str],
    output: Path,
    from_format: str | None,
    make_step: Callable[[str], Step],
    layout: str | Layout,
    extra_options: dict | None = None,
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
    """Run one step over whole records into a folder of `layout` (a format's name or a render
    layout) with its dataset card and trainer files; `make_step` gets the source format."""

    def trainer_files(folder: Path, manifest: dict) -> None:
        write_interop_files(folder, layout, folder.resolve().name, manifest["counts"], manifest["command_line"])

    reader = replace(reader, records=True)
    files = expand_inputs(inputs, input_format)
    source = source_format(files, from_format, reader)
    job = Job(
        command=command,
        output=output,
        inputs=files,
        steps=[make_step(source)],
        options=options | {"from": source} | (extra_options or {}),
        command_line=command_line,
        reader=reader,
        writer=writer,
        finishing=trainer_files,
        charts=False,
    )
    return run_job(job, workers=workers, progress=progress, overwrite=overwrite)


def convert_dataset(
    inputs: list[str], output: Path, to_format: str, from_format: str | None, **job_arguments
) -> JobResult:
    """Convert instruction or preference records from one format to another.

    `job_arguments` are those of every record command (options, command_line, reader,
    writer, input_format, workers, progress, overwrite; see `cli.options.job_arguments`).
    """

    def make_step(source: str) -> Step:
        if formats.format_kind(source) != formats.format_kind(to_format):
            raise UserError(
                f"{source} holds {formats.format_kind(source)} data and {to_format} holds "
                f"{formats.format_kind(to_format)} data; convert between formats of the same kind"
            )
        return ConvertStep(source, to_format)

    return _run_record_job("convert", inputs, output, from_format, make_step, to_format, **job_arguments)


def render_dataset(
    inputs: list[str],
    output: Path,
    template: ChatTemplate,
    from_format: str | None,
    text_column: bool,
    columns: str = DEFAULT_LAYOUT,
    **job_arguments,
) -> JobResult:
    """Render conversations with a template, in the column layout `columns` (render_layouts.py):
    prompt/completion, text with its assistant spans, or both with the conversation."""
    if columns not in LAYOUTS:
        raise UserError(f"--columns {columns!r}: use one of {', '.join(LAYOUTS)}")
    layout = LAYOUTS[columns]

    def make_step(source: str) -> Step:
        if formats.format_kind(source) != formats.SFT:
            raise UserError(f"curate render takes conversations (SFT data); {source} is preference data")
        return RenderStep(template, source, text_column, layout)

    # the template's text is part of the job: an edited template file rebuilds the folder
    template_options = {"template_hash": template.fingerprint, "special_tokens": dict(template.special_tokens)}
    template_options["columns"] = columns
    return _run_record_job("render", inputs, output, from_format, make_step, layout, template_options, **job_arguments)
