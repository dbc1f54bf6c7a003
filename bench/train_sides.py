"""One training run of one side (curate or TRL), model and mode, measured; see train_throughput.py.

`run_job(job)` runs in a fresh process (`train_measure.call_in_process`): peak memory and CUDA
state are its own. curate's tokens/s come from its metrics.jsonl and the step's batches rebuilt
as its trainer makes them (non-padding tokens); TRL's from a callback's clock and
`num_input_tokens_seen` counted as non-padding tokens.
"""

from __future__ import annotations

import shutil
import time
import traceback
from pathlib import Path

import train_measure  # noqa: F401  (the environment, before transformers is imported)
from train_measure import SEED, curate_steady
from transformers import TrainerCallback

SFT_LR = 2e-5  # curate's and TRL's SFT default
DPO_LR = 1e-6  # curate's and TRL's DPO default
DPO_BETA = 0.1


def curate_sft_examples(job: dict, tokenizer):
    """The SFT rows tokenised as curate's train_sft does (its template, max length, masks)."""
    from curate.instruct.templates import template_for
    from curate.train import data

    template = template_for(tokenizer, None, job["model_dir"])
    return data.tokenize_sft(data.read_rows(job["data"]), tokenizer, template, job["seq"])


def curate_dpo_pairs(job: dict, tokenizer):
    """The preference rows tokenised as curate's train_dpo does."""
    from curate.instruct.templates import template_for
    from curate.train import data

    template = template_for(tokenizer, None, job["model_dir"])
    rows = data.read_rows(job["data"], kind=data.PREFERENCE)
    return data.tokenize_preference(rows, tokenizer, template, job["seq"], None)


# ------------------------------------------------------------------------------ curate


def lora_settings(job: dict):
    """curate's LoraSettings from job["lora"] (r, alpha, dropout, target), or None: full fine-tune."""
    from curate.train.lora import LoraSettings

    return LoraSettings(**job["lora"]) if job.get("lora") else None


def curate_sft(job: dict) -> dict:
    from transformers import AutoTokenizer

    from curate.train import batches, data, run_folder
    from curate.train import settings as train_settings
    from curate.train.sft import SFTSettings, train_sft

    settings = SFTSettings(
        model=job["model_dir"], data=(job["data"],), output=Path(job["run_dir"]), max_length=job["seq"],
        packing=True, batch_size=job["batch"], grad_accum=1, max_steps=job["steps"],
        optimizer=train_settings.OptimizerSettings(lr=job.get("lr", SFT_LR)), max_grad_norm=1.0, eval_fraction=0.0,
        log_every=1, seed=SEED, device=job["device"], bf16=job["bf16"],
        gradient_checkpointing=job["gradient_checkpointing"], lora=lora_settings(job),
        load_in_4bit=job.get("load_in_4bit", False),
    )  # fmt: skip
    started = time.perf_counter()
    trained = train_sft(settings, progress=False)
    train_seconds = time.perf_counter() - started

    # rebuild each step's batch as train_sft makes it: same examples, packing and seeded order
    examples, report = curate_sft_examples(job, AutoTokenizer.from_pretrained(job["model_dir"]))
    items = data.pack(examples, job["seq"])
    steps = []
    for _, (_, indices) in zip(range(job["steps"]), batches.micro_batches(len(items), job["batch"], SEED, 0)):
        lengths = [len(items[index]["input_ids"]) for index in indices]
        trained_tokens = sum(sum(label != data.IGNORE for label in items[index]["labels"][1:]) for index in indices)
        steps.append({"padded": len(indices) * max(lengths), "tokens": sum(lengths), "trained_tokens": trained_tokens})
    result = curate_steady(
        run_folder.read_metrics(Path(job["run_dir"]) / "metrics.jsonl"), steps, job["warmup"], "trained_tokens"
    )
    trainable, _total = trained.get("parameters") or (None, None)
    return {
        **result,
        "dataset_tokens": report.tokens,
        "batch": f"{job['batch']} packed rows",
        "trainable_parameters": trainable,
        "train_sft_seconds": train_seconds,  # loading, tokenising, the steps and the final save
    }


