"""`curate select`: a small, diverse, high-quality subset of an instruction set."""

from __future__ import annotations

import click

from curate.cli.options import (
    SEED,
    client_options,
    client_settings,
    output_options,
    progress_option,
    prompt_format_options,
    run_arguments,
)
from curate.cli.summary import summary


@click.command("select")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@output_options
@click.option(
    "--budget",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Rows to select (default: every row that passes).",
)
@click.option(
    "--judge",
    type=click.Choice(["llm", "reward-model"]),
    default=None,
    help="The quality score: llm (a 1-5 rating with a rubric, AlpaGasus-style; Korean rows get a Korean rubric) or "
    "reward-model (a reward model's score). Default: llm when --judge-model is given, else no quality score.",
)
@click.option(
    "--judge-model",
    default=None,
    metavar="NAME|PATH",
    help="The judge: a model name on the server (llm), or a reward model folder.",
)
@click.option(
    "--base-url",
    envvar="CURATE_BASE_URL",
    default=None,
    metavar="URL",
    help="The OpenAI API root of the llm judge and complexity rater (default: api.openai.com). [env: CURATE_BASE_URL]",
)
@click.option(
    "--rubric",
    default=None,
    metavar="PATH",
    help="A .jinja quality rubric for the llm judge (variables messages, answer, low, high); runs sandboxed.",
)
@click.option(
    "--min-quality",
    type=float,
    default=None,
    metavar="X",
    help="Reject rows whose quality is below X as select:below_quality (AlpaGasus kept 4.5 and up of 5).",
)
@click.option(
    "--complexity",
    type=click.Choice(["proxy", "llm", "none"]),
    default="proxy",
    show_default=True,
    help="The complexity score: proxy (instruction length and constraints, no model), llm (a 1-5 rating of the "
    "instruction, Deita-style), or none.",
)
@click.option(
    "--complexity-model",
    default=None,
    metavar="NAME",
    help="The complexity rater on the server (default: --judge-model).",
)
@click.option(
    "--embedding-model",
    default=None,
    metavar="PATH|NAME",
    help="Sentence embeddings for diversity: a Hugging Face model folder or id (mean pooling), or with "
    "--embedding-base-url a model name on an OpenAI-compatible /v1/embeddings endpoint. Without it, no diversity check.",
)
@click.option("--embedding-base-url", default=None, metavar="URL", help="The embedding endpoint's OpenAI API root.")
@click.option(
    "--embedding-batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Texts per embedding request (TEI accepts 32 by default; OpenAI up to 2048) or per forward pass.",
)
@click.option("--embed-answer", is_flag=True, help="Embed the instruction and its answer (default: the instruction).")
@click.option(
    "--max-cosine",
    type=click.FloatRange(-1, 1),
    default=0.9,
    show_default=True,
    help="A row is too_similar when its cosine to a selected row exceeds this (SemDeDup-style).",
)
@click.option(
    "--index",
    type=click.Choice(["auto", "exact", "approximate"]),
    default="auto",
    show_default=True,
    help="Nearest selected row by exact search, or by an approximate index (faiss IVF, pip install "
    "'curate[select]'); auto: approximate from 100,000 rows when faiss is installed.",
)
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Order of equal scores, and the seed of every request."
)
@prompt_format_options
@client_options
@progress_option
@click.pass_context
def select_command(ctx: click.Context, **params) -> None:
    """Select a small, diverse, high-quality subset of instruction data.

    INPUT is any SFT data `curate convert` reads. Each row gets a heuristic floor (empty,
    cut-off or refused answers, the question said back), then optional `quality` and
    `complexity` scores (columns of the output). Rows are ranked by the product of the
    scores' percentile ranks and walked best first: a row is kept unless its embedding's
    cosine to a kept row exceeds --max-cosine, until --budget rows are kept. Every row not
    selected is in rejected/ with its scores and reason: select:below_quality,
    select:too_similar, select:over_budget. report.md shows the score histograms, a map of
    the embeddings and the share of each source kept. LLM ratings and endpoint embeddings
    are cached: a re-run sends no request twice.

    \b
    Examples:
      curate select alpaca.json -o out/alpaca-1k --budget 1000 --judge-model gpt-4o-mini \\
          --embedding-model BAAI/bge-small-en-v1.5
      curate select out/sft -o out/picked --budget 500 --judge llm --judge-model Qwen/Qwen2.5-7B-Instruct \\
          --base-url http://127.0.0.1:8000/v1 --complexity llm \\
          --embedding-model bge-m3 --embedding-base-url http://127.0.0.1:8001/v1 --max-cosine 0.85
      curate select out/quickstart/alpaca -o out/picked --budget 40 --judge reward-model \\
          --judge-model out/quickstart/runs/rm/final --embedding-model out/quickstart/model
    """
    from curate.instruct.select.command import SelectSettings, select_dataset
    from curate.instruct.select.scores import ScoreOptions

    judge = params["judge"] or ("llm" if params["judge_model"] else None)
    scoring = ScoreOptions(
        judge=judge, judge_model=params["judge_model"], base_url=params["base_url"], rubric=params["rubric"],
        complexity=params["complexity"], complexity_model=params["complexity_model"], seed=params["seed"],
        client=client_settings(params),
    )  # fmt: skip
    settings = SelectSettings(
        budget=params["budget"], max_cosine=params["max_cosine"], min_quality=params["min_quality"],
        embedding_model=params["embedding_model"], embedding_base_url=params["embedding_base_url"],
        embed_answer=params["embed_answer"], embedding_batch=params["embedding_batch_size"], index=params["index"],
        seed=params["seed"],
    )  # fmt: skip
    result = select_dataset(
        list(params["inputs"]), params["output"], settings, scoring, from_format=params["from_format"],
        **run_arguments(ctx, params),
    )  # fmt: skip
    click.echo(summary(result))
    if not result.skipped:
        click.echo(f"  report: {params['output'] / 'report.md'}")
