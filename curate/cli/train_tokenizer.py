"""`curate train-tokenizer`: a tokenizer trained on a corpus, and how it compares on held-out text."""

from __future__ import annotations

from pathlib import Path

import click

from curate.cli.options import SEED, corpus_text_options, progress_option, show_progress
from curate.corpus.tokenize.train import ALGORITHMS, IM_END
from curate.errors import UserError


def _split_tokens(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    return [token.strip() for value in values for token in value.split(",") if token.strip()]


def _compare_folders(corpus: list[str], compare: list[str]) -> tuple[list[str], list[str]]:
    """`--compare a b` (as its help's DIR... reads) leaves b among the CORPUS arguments: a
    tokenizer folder there joins the compared ones; without --compare it is a mistake."""
    from curate.corpus.tokenize.fertility import is_tokenizer_folder

    folders = [path for path in corpus if is_tokenizer_folder(path)]
    if folders and not compare:
        raise UserError(
            f"{folders[0]} is a tokenizer folder, not a corpus; to measure it beside the new tokenizer "
            f"pass --compare {folders[0]}"
        )
    rest = [path for path in corpus if path not in folders]
    if not rest:
        raise UserError("no corpus given: every CORPUS argument is a tokenizer folder (--compare takes those)")
    return rest, [*compare, *(path for path in folders if path not in compare)]


@click.command("train-tokenizer")
@click.argument("corpus", nargs=-1, required=True, type=click.Path(), metavar="CORPUS...")
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), metavar="DIR", help="Tokenizer folder to write."
)
@click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS),
    default="bpe",
    show_default=True,
    help="bpe: byte-level BPE (any text round-trips). unigram: SentencePiece's, with byte fallback. "
    "wordpiece: BERT's (## continuations; spaces not kept).",
)
@click.option(
    "--vocab-size",
    type=click.IntRange(min=1),
    default=8000,
    show_default=True,
    help="Tokens in the vocabulary, special and byte tokens included (fewer if the corpus has no more to learn).",
)
@click.option(
    "--special-tokens",
    multiple=True,
    callback=_split_tokens,
    metavar="TOKENS",
    help="Extra special tokens, comma-separated (<think>,</think>), after <|endoftext|> <|im_start|> "
    "<|im_end|> <|pad|> (and <unk> for unigram and wordpiece).",
)
@click.option(
    "--chat-template",
    default="chatml",
    show_default=True,
    metavar="NAME|FILE",
    help="A shipped template (chatml, llama3...) or a .jinja file; its <|...|> markers become special tokens.",
)
@click.option(
    "--eos-token",
    default=None,
    help=f"The end-of-turn token generation stops at (default: the marker the chat template writes after an "
    f"answer: {IM_END} for chatml, <|eot_id|> for llama3).",
)
@click.option(
    "--eval-fraction",
    type=click.FloatRange(0, 0.5),
    default=0.05,
    show_default=True,
    help="Share of documents held out of training and measured in report.md.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the held-out split.")
@click.option(
    "--compare",
    multiple=True,
    callback=_split_tokens,
    metavar="DIR...",
    help="Local tokenizer folders (any AutoTokenizer one) to measure beside the new one: --compare a b, "
    "--compare a,b or --compare a --compare b.",
)
@corpus_text_options("Read the first N documents only, in input order.")
@click.option("--text-lines", is_flag=True, help="Plain text inputs: one document per line, not per file.")
@click.option("--overwrite", is_flag=True, help="Replace a folder an earlier train-tokenizer wrote.")
@progress_option
def train_tokenizer_command(corpus, output: Path, progress, **options) -> None:
    """Train a tokenizer on CORPUS and save it as a Hugging Face tokenizer folder.

    CORPUS is read like `curate filter` inputs (JSONL, JSON, Parquet, text, WET files,
    folders or globs; a dataset folder means its kept rows). A share of the documents
    (--eval-fraction, chosen by --seed) is held out: report.md and fertility.png in DIR
    give tokens per word and per character, unknown and byte tokens, and the vocabulary
    used, per language (English and Korean, from a record's lang field or the script), for
    the new tokenizer and each --compare folder. DIR loads with
    AutoTokenizer.from_pretrained(DIR) and carries the chat template.

    \b
    Examples:
      curate train-tokenizer sample_data/web -o tokenizers/bpe --vocab-size 4000
      curate train-tokenizer out/quickstart/deduped -o tokenizers/uni --algorithm unigram \\
          --vocab-size 16000 --compare tokenizers/bpe --compare models/tiny
      curate train-tokenizer data/ -o tokenizers/llama3 --chat-template llama3 --eos-token '<|eot_id|>' \\
          --special-tokens '<think>,</think>'
    """
    from curate.corpus.tokenize.train import summary, train_tokenizer_folder

    corpus, options["compare"] = _compare_folders(list(corpus), options["compare"])
    info = train_tokenizer_folder(output, corpus, progress=show_progress(progress), **options)
    for line in summary(info):
        click.echo(line)
