"""`curate init-model`, `curate train-sft`, `curate train-dpo`, `curate train-rm`: the trainer.

torch and transformers are imported when a command runs, never to list or describe it.
"""

from __future__ import annotations

from pathlib import Path

import click

from curate.cli.options import SEED, corpus_text_options, show_progress
from curate.cli.train_options import train_options, train_settings
from curate.train.dpo_losses import LOSSES
from curate.train.dpo_reference import REFERENCE_MODES
from curate.train.init_model import SIZES
from curate.train.settings import DPOSettings


@click.command("init-model")
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
    type=click.Choice(list(SIZES)),
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
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the random weights.")
@corpus_text_options("Train the tokenizer on the first N documents only, in input order.")
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
    from curate.train.command import make_model

    options = {"vocab_size": vocab_size, "text_field": text_field, "max_documents": max_documents}
    for line in make_model(output, list(corpus), size=size, seed=seed, overwrite=overwrite, **options):
        click.echo(line)


# `curate train-sft`, `train-dpo`, `train-rm` ------------------------------------------------


def _run(method: str, settings, params: dict) -> None:
    from curate.train.command import train

    for line in train(method, settings, progress=show_progress(params["progress"])):
        click.echo(line)


@click.command("train-sft")
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
      curate train-sft out/sft -o runs/lora --model meta-llama/Llama-3.1-8B-Instruct --lora --lora-r 16 --merge
      curate train-sft out/sft -o runs/qlora --model meta-llama/Llama-3.1-8B-Instruct --lora --load-in-4bit
      torchrun --nproc-per-node 8 -m curate train-sft out/sft -o runs/full8b --model meta-llama/Llama-3.1-8B --fsdp
    """
    from curate.train.sft import SFTSettings

    settings = SFTSettings(**train_settings(params), packing=params["packing"])
    _run("sft", settings, params)


@click.command("train-dpo")
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
    type=click.Choice(list(LOSSES)),
    default=DPOSettings.loss,
    show_default=True,
    help="DPO loss (TRL's formulas).",
)
@click.option(
    "--ref",
    "ref_mode",
    type=click.Choice(REFERENCE_MODES),
    default=DPOSettings.ref,
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
      curate train-dpo out/prefs -o runs/dpo-lora --model runs/lora/final --lora --lr 5e-6   # reference: adapters off
    """
    settings = DPOSettings(
        **train_settings(params), max_prompt_length=params["max_prompt_length"], beta=params["beta"],
        loss=params["loss_type"], ref=params["ref_mode"], ref_model=params["ref_model"],
    )  # fmt: skip
    _run("dpo", settings, params)


@click.command("train-rm")
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
    Examples:
      curate train-rm out/quickstart/preferences -o runs/rm --model out/quickstart/model --max-steps 100 --lr 1e-3
      curate train-rm out/prefs -o runs/rm-lora --model Qwen/Qwen2.5-7B-Instruct --lora --lr 1e-4   # adapters + score head
    """
    from curate.train.rm import RMSettings

    settings = RMSettings(
        **train_settings(params),
        center_rewards_coefficient=params["center_rewards"], margin_from_scores=params["margin_from_scores"],
    )  # fmt: skip
    _run("rm", settings, params)
