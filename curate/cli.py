"""The `curate` command line: a thin shell over the library."""

from __future__ import annotations

from pathlib import Path

import click

import curate
from curate.cli_options import (
    client_options,
    executor_options,
    input_options,
    job_arguments,
    output_options,
    record_input_options,
    record_job_arguments,
)
from curate.corpus.segment import KOREAN_SEGMENTERS
from curate.errors import RunFailed, UserError
from curate.pipeline.job import JobResult


class _OneLineError(click.ClickException):
    """Printed by click as `Error: message`, no traceback, with our exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class CurateGroup(click.Group):
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


def _summary(result: JobResult) -> str:
    manifest = result.manifest
    counts = manifest["counts"]
    if result.skipped:
        return (
            f"{result.output}: already complete for these inputs and options "
            f"({counts['kept']:,} kept, {counts['rejected']:,} rejected); nothing to do"
        )
    lines = [
        f"{manifest['command']}: {counts['in']:,} in -> {counts['kept']:,} kept, {counts['rejected']:,} rejected"
        + (f" ({counts['unreadable']:,} unreadable input records kept verbatim)" if counts["unreadable"] else "")
    ]
    if counts["by_reason"]:
        lines.append("  rejected: " + ", ".join(f"{reason} {rows:,}" for reason, rows in counts["by_reason"].items()))
    timings = manifest["timings"]
    resumed = f", resumed {timings['resumed_tasks']} finished task(s)" if timings["resumed_tasks"] else ""
    lines.append(
        f"  wrote {result.output}/: {len(manifest['shards']['data'])} data shard(s), "
        f"{len(manifest['shards']['rejected'])} rejected shard(s), report.md "
        f"in {timings['seconds']:.1f} s with {timings['workers']} worker(s){resumed}"
    )
    return "\n".join(lines)


def _with_step_options(function):
    from curate.corpus.filters.registry import all_step_options

    for option in reversed(all_step_options()):
        function = option(function)
    return function


def _filter_help() -> str:
    from curate.corpus.filters.registry import registry

    steps = "\n".join(f"  {name:<18} {spec.summary}" for name, spec in registry().items())
    return f"""Clean, identify the language of, and filter a corpus of documents.

INPUT is a file, a folder (read recursively) or a glob: JSONL (.jsonl, .gz, .zst),
JSON arrays, Parquet, plain text and Common Crawl WET (.warc.wet.gz). A curate
dataset folder as INPUT means its kept rows.

Every dropped document goes to rejected/ with reason "<step>:<rule>". Options named
after a step (--gopher-..., --c4-..., --fineweb-..., --lang...) set its thresholds;
a threshold of 0 (or -1 where shown) turns its rule off.

\b
Steps, in their default order (--steps picks and orders them):
{steps}

