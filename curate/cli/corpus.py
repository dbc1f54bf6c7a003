"""`curate filter`, `curate dedup` and `curate quality train`: the pretraining corpus commands."""

from __future__ import annotations

from pathlib import Path

import click

from curate.cli.options import SEED, compose, executor_options, input_options, job_arguments, output_options
from curate.cli.summary import summary
from curate.corpus.filters.quality import TrainSettings as QualityTraining
from curate.corpus.registry import FILTERS, all_step_options, build_steps
from curate.corpus.segment import KOREAN_SEGMENTERS
from curate.io.readers import ReaderOptions
from curate.io.readers.registry import READERS, suffix_help


def _filter_help() -> str:
    steps = "\n".join(f"  {name:<18} {spec.summary}" for name, spec in FILTERS.items())
    return f"""Clean, identify the language of, and filter a corpus of documents.

INPUT is a file, a folder (read recursively) or a glob, read by its name: {suffix_help()}
(also gzip or zstd compressed); Common Crawl WET is .warc.wet.gz. A curate dataset folder
as INPUT means its kept rows.

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


@click.command("filter", help=_filter_help())
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
@compose(*all_step_options())
@executor_options
@click.pass_context
def filter_command(ctx: click.Context, **params) -> None:
    from curate.corpus.command import filter_corpus

    result = filter_corpus(
        list(params["inputs"]),
        params["output"],
        build_steps(params),
        **job_arguments(ctx, params),
        dry_run=params["dry_run"],
        sample=params["sample"],
    )
    click.echo(summary(result))


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


@click.command("dedup", help=_dedup_help())
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
@click.option("--seed", type=SEED, default=1, show_default=True, help="Seed of the MinHash hash functions.")
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
@click.option(
    "--partitions",
    type=click.IntRange(min=0),
    default=None,
    metavar="R",
    help="Find candidate pairs in R partitions of the band keys, as executor tasks, so no process holds every "
    "key (same decisions; not with --verify). Default: 0 (in one process) locally, 4 x --workers with Ray.",
)
@executor_options
@click.pass_context
def dedup_command(ctx: click.Context, **params) -> None:
    from curate.corpus.dedup.command import dedup_corpus
    from curate.corpus.dedup.settings import DedupSettings
    from curate.pipeline.pool import default_workers

    settings = DedupSettings.from_params(params)
    arguments = job_arguments(ctx, params)
    partitions = params["partitions"]
    if partitions is None:
        partitions = 4 * (params["workers"] or default_workers()) if params["executor"] == "ray" else 0
    result = dedup_corpus(list(params["inputs"]), params["output"], settings, **arguments, partitions=partitions)
    click.echo(summary(result))


@click.group("quality")
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
    type=click.Choice(["auto", *READERS]),
    default="auto",
    show_default=True,
    help="Format of the inputs; auto reads it from each file name.",
)
@click.option("--text-field", default="text", show_default=True, help="Field (or column) holding the document text.")
@click.option("--text-lines", is_flag=True, help="Plain text inputs: one document per line, not per file.")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=QualityTraining.epochs,
    show_default=True,
    help="Passes over the data.",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0.0, min_open=True),
    default=QualityTraining.lr,
    show_default=True,
    help="Learning rate.",
)
@click.option(
    "--word-ngrams",
    type=click.IntRange(min=1),
    default=QualityTraining.word_ngrams,
    show_default=True,
    help="Longest word n-gram used as a feature.",
)
@click.option(
    "--dim", type=click.IntRange(min=1), default=QualityTraining.dim, show_default=True, help="Size of the vectors."
)
@click.option(
    "--bucket",
    type=click.IntRange(min=1),
    default=QualityTraining.bucket,
    show_default=True,
    help="Hash buckets for word n-grams; the model takes about (words + bucket) x dim x 4 bytes.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0.0, 0.9),
    default=QualityTraining.test_fraction,
    show_default=True,
    help="Share of each class held out to measure the model (0: none).",
)
@click.option(
    "--seed",
    type=SEED,
    default=QualityTraining.seed,
    show_default=True,
    help="Seed of the held-out split and of training.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=QualityTraining.threads,
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

    report = train_quality_model(
        list(positive),
        list(negative),
        output,
        QualityTraining(**settings),
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
