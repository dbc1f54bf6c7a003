"""The `curate` command line: one module per stage, each command a thin shell over one library call.

A command is a click command in one of these modules and one line of COMMANDS. Commands are
imported only when they run (or their --help is asked for), so `curate --help` starts at once.
"""

from __future__ import annotations

import importlib

import click

import curate
from curate.errors import RunFailed, UserError

# name -> (module, attribute, the line `curate --help` shows), in the order of the journey.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "filter": ("curate.cli.corpus", "filter_command", "Clean, identify the language of, and filter a corpus."),
    "dedup": ("curate.cli.corpus", "dedup_command", "Remove exact and near-duplicate documents (and lines)."),
    "quality": ("curate.cli.corpus", "quality_group", "Train the fastText classifier of the quality step."),
    "convert": ("curate.cli.instruct", "convert_command", "Convert instruction or preference data between formats."),
    "render": ("curate.cli.instruct", "render_command", "Render conversations with a chat or instruction template."),
    "self-instruct": ("curate.cli.self_instruct", "self_instruct_command", "Grow an instruction set from seed tasks."),
    "prefs": ("curate.cli.prefs", "prefs_command", "Sample, judge and pair answers into preference data."),
    "init-model": ("curate.cli.train", "init_model_command", "Make a random chat model here, without downloads."),
    "train-sft": ("curate.cli.train", "train_sft_command", "Supervised fine-tuning on instruction data."),
    "train-dpo": ("curate.cli.train", "train_dpo_command", "Direct Preference Optimisation on preference pairs."),
    "train-rm": ("curate.cli.train", "train_rm_command", "Train a reward model on preference pairs."),
    "inspect": ("curate.cli.datasets", "inspect_command", "Show what a dataset folder or file holds."),
    "run": ("curate.cli.datasets", "run_command", "Run the commands of a recipe YAML in order."),
}


class _OneLineError(click.ClickException):
    """Printed by click as `Error: message`, no traceback, with our exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class CurateGroup(click.Group):
    """Loads each command on first use (click's "lazy loading" pattern); turns curate's own
    errors into one line and their exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # the short help from the table: listing the commands imports none of them
        with formatter.section("Commands"):
            formatter.write_dl([(name, line) for name, (_, _, line) in COMMANDS.items()])

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (UserError, RunFailed) as error:
            raise _OneLineError(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            raise _OneLineError("interrupted; run the same command again to resume where it stopped", 130) from None


@click.group(cls=CurateGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(curate.__version__, prog_name="curate")
def cli() -> None:
    """Build the data that turns a pretrained language model into an assistant.

    Every command reads files and writes a dataset folder: zstd Parquet shards in data/,
    every dropped row with its reason in rejected/, report.md, and _manifest.json last.
    Re-running a command resumes an unfinished folder and skips a finished one.

    \b
    Start with:
      curate run recipes/quickstart.yaml
      curate inspect out/quickstart/filtered
    """


def main() -> None:
    cli(prog_name="curate")