\b
Examples:
  curate filter crawl/*.jsonl.gz -o out/clean --lang en,ko
  curate filter crawl/ -o out/heuristics --steps gopher_repetition,gopher_quality,c4,fineweb
  curate filter crawl/ -o out/tune --dry-run --sample 2000 --gopher-min-doc-words 30
  curate filter dump.parquet --text-field content --id-field url -o out/clean
  curate filter CC-MAIN-*.warc.wet.gz -o out/cc --workers 16 --quality-model quality.bin
"""


@cli.command("filter", help=_filter_help())
@input_options
@output_options
@click.option(
    "--steps",
    default=None,
    metavar="A,B,C",
    help="Run exactly these steps in this order (default: every step that applies).",
)
@click.option(
    "--language",
    default="en",
    show_default=True,
    help="Language of documents that no langid step has labelled (ISO 639-1: en, ko, zh, ja...).",
)
@click.option(
    "--ko-segmenter",
    type=click.Choice(KOREAN_SEGMENTERS),
    default="auto",
    show_default=True,
    help="Korean words: kiwi (morphemes, as datatrove; ~0.25 MB/s) or space (eojeol; fast). auto: kiwi if installed.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Count and write report.md with its charts, but no data/ or rejected/ shards: for tuning thresholds.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Read only the first N documents, in input order (one process; combines with --dry-run).",
)
@_with_step_options
@executor_options
@click.pass_context
def filter_command(ctx: click.Context, **params) -> None:
    from curate.corpus.command import filter_corpus
    from curate.corpus.filters.registry import build_steps

    result = filter_corpus(
        list(params["inputs"]),
        params["output"],
        build_steps(params),
        **job_arguments(ctx, params),
        dry_run=params["dry_run"],
        sample=params["sample"],
    )
    click.echo(_summary(result))


def _dedup_help() -> str:
    return """Remove exact and near-duplicate documents (and, with --lines, boilerplate lines).

INPUT is read like `curate filter`'s (files, folders, globs; a curate dataset folder
means its kept rows). Three passes, each resumable: hash every document (in parallel,
one task per input file), cluster the duplicates over the whole corpus, then write.

\b
Exact: a document whose text, after NFC, lower-casing and collapsing whitespace,
  equals an earlier one's is rejected as exact_duplicate, duplicate_of = that one.
Near: MinHash over word 5-grams (character 5-grams for ko, zh, ja, th, by the lang
  column or --lang), LSH bands, clusters of candidate pairs. One document per cluster
  is kept (--keep); the others are rejected as near_duplicate, with duplicate_of and
  cluster_size. The defaults (112 hashes, 14 bands of 8 rows: similarity about 0.72
  or more) are FineWeb's.
Lines (--lines): a line seen more than --line-threshold times across the documents
  that exact and near dedup keep is cut from all of them; a document left blank is
  rejected as line_duplicate.

report.md counts duplicates, charts cluster sizes and shows the ten largest clusters.

\b
Examples:
  curate dedup out/filtered -o out/unique
  curate dedup crawl/*.jsonl.gz -o out/unique --workers 16 --keep longest
  curate dedup out/filtered -o out/unique --threshold 0.8 --verify
  curate dedup out/ko -o out/ko-unique --lang ko --char-ngram 5 --lines
"""


@cli.command("dedup", help=_dedup_help())
@input_options
@output_options
@click.option(
    "--exact/--no-exact", default=True, show_default=True, help="Remove documents whose normalised text repeats."
)
@click.option(
    "--minhash/--no-minhash", default=True, show_default=True, help="Remove near duplicates with MinHash LSH."
)
@click.option("--lines/--no-lines", default=False, show_default=True, help="Cut lines that repeat across the corpus.")
@click.option(
    "--line-threshold",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    metavar="K",
    help="With --lines: a line seen more than K times across the documents exact and near dedup keep is cut from all.",
)
@click.option("--ngram", type=click.IntRange(min=1), default=5, show_default=True, help="Words per shingle.")
@click.option(
    "--char-ngram",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Characters per shingle for Korean, Chinese, Japanese and Thai documents.",
)
@click.option("--num-perm", type=click.IntRange(min=1), default=112, show_default=True, help="MinHash hash functions.")
@click.option(
    "--bands", type=click.IntRange(min=1), default=None, help="LSH bands (default 14, or chosen by --threshold)."
)
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=None,
    help="Hash values per band (default 8, or chosen by --threshold).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    metavar="J",
    help="Jaccard similarity that makes a duplicate: picks bands and rows (datasketch's optimiser) "
    "unless given, and is what --verify checks (default: the bands' own, about 0.72).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the MinHash hash functions.")
@click.option(
    "--lang",
    "language",
    default="en",
    show_default=True,
    help="Language of documents without a lang column value; ko, zh, ja and th get character shingles.",
)
@click.option(
    "--keep",
    default="first",
    show_default=True,
    metavar="first|longest|highest:COLUMN",
    help="Which document of a near-duplicate cluster is kept; ties go to the first in input order.",
)
@click.option("--verify", is_flag=True, help="Check every candidate pair's exact shingle Jaccard against --threshold.")
@executor_options
@click.pass_context
def dedup_command(ctx: click.Context, **params) -> None:
    from curate.corpus.dedup.command import dedup_corpus
    from curate.corpus.dedup.hashing import MinHashSettings
    from curate.corpus.dedup.settings import DedupSettings, lsh_bands_and_rows

    bands, rows = lsh_bands_and_rows(params["num_perm"], params["bands"], params["rows"], params["threshold"])
    settings = DedupSettings(
        exact=params["exact"],
        minhash=params["minhash"],
        lines=params["lines"],
        line_threshold=params["line_threshold"],
        minhash_settings=MinHashSettings(
            ngram=params["ngram"],
            char_ngram=params["char_ngram"],
            num_perm=params["num_perm"],
            bands=bands,
            rows=rows,
            seed=params["seed"],
        ),
        language=params["language"],
        keep=params["keep"],
        verify=params["verify"],
        threshold=params["threshold"],
    )
    result = dedup_corpus(
        list(params["inputs"]),
        params["output"],
        settings,
        **job_arguments(ctx, params),
    )
    click.echo(_summary(result))


def _format_names(kind: str | None = None, writable: bool = False) -> list[str]:
    from curate.instruct import formats

    names = formats.WRITE_FORMATS if writable else formats.READ_FORMATS
    return [name for name in names if kind is None or formats.format_kind(name) == kind]


@cli.command("convert")
@record_input_options
@output_options
@click.option(
    "--to",
    "to_format",
    required=True,
    type=click.Choice(_format_names(writable=True)),
    help="Format to write.",
)
@click.option(
    "--from",
    "from_format",
    type=click.Choice(_format_names()),
    default=None,
    help="Format of the inputs (default: read from each file's first record).",
)
@executor_options
@click.pass_context
def convert_command(ctx: click.Context, **params) -> None:
    """Convert instruction or preference data between formats.

    \b
    SFT formats:        alpaca, seed-tasks (read only), messages, sharegpt, prompt-completion
    Preference formats: preference (TRL: prompt/chosen/rejected messages), hh-rlhf,
                        sharegpt-preference (LLaMA-Factory)

    Rows that cannot be converted (an empty turn, roles out of order, a transcript without
    an Assistant turn, chosen equal to rejected...) go to rejected/ with the reason and
    their original record. Beside the shards, OUTPUT gets a dataset card (README.md), a
    LLaMA-Factory dataset_info.json entry and an Axolotl datasets: snippet (axolotl.yaml).

    \b
    Examples:
      curate convert alpaca_data.json -o out/sft --to messages
      curate convert chats.jsonl -o out/sharegpt --to sharegpt
      curate convert hh_rlhf.jsonl.gz -o out/prefs --to preference
      curate convert ko_pairs.txt --input-format jsonl --from hh-rlhf -o out/ko --to preference
    """
    from curate.instruct.command import convert_dataset

    result = convert_dataset(
        list(params["inputs"]),
        params["output"],
        params["to_format"],
        params["from_format"],
        **record_job_arguments(ctx, params),
    )
    click.echo(_summary(result))


def _template_help() -> str:
    from curate.instruct.templates import shipped_templates

    return ", ".join(shipped_templates()) or "none found"


@cli.command("render")
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
    type=click.Choice(_format_names("sft")),
    default=None,
    help="Format of the inputs (default: read from each file's first record).",
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
    take prompt/completion learn only the answer. With --text-column, `text` holds the
    whole conversation and `assistant_spans` the [start, end) characters of every
    assistant turn: found for any template, without {% generation %} tags. Templates run
    in a sandbox; a row the template cannot render, or whose assistant turns it drops,
    goes to rejected/ with the reason.

    \b
    Examples:
      curate render sample_data/instructions/seed_tasks.en.jsonl -o out/alpaca --template alpaca
      curate render chats.jsonl -o out/chatml --template chatml --text-column
      curate render chats.jsonl -o out/qwen --tokenizer models/Qwen2.5-0.5B-Instruct --text-column
      curate render data.jsonl -o out/custom --template my_template.jinja --eos-token '</s>'
    """
    from dataclasses import replace

    from curate.instruct.command import render_dataset
    from curate.instruct.templates import load_template, tokenizer_special_tokens, tokenizer_template

    if not params["template_name"] and not params["tokenizer"]:
        raise UserError("pass --template NAME|PATH or --tokenizer DIR")
    special = tokenizer_special_tokens(params["tokenizer"]) if params["tokenizer"] else {}
    if params["eos_token"] is not None:
        special["eos_token"] = params["eos_token"]
    if params["template_name"]:
        template = load_template(params["template_name"], special)
    else:
        template = replace(tokenizer_template(params["tokenizer"]), special_tokens=special)
    result = render_dataset(
        list(params["inputs"]),
        params["output"],
        template,
        params["from_format"],
        params["text_column"],
        **record_job_arguments(ctx, params),
    )
    click.echo(_summary(result))


@cli.command("inspect")
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


@cli.command("run")
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
    from curate.recipes import run_recipe

    run_recipe(recipe, cli)


def main() -> None:
    cli(prog_name="curate")


# `curate quality train` ------------------------------------------------------------------

from curate.corpus.filters.quality import TrainSettings as _Train  # noqa: E402  (also imported by the step registry)
from curate.io.sources import FORMATS as _FORMATS  # noqa: E402


@cli.group("quality")
def quality_group() -> None:
    """Train the fastText classifier that the `quality` filter step uses."""


@quality_group.command("train")
@click.option(
    "--positive",
    multiple=True,
    required=True,
    metavar="FILES",
    help="High-quality documents: a file, folder or glob (repeat for more).",
)
@click.option(
    "--negative",
    multiple=True,
    required=True,
    metavar="FILES",
    help="Low-quality documents: a file, folder or glob (repeat for more).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Model file to write, e.g. quality.bin; its metrics go to quality.bin.json.",
)
@click.option(
    "--input-format",
    type=click.Choice(["auto", *_FORMATS]),
    default="auto",
    show_default=True,
    help="Format of the inputs; auto reads it from each file name.",
)
@click.option("--text-field", default="text", show_default=True, help="Field (or column) holding the document text.")
@click.option("--text-lines", is_flag=True, help="Plain text inputs: one document per line, not per file.")
@click.option(
    "--epochs", type=click.IntRange(min=1), default=_Train.epochs, show_default=True, help="Passes over the data."
)
@click.option(
    "--lr", type=click.FloatRange(min=0.0, min_open=True), default=_Train.lr, show_default=True, help="Learning rate."
)
@click.option(
    "--word-ngrams",
    type=click.IntRange(min=1),
    default=_Train.word_ngrams,
    show_default=True,
    help="Longest word n-gram used as a feature.",
)
@click.option("--dim", type=click.IntRange(min=1), default=_Train.dim, show_default=True, help="Size of the vectors.")
@click.option(
    "--bucket",
    type=click.IntRange(min=1),
    default=_Train.bucket,
    show_default=True,
    help="Hash buckets for word n-grams; the model takes about (words + bucket) x dim x 4 bytes.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0.0, 0.9),
    default=_Train.test_fraction,
    show_default=True,
    help="Share of each class held out to measure the model (0: none).",
)
@click.option(
    "--seed", type=int, default=_Train.seed, show_default=True, help="Seed of the held-out split and of training."
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=_Train.threads,
    show_default=True,
    help="Training threads; more are faster, but the model then differs from run to run.",
)
def quality_train_command(
    positive, negative, output: Path, input_format: str, text_field: str, text_lines: bool, **settings
) -> None:
    """Train a high- vs low-quality fastText classifier for `curate filter --quality-model`.

    Texts are read like `curate filter` inputs, put on one line, lowercased, and labelled
    __label__hq (positive) or __label__lq (negative). A share of each class is held out:
    precision, recall, F1 and accuracy on it are printed and written beside the model
    (quality.bin.json for quality.bin).

    \b
    Example:
      curate quality train --positive good/ --negative crawl_sample.jsonl -o quality.bin
      curate filter crawl/ -o out/hq --quality-model quality.bin --quality-threshold 0.5
    """
    from curate.corpus.filters.quality import train_quality_model
    from curate.io.readers import ReaderOptions

    report = train_quality_model(
        list(positive),
        list(negative),
        output,
        _Train(**settings),
        ReaderOptions(text_field=text_field, text_lines=text_lines),
        input_format,
    )
    train, test, metrics = report["train"], report["test"], report["metrics"]
    click.echo(f"trained {output} on {train['hq']:,} hq + {train['lq']:,} lq documents")
    if metrics:
        click.echo(
            f"  held out {test['hq']:,} hq + {test['lq']:,} lq (seed {settings['seed']}): "
            f"accuracy {metrics['accuracy']:.3f} (majority class {metrics['majority_baseline']:.3f}), "
            f"precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}, F1 {metrics['f1']:.3f} "
            f"at threshold {metrics['threshold']}"
        )
    click.echo(f"  wrote {output} and {output}.json")


# `curate self-instruct` ------------------------------------------------------------------

from curate.instruct.self_instruct.grow import SelfInstructSettings as _Grow  # noqa: E402


@cli.command("self-instruct")
@client_options
@click.option(
    "--seeds",
    required=True,
    metavar="FILE",
    help="Seed tasks: Alpaca seed-task JSONL, or any SFT format convert reads.",
)
@output_options
@click.option("--num", type=click.IntRange(min=1), required=True, help="Stop once this many new tasks are accepted.")
@click.option(
    "--backend",
    type=click.Choice(["openai", "local"]),
    default="openai",
    show_default=True,
    help="openai: any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI). local: a transformers model in this process.",
)
@click.option(
    "--model",
    envvar="CURATE_MODEL",
    required=True,
    metavar="NAME|PATH",
    help="Model name on the server; for --backend local a model folder or Hugging Face id. [env: CURATE_MODEL]",
)
@click.option(
    "--base-url",
    envvar="CURATE_BASE_URL",
    default=None,
    metavar="URL",
    help="The server's OpenAI API root, e.g. http://127.0.0.1:8000/v1 (default: api.openai.com). [env: CURATE_BASE_URL]",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "ko"]),
    default="en",
    show_default=True,
    help="Language of the prompt, the filters and the ROUGE-L tokens.",
)
@click.option(
    "--ko-tokens",
    type=click.Choice(["auto", "kiwi", "chars"]),
    default="auto",
    show_default=True,
    help="--lang ko: ROUGE-L over Kiwi morphemes or characters (auto: Kiwi when installed).",
)
@click.option(
    "--seed-examples",
    type=click.IntRange(min=0),
    default=_Grow.seed_examples,
    show_default=True,
    help="Example tasks per request drawn from the seeds.",
)
@click.option(
    "--generated-examples",
    type=click.IntRange(min=0),
    default=_Grow.generated_examples,
    show_default=True,
    help="Example tasks per request drawn from those accepted so far (seeds fill in while there are few).",
)
@click.option(
    "--tasks-per-request",
    type=click.IntRange(min=1),
    default=_Grow.tasks_per_request,
    show_default=True,
    help="New tasks asked for in each request.",
)
@click.option(
    "--requests-per-round",
    type=click.IntRange(min=1),
    default=_Grow.requests_per_round,
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
    default=_Grow.max_similarity,
    show_default=True,
    help="Reject a task whose ROUGE-L F1 with any seed or accepted instruction is above this.",
)
@click.option(
    "--min-words", type=click.IntRange(min=0), default=4, show_default=True, help="Fewest words in an instruction."
)
@click.option(
    "--max-words", type=click.IntRange(min=1), default=150, show_default=True, help="Most words in an instruction."
)
@click.option(
    "--blacklist",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Words (one a line) that reject an instruction; default: image, graph, file, draw, ... (Korean for --lang ko).",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    default=_Grow.temperature,
    show_default=True,
    help="Sampling temperature.",
)
@click.option(
    "--top-p",
    type=click.FloatRange(0, 1, min_open=True),
    default=_Grow.top_p,
    show_default=True,
    help="Nucleus sampling mass.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=_Grow.max_tokens,
    show_default=True,
    help="Most tokens in one answer.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the example sampling and of every request."
)
@click.option(
    "--prompt-template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="A .jinja request template (runs sandboxed) instead of templates/prompts/self_instruct.LANG.jinja.",
)
@click.option(
    "--input-format",
    type=click.Choice(["auto", "jsonl", "json", "parquet"]),
    default="auto",
    show_default=True,
    help="How to read --seeds; auto goes by file name.",
)
@click.option(
    "--from",
    "from_format",
    type=click.Choice(_format_names("sft")),
    default=None,
    help="Format of the seeds (default: read from the first record).",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar (default: when stderr is a terminal)."
)
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

    Every answer is cached on disk, keyed by the whole request: a killed run resumes where
    it stopped and re-running a finished one sends nothing. The API key is read from the
    environment only (--api-key-env).

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
    from curate.cli_options import command_line, recorded_options, show_progress, writer_options
    from curate.instruct.self_instruct.checks import TaskChecks
    from curate.instruct.self_instruct.command import self_instruct_dataset

    if params["min_words"] > params["max_words"]:
        raise UserError(f"--min-words {params['min_words']} is more than --max-words {params['max_words']}")
    if params["seed_examples"] + params["generated_examples"] == 0:
        raise UserError("show the model at least one example: --seed-examples or --generated-examples above 0")
    blacklist = None
    if params["blacklist"] is not None:
        lines = params["blacklist"].read_text(encoding="utf-8").splitlines()
        blacklist = tuple(word.strip() for word in lines if word.strip() and not word.startswith("#"))
    settings = _Grow(
        num=params["num"],
        lang=params["lang"],
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
    if params["backend"] == "openai":
        _require_key(params, params["model"], params["base_url"])
    options = recorded_options(ctx)
    if blacklist is not None:
        options["blacklist_words"] = list(blacklist)  # the words, not the path: an edited list rebuilds
    result = self_instruct_dataset(
        params["seeds"],
        params["output"],
        settings,
        lambda: _make_backend(params),
        model_identity={"backend": params["backend"], "model": params["model"]},
        options=options,
        command_line=command_line(ctx),
        writer=writer_options(params),
        input_format=params["input_format"],
        from_format=params["from_format"],
        progress=show_progress(params["progress"]),
        overwrite=params["overwrite"],
    )
    click.echo(_summary(result))
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


def _require_key(params: dict, model: str, base_url: str | None) -> None:
    """A remote server without a key in the environment: one line, before anything is written."""
    from curate.llm.openai_compat import ClientSettings, api_key

    api_key(ClientSettings(model, base_url, params["api_key_env"]))


def _make_backend(params: dict, kind: str | None = None, model: str | None = None, base_url: str | None = None):
    """A cached backend from the command's options; `kind`, `model` and `base_url` default to
    --backend, --model and --base-url (prefs names its policy and judge models apart)."""
    from curate.llm.cache import AnswerCache, CachedBackend
    from curate.user_cache import cache_dir

    kind = kind or params["backend"]
    model = model or params["model"]
    base_url = base_url if base_url is not None else params.get("base_url")
    if kind == "local":
        from curate.llm.local import LocalBackend

        backend = LocalBackend(model, batch_size=params["batch_size"], device=params["device"], dtype=params["dtype"])
    else:
        from curate.llm.openai_compat import ClientSettings, OpenAIBackend

        backend = OpenAIBackend(
            ClientSettings(
                model=model,
                base_url=base_url,
                api_key_env=params["api_key_env"],
                concurrency=params["concurrency"],
                rpm=params["rpm"],
                tpm=params["tpm"],
                timeout=params["timeout"],
                max_retries=params["max_retries"],
            )
        )
    cache = None if params["no_cache"] else AnswerCache(params["cache"] or cache_dir() / "llm")
    return CachedBackend(backend, cache)


# `curate init-model` ---------------------------------------------------------------------


@cli.command("init-model")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Model folder to write (new or empty, or an earlier init-model with --overwrite).",
)
@click.option(
    "--corpus",
    multiple=True,
    required=True,
    metavar="FILES",
    help="Text to train the tokenizer on: a file, folder or glob (repeat for more).",
)
@click.option(
    "--size",
    type=click.Choice(["tiny", "small"]),
    default="small",
    show_default=True,
    help="tiny: 64 wide, 2 layers (~0.6M parameters, for tests). small: 512 wide, 8 layers (~29M).",
)
@click.option(
    "--vocab-size",
    type=click.IntRange(min=1),
    default=8000,
    show_default=True,
    help="Tokens in the vocabulary, special and byte tokens included (fewer if the corpus runs out of merges).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option(
    "--text-field",
    default="text",
    show_default=True,
    help="Field (or column) holding the text; records without it give every string they hold.",
)
@click.option(
    "--max-documents",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Train the tokenizer on the first N documents only, in input order.",
)
@click.option("--overwrite", is_flag=True, help="Replace a model folder an earlier init-model wrote.")
def init_model_command(output: Path, corpus, size, vocab_size, seed, text_field, max_documents, overwrite) -> None:
    """Make a randomly initialised chat model here, without downloading anything.

    Trains a byte-level BPE tokenizer on the corpus (any UTF-8 text encodes; ChatML
    markers <|im_start|> and <|im_end|> are single tokens; <|im_end|> ends generation),
    gives it the ChatML chat template, and saves a random Llama-style model with it.
    The folder loads with AutoModelForCausalLM / AutoTokenizer.from_pretrained(DIR) and
    works as --model for --backend local. Its weights are noise until trained. The same
    corpus and seed give byte-identical weights; curate_init.json says how it was made.

    The corpus is read like `curate filter` inputs (JSONL, JSON, Parquet, text, WET; a
    dataset folder means its kept rows). Records without --text-field (Alpaca tasks,
    chat messages, preference pairs) give every string they hold.

    \b
    Examples:
      curate init-model -o models/tiny --corpus sample_data/web/ --corpus sample_data/instructions/ --size tiny
      curate init-model -o models/small --corpus out/quickstart/filtered --vocab-size 16000
      curate self-instruct --seeds sample_data/instructions/seed_tasks.en.jsonl -o out/grown \\
          --num 20 --backend local --model models/tiny
    """
    from curate.train.init_model import init_model

    info = init_model(
        output,
        list(corpus),
        size=size,
        vocab_size=vocab_size,
        seed=seed,
        text_field=text_field,
        max_documents=max_documents,
        overwrite=overwrite,
    )
    read = info["corpus"]
    vocab = f"{info['vocab_size']:,}"
    if info["vocab_size"] < info["vocab_size_asked"]:
        vocab += f" (of {info['vocab_size_asked']:,} asked: the corpus has no more merges)"
    click.echo(
        f"init-model {size}: {info['parameters']:,} parameters, vocabulary {vocab}, "
        f"tokenizer trained on {read['records_with_text']:,} documents ({read['characters']:,} characters) "
        f"from {len(read['files'])} file(s)"
    )
    click.echo(
        f"  wrote {output}/ in {info['seconds']['total']:.1f} s (seed {seed}); "
        f"how it was made: {output}/curate_init.json"
    )


# `curate train-sft`, `train-dpo`, `train-rm` ------------------------------------------------

from curate.cli_options import train_options, train_settings  # noqa: E402


def _print_run(result: dict, output: Path) -> None:
    click.echo(f"  final model: {result['final']} (AutoModelForCausalLM.from_pretrained loads it)")
    click.echo(f"  metrics: {output / 'metrics.jsonl'}; curves: {output / 'loss.png'}")


@cli.command("train-sft")
@train_options(default_lr=2e-5, default_length=2048)
@click.option(
    "--packing/--no-packing",
    default=True,
    show_default=True,
    help="Several examples per row, attention kept inside each.",
)
def train_sft_command(**params) -> None:
    """Supervised fine-tuning on instruction data: loss on assistant tokens only.

    DATA is any SFT dataset folder or file (messages, Alpaca columns, ShareGPT, or plain
    text). Conversations are rendered with the model's chat template (or --template) and
    only the assistant turns are trained, end-of-turn marker included. Examples longer than
    --max-length are cut; ones left with nothing to train are dropped (truncation.json).
    Packing puts several examples in a row with position ids restarting and attention
    confined to each example. Under torchrun, every process takes its share of each batch.

    \b
    Examples:
      curate init-model -o models/tiny --corpus sample_data/ --size tiny
      curate train-sft out/quickstart/chatml -o runs/sft --model models/tiny --max-steps 100 --lr 1e-3
      curate train-sft out/sft -o runs/qwen --model Qwen/Qwen2.5-0.5B-Instruct --epochs 2 --batch-size 4 --grad-accum 8
      torchrun --nproc-per-node 8 -m curate train-sft out/sft -o runs/sft8 --model models/base
    """
    from curate.cli_options import show_progress
    from curate.train.sft import SFTSettings, train_sft

    settings = SFTSettings(**train_settings(params), packing=params["packing"], compile=params["compile_model"])
    result = train_sft(settings, progress=show_progress(params["progress"]))
    click.echo(f"train-sft: {result['steps']} steps; {result['report'].summary()}")
    _print_run(result, params["output"])


@cli.command("train-dpo")
@train_options(default_lr=1e-6, default_length=1024)
@click.option(
    "--beta",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    show_default=True,
    help="Strength of the pull towards the reference model.",
)
@click.option(
    "--loss",
    "loss_type",
    type=click.Choice(["sigmoid", "ipo", "hinge"]),
    default="sigmoid",
    show_default=True,
    help="DPO loss (TRL's formulas).",
)
@click.option(
    "--ref",
    "ref_mode",
    type=click.Choice(["precompute", "live"]),
    default="precompute",
    show_default=True,
    help="precompute: run the reference once over all pairs and cache it (keyed by data and model); live: run it every step.",
)
@click.option(
    "--ref-model", default=None, metavar="PATH|ID", help="Reference model (default: the starting weights of --model)."
)
@click.option(
    "--max-prompt-length", type=click.IntRange(min=1), default=None, help="Keep only the last N prompt tokens."
)
def train_dpo_command(**params) -> None:
    """Direct Preference Optimisation on preference pairs (prompt, chosen, rejected).

    DATA is any preference dataset folder or file (TRL preference, hh-rlhf, ShareGPT
    preference). A completion's log-probability is the sum over its tokens; the loss and
    the metrics (rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins,
    logps/*) are TRL's. The reference model is frozen; by default its log-probabilities are
    computed once before training and cached in RUN/reference_logps/.

    \b
    Examples:
      curate train-dpo out/quickstart/preferences -o runs/dpo --model runs/sft/final --max-steps 100 --lr 1e-4
      curate train-dpo out/prefs -o runs/dpo --model runs/sft/final --beta 0.1 --loss ipo --batch-size 4 --grad-accum 8
    """
    from curate.cli_options import show_progress
    from curate.train.dpo import DPOSettings, train_dpo

    settings = DPOSettings(
        **train_settings(params), max_prompt_length=params["max_prompt_length"], beta=params["beta"],
        loss=params["loss_type"], ref=params["ref_mode"], ref_model=params["ref_model"],
    )  # fmt: skip
    result = train_dpo(settings, progress=show_progress(params["progress"]))
    click.echo(f"train-dpo: {result['steps']} steps; {result['report'].summary()}")
    if result.get("reference_logps"):
        reused = "reused" if result.get("reference_reused") else "computed"
        click.echo(f"  reference log-probs {reused}: {result['reference_logps']}")
    _print_run(result, params["output"])


@cli.command("train-rm")
@train_options(default_lr=1e-5, default_length=1024)
@click.option(
    "--center-rewards",
    type=click.FloatRange(min=0),
    default=None,
    help="Coefficient pulling rewards towards zero (TRL's center_rewards_coefficient).",
)
@click.option(
    "--margin-from-scores",
    is_flag=True,
    help="Use score_chosen - score_rejected as the margin when rows have no `margin` column.",
)
def train_rm_command(**params) -> None:
    """Train a reward model on preference pairs (Bradley-Terry loss).

    The model gets a one-output score head (new, seeded, unless it has one); a sequence's
    reward is the score at its last token. Loss: -log sigmoid(r_chosen - r_rejected -
    margin), the margin from a `margin` column when there is one. Pairs longer than
    --max-length are dropped (as TRL does) and counted. `curate prefs` can judge with
    RUN/final (AutoModelForSequenceClassification loads it).

    \b
    Example:
      curate train-rm out/quickstart/preferences -o runs/rm --model out/quickstart/model --max-steps 100 --lr 1e-3
    """
    from curate.cli_options import show_progress
    from curate.train.rm import RMSettings, train_rm

    settings = RMSettings(
        **train_settings(params), compile=params["compile_model"],
        center_rewards_coefficient=params["center_rewards"], margin_from_scores=params["margin_from_scores"],
    )  # fmt: skip
    result = train_rm(settings, progress=show_progress(params["progress"]))
    click.echo(f"train-rm: {result['steps']} steps; {result['report'].summary()}")
    click.echo(f"  final reward model: {result['final']} (AutoModelForSequenceClassification.from_pretrained loads it)")
    click.echo(f"  metrics: {params['output'] / 'metrics.jsonl'}; curves: {params['output'] / 'loss.png'}")


# `curate prefs` ---------------------------------------------------------------------------


@cli.command("prefs")
@click.argument("inputs", nargs=-1, required=True, metavar="PROMPTS...")
@output_options
@click.option(
    "--policy",
    type=click.Choice(["openai", "local"]),
    default="openai",
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
    type=click.Choice(["llm", "reward-model"]),
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
    help="A .jinja rubric for the llm judge (default: templates/prompts/judge_pointwise.jinja); runs sandboxed.",
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
    type=click.Choice(["best-worst", "best-random", "all-pairs"]),
    default="best-worst",
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
@click.option(
    "--temperature", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Policy sampling temperature."
)
@click.option(
    "--top-p",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="Policy nucleus sampling mass.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Most tokens in one answer; cut answers are dropped.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of every sample, the judge's requests and best-random."
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
@click.option(
    "--input-format",
    type=click.Choice(["auto", "jsonl", "json", "parquet"]),
    default="auto",
    show_default=True,
    help="How to read the prompts; auto goes by file name.",
)
@click.option(
    "--from",
    "from_format",
    type=click.Choice(_format_names()),
    default=None,
    help="Format of the prompts (default: read from the first record).",
)
@client_options
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar (default: when stderr is a terminal)."
)
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
    from curate.cli_options import command_line, recorded_options, show_progress, writer_options
    from curate.llm.backend import Sampling
    from curate.prefs.job import PrefsSettings, prefs_dataset

    judge_base_url = params["judge_base_url"] or params["policy_base_url"]
    if params["policy"] == "openai":
        _require_key(params, params["policy_model"], params["policy_base_url"])
    if params["judge_kind"] == "llm":
        _require_key(params, params["judge_model"], judge_base_url)
    if params["pairwise"] and params["judge_kind"] != "llm":
        raise UserError("--pairwise needs --judge llm")
    rubric_source = None
    if params["rubric"]:
        try:
            rubric_source = Path(params["rubric"]).read_text(encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot read the rubric {params['rubric']}: {error.strerror or error}") from None

    def make_judge():
        if params["judge_kind"] == "reward-model":
            from curate.prefs.judge import RewardModelJudge

            return RewardModelJudge(params["judge_model"], device=params["device"], batch_size=params["batch_size"])
        from curate.prefs.judge import LLMJudge

        backend = _make_backend(params, "openai", params["judge_model"], judge_base_url)
        # the path, not its text: the judge's errors then name the file
        return LLMJudge(backend, params["rubric"], pairwise=params["pairwise"], seed=params["seed"])

    settings = PrefsSettings(
        n=params["samples"], pairing=params["pairing"], min_margin=params["min_margin"],
        include_existing=params["include_existing"],
        sampling=Sampling(params["temperature"], params["top_p"], params["max_tokens"]), seed=params["seed"],
        best_of_n_out=params["best_of_n_out"], min_score=params["min_score"],
    )  # fmt: skip
    identity_parts = {
        "policy": {"backend": params["policy"], "model": params["policy_model"]},
        "judge": {"kind": params["judge_kind"], "model": params["judge_model"], "pairwise": params["pairwise"],
                  "rubric": rubric_source},
    }  # fmt: skip
    result, best = prefs_dataset(
        list(params["inputs"]), params["output"], settings,
        lambda: _make_backend(params, params["policy"], params["policy_model"], params["policy_base_url"]),
        make_judge,
        identity_parts=identity_parts, options=recorded_options(ctx), command_line=command_line(ctx),
        writer=writer_options(params), input_format=params["input_format"], from_format=params["from_format"],
        progress=show_progress(params["progress"]), overwrite=params["overwrite"],
    )  # fmt: skip
    click.echo(_summary(result))
    if not result.skipped:
        run = result.manifest["prefs"]
        click.echo(
            f"  {run['prompts']:,} prompts, {run['candidates']:,} candidates, {run['judged']:,} judged, "
            f"{run['pairs_considered']:,} pairs considered, {run['ties']:,} ties; report: {params['output'] / 'report.md'}"
        )
    if best is not None:
        click.echo(f"  best-of-n: {best.manifest['counts']['kept']:,} SFT rows in {best.output}/")
