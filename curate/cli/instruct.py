"""`curate convert` and `curate render`: instruction and preference data between formats and templates."""

from __future__ import annotations

from pathlib import Path

import click

from curate.cli.options import (
    executor_options,
    format_choices,
    output_options,
    record_input_options,
    record_job_arguments,
)
from curate.cli.summary import summary
from curate.instruct.render_layouts import DEFAULT_LAYOUT, LAYOUTS


def _convert_help() -> str:
    from curate.instruct import formats

    def listed(names: tuple[str, ...]) -> str:
        return ", ".join(name if formats.FORMATS[name].writable else f"{name} (read only)" for name in names)

    return f"""Convert instruction or preference data between formats.

\b
SFT formats:        {listed(formats.SFT_FORMATS)}
Preference formats: {listed(formats.PREFERENCE_FORMATS)}

Rows that cannot be converted (an empty turn, roles out of order, a transcript without
an Assistant turn, chosen equal to rejected...) go to rejected/ with the reason and
their original record. Beside the shards, OUTPUT gets a dataset card (README.md), a
LLaMA-Factory dataset_info.json entry and an Axolotl datasets: snippet (axolotl.yaml)
where those trainers read the format.

\b
Examples:
  curate convert alpaca_data.json -o out/sft --to messages
  curate convert chats.jsonl -o out/sharegpt --to sharegpt
  curate convert hh_rlhf.jsonl.gz -o out/prefs --to preference
  curate convert ko_pairs.txt --input-format jsonl --from hh-rlhf -o out/ko --to preference
"""


@click.command("convert", help=_convert_help())
@record_input_options
@output_options
@click.option(
    "--to",
    "to_format",
    required=True,
    type=click.Choice(format_choices(writable=True)),
    help="Format to write.",
)
@click.option(
    "--from",
    "from_format",
    type=click.Choice(format_choices()),
    default=None,
    help="Format of the inputs (default: read from each file's first record).",
)
@executor_options
@click.pass_context
def convert_command(ctx: click.Context, **params) -> None:
    from curate.instruct.command import convert_dataset

    result = convert_dataset(
        list(params["inputs"]),
        params["output"],
        params["to_format"],
        params["from_format"],
        **record_job_arguments(ctx, params),
    )
    click.echo(summary(result))


def _template_help() -> str:
    from curate.instruct.templates import shipped_templates

    return ", ".join(shipped_templates()) or "none found"


@click.command("render")
@record_input_options
@output_options
@click.option(
    "--template",
    "template_name",
    default=None,
    metavar="NAME|PATH",
    help=f"A shipped template ({_template_help()}) or a .jinja file.",
)
@click.option(
    "--tokenizer",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    help="A Hugging Face tokenizer folder: its chat template (unless --template) and special tokens.",
)
@click.option(
    "--eos-token",
    default=None,
    help="End-of-sequence text for templates that use eos_token (overrides the tokenizer's).",
)
@click.option(
    "--from",
    "from_format",
    type=click.Choice(format_choices("sft")),
    default=None,
    help="Format of the inputs (default: read from each file's first record).",
)
@click.option(
    "--columns",
    type=click.Choice(list(LAYOUTS)),
    default=DEFAULT_LAYOUT,
    show_default=True,
    help="prompt-completion: TRL SFTTrainer's prompt-completion type, Axolotl and LLaMA-Factory (template: empty). "
    "text: `text` + `assistant_spans`, for TRL's dataset_text_field or curate train-sft. "
    "all: the conversation too (messages), for trainers that render it themselves; TRL reads it two ways.",
)
@click.option(
    "--text-column",
    is_flag=True,
    help="Also write the whole rendered text as `text` and its assistant spans as `assistant_spans`.",
)
@executor_options
@click.pass_context
def render_command(ctx: click.Context, **params) -> None:
    """Render conversations with a chat or instruction template.

    Each row gets `prompt` (everything before the last assistant turn, generation prompt
    included) and `completion` (that turn with its end-of-turn marker), so trainers that
    take prompt/completion learn only the answer. With --text-column (or --columns text),
    `text` holds the whole conversation and `assistant_spans` the [start, end) characters
    of every assistant turn: found for any template, without {% generation %} tags.
    --columns picks the layout, one that each trainer reads one way only (the folder's
    README.md says which trainer option reads it, beside LLaMA-Factory and Axolotl files).
    Templates run in a sandbox; a row the template cannot render, or whose assistant turns
    it drops, goes to rejected/ with the reason.

    \b
    Examples:
      curate render sample_data/instructions/seed_tasks.en.jsonl -o out/alpaca --template alpaca
      curate render chats.jsonl -o out/chatml --template chatml --text-column
      curate render chats.jsonl -o out/qwen --tokenizer models/Qwen2.5-0.5B-Instruct --text-column
      curate render data.jsonl -o out/custom --template my_template.jinja --eos-token '</s>'
    """
    from curate.instruct.command import render_dataset
    from curate.instruct.templates import chosen_template

    template = chosen_template(params["template_name"], params["tokenizer"], params["eos_token"])
    result = render_dataset(
        list(params["inputs"]),
        params["output"],
        template,
        params["from_format"],
        params["text_column"],
        params["columns"],
        **record_job_arguments(ctx, params),
    )
    click.echo(summary(result))
