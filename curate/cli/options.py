"""Options shared by commands, as decorators, and helpers to turn them into library settings and to
record what a command was given."""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import click

from curate.cli.store_output import OutputFolder, staged_output
from curate.errors import UserError
from curate.io.readers import ReaderOptions
from curate.io.readers.registry import READERS, RECORD_FORMATS, suffix_help
from curate.io.writer import WriterOptions
from curate.llm.devices import DTYPES
from curate.llm.factory import BACKENDS, REMOTE, ClientOptions
from curate.pipeline.identity import RUNTIME_OPTIONS
from curate.pipeline.pool import default_workers

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
        size = number * base ** _POWERS[unit.rstrip("b").rstrip("i")]
        if not size < 2**63:  # nan and inf too
            self.fail(f"{value!r} is larger than any file (at most 8 EiB)", param, ctx)
        return int(size)


class _CheckedNumber:
    """What FiniteFloat and Int64 share: made `like` a declared type, keeping its range, and
    help that shows a range only where one was declared."""

    def _describe_range(self) -> str:
        return "" if self.min is None and self.max is None else super()._describe_range()

    @classmethod
    def like(cls, declared: click.ParamType):
        """This type with the range of `declared` (a number range, or a plain float or int type)."""
        if isinstance(declared, click.types._NumberRangeBase):
            return cls(declared.min, declared.max, declared.min_open, declared.max_open, declared.clamp)
        checked = cls()
        checked.name = declared.name  # help shows FLOAT or INTEGER, as declared
        return checked


class FiniteFloat(_CheckedNumber, click.FloatRange):
    """A number within the range declared, never nan or inf.

    click's FloatRange lets nan through any range (every comparison with nan is false) and inf
    through an open end; no threshold, rate or ratio of curate means either. CurateGroup gives
    every float option of every command this type (`FiniteFloat.like`), keeping its range.
    """

    def convert(self, value, param, ctx) -> float:
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Int64(_CheckedNumber, click.IntRange):
    """A whole number within the range declared and within 64 bits.

    Every count, size and seed of curate ends up in a 64-bit integer (Parquet, JSON readers,
    numpy, torch): a larger one fails far from the option that took it, as a traceback
    (`inspect -n 99999999999999999999`). CurateGroup gives every int option this type."""

    LIMIT = 2**63 - 1

    def convert(self, value, param, ctx) -> int:
        number = super().convert(value, param, ctx)
        if not -self.LIMIT <= number <= self.LIMIT:
            self.fail(f"{value!r} is too large (at most {self.LIMIT:,})", param, ctx)
        return number


# A seed: numpy, fastText and Python's random all take 0 .. 2**32 - 1 alike.
SEED = click.IntRange(0, 2**32 - 1)


def compose(*decorators: Callable) -> Callable:
    def apply(function: Callable) -> Callable:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def corpus_text_options(max_documents_help: str) -> Callable:
    """--text-field and --max-documents of the commands that learn from a corpus's text
    (train-tokenizer, init-model)."""
    return compose(
        click.option(
            "--text-field",
            default="text",
            show_default=True,
            help="Field (or column) holding the text; records without it give every string they hold.",
        ),
        click.option("--max-documents", type=click.IntRange(min=1), default=None, metavar="N", help=max_documents_help),
    )


progress_option = click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar (default: when stderr is a terminal)."
)


def record_format_option(help_text: str) -> Callable:
    """--input-format for commands that read whole records (the readers that hold records)."""
    return click.option(
        "--input-format",
        type=click.Choice(["auto", *RECORD_FORMATS]),
        default="auto",
        show_default=True,
        help=help_text,
    )


input_options = compose(
    click.argument("inputs", nargs=-1, required=True, metavar="INPUT..."),
    click.option(
        "--input-format",
        type=click.Choice(["auto", *READERS]),
        default="auto",
        show_default=True,
        help=f"Format of the inputs; auto reads it from each file name ({suffix_help()}, also .gz or .zst). "
        "In a folder or glob, other files are not read but listed with why in report.md and the manifest: "
        "other names, names starting with . or _, other compressions (.bz2, .xz, .zip...), WARC under another "
        "--input-format, unreadable "
        "files, and curate folders inside it (name one as an input to read its kept rows).",
    ),
    click.option(
        "--text-field", default="text", show_default=True, help="Field (or column) holding the document text."
    ),
    click.option(
        "--max-doc-chars",
        type=click.IntRange(min=0),
        default=1_000_000,
        show_default=True,
        metavar="N",
        help="Reject longer documents as too_long:chars as they are read, before any step splits them into "
        "words; rejected/ keeps their first 64 KiB. A million characters is some 400 pages, past any web page "
        "or article worth training on, while one runaway 50 MB line costs the word and n-gram steps half a "
        "minute and gigabytes. 0: no limit.",
    ),
    click.option(
        "--id-field",
        default="id",
        show_default=True,
        help="Field holding the document id; rows without one get a stable id hashed from their text.",
    ),
    click.option("--text-lines", is_flag=True, help="Plain text inputs: one document per line, not per file."),
)


