"""The options of the trainer's commands (train-sft, train-dpo, train-rm): the shared ones, and
those that make a big model fit (LoRA, QLoRA, FSDP); and turning them into `TrainSettings`."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import click

from curate.cli.options import SEED, compose, progress_option
from curate.train.lora import ALL_LINEAR, LoraSettings
from curate.train.settings import OptimizerSettings, TrainSettings


def train_options(
    default_lr: float,
    default_length: int,
    batch_help: str = "Rows (pairs for DPO/RM) per micro-batch, per process.",
    length_help: str = "Most tokens per example (and per packed row).",
    eval_fraction: float = 0.05,
    eval_help: str = "Share of rows held out for the eval loss.",
):
    """The options every trainer shares (train-sft, train-dpo, train-rm, train-grpo, train-ppo)."""
    return compose(
        click.argument("data", nargs=-1, required=True, metavar="DATA..."),
        click.option(
            "-o",
            "--output",
            required=True,
            type=click.Path(path_type=Path),
            help="Run folder: metrics.jsonl, loss.png, checkpoint-N/, final/.",
        ),
        click.option(
            "--model",
            required=True,
            metavar="PATH|ID",
            help="A model folder (e.g. from `curate init-model`) or a Hugging Face id; safetensors weights only.",
        ),
        click.option(
            "--template",
            default=None,
            metavar="NAME|PATH",
            help="Chat template to render with (default: the model's own).",
        ),
        click.option(
            "--max-length",
            type=click.IntRange(min=8),
            default=default_length,
            show_default=True,
            help=length_help,
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=8,
            show_default=True,
            help=batch_help,
        ),
        click.option(
            "--grad-accum",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Micro-batches per optimizer step.",
        ),
        click.option(
            "--epochs",
            type=click.FloatRange(min=0, min_open=True),
            default=1.0,
            show_default=True,
            help="Passes over the training rows.",
        ),
        click.option(
            "--max-steps", type=click.IntRange(min=1), default=None, help="Optimizer steps (overrides --epochs)."
        ),
        click.option(
            "--lr",
            type=click.FloatRange(min=0, min_open=True),
            default=default_lr,
            show_default=True,
            help="Peak learning rate (AdamW).",
        ),
        click.option(
            "--weight-decay",
            type=click.FloatRange(min=0),
            default=OptimizerSettings.weight_decay,
            show_default=True,
            help="AdamW weight decay (matrices only).",
        ),
        click.option(
            "--warmup-steps",
            type=click.IntRange(min=0),
            default=OptimizerSettings.warmup_steps,
            show_default=True,
            help="Linear warmup steps before the cosine decay.",
        ),
        click.option(
            "--min-lr-ratio",
            type=click.FloatRange(0, 1),
            default=OptimizerSettings.min_lr_ratio,
            show_default=True,
            help="The cosine ends at lr times this.",
        ),
        click.option(
            "--max-grad-norm",
            type=click.FloatRange(min=0, min_open=True),
            default=1.0,
            show_default=True,
            help="Gradient clipping.",
        ),
        click.option(
            "--eval-fraction",
            type=click.FloatRange(0, 0.5),
            default=eval_fraction,
            show_default=True,
            help=eval_help,
        ),
        click.option(
            "--eval-every",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Steps between evaluations (0: at the end).",
        ),
        click.option(
            "--log-every",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Steps between lines of metrics.jsonl.",
        ),
        click.option(
            "--save-every",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Steps between checkpoints (0: only final/).",
        ),
        click.option(
            "--seed",
            type=SEED,
            default=0,
            show_default=True,
            help="Seed of the split, the data order and the initialisation of new heads.",
        ),
        click.option("--device", default="auto", show_default=True, help="cuda, cpu or auto."),
        click.option("--bf16/--no-bf16", default=None, help="bf16 autocast (default: on GPU)."),
        click.option(
            "--gradient-checkpointing",
            is_flag=True,
            help="Recompute activations in the backward pass: less memory, about 30% slower.",
        ),
        click.option("--compile", is_flag=True, help="torch.compile the model."),
        click.option("--resume", is_flag=True, help="Continue from the run folder's latest checkpoint-N/."),
        *scale_options(),
        progress_option,
    )


def scale_options() -> tuple:
    """LoRA, QLoRA and FSDP: training a model bigger than full fine-tuning fits (README: what fits where)."""
    return (
        click.option(
            "--lora", is_flag=True, help="Train LoRA adapters on the frozen model (peft); final/ is the adapter."
        ),
        click.option(
            "--lora-r", type=click.IntRange(min=1), default=LoraSettings.r, show_default=True, help="LoRA rank."
        ),
        click.option(
            "--lora-alpha",
            type=click.FloatRange(min=0, min_open=True),
            default=LoraSettings.alpha,
            show_default=True,
            help="LoRA scaling numerator (the update is scaled by alpha / r).",
        ),
        click.option(
            "--lora-dropout",
            type=click.FloatRange(0, 1, max_open=True),
            default=LoraSettings.dropout,
            show_default=True,
            help="Dropout on the adapters' input (DPO switches every dropout off, as TRL does).",
        ),
        click.option(
            "--lora-target",
            default=ALL_LINEAR,
            show_default=True,
            metavar="all-linear|NAMES",
            help="Linear layers that get adapters: all-linear (every one but the output head) or names, e.g. q_proj,v_proj.",
        ),
        click.option(
            "--load-in-4bit",
            is_flag=True,
            help="QLoRA: the frozen model in 4-bit NF4 (bitsandbytes, bf16 compute); needs --lora and a CUDA GPU.",
        ),
        click.option(
            "--merge", is_flag=True, help="With --lora: also write RUN/merged, the adapter merged into the model."
        ),
        click.option(
            "--fsdp",
            is_flag=True,
            help="Under torchrun: shard weights, gradients and optimizer state over the processes (FSDP2) instead of DDP.",
        ),
    )


def train_settings(params: dict) -> dict:
    """`TrainSettings` fields from the shared training options (the command adds its own)."""
    computed = ("data", "optimizer", "lora", "loss_chunk_tokens")
    direct = {field.name: params[field.name] for field in fields(TrainSettings) if field.name not in computed}
    optimizer = OptimizerSettings(
        lr=params["lr"], weight_decay=params["weight_decay"], warmup_steps=params["warmup_steps"],
        min_lr_ratio=params["min_lr_ratio"],
    )  # fmt: skip
    lora = None
    if params["lora"]:
        lora = LoraSettings(
            r=params["lora_r"], alpha=params["lora_alpha"], dropout=params["lora_dropout"], target=params["lora_target"]
        )
    return direct | {"data": tuple(params["data"]), "optimizer": optimizer, "lora": lora}
