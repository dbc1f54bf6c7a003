"""`curate label`: people label in a web app; the answers become a dataset folder."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from curate.cli.options import prompt_format_options
from curate.cli.summary import summary

DEFAULT_URL = "http://127.0.0.1:8080"


@click.group("label")
def label_group() -> None:
    """Human labelling: compare, rank or rate answers, or write them, in a small web app.

    \b
    Examples:
      curate label init out/prefs -o labels/hh --task compare --overlap 3 --guidelines guide.md
      curate label add labels/hh alice            # prints alice's login link (shown once)
      curate label add labels/hh lead --admin     # admins also see progress and agreement
      curate label serve labels/hh --port 8080
      curate label export labels/hh -o out/human-prefs
    """


@label_group.command("init")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o", "--output", "output", required=True, type=click.Path(path_type=Path), help="The project folder to make."
)
@click.option("--task", type=click.Choice(["compare", "rank", "rate", "write"]), required=True,
              help="compare: pick the better of two answers; rank: order n answers; rate: 1-5 per answer; write: "
              "write the answer (prefilled with the input's answer, if any).")  # fmt: skip
@click.option("--guidelines", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A Markdown file shown to labellers before the items (default: a short one for the task).")  # fmt: skip
@click.option("--overlap", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many different labellers see each item (agreement needs 2 or more).")  # fmt: skip
@prompt_format_options
def init_command(inputs, output, task, guidelines, overlap, input_format, from_format) -> None:
    """Make a labelling project from any data `convert` and `prefs` read.

    compare, rank and rate need prompts with two or more answers: preference rows (chosen and
    rejected), or SFT rows sharing a prompt. write needs prompts.
    """
    from curate.label.init import init_project

    made = init_project(list(inputs), output, task, guidelines, overlap, input_format, from_format)
    click.echo(f"label: {made['items']:,} items to {task} (each by {overlap} labeller(s)) in {output}/")
    click.echo(f"  next: curate label add {output} NAME [--admin], then curate label serve {output}")


@label_group.command("add")
@click.argument("project", type=click.Path(path_type=Path))
@click.argument("name")
@click.option("--admin", is_flag=True, help="May see the admin page: progress and agreement.")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="Where `curate label serve` will be reached.")
def add_command(project: Path, name: str, admin: bool, url: str) -> None:
    """Add a labeller and print their login link (its token is stored only as a hash: keep the link)."""
    from curate.label.store import Project

    store = Project(project)
    try:
        token = store.add_labeller(name, admin)
    finally:
        store.close()
    click.echo(f"{name}{' (admin)' if admin else ''}: {url.rstrip('/')}/login?token={token}")
    click.echo(f"  API: Authorization: Bearer {token}")


@label_group.command("serve")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: every one).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
def serve_command(project: Path, host: str, port: int) -> None:
    """Serve the labelling app and its JSON API (see the README) until Ctrl-C."""
    from curate.label.server import serve
    from curate.label.store import Project

    Project(project).close()  # a folder that is not a project: one line, before the server starts
    serve(project, host, port)


@label_group.command("export")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Dataset folder to write.")
@click.option("--overwrite", is_flag=True, help="Replace an export made from earlier answers.")
@click.option(
    "--min-votes", type=click.IntRange(min=1), default=None, metavar="N",
    help="Answers an item needs to be exported (default: the project's --overlap); fewer: label:incomplete.",
)  # fmt: skip
def export_command(project: Path, output: Path, overwrite: bool, min_votes: int | None) -> None:
    """Write the answers as a dataset folder: preference rows by majority vote (compare, rank),
    scored rows (rate) or SFT rows (write), with report.md and agreement.png."""
    from curate.label.export import export_project

    words = ["curate", "label", "export", str(project), "-o", str(output)] + ["--overwrite"] * overwrite
    words += ["--min-votes", str(min_votes)] if min_votes is not None else []
    result = export_project(project, output, command_line=shlex.join(words), overwrite=overwrite, min_votes=min_votes)
    click.echo(summary(result))
    if not result.skipped:
        click.echo(f"  report: {output / 'report.md'}")
