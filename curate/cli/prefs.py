"""`curate prefs`: sample answers, judge them, pair them into preference data (and best-of-n)."""

from __future__ import annotations

from pathlib import Path

import click

from curate.cli.options import (
    SEED,
    client_options,
    client_settings,
    output_options,
    progress_option,
    prompt_format_options,
    run_arguments,
    sampling_options,
)
from curate.cli.summary import summary
from curate.llm.backend import Sampling
from curate.llm.factory import BACKENDS, REMOTE
from curate.prefs.command import Policy, PrefsSettings, prefs_dataset
from curate.prefs.judges.registry import JUDGES, JudgeOptions
from curate.prefs.pairs import STRATEGIES


@click.command("prefs")
@click.argument("inputs", nargs=-1, required=True, metavar="PROMPTS...")
@output_options
@click.option(
    "--policy",
    type=click.Choice(list(BACKENDS)),
    default=REMOTE,
    show_default=True,
    help="Where the candidate answers come from: an OpenAI-compatible server or a local model.",
)
@click.option(
    "--policy-model",
    envvar="CURATE_MODEL",
    required=True,
    metavar="NAME|PATH",
    help="The policy: a model name on the server, or a model folder (e.g. runs/sft/final). [env: CURATE_MODEL]",
)
@click.option(
    "--policy-base-url",
    envvar="CURATE_BASE_URL",
    default=None,
    metavar="URL",
    help="The policy server's OpenAI API root. [env: CURATE_BASE_URL]",
)
@click.option(
    "--judge",
    "judge_kind",
    type=click.Choice(list(JUDGES)),
    default="llm",
    show_default=True,
    help="llm: a judge model with a rubric; reward-model: a sequence-classification model's score.",
)
@click.option(
    "--judge-model",
    required=True,
    metavar="NAME|PATH",
    help="The judge: a model name on the server (llm), or a reward model folder (e.g. runs/rm/final).",
)
@click.option(
    "--judge-base-url",
    default=None,
    metavar="URL",
    help="The judge server's OpenAI API root (default: --policy-base-url).",
)
@click.option(
    "--rubric",
    default=None,
    metavar="PATH",
    help="A .jinja rubric for the llm judge (default: templates/prompts/judge_pointwise.jinja; with --pairwise, "
    "the comparison prompt, default judge_pairwise.jinja); runs sandboxed.",
)
@click.option(
    "--pairwise",
    is_flag=True,
    help="llm judge: compare candidates two by two in both orders (cancels position bias) instead of scoring each.",
)
@click.option(
    "--n", "samples", type=click.IntRange(min=1), default=4, show_default=True, help="Answers sampled per prompt."
)
@click.option(
    "--pairing",
    type=click.Choice(list(STRATEGIES)),
    default=PrefsSettings.pairing,
    show_default=True,
    help="Which scored candidates become chosen/rejected pairs.",
)
@click.option(
    "--min-margin",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Drop pairs whose scores differ by less (ties are always dropped).",
)
@click.option(
    "--include-existing",
    is_flag=True,
    help="Also judge the answers the input already holds (the last assistant turn; chosen and rejected).",
)
@sampling_options(1.0, 1.0, 1024, whose="policy ", cut="; cut answers are dropped")
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of every sample, the judge's requests and best-random.",
)
@click.option(
    "--best-of-n-out",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    help="Also write each prompt's best answer as SFT rows here (rejection sampling).",
)
@click.option(
    "--min-score", type=float, default=None, help="--best-of-n-out: the best answer must score at least this."
)
@prompt_format_options
@client_options
@progress_option
@click.pass_context
def prefs_command(ctx: click.Context, **params) -> None:
    """Sample answers, judge them, and pair them into preference data (and best-of-n SFT data).

    PROMPTS is any SFT or preference data `curate convert` reads; a prompt is the
    conversation up to its last user turn. The policy answers each --n times (cut, empty
    and failed answers are dropped with their reason); the judge scores every distinct
    answer: an llm judge with a rubric (a reply without a usable score is a counted failure,
    never a 0), or a reward model. Pairs are made by --pairing; ties and pairs under
    --min-margin are dropped. Output: TRL's preference columns plus `margin` and the judge's
    rationales; report.md has the score histogram, judge failures, tie rate and tokens.
    Both models' answers are cached: a killed run resumes without resending.

    \b
    Examples:
      curate prefs prompts.jsonl -o out/prefs --policy-base-url http://127.0.0.1:8000/v1 \\
          --policy-model Qwen/Qwen2.5-7B-Instruct --judge-model Qwen/Qwen2.5-72B-Instruct --n 4
      curate prefs out/quickstart/preferences -o out/prefs --policy local --policy-model runs/sft/final \\
          --judge reward-model --judge-model runs/rm/final --best-of-n-out out/best
      curate prefs prompts.jsonl -o out/prefs --policy-model gpt-4o-mini --judge-model gpt-4o --pairwise --pairing all-pairs
    """
    client = client_settings(params)
    settings = PrefsSettings(
        n=params["samples"], pairing=params["pairing"], min_margin=params["min_margin"],
        include_existing=params["include_existing"],
        sampling=Sampling(params["temperature"], params["top_p"], params["max_tokens"]), seed=params["seed"],
        best_of_n_out=params["best_of_n_out"], min_score=params["min_score"],
    )  # fmt: skip
    judge = JudgeOptions(
        model=params["judge_model"], base_url=params["judge_base_url"],
        rubric=params["rubric"], pairwise=params["pairwise"], seed=params["seed"], client=client,
    )  # fmt: skip
    result, best = prefs_dataset(
        list(params["inputs"]), params["output"], settings,
        Policy(params["policy"], params["policy_model"], params["policy_base_url"], client), params["judge_kind"], judge,
        from_format=params["from_format"], **run_arguments(ctx, params),
    )  # fmt: skip
    click.echo(summary(result))
    if not result.skipped:
        run = result.manifest["prefs"]
        click.echo(
            f"  {run['prompts']:,} prompts, {run['candidates']:,} candidates, {run['judged']:,} judged, "
            f"{run['pairs_considered']:,} pairs considered, {run['ties']:,} ties; report: {params['output'] / 'report.md'}"
        )
    if best is not None:
        click.echo(f"  best-of-n: {best.manifest['counts']['kept']:,} SFT rows in {best.output}/")
