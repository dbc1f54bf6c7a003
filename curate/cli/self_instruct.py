"""`curate self-instruct`: grow an instruction set from seed tasks with a language model."""

from __future__ import annotations

from pathlib import Path

import click

from curate.cli.options import (
    SEED,
    client_options,
    client_settings,
    format_choices,
    model_options,
    output_options,
    progress_option,
    record_format_option,
    run_arguments,
    sampling_options,
)
from curate.cli.summary import summary
from curate.instruct.self_instruct.checks import TaskChecks, read_blacklist
from curate.instruct.self_instruct.grow import SelfInstructSettings
from curate.instruct.self_instruct.languages import LANGUAGES
from curate.instruct.self_instruct.similarity import KOREAN_TOKENS


@click.command("self-instruct")
@client_options
@click.option(
    "--seeds",
    required=True,
    metavar="FILE",
    help="Seed tasks: Alpaca seed-task JSONL, or any SFT format convert reads.",
)
@output_options
@click.option("--num", type=click.IntRange(min=1), required=True, help="Stop once this many new tasks are accepted.")
@model_options
@click.option(
    "--lang",
    type=click.Choice(list(LANGUAGES)),
    default="en",
    show_default=True,
    help="Language of the prompt, the filters and the ROUGE-L tokens.",
)
@click.option(
    "--ko-tokens",
    type=click.Choice(KOREAN_TOKENS),
    default="auto",
    show_default=True,
    help="--lang ko: ROUGE-L over Kiwi morphemes or characters (auto: Kiwi when installed).",
)
@click.option(
    "--seed-examples",
    type=click.IntRange(min=0),
    default=SelfInstructSettings.seed_examples,
    show_default=True,
    help="Example tasks per request drawn from the seeds.",
)
@click.option(
    "--generated-examples",
    type=click.IntRange(min=0),
    default=SelfInstructSettings.generated_examples,
    show_default=True,
    help="Example tasks per request drawn from those accepted so far (seeds fill in while there are few).",
)
@click.option(
    "--tasks-per-request",
    type=click.IntRange(min=1),
    default=SelfInstructSettings.tasks_per_request,
    show_default=True,
    help="New tasks asked for in each request.",
)
@click.option(
    "--requests-per-round",
    type=click.IntRange(min=1),
    default=SelfInstructSettings.requests_per_round,
    show_default=True,
    help="Requests built from the same pool and sent together.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(min=1),
    default=None,
    help="Give up after this many requests (default: 10 per --tasks-per-request tasks wanted, plus --num).",
)
@click.option(
    "--max-similarity",
    type=click.FloatRange(0, 1),
    default=SelfInstructSettings.max_similarity,
    show_default=True,
    help="Reject a task whose ROUGE-L F1 with any seed or accepted instruction is above this.",
)
@click.option(
    "--min-words",
    type=click.IntRange(min=0),
    default=TaskChecks.min_words,
    show_default=True,
    help="Fewest words in an instruction.",
)
@click.option(
    "--max-words",
    type=click.IntRange(min=1),
    default=TaskChecks.max_words,
    show_default=True,
    help="Most words in an instruction.",
)
@click.option(
    "--blacklist",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Words (one a line) that reject an instruction; default: image, graph, file, draw, ... (Korean for --lang ko).",
)
@sampling_options(SelfInstructSettings.temperature, SelfInstructSettings.top_p, SelfInstructSettings.max_tokens)
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Seed of the example sampling and of every request."
)
@click.option(
    "--prompt-template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="A .jinja request template (runs sandboxed) instead of templates/prompts/self_instruct.LANG.jinja.",
)
@record_format_option("How to read --seeds; auto goes by file name.")
@click.option(
    "--from",
    "from_format",
    type=click.Choice(format_choices("sft")),
    default=None,
    help="Format of the seeds (default: read from the first record).",
)
@progress_option
@click.pass_context
def self_instruct_command(ctx: click.Context, **params) -> None:
    """Grow an instruction set from seed tasks with a language model (self-instruct, Alpaca).

    Each request shows the model a few sampled tasks and asks for --tasks-per-request new
    ones with input and output. A new task is dropped (with its reason, in rejected/) when
    it is cut by the token limit, has no output, is shorter than --min-words or longer than
    --max-words, mentions something a text model cannot do (image, graph, file, draw...),
    starts with punctuation, or its ROUGE-L F1 with a seed or accepted instruction is above
    --max-similarity. Runs until --num tasks are accepted. Writes Alpaca columns and
    `messages`; report.md shows requests, rejections, tokens and a novelty histogram.

    Every answer is cached on disk, keyed by the server and the whole request: a killed run
    resumes where it stopped and re-running a finished one sends nothing. The API key is read
    from the environment only (--api-key-env) and, like a URL's credentials, never printed or
    written.

    \b
    Examples:
      # vLLM:    vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000
      curate self-instruct --seeds sample_data/instructions/seed_tasks.en.jsonl -o out/grown \\
          --num 500 --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
      # Ollama:  ollama serve; ollama pull llama3.1
      curate self-instruct --seeds seeds.jsonl -o out/grown --num 100 \\
          --base-url http://127.0.0.1:11434/v1 --model llama3.1
      # OpenAI (key from OPENAI_API_KEY), with rate limits
      curate self-instruct --seeds seeds.jsonl -o out/grown --num 1000 --model gpt-4o-mini --rpm 500 --tpm 200000
      # Korean, a model in this process
      curate self-instruct --seeds sample_data/instructions/seed_tasks.ko.jsonl -o out/ko --num 50 \\
          --lang ko --backend local --model models/my-chat-model
    """
    from curate.instruct.self_instruct.command import self_instruct_dataset

    blacklist = read_blacklist(params["blacklist"]) if params["blacklist"] is not None else None
    settings = SelfInstructSettings(
        num=params["num"],
        seed_examples=params["seed_examples"],
        generated_examples=params["generated_examples"],
        tasks_per_request=params["tasks_per_request"],
        requests_per_round=params["requests_per_round"],
        max_requests=params["max_requests"],
        max_similarity=params["max_similarity"],
        checks=TaskChecks(params["lang"], params["min_words"], params["max_words"], blacklist),
        korean_tokens=params["ko_tokens"],
        temperature=params["temperature"],
        top_p=params["top_p"],
        max_tokens=params["max_tokens"],
        seed=params["seed"],
        prompt_template=params["prompt_template"],
    )
    result = self_instruct_dataset(
        params["seeds"],
        params["output"],
        settings,
        params["backend"],
        params["model"],
        params["base_url"],
        client_settings(params),
        from_format=params["from_format"],
        **run_arguments(ctx, params),
    )
    click.echo(summary(result))
    manifest = result.manifest
    if not result.skipped:
        llm = manifest["llm"]
        click.echo(
            f"  {llm['requests']:,} requests to the model, {llm['cache_hits']:,} answers from the cache, "
            f"{llm['retries_total']:,} retries, {llm['statuses']['failed']:,} failed; "
            f"{llm['prompt_tokens']:,} prompt + {llm['completion_tokens']:,} completion tokens"
        )
        if not manifest["self_instruct"]["reached_num"]:
            click.echo(
                f"  warning: stopped at the request budget with {manifest['counts']['kept']:,} of {params['num']:,} "
                "tasks; see report.md, or raise --max-requests",
                err=True,
            )
