"""`curate generate`: a teacher answers every prompt; the answers become SFT rows."""

from __future__ import annotations

import click

from curate.cli.options import (
    SEED,
    client_options,
    client_settings,
    model_options,
    output_options,
    progress_option,
    prompt_format_options,
    run_arguments,
    sampling_options,
)
from curate.cli.summary import llm_summary
from curate.llm.backend import Sampling


@click.command("generate")
@click.argument("inputs", nargs=-1, required=True, metavar="PROMPTS...")
@output_options
@model_options
@click.option("--n", "samples", type=click.IntRange(min=1), default=1, show_default=True, help="Answers per prompt.")
@sampling_options(0.7, 1.0, 1024, cut="; a cut answer is rejected as cut_by_length")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of every request (and the cache keys).")
@prompt_format_options
@client_options
@progress_option
@click.pass_context
def generate_command(ctx: click.Context, **params) -> None:
    """Answer every prompt with a teacher model and write the answers as SFT rows.

    PROMPTS is any SFT or preference data `curate convert` reads (Alpaca, messages,
    ShareGPT, seed tasks...); a prompt is the conversation up to its last user turn. Each is
    answered --n times through the answer cache, with retries; failed, empty, cut and
    repeated answers go to rejected/ with their reason. The rows hold `messages` and, for
    one-turn prompts, Alpaca's instruction/input/output. This is the Alpaca-GPT4 / KoAlpaca
    v1.1 step: native questions answered by a strong model.

    \b
    Examples:
      curate generate questions.jsonl -o out/answers --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-72B-Instruct
      curate generate ko_questions.jsonl -o out/ko-answers --model gpt-4o --n 2 --temperature 0.9
      curate generate out/quickstart/alpaca -o out/regenerated --backend local --model runs/sft/final
    """
    from curate.instruct.generate import GenerateSettings, generate_dataset
    from curate.prefs.command import Policy

    client = client_settings(params)
    settings = GenerateSettings(
        n=params["samples"],
        sampling=Sampling(params["temperature"], params["top_p"], params["max_tokens"]),
        seed=params["seed"],
    )
    teacher = Policy(params["backend"], params["model"], params["base_url"], client)
    result = generate_dataset(
        list(params["inputs"]), params["output"], settings, teacher, from_format=params["from_format"],
        **run_arguments(ctx, params),
    )  # fmt: skip
    click.echo(llm_summary(result, params["output"]))