output_options = compose(
    click.option(
        "-o",
        "--output",
        required=True,
        type=OutputFolder(),
        help="Dataset folder to write (created if needed): a path, or an object store's URL (s3://bucket/prefix, "
        "gs://, hf://...; pip install 'curate[cloud]'), written in a local staging folder and committed there, "
        "manifest last.",
    ),
    click.option(
        "--shard-rows",
        type=click.IntRange(min=1),
        default=WriterOptions.max_rows,
        show_default=True,
        help="Most rows per Parquet shard.",
    ),
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
    staged_output,
)

model_options = compose(
    click.option(
        "--backend",
        type=click.Choice(list(BACKENDS)),
        default=REMOTE,
        show_default=True,
        help="openai: any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI). local: a transformers model in "
        "this process.",
    ),
    click.option(
        "--model",
        envvar="CURATE_MODEL",
        required=True,
        metavar="NAME|PATH",
        help="Model name on the server; for --backend local a model folder or Hugging Face id. [env: CURATE_MODEL]",
    ),
    click.option(
        "--base-url",
        envvar="CURATE_BASE_URL",
        default=None,
        metavar="URL",
        help="The server's OpenAI API root, e.g. http://127.0.0.1:8000/v1 (default: api.openai.com). "
        "[env: CURATE_BASE_URL]",
    ),
)


def sampling_options(temperature: float, top_p: float, max_tokens: int, whose: str = "", cut: str = "") -> Callable:
    """--temperature, --top-p and --max-tokens with a command's defaults; `whose` names the
    model sampled ("Policy "), `cut` says what becomes of a cut answer."""
    return compose(
        click.option(
            "--temperature",
            type=click.FloatRange(min=0),
            default=temperature,
            show_default=True,
            help=f"{whose}sampling temperature.".capitalize(),
        ),
        click.option(
            "--top-p",
            type=click.FloatRange(0, 1, min_open=True),
            default=top_p,
            show_default=True,
            help=f"{whose}nucleus sampling mass.".capitalize(),
        ),
        click.option(
            "--max-tokens",
            type=click.IntRange(min=1),
            default=max_tokens,
            show_default=True,
            help=f"Most tokens in one answer{cut}.",
        ),
    )


executor_options = compose(
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help=f"Worker processes, or Ray tasks in flight (default: the number of cores, here {default_workers()}).",
    ),
    click.option(
        "--executor",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Where tasks run: worker processes here, or Ray tasks (pip install 'curate[ray]'); the output is "
        "byte-identical.",
    ),
    click.option(
        "--ray-address",
        default=None,
        metavar="ADDRESS|auto",
        help="With --executor ray: the cluster to join (HOST:PORT, ray://HOST:10001, or auto for the one `ray start` "
        "made here); default: RAY_ADDRESS, else a Ray of this machine started for the run.",
    ),
    progress_option,
)


def use_executor_option(params: dict) -> None:
    """Send the tasks of this command where --executor says (pipeline/pool.py)."""
    from curate.pipeline.pool import use_executor
    from curate.pipeline.ray_executor import RaySettings

    if params.get("executor") == "ray":
        use_executor("ray", RaySettings(params.get("ray_address") or os.environ.get("RAY_ADDRESS") or None))
    else:
        if params.get("ray_address"):
            raise UserError("--ray-address is for --executor ray")
        use_executor("local")


def reader_options(params: dict) -> ReaderOptions:
    return ReaderOptions(
        text_field=params["text_field"],
        id_field=params["id_field"],
        text_lines=params["text_lines"],
        max_doc_chars=params.get("max_doc_chars") or None,  # 0, or a command without the option: no limit
    )


def writer_options(params: dict) -> WriterOptions:
    return WriterOptions(max_rows=params["shard_rows"], max_bytes=params["shard_size"])


def recorded_options(ctx: click.Context) -> dict:
    """The command's parameters as JSON values, for the manifest; URLs without their credentials."""
    recorded = {}
    for name, value in ctx.params.items():
        if isinstance(value, tuple):
            value = [_recorded(str(item) if isinstance(item, Path) else item) for item in value]
        elif isinstance(value, Path):
            value = str(value)
        recorded[name] = _recorded(value)
    return recorded


def _recorded(value: object) -> object:
    """A value as curate writes or prints it: a URL without userinfo and query secrets (redact.py)."""
    from curate.llm.redact import looks_like_url, redact_url

    return redact_url(value) if looks_like_url(value) else value


def option_words(param: click.Option, value: object) -> list[str]:
    """The command-line words that give `param` this value: `--flag`, `--no-flag`, `--opt v`..."""
    option = max(param.opts, key=len)
    if param.is_flag:
        if value:
            return [option]
        return [max(param.secondary_opts, key=len)] if param.secondary_opts else []
    values = value if param.multiple and isinstance(value, (list, tuple)) else [value]
    return [word for item in values for word in (option, str(item))]


# how a run goes, not what it writes (the job identity's runtime options), left out so that the
# report reads the same for any of them; the worker count stays, as a record of the run
_NOT_IN_COMMAND_LINE = RUNTIME_OPTIONS - {"workers"}