def curate_dpo(job: dict) -> dict:
    from transformers import AutoTokenizer

    from curate.train import batches, run_folder
    from curate.train import settings as train_settings
    from curate.train.dpo import DPOSettings, train_dpo

    settings = DPOSettings(
        model=job["model_dir"], data=(job["data"],), output=Path(job["run_dir"]), max_length=job["seq"],
        max_prompt_length=None, batch_size=job["batch"], grad_accum=1, max_steps=job["steps"],
        optimizer=train_settings.OptimizerSettings(lr=DPO_LR), max_grad_norm=1.0, eval_fraction=0.0, log_every=1,
        seed=SEED, device=job["device"], bf16=job["bf16"], gradient_checkpointing=job["gradient_checkpointing"],
        beta=DPO_BETA, loss="sigmoid", ref="precompute",
    )  # fmt: skip
    train_dpo(settings, progress=False)

    pairs, report = curate_dpo_pairs(job, AutoTokenizer.from_pretrained(job["model_dir"]))
    steps = []
    for _, (_, indices) in zip(range(job["steps"]), batches.micro_batches(len(pairs), job["batch"], SEED, 0)):
        chosen = [len(pairs[i]["prompt_ids"]) + len(pairs[i]["chosen_ids"]) for i in indices]
        rejected = [len(pairs[i]["prompt_ids"]) + len(pairs[i]["rejected_ids"]) for i in indices]
        padded = 2 * len(indices) * max(chosen + rejected)  # collate_preference: 2B rows, padded to the longest
        steps.append({"padded": padded, "tokens": sum(chosen) + sum(rejected), "pairs": len(indices)})
    result = curate_steady(
        run_folder.read_metrics(Path(job["run_dir"]) / "metrics.jsonl"), steps, job["warmup"], "pairs"
    )
    return {**result, "dataset_tokens": report.tokens, "batch": f"{job['batch']} pairs"}


# ------------------------------------------------------------------------------ TRL


