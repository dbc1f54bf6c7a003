"""Every user mistake is one line and exit code 2: a sweep of every command through the ways a
user gets things wrong.

The table is built from the commands themselves (curate.cli.COMMANDS, their subcommands and
their click parameters), so a new command gets --help, the generic mistakes and, for each
path it reads and each number it takes, the bad-path and bad-number cases without a line
here. A command needs a line in BASELINES only for the valid values of its required
parameters (without one they are guessed from each parameter's type). The default run
takes the cases that fail at parse time or on the first file a command opens; the hostile
version (`pytest -m slow`) tries every kind of bad file on every path of every command.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from curate.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[1]
CLOSED_PORT_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing answers, nothing hangs

# Parameters that name what a command writes, not what it reads.
WRITTEN = {"output", "best_of_n_out", "cache"}
# Parameters with a path-like metavar that are not paths for the baseline's backend
# (a model name an OpenAI-compatible server resolves), with why.
NOT_PATHS = {
    ("self-instruct", "model"): "a model name on the server with --backend openai",
    ("prefs", "policy_model"): "a model name on the server with --policy openai",
    ("prefs", "judge_model"): "a model name on the server with --judge llm",
}
_PATH_METAVAR = re.compile(r"FILE|PATH|INPUT|DATA|PROMPTS|DIR")


# ---------------------------------------------------------------------------------------------
# the commands, from the table


def _walk(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            yield from _walk(command.get_command(ctx, name), (*path, name))


def all_commands() -> dict[tuple[str, ...], click.Command]:
    ctx = click.Context(cli)
    found: dict[tuple[str, ...], click.Command] = {}
    for name in COMMANDS:
        found.update(_walk(cli.get_command(ctx, name), (name,)))
    return found


COMMAND_TABLE = all_commands()
LEAVES = {path: command for path, command in COMMAND_TABLE.items() if not isinstance(command, click.Group)}


def _ids(paths) -> list[str]:
    return [" ".join(path) for path in paths]


def read_paths(path: tuple[str, ...], command: click.Command) -> list[click.Parameter]:
    """The parameters naming a file or folder the command reads."""
    found = []
    for param in command.params:
        if param.name in WRITTEN or (path[-1], param.name) in NOT_PATHS:
            continue
        if isinstance(param, click.Option) and (param.is_flag or param.count):
            continue
        if isinstance(param.type, click.Path) or _PATH_METAVAR.search(param.metavar or ""):
            found.append(param)
    return found


def number_options(command: click.Command, kind: type) -> list[click.Option]:
    return [param for param in command.params if isinstance(param, click.Option) and isinstance(param.type, kind)]


# ---------------------------------------------------------------------------------------------
# the files the commands are given


@dataclass(frozen=True)
class Files:
    root: Path

    def __getattr__(self, name: str) -> Path:
        raise AttributeError(name)


def _write_files(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    docs = root / "docs.jsonl"
    docs.write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": f"Document number {i} says something about topic {i % 3}."}) + "\n"
            for i in range(6)
        )
    )
    tasks = root / "tasks.jsonl"
    tasks.write_text(
        "".join(
            json.dumps({"instruction": f"Name {i} colours.", "input": "", "output": "Red, green and blue."}) + "\n"
            for i in range(1, 5)
        )
    )
    pairs = root / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": [{"role": "user", "content": f"What is {i} + {i}?"}],
                    "chosen": [{"role": "assistant", "content": f"{2 * i}."}],
                    "rejected": [{"role": "assistant", "content": "No idea."}],
                }
            )
            + "\n"
            for i in range(4)
        )
    )
    recipe = root / "recipe.yaml"
    recipe.write_text(f"steps:\n  - filter:\n      inputs: [{docs}]\n      output: {root / 'recipe-out'}\n")
    model = root / "model"  # a folder that is no model: commands needing one stop there
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    return {"docs": docs, "tasks": tasks, "pairs": pairs, "recipe": recipe, "model": model}


# Valid values of each command's required parameters ({name} is a file of _write_files,
# {out} a fresh output path). Commands not listed get values guessed from their types.
BASELINES: dict[tuple[str, ...], dict[str, object]] = {
    ("filter",): {"inputs": ["{docs}"], "output": "{out}", "steps": "clean"},
    ("dedup",): {"inputs": ["{docs}"], "output": "{out}"},
    ("quality", "train"): {"positive": ["{docs}"], "negative": ["{docs}"], "output": "{out}.bin"},
    ("convert",): {"inputs": ["{tasks}"], "output": "{out}", "to": "sharegpt"},
    ("render",): {"inputs": ["{tasks}"], "output": "{out}", "template": "alpaca"},
    ("self-instruct",): {
        "seeds": "{tasks}",
        "output": "{out}",
        "model": "some-model",
        "base_url": CLOSED_PORT_URL,
        "num": "1",
        "max_retries": "0",
        "timeout": "1",
    },
    ("prefs",): {
        "inputs": ["{pairs}"],
        "output": "{out}",
        "policy_model": "some-model",
        "judge_model": "some-judge",
        "policy_base_url": CLOSED_PORT_URL,
        "max_retries": "0",
        "timeout": "1",
    },
    ("init-model",): {"output": "{out}", "corpus": ["{docs}"], "size": "tiny"},
    ("train-sft",): {"data": ["{tasks}"], "output": "{out}", "model": "{model}", "max_steps": "1"},
    ("train-dpo",): {"data": ["{pairs}"], "output": "{out}", "model": "{model}", "max_steps": "1"},
    ("train-rm",): {"data": ["{pairs}"], "output": "{out}", "model": "{model}", "max_steps": "1"},
    ("inspect",): {"path": "{docs}"},
    ("run",): {"recipe": "{recipe}"},
}


def _guess(param: click.Parameter) -> object:
    """A parse-valid value for a required parameter no baseline names."""
    if isinstance(param.type, click.Choice):
        return str(param.type.choices[0])
    if isinstance(param.type, click.types._NumberRangeBase) and param.type.min is not None:
        return str(param.type.min + (1 if param.type.min_open else 0))
    if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
        return "1"
    if param.name in WRITTEN:
        return "{out}"
    return ["{docs}"] if param.multiple or param.nargs == -1 else "{docs}"


def _step_owning(name: str) -> str | None:
    """The `curate filter` step that declares the option `name` (a step's options are read only
    when the step runs), or None."""
    from curate.corpus.registry import FILTERS

    for step, spec in FILTERS.items():

        def declared() -> None: ...

        for option in spec.options:
            declared = option(declared)
        if any(param.name == name for param in getattr(declared, "__click_params__", ())):
            return step
    return None


def baseline(path: tuple[str, ...], command: click.Command, testing: str | None = None) -> dict[str, object]:
    """Valid values of the required parameters; for `filter`, the step that reads `testing` runs."""
    values = dict(BASELINES.get(path, {}))
    if path == ("filter",) and testing is not None and (step := _step_owning(testing)) is not None:
        values["steps"] = step
    for param in command.params:
        if param.required and param.name not in values:
            values[param.name] = _guess(param)
    return values


def arguments(command: click.Command, values: dict[str, object], files: dict[str, Path], out: Path) -> list[str]:
    """The command line of `values` (parameter name -> value or list of values)."""

    def fill(value: object) -> str:
        return str(value).format(out=out, **files)

    args: list[str] = []
    positional: list[str] = []
    for param in command.params:
        if param.name not in values:
            continue
        value = values[param.name]
        items = value if isinstance(value, list) else [value]
        if isinstance(param, click.Argument):
            positional += [fill(item) for item in items]
        else:
            flag = max(param.opts, key=len)
            for item in items:
                args += [flag, fill(item)]
    return args + (["--", *positional] if positional else [])


# ---------------------------------------------------------------------------------------------
# running a command and judging what it did


@dataclass
class Ran:
    args: list[str]
    code: int
    output: str
    escaped: str | None  # the traceback of an exception that escaped the command


def run_in_process(args: list[str]) -> Ran:
    result = CliRunner().invoke(cli, args)
    escaped = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        escaped = "".join(traceback.format_exception(*result.exc_info))
    return Ran(args, result.exit_code, result.output, escaped)


def _describe(ran: Ran) -> str:
    return f"curate {' '.join(ran.args)}\nexit {ran.code}\n{ran.output[-3000:]}\n{ran.escaped or ''}"


def assert_no_traceback(ran: Ran, codes: tuple[int, ...]) -> None:
    assert ran.escaped is None, _describe(ran)
    assert "Traceback" not in ran.output, _describe(ran)
    assert ran.code in codes, _describe(ran)


def assert_user_error(ran: Ran, *mentions: str) -> None:
    """Exit 2, and the last line of output is the one `Error: ...` line, naming `mentions`."""
    assert_no_traceback(ran, (2,))
    lines = [line for line in ran.output.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: "), _describe(ran)
    assert sum(line.startswith("Error") for line in lines) == 1, _describe(ran)
    for mention in mentions:
        assert mention in lines[-1], f"{mention!r} not in the error line\n{_describe(ran)}"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return _write_files(tmp_path_factory.mktemp("sweep-files"))


@pytest.fixture(autouse=True)
def _no_server_settings(monkeypatch):
    """The user's model-server settings never reach the sweep."""
    for name in ("CURATE_MODEL", "CURATE_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CURATE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


# ---------------------------------------------------------------------------------------------
# every command: --help, and the mistakes every command can be given


@pytest.mark.parametrize("path", list(COMMAND_TABLE), ids=_ids(COMMAND_TABLE))
def test_help_works(path):
    ran = run_in_process([*path, "--help"])
    assert_no_traceback(ran, (0,))
    assert "Usage:" in ran.output


@pytest.mark.parametrize("path", list(LEAVES), ids=_ids(LEAVES))
def test_generic_usage_mistakes(path, files, tmp_path):
    assert_user_error(run_in_process([*path]))
    assert_user_error(run_in_process([*path, "--no-such-option"]), "--no-such-option")
    command = LEAVES[path]
    values = baseline(path, command)
    # a required parameter left out
    for param in command.params:
        if param.required:
            less = {name: value for name, value in values.items() if name != param.name}
            assert_user_error(run_in_process([*path, *arguments(command, less, files, tmp_path / "out")]))


# the bad values of a number option, refused at parse time
BAD_FLOATS = ("nan", "NaN", "inf", "-inf", "1e999", "abc", "")
BAD_INTS = ("abc", "1.5", "99999999999999999999", "-99999999999999999999", "")


def _number_cases(kind: type, values: tuple[str, ...]) -> list:
    return [
        pytest.param(path, option.name, value, id=f"{' '.join(path)} {option.opts[-1]} {value!r}")
        for path, command in LEAVES.items()
        for option in number_options(command, kind)
        for value in values
    ]


@pytest.mark.parametrize(
    ("path", "name", "value"),
    _number_cases(click.types.FloatParamType, BAD_FLOATS) + _number_cases(click.types.IntParamType, BAD_INTS),
)
def test_bad_number_is_refused_at_parse_time(path, name, value, files, tmp_path):
    command = LEAVES[path]
    option = next(param for param in command.params if param.name == name)
    args = arguments(command, {**baseline(path, command, name), name: value}, files, tmp_path / "out")
    assert_user_error(run_in_process([*path, *args]), max(option.opts, key=len))


# ---------------------------------------------------------------------------------------------
# bad paths for every path a command reads


def _make_bad(kind: str, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if kind == "missing":
        return root / "no-such-dir" / "nothing.jsonl"
    if kind == "empty_folder":
        (root / "empty").mkdir(exist_ok=True)
        return root / "empty"
    if kind == "empty_file":
        (root / "empty.jsonl").write_bytes(b"")
        return root / "empty.jsonl"
    if kind == "binary":
        (root / "binary.jsonl").write_bytes(bytes(range(256)) * 4)
        return root / "binary.jsonl"
    if kind == "latin1":
        (root / "latin1.txt").write_bytes("café crème brûlée\n".encode("latin-1"))
        return root / "latin1.txt"
    if kind == "fake_parquet":
        (root / "fake.parquet").write_text("this is not parquet\n")
        return root / "fake.parquet"
    if kind == "fake_gzip":
        (root / "fake.jsonl.gz").write_text('{"text": "not gzip"}\n')
        return root / "fake.jsonl.gz"
    if kind == "symlink_loop":
        loop = root / "loop.jsonl"
        if not loop.is_symlink():
            loop.symlink_to(loop)
        return loop
    raise AssertionError(kind)


# kind -> exit codes allowed: a path that is not there is always a mistake; a file curate can
# open but not understand may be counted as rejected rows (exit 0) or refused (exit 2).
BAD_PATHS = {
    "missing": (2,),
    "empty_folder": (0, 2),
    "empty_file": (0, 2),
    "binary": (0, 2),
    "latin1": (0, 2),
    "fake_parquet": (0, 2),
    "fake_gzip": (0, 2),
    "symlink_loop": (0, 2),
}
SHORT_PATH_CASES = ("missing", "binary", "fake_parquet")


def _path_cases(kinds) -> list:
    return [
        pytest.param(path, param.name, kind, id=f"{' '.join(path)} {param.name} {kind}")
        for path, command in LEAVES.items()
        for param in read_paths(path, command)
        for kind in kinds
    ]


def _run_bad_path(path, name, kind, files, tmp_path) -> Ran:
    command = LEAVES[path]
    param = next(param for param in command.params if param.name == name)
    bad = str(_make_bad(kind, tmp_path / "bad"))
    value = [bad] if param.multiple or param.nargs == -1 else bad
    args = arguments(command, {**baseline(path, command, name), name: value}, files, tmp_path / "out")
    return run_in_process([*path, *args])


def _judge_bad_path(ran: Ran, kind: str) -> None:
    if BAD_PATHS[kind] == (2,):
        assert_user_error(ran)
    elif "127.0.0.1:9" in " ".join(ran.args) and "connection" in ran.output.lower():
        # the file was fine for what reads it; the run then reached the baseline's closed port
        assert_no_traceback(ran, (1,))
    else:
        assert_no_traceback(ran, BAD_PATHS[kind])


@pytest.mark.parametrize(("path", "name", "kind"), _path_cases(SHORT_PATH_CASES))
def test_bad_path(path, name, kind, files, tmp_path):
    _judge_bad_path(_run_bad_path(path, name, kind, files, tmp_path), kind)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "name", "kind"), _path_cases([kind for kind in BAD_PATHS if kind not in SHORT_PATH_CASES])
)
def test_bad_path_hostile(path, name, kind, files, tmp_path):
    _judge_bad_path(_run_bad_path(path, name, kind, files, tmp_path), kind)
