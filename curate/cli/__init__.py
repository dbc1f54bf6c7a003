"""The `curate` command line: one module per stage, each command a thin shell over one library call.

A command is a click command in one of these modules and one line of COMMANDS. Commands are
imported only when they run (or their --help is asked for), so `curate --help` starts at once.
"""

from __future__ import annotations

import errno
import importlib
import re

import click

import curate
from curate.errors import RunFailed, UserError

# name -> (module, attribute, the line `curate --help` shows), in the order of the journey.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "extract": ("curate.cli.extract", "extract_command", "Extract the main text of the HTML pages in WARC files."),
    "filter": ("curate.cli.corpus", "filter_command", "Clean, identify the language of, and filter a corpus."),
    "dedup": ("curate.cli.corpus", "dedup_command", "Remove exact and near-duplicate documents (and lines)."),
    "quality": ("curate.cli.corpus", "quality_group", "Train the fastText classifier of the quality step."),
    "train-tokenizer": ("curate.cli.train_tokenizer", "train_tokenizer_command", "Train a tokenizer on a corpus."),
    "tokenize": ("curate.cli.tokenize", "tokenize_command", "Turn documents into token shards for pretraining."),
    "convert": ("curate.cli.instruct", "convert_command", "Convert instruction or preference data between formats."),
    "render": ("curate.cli.instruct", "render_command", "Render conversations with a chat or instruction template."),
    "self-instruct": ("curate.cli.self_instruct", "self_instruct_command", "Grow an instruction set from seed tasks."),
    "generate": ("curate.cli.generate", "generate_command", "Answer every prompt with a teacher model: SFT rows."),
    "translate": (
        "curate.cli.translate",
        "translate_command",
        "Translate SFT or preference data field by field, structure kept.",
    ),
    "select": ("curate.cli.select", "select_command", "Select a small, diverse, high-quality instruction subset."),
    "prefs": ("curate.cli.prefs", "prefs_command", "Sample, judge and pair answers into preference data."),
    "label": ("curate.cli.label", "label_group", "Human labelling in a web app: compare, rank, rate, write."),
    "init-model": ("curate.cli.train", "init_model_command", "Make a random chat model here, without downloads."),
    "train-sft": ("curate.cli.train", "train_sft_command", "Supervised fine-tuning on instruction data."),
    "train-dpo": ("curate.cli.train", "train_dpo_command", "Direct Preference Optimisation on preference pairs."),
    "train-rm": ("curate.cli.train", "train_rm_command", "Train a reward model on preference pairs."),
    "train-ppo": ("curate.cli.train_rl", "train_ppo_command", "PPO against a reward model, KL to the reference."),
    "train-grpo": ("curate.cli.train_rl", "train_grpo_command", "GRPO or RLOO with reward models or functions."),
    "merge-lora": ("curate.cli.merge_lora", "merge_lora_command", "Merge a LoRA adapter into its base model."),
    "inspect": ("curate.cli.datasets", "inspect_command", "Show what a dataset folder or file holds."),
    "run": ("curate.cli.datasets", "run_command", "Run the commands of a recipe YAML in order."),
}


# An OS error naming a path that is not there, not the user's to use, or of the wrong kind
# (a folder for a file...): the user named it, directly or as the output folder.
_PATH_MISTAKES = frozenset(
    {
        errno.ENOENT,
        errno.EACCES,
        errno.EPERM,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.ELOOP,
        errno.ENAMETOOLONG,
        errno.EROFS,
        errno.EEXIST,
        errno.ENOTEMPTY,
        errno.ENXIO,
    }
)


class _OneLineError(click.ClickException):
    """Printed by click as `Error: message`, no traceback, with our exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        from curate.llm.redact import scrub  # a server's reply or a URL in a message may hold a secret

        super().__init__(one_line(scrub(message)))
        self.exit_code = exit_code


def one_line(message: str) -> str:
    """`message` with its line breaks (and the indents after them) turned into single spaces."""
    return re.sub(r"\s*\n\s*", " ", message.strip())


def _checked_numbers(command: click.Command) -> None:
    """Give every float option of `command` (and of its subcommands) the FiniteFloat type, and
    every int option the Int64 type, keeping their ranges."""
    from curate.cli.options import FiniteFloat, Int64

    for param in command.params:
        if isinstance(param.type, click.types.FloatParamType) and not isinstance(param.type, FiniteFloat):
            param.type = FiniteFloat.like(param.type)
        elif isinstance(param.type, click.types.IntParamType) and not isinstance(param.type, Int64):
            param.type = Int64.like(param.type)
    for subcommand in getattr(command, "commands", {}).values():
        _checked_numbers(subcommand)


class CurateGroup(click.Group):
    """Loads each command on first use (click's "lazy loading" pattern); turns curate's own
    errors, and a user's mistakes that escaped them, into one line and their exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        command = getattr(importlib.import_module(module), attribute)
        # nan and inf pass click's float types and ranges, and any int passes its int type; no
        # option of curate means nan, inf or more than 64 bits, so every number option of every
        # command (and of every filter step) refuses them here, at parse time, whoever declares it
        _checked_numbers(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # the short help from the table: listing the commands imports none of them
        with formatter.section("Commands"):
            formatter.write_dl([(name, line) for name, (_, _, line) in COMMANDS.items()])

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (UserError, RunFailed) as error:
            raise _OneLineError(str(error), error.exit_code) from None
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            # click lists a missing option's choices one a line; the promise is one line
            raise click.UsageError(one_line(error.format_message()), error.ctx) from None
        # The safety net, for a mistake that escaped the code meant to catch it: an OS error
        # naming a path, or bytes that are not UTF-8 (curate writes only UTF-8, so those are a
        # user's file). Every other exception is a bug and keeps its traceback: a one-line
        # "something failed" would hide where it is.
        except OSError as error:
            if error.filename is None:
                raise
            where = error.filename if error.filename2 is None else f"{error.filename} -> {error.filename2}"
            code = 2 if error.errno in _PATH_MISTAKES else 1
            raise _OneLineError(f"{where}: {error.strerror or error}", code) from None
        except UnicodeDecodeError as error:
            raise _OneLineError(
                f"a file is not UTF-8 text ({error.reason}, byte {error.start}); save it as UTF-8", 2
            ) from None
        except ValueError as error:
            if "null byte" not in str(error):
                raise
            raise _OneLineError("a path or value holds a NUL byte (\\0), which no file name can", 2) from None
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
    from curate.pipeline.pool import use_executor

    use_executor("local")  # each command names its own (--executor); none carries to the next


def main() -> None:
    cli(prog_name="curate")