class SteadyClock(TrainerCallback):
    """Time and non-padding tokens seen from the end of step `warmup` to the end of the last step."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: tuple[float, int] | None = None
        self.end: tuple[float, int] | None = None

    @staticmethod
    def _now(state) -> tuple[float, int]:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter(), int(state.num_input_tokens_seen)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.start = self._now(state)
        elif state.global_step == state.max_steps:
            self.end = self._now(state)

    def result(self, steps: int) -> dict:
        if self.start is None or self.end is None:
            raise RuntimeError("the TRL run did not reach the end of the warm-up and the last step")
        seconds, tokens = self.end[0] - self.start[0], self.end[1] - self.start[1]
        return {
            "tokens_per_s": tokens / seconds,
            "timed_steps": steps - self.warmup,
            "timed_tokens": tokens,
            "timed_seconds": seconds,
        }


def trl_arguments(job: dict, learning_rate: float) -> dict:
    """TrainingArguments shared by TRL's SFT and DPO runs: curate's settings, spelled for TRL."""
    return {
        "output_dir": job["run_dir"],
        "max_steps": job["steps"],
        "per_device_train_batch_size": job["batch"],
        "gradient_accumulation_steps": 1,
        "learning_rate": learning_rate,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0,
        "weight_decay": 0.0,
        "adam_beta1": 0.9,
        "adam_beta2": 0.999,
        "adam_epsilon": 1e-8,
        "max_grad_norm": 1.0,
        "optim": "adamw_torch" if job["device"] == "cpu" else "adamw_torch_fused",  # curate: fused on GPU only
        "bf16": job["bf16"],
        "use_cpu": job["device"] == "cpu",
        "gradient_checkpointing": job["gradient_checkpointing"],  # TRL's default is True
        "seed": SEED,
        "max_length": job["seq"],
        "model_init_kwargs": {"dtype": "float32", "attn_implementation": job["attention"], "device_map": None},
        "include_num_input_tokens_seen": "non_padding",
        "logging_steps": 1,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }


def run_trl(trainer, clock: SteadyClock, job: dict) -> dict:
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # a dict per step on stdout; the log history keeps them
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {**clock.result(job["steps"]), "final_loss": losses[-1] if losses else None}


def trl_sft(job: dict) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(job["model_dir"])
    examples, _ = curate_sft_examples(job, tokenizer)
    dataset = Dataset.from_dict(
        {
            "input_ids": [example["input_ids"] for example in examples],
            "labels": [example["labels"] for example in examples],
        }
    )
    config = SFTConfig(**trl_arguments(job, SFT_LR), packing=True, packing_strategy="bfd")  # bfd: padding-free
    clock = SteadyClock(job["warmup"])
    trainer = SFTTrainer(
        model=job["model_dir"], args=config, train_dataset=dataset, processing_class=tokenizer, callbacks=[clock]
    )
    result = run_trl(trainer, clock, job)
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])  # after packing (bfd cuts nothing here)
    return {**result, "dataset_tokens": tokens, "batch": f"{job['batch']} packed rows, flattened (padding-free)"}


def trl_dpo(job: dict) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from curate.train import data

    tokenizer = AutoTokenizer.from_pretrained(job["model_dir"])
    dataset = Dataset.from_list(data.read_rows(job["data"], kind=data.PREFERENCE))
    config = DPOConfig(
        **trl_arguments(job, DPO_LR), beta=DPO_BETA, loss_type=["sigmoid"], precompute_ref_log_probs=True,
        precompute_ref_batch_size=job["batch"],
    )  # fmt: skip
    clock = SteadyClock(job["warmup"])
    trainer = DPOTrainer(
        model=job["model_dir"], args=config, train_dataset=dataset, processing_class=tokenizer, callbacks=[clock]
    )
    result = run_trl(trainer, clock, job)
    prepared = trainer.train_dataset
    tokens = sum(  # each sequence as DataCollatorForPreference truncates it (keep_start, max_length)
        min(len(prompt) + len(chosen), job["seq"]) + min(len(prompt) + len(rejected), job["seq"])
        for prompt, chosen, rejected in zip(prepared["prompt_ids"], prepared["chosen_ids"], prepared["rejected_ids"])
    )
    return {**result, "dataset_tokens": tokens, "batch": f"{job['batch']} pairs"}


# ------------------------------------------------------------------------------ one run, in its own process

RUNNERS = {
    ("curate", "sft"): curate_sft,
    ("curate", "dpo"): curate_dpo,
    ("trl", "sft"): trl_sft,
    ("trl", "dpo"): trl_dpo,
}


def run_job(job: dict) -> dict:
    """One side, model and mode; called in a fresh process, so peak memory and CUDA state are its own."""
    import torch

    cuda = job["device"] == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    try:
        result = RUNNERS[(job["side"], job["mode"])](job)
    except torch.OutOfMemoryError as error:
        return {"error": f"out of GPU memory: {str(error).splitlines()[0]}", "oom": True, **memory(cuda)}
    except Exception as error:  # reported in the table and the JSON; the other runs go on
        if "out of memory" in str(error).lower() and cuda:  # bitsandbytes and some kernels raise plain errors
            return {"error": f"out of GPU memory: {str(error).splitlines()[0]}", "oom": True, **memory(cuda)}
        return {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    finally:
        if not job.get("keep_run"):
            shutil.rmtree(job["run_dir"], ignore_errors=True)  # checkpoints (GBs); the numbers are kept
    result.update(memory(cuda))
    result["wall_seconds"] = time.perf_counter() - started
    return result


def memory(cuda: bool) -> dict:
    """Peak memory of this process: allocated (the figure reported) and reserved by the caching allocator."""
    import torch

    return {
        "peak_memory_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "peak_reserved_bytes": torch.cuda.max_memory_reserved() if cuda else None,
    }
