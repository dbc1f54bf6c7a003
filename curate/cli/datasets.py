"""`curate inspect` and `curate run`: look into a dataset folder, run a recipe of commands."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-n", "--rows", type=click.IntRange(min=0), default=3, show_default=True, help="Sample rows to show.")
def inspect_command(path: Path, rows: int) -> None:
    """Show what a dataset folder, Parquet, JSONL, text or WET file holds.

    For a dataset folder: how it was made, rows kept and rejected by reason, the schema
    and a few rows. For a file: its records, what cannot be read, and a few documents.

    \b
    Examples:
      curate inspect out/quickstart/filtered
      curate inspect out/quickstart/filtered/rejected/shard-00000.parquet -n 10
      curate inspect crawl/part-000.jsonl.gz
    """
    from curate.io.inspect import describe

    click.echo(describe(path, rows))


@click.command("run")
@click.argument("recipe", type=click.Path(path_type=Path))
def run_command(recipe: Path) -> None:
    """Run the commands of a recipe YAML in order.

    Each step is a curate command with the same option names as on the command line.
    Steps whose output folder is finished for the same inputs and options are skipped;
    unfinished ones resume; stale ones (changed inputs or options) are rebuilt.

    \b
    Example recipe:
      steps:
        - filter:
            inputs: [raw/]
            output: out/filtered
            workers: 4
    \b
    Example:
      curate run recipes/quickstart.yaml
    """
    from curate.cli.recipe import run_recipe

    run_recipe(recipe, click.get_current_context().find_root().command)