def command_line(ctx: click.Context) -> str:
    """A command line that reproduces this invocation: arguments and non-default options."""
    words = ["curate", ctx.command.name]
    positional = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if isinstance(param, click.Argument):
            positional += [str(item) for item in (value or ())]
        elif value != param.default and value is not None and param.name not in _NOT_IN_COMMAND_LINE:
            words += option_words(param, value)
    return shlex.join(str(_recorded(word)) for word in words + positional)


def run_arguments(ctx: click.Context, params: dict) -> dict:
    """The keyword arguments every command that writes a dataset folder passes to its library
    function (self-instruct and prefs, which hold their rows in memory, pass only these)."""
    return {
        "options": recorded_options(ctx),
        "command_line": command_line(ctx),
        "writer": writer_options(params),
        "input_format": params["input_format"],
        "progress": show_progress(params["progress"]),
        "overwrite": params["overwrite"],
    }


def job_arguments(ctx: click.Context, params: dict) -> dict:
    """The keyword arguments of the commands that run on the executor: `run_arguments` and how
    to read the inputs, with how many workers."""
    use_executor_option(params)
    return run_arguments(ctx, params) | {"reader": reader_options(params), "workers": params["workers"]}


def show_progress(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return sys.stderr.isatty()


record_input_options = compose(
    click.argument("inputs", nargs=-1, required=True, metavar="INPUT..."),
    record_format_option(
        f"How to read the inputs; auto goes by file name ({suffix_help(record_formats_only=True)}, also .gz "
        "or .zst). A JSON Lines file with another name (.txt) needs --input-format jsonl."
    ),
    click.option(
        "--id-field",
        default="id",
        show_default=True,
        help="Field holding a record's id; records without one get an id hashed from the record.",
    ),
)


def record_job_arguments(ctx: click.Context, params: dict) -> dict:
    """`job_arguments` for commands that read whole records (convert, render)."""
    params = {**params, "text_field": "text", "text_lines": False}
    return job_arguments(ctx, params)


# How requests reach a model (self-instruct, prefs): the server client's limits and retries,
# the answer cache, and the settings of a model run in this process.
client_options = compose(
    click.option(
        "--api-key-env", default=ClientOptions.api_key_env, show_default=True, metavar="NAME",
        callback=lambda ctx, param, value: _key_env_name(value),
        help="Environment variable holding the API key (never logged or written: it and any credential in a "
        "URL are removed from what the server sends back, every error and every file; local servers need none).",
    ),
    click.option("--concurrency", type=click.IntRange(min=1), default=ClientOptions.concurrency, show_default=True, help="Requests in flight at once."),
    click.option("--rpm", type=click.FloatRange(min=0, min_open=True), default=None, help="Most requests per minute."),
    click.option("--tpm", type=click.FloatRange(min=0, min_open=True), default=None, help="Most tokens (prompt + completion) per minute."),
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=ClientOptions.timeout, show_default=True, help="Seconds to wait for one answer before retrying."),
    click.option("--max-retries", type=click.IntRange(min=0), default=ClientOptions.max_retries, show_default=True, help="Retries of one request (429, 5xx, timeouts, connection errors), with exponential backoff."),
    click.option(
        "--cache", type=click.Path(path_type=Path), default=None, metavar="DIR",
        help="Folder of the answer cache (default: $CURATE_CACHE_DIR or the user cache, under llm/).",
    ),
    click.option("--no-cache", is_flag=True, help="Send every request; a killed run then cannot resume."),
    click.option(
        "--share-cache", is_flag=True,
        help="Key cached answers by the model alone, not also by the server (scheme, host, port, path): for the "
        "same model served at several hosts. Without it another server's answers are never reused, since it may "
        "serve another model under the same name.",
    ),
    click.option("--batch-size", type=click.IntRange(min=1), default=ClientOptions.batch_size, show_default=True, help="Local models: sequences generated together."),
    click.option("--device", default="auto", show_default=True, help="Local models: cuda, cpu or auto."),
    click.option("--dtype", type=click.Choice(DTYPES), default="auto", show_default=True, help="Local models: weights' dtype."),
)  # fmt: skip


def _key_env_name(value: str) -> str:
    from curate.llm.openai_compat import check_key_env

    return check_key_env(value)


def client_settings(params: dict) -> ClientOptions:
    """`client_options`' values as the library's ClientOptions."""
    return ClientOptions(**{field.name: params[field.name] for field in fields(ClientOptions)})


def format_choices(kind: str | None = None, writable: bool = False) -> list[str]:
    """The format names --from and --to offer: all, of one kind ("sft", "preference"), or writable."""
    from curate.instruct import formats

    names = formats.WRITE_FORMATS if writable else formats.READ_FORMATS
    return [name for name in names if kind is None or formats.format_kind(name) == kind]


# how the commands that answer prompts (prefs, generate) read them
prompt_format_options = compose(
    record_format_option("How to read the prompts; auto goes by file name."),
    click.option(
        "--from",
        "from_format",
        type=click.Choice(format_choices()),
        default=None,
        help="Format of the prompts (default: read from the first record).",
    ),
)
