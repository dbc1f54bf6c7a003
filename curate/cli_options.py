"""Options shared by commands, as decorators, and helpers to record what a command was given."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import click

from curate.io.readers import ReaderOptions
from curate.io.sources import FORMATS
from curate.io.writer import WriterOptions
from curate.pipeline.executor import default_workers

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


class ByteSize(click.ParamType):
    """`256MB`, `1GiB`, `500k` or a plain number of bytes."""

    name = "size"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        match = _SIZE.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a size like 256MB or 1GiB", param, ctx)
        number, unit = float(match.group(1)), (match.group(2) or "").lower()
        base = 1024 if "i" in unit else 1000
        return int(number * base ** _POWERS[unit.rstrip("b").rstrip("i")])


def _compose(*decorators: Callable) -> Callable:
    def apply(function: Callable) -> Callable:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


input_options = _compose(
    click.argument("inputs", nargs=-1, required=True, metavar="INPUT..."),
    click.option(
        "--input-format",
        type=click.Choice(["auto", *FORMATS]),
        default="auto",
        show_default=True,
        help="Format of the inputs; auto reads it from each file name (.jsonl[.gz|.zst], .json, .parquet, .txt, .warc.wet.gz).",
    ),
    click.option("--text-field", default="text", show_default=True, help="Field (or column) holding the document text."),
    click.option(
        "--id-field",
        default="id",
        show_default=True,
        help="Field holding the document id; rows without one get a stable id hashed from their text.",
    ),
    click.option("--text-lines", is_flag=True, help="Plain text inputs: one document per line, not per file."),
)

output_options = _compose(
    click.option(
        "-o", "--output", required=True, type=click.Path(path_type=Path), help="Dataset folder to write (created if needed)."
    ),
    click.option("--shard-rows", type=click.IntRange(min=1), default=WriterOptions.max_rows, show_default=True, help="Most rows per Parquet shard."),
    click.option(
        "--shard-size",
        type=ByteSize(),
        default=WriterOptions.max_bytes,
        show_default="256MiB",
        help="Most uncompressed bytes per Parquet shard (files on disk are smaller, zstd).",
    ),
    click.option(
        "--overwrite",
        is_flag=True,
        help="If OUTPUT holds a curate dataset made with other inputs or options, replace it.",
    ),
)

executor_options = _compose(
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help=f"Worker processes (default: the number of cores, here {default_workers()}).",
    ),
    click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: when stderr is a terminal)."),
)


def reader_options(params: dict) -> ReaderOptions:
    return ReaderOptions(text_field=params["text_field"], id_field=params["id_field"], text_lines=params["text_lines"])


def writer_options(params: dict) -> WriterOptions:
    return WriterOptions(max_rows=params["shard_rows"], max_bytes=params["shard_size"])


def recorded_options(ctx: click.Context) -> dict:
    """The command's parameters as JSON values, for the manifest."""
    recorded = {}
    for name, value in ctx.params.items():
        if isinstance(value, tuple):
            value = [str(item) if isinstance(item, Path) else item for item in value]
        elif isinstance(value, Path):
            value = str(value)
        recorded[name] = value
    return recorded


def option_words(param: click.Option, value: object) -> list[str]:
    """The command-line words that give `param` this value: `--flag`, `--no-flag`, `--opt v`..."""
    option = max(param.opts, key=len)
    if param.is_flag:
        if value:
            return [option]
        return [max(param.secondary_opts, key=len)] if param.secondary_opts else []
    values = value if param.multiple and isinstance(value, (list, tuple)) else [value]
    return [word for item in values for word in (option, str(item))]


def command_line(ctx: click.Context) -> str:
    """A command line that reproduces this invocation: arguments and non-default options."""
    words = ["curate", ctx.command.name]
    positional = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if isinstance(param, click.Argument):
            positional += [str(item) for item in (value or ())]
        elif value != param.default and value is not None and param.name not in ("progress", "overwrite"):
            words += option_words(param, value)
    return shlex.join(words + positional)


def job_arguments(ctx: click.Context, params: dict) -> dict:
    """The keyword arguments every corpus command passes to its library function."""
    return {
        "options": recorded_options(ctx),
        "command_line": command_line(ctx),
        "reader": reader_options(params),
        "writer": writer_options(params),
        "input_format": params["input_format"],
        "workers": params["workers"],
        "progress": show_progress(params["progress"]),
        "overwrite": params["overwrite"],
    }


def show_progress(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return sys.stderr.isatty()


record_input_options = _compose(
    click.argument("inputs", nargs=-1, required=True, metavar="INPUT..."),
    click.option(
        "--input-format",
        type=click.Choice(["auto", "jsonl", "json", "parquet"]),
        default="auto",
        show_default=True,
        help="How to read the inputs; auto goes by file name (.jsonl[.gz|.zst], .json, .parquet). "
        "A JSON Lines file with another name (.txt) needs --input-format jsonl.",
    ),
    click.option("--id-field", default="id", show_default=True, help="Field holding a record's id; records without one get an id hashed from the record."),
)


def record_job_arguments(ctx: click.Context, params: dict) -> dict:
    """`job_arguments` for commands that read whole records (convert, render)."""
    params = {**params, "text_field": "text", "text_lines": False}
    return job_arguments(ctx, params)
