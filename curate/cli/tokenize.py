"""`curate tokenize`: a corpus into token shards for pretraining."""

from __future__ import annotations

from pathlib import Path

import click

from curate.cli.options import SEED, executor_options, input_options, job_arguments, output_options
from curate.cli.summary import summary

HELP = """Turn documents into token ids for pretraining: fixed-size .bin shards with indexes.

INPUT is read like `curate filter`'s (JSONL, JSON, Parquet, text, WET; files, folders, globs;
a curate dataset folder means its kept rows). Each document is encoded with the tokenizer's
batch encoder, no special tokens added, and the EOS token follows every document. One task
per input file runs in parallel; the output is the same for any --workers, and a killed run
resumes to the same bytes.

\b
OUTPUT/
  tokens/shard-00000.bin   the tokens, flat little-endian uint16 (vocabulary up to 65,536)
                           or uint32: np.memmap(path, dtype=np.uint16) reads it (nanoGPT)
  tokens/shard-00000.idx   Megatron-LM's MMIDIDX index (version 1): each document's
                           length and offset; shard-00000 is a Megatron --data-path prefix
  tokens/index.json        dtype, EOS, the shards and their token counts
  data/                    each document's input_ids (Parquet, no EOS): a pre-tokenised dataset
  report.md, _manifest.json  tokens per input file, totals

Every shard holds exactly --shard-tokens tokens but the last; a document cut by a shard
boundary goes on in the next one. --shuffle writes the documents in a seeded random order;
--max-tokens stops at exactly that many tokens (EOS included), cutting the last document.

\b
Examples:
  curate tokenize out/unique -o out/tokens --tokenizer out/tokenizer
  curate tokenize crawl/*.jsonl.gz -o out/tokens --tokenizer gpt2-folder --shuffle --seed 1
  curate tokenize out/unique -o out/sample --tokenizer tok/ --max-tokens 10000000 --eos-token '<|endoftext|>'
"""


@click.command("tokenize", help=HELP)
@input_options
@output_options
@click.option(
    "--tokenizer",
    required=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="A Hugging Face tokenizer folder with tokenizer.json (init-model's, save_pretrained's) or the file itself.",
)
@click.option(
    "--eos-token",
    default=None,
    metavar="TOKEN",
    help="The token written after every document (default: the tokenizer's eos_token, or, when that closes a "
    "chat turn such as <|im_end|> or <|eot_id|>, the vocabulary's document end: <|endoftext|>, <|end_of_text|>, "
    "</s>).",
)
@click.option(
    "--dtype",
    type=click.Choice(["auto", "uint16", "uint32"]),
    default="auto",
    show_default=True,
    help="Token type of the .bin shards; auto: uint16 when every id fits (up to 65,535), else uint32.",
)
@click.option(
    "--shard-tokens",
    type=click.IntRange(min=1),
    default=100_000_000,
    show_default=True,
    metavar="N",
    help="Tokens per .bin shard (the last holds the rest); 100M uint16 tokens are 200 MB.",
)
@click.option("--shuffle", is_flag=True, help="Write the documents in a random order, the same for the same --seed.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of --shuffle.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Write exactly N tokens (EOS included) and stop, the last document cut; every input is still read.",
)
@executor_options
@click.pass_context
def tokenize_command(ctx: click.Context, **params) -> None:
    from curate.corpus.tokenize.command import TokenizeSettings, token_summary, tokenize_corpus

    settings = TokenizeSettings(
        tokenizer=params["tokenizer"],
        eos_token=params["eos_token"],
        dtype=params["dtype"],
        shard_tokens=params["shard_tokens"],
        shuffle=params["shuffle"],
        seed=params["seed"],
        max_tokens=params["max_tokens"],
    )
    result = tokenize_corpus(list(params["inputs"]), params["output"], settings, **job_arguments(ctx, params))
    click.echo(summary(result))
    line = token_summary(result.manifest)
    if line:
        click.echo(line)
