"""Recipes: a YAML list of curate commands, each with the options of its command line.

    steps:
      - filter:
          inputs: [sample_data/web/]
          output: out/filtered
          workers: 2

Option names are the command's own (`text-field` or `text_field`); `inputs` holds the
positional arguments. A step whose output folder is already finished for the same inputs
and options is skipped by the command itself, so re-running a recipe only does new work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
import yaml

from curate.cli.options import option_words
from curate.errors import UserError


def load_recipe(path: Path) -> list[tuple[str, dict]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read recipe {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    steps = document.get("steps") if isinstance(document, dict) else None
    if not isinstance(steps, list) or not steps:
        raise UserError(f"{path}: a recipe needs a non-empty 'steps:' list")
    parsed = []
    for number, step in enumerate(steps, start=1):
        if not (isinstance(step, dict) and len(step) == 1):
            raise UserError(f"{path}: step {number} must be one 'command: {{options}}' mapping")
        ((command, options),) = step.items()
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise UserError(f"{path}: step {number} ({command}): options must be a mapping")
        parsed.append((str(command), options))
    return parsed


def _params_by_name(command: click.Command) -> dict[str, click.Parameter]:
    names = {}
    for param in command.params:
        names[param.name] = param
        for opt in param.opts + param.secondary_opts:
            if opt.startswith("--"):
                names[opt[2:].replace("-", "_")] = param
    return names


def step_arguments(command: click.Command, name: str, options: dict) -> list[str]:
    """The command-line arguments equivalent to a recipe step's options."""
    params = _params_by_name(command)
    words: list[str] = []
    positional: list[str] = []
    for key, value in options.items():
        param = params.get(str(key).replace("-", "_"))
        if param is None or param.name == "help":
            known = sorted(
                param.name if isinstance(param, click.Argument) else max(param.opts, key=len).lstrip("-")
                for param in command.params
                if param.name != "help"
            )
            raise UserError(f"curate {name} has no option '{key}' (options: {', '.join(known)})")
        if isinstance(param, click.Argument):
            positional += [str(item) for item in (value if isinstance(value, list) else [value])]
        else:
            words += option_words(param, value)
    return words + (["--", *positional] if positional else [])


def run_recipe(path: Path, group: click.Group, echo: Callable[[str], None] = click.echo) -> None:
    ctx = click.get_current_context()
    planned = []
    # Check every step before running any: a typo in the last step should not cost the first.
    for number, (name, options) in enumerate(load_recipe(path), start=1):
        command = group.get_command(ctx, name)
        if command is None or name == "run":
            raise UserError(f"{path}: step {number}: no curate command '{name}'")
        try:
            arguments = step_arguments(command, name, options)
        except UserError as error:
            raise UserError(f"{path}: step {number} ({name}): {error}") from None
        if any(param.name == "overwrite" for param in command.params):
            arguments.insert(0, "--overwrite")  # the recipe owns its folders: stale ones are rebuilt
        planned.append((number, name, command, arguments))

    for number, name, command, arguments in planned:
        echo(f"── {path.name} step {number}/{len(planned)}: curate {name}")
        try:
            command.main(args=arguments, prog_name=f"curate {name}", standalone_mode=False)
        except UserError as error:
            raise UserError(f"{path}: step {number} ({name}): {error}") from None
        except click.UsageError as error:
            raise UserError(f"{path}: step {number} ({name}): {error.format_message()}") from None
