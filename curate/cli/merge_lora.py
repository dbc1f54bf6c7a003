"""`curate merge-lora`: a LoRA run's adapter merged into its base, as a plain model folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("merge-lora")
@click.argument("adapter", type=click.Path(path_type=Path, exists=True, file_okay=False), metavar="ADAPTER")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Model folder to write (new or empty, or an earlier merge-lora with --overwrite).",
)
@click.option(
    "--base",
    default=None,
    metavar="PATH|ID",
    help="The base model (default: the one adapter_config.json names, which must be here).",
)
@click.option(
    "--dtype",
    type=click.Choice(["auto", "float32", "bfloat16", "float16"]),
    default="auto",
    show_default=True,
    help="dtype of the merged weights (auto: the base's own).",
)
@click.option("--device", default="cpu", show_default=True, help="Where to merge: cpu, or cuda for a big model.")
@click.option("--overwrite", is_flag=True, help="Replace a model folder an earlier merge-lora or init-model wrote.")
def merge_lora_command(adapter: Path, output: Path, base: str | None, dtype: str, device: str, overwrite: bool) -> None:
    """Merge a LoRA adapter (a `train-* --lora` run's final/ or checkpoint-N/) into its base.

    The result is a plain model folder (safetensors, config, tokenizer) that
    AutoModelForCausalLM.from_pretrained (AutoModelForSequenceClassification for a
    reward model), vLLM and every trainer load without peft. A QLoRA adapter is merged
    into the base in full precision, not in 4-bit.

    \b
    Examples:
      curate merge-lora runs/sft-lora/final -o models/sft-merged
      curate merge-lora runs/rm-lora/final -o models/rm --dtype bfloat16
      curate merge-lora runs/dpo/checkpoint-200 -o models/dpo-200 --base meta-llama/Llama-3.1-8B-Instruct
    """
    from curate.errors import UserError
    from curate.llm.adapters import is_adapter_folder
    from curate.train.merge import merge_adapter

    if not is_adapter_folder(adapter):
        raise UserError(f"{adapter} is not a LoRA adapter folder (no adapter_config.json); pass a --lora run's final/")
    info = merge_adapter(adapter, output, base=base, dtype=dtype, device=device, overwrite=overwrite)
    click.echo(
        f"merge-lora: {adapter} + {info['base']} -> {output} ({info['parameters']:,} parameters, "
        f"{info['dtype']}, {info['seconds']:.1f} s)"
    )
