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

import os
from collections.abc import Callable
from pathlib import Path

import click

from curate.cli.options import option_words
from curate.errors import UserError
from curate.io.remote import RemoteOutput, is_url
from curate.io.yaml_limits import load_yaml
from curate.pipeline import ownership

TOP_LEVEL_KEYS = ("steps", "description")
# Options naming a folder a command writes: two steps may not share one.
OUTPUT_OPTIONS = ("output", "best_of_n_out")


def load_recipe(path: Path) -> list[tuple[str, dict]]:
    document = load_yaml(path, "recipe")
    if isinstance(document, dict) and set(document) - set(TOP_LEVEL_KEYS):
        unknown = sorted(str(key) for key in set(document) - set(TOP_LEVEL_KEYS))
        raise UserError(f"{path}: unknown top-level key '{unknown[0]}' (a recipe has: {', '.join(TOP_LEVEL_KEYS)})")
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
            _check_value(param, key, value)
            words += option_words(param, value)
    return words + (["--", *positional] if positional else [])


def _check_value(param: click.Parameter, key: object, value: object) -> None:
    """YAML values a command line could not have given: a flag is true or false (YAML reads
    `"no"` as a string, which would switch the flag on), one value is not a list or mapping."""
    if getattr(param, "is_flag", False) and not isinstance(value, bool):
        raise UserError(f"option '{key}' is a flag: write true or false, not {value!r}")
    if isinstance(value, dict) or (isinstance(value, list) and not param.multiple):
        raise UserError(f"option '{key}' takes one value, not {value!r}")


def step_outputs(command: click.Command, options: dict) -> list[Path]:
    """The folders a step writes, from its options."""
    params = _params_by_name(command)
    outputs = []
    for key, value in options.items():
        param = params.get(str(key).replace("-", "_"))
        if param is not None and param.name in OUTPUT_OPTIONS and value is not None:
            outputs.append(RemoteOutput(str(value).rstrip("/")) if is_url(value) else Path(str(value)))
    return outputs


def _refuse_shared_outputs(path: Path, planned: list[tuple[int, str, list[Path]]]) -> None:
    seen: dict[str, tuple[int, str]] = {}
    for number, name, outputs in planned:
        for output in outputs:
            key = os.path.realpath(output)
            for other, (other_number, other_name) in seen.items():
                if key == other or other.startswith(key + os.sep) or key.startswith(other + os.sep):
                    raise UserError(
                        f"{path}: steps {other_number} ({other_name}) and {number} ({name}) both write "
                        f"{output} (or a folder inside the other's); give each step its own output folder"
                    )
            seen[key] = (number, name)


def made_by_recipe(output: Path, recipe: Path) -> bool:
    """Whether `output` is new, or a folder this recipe made: only those get --overwrite."""
    if isinstance(output, RemoteOutput):
        return output.made_by(recipe.resolve())
    if not output.exists():
        return True
    marker = ownership.marker(output)
    if marker is None:
        return output.is_dir() and not ownership.entries(output)
    return marker.get("recipe") == str(recipe.resolve())


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
        planned.append((number, name, command, arguments, step_outputs(command, options)))
    _refuse_shared_outputs(path, [(number, name, outputs) for number, name, _, _, outputs in planned])

    for number, name, command, arguments, outputs in planned:
        echo(f"── {path.name} step {number}/{len(planned)}: curate {name}")
        # The recipe rebuilds a stale folder only if it made it; one made by hand or by another
        # recipe is skipped when finished for the same job, and otherwise refused.
        foreign = [output for output in outputs if not made_by_recipe(output, path)]
        if any(param.name == "overwrite" for param in command.params) and not foreign:
            arguments = ["--overwrite", *arguments]
        try:
            with ownership.made_by(path.resolve()):
                command.main(args=arguments, prog_name=f"curate {name}", standalone_mode=False)
        except UserError as error:
            why = f" (the recipe did not make {foreign[0]}, so it never replaces it)" if foreign else ""
            raise UserError(f"{path}: step {number} ({name}): {error}{why}") from None
        except click.UsageError as error:
            raise UserError(f"{path}: step {number} ({name}): {error.format_message()}") from None
