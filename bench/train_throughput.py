"""Training throughput of curate's train-sft / train-dpo against TRL's SFTTrainer / DPOTrainer.

    python bench/train_throughput.py [--models qwen0.5b,llama1b] [--modes sft,dpo] [--steps 30]
        [--warmup 10] [--seq 2048] [--batch-tokens 16384] [--dpo-pairs N] [--attn auto]
        [--gradient-checkpointing] [--out bench/_work/train_throughput.json] [--smoke]

Models: randomly initialised, no download. Their configs are written here from the published
shapes (Qwen2.5-0.5B: Qwen2, hidden 896, 24 layers, 14 heads / 2 kv, MLP 4864, vocab 151936,
tied embeddings, rope theta 1e6; Llama-3.2-1B: Llama, hidden 2048, 16 layers, 32 heads / 8 kv,
MLP 8192, vocab 128256, tied embeddings, rope theta 5e5; Llama-3's rope scaling is left out,
it costs nothing). The tokenizer is a byte-level BPE trained here on the bench's own text
(`curate.train.init_model.train_bpe_tokenizer`, 32k tokens, ChatML template): its ids are all
below the published vocab sizes, so the models keep their real embedding and LM-head shapes.
Both sides load the same saved fp32 weights.

Data (from ../shared/data, or --data):
- SFT: the 5,000 Alpaca records as user/assistant conversations, written as JSONL for curate.
  TRL gets the same rows tokenised by curate (`input_ids`, and `labels` masked outside the
  assistant turns), as a `datasets.Dataset`: the same token ids and the same loss mask on both
  sides, packed by each side's own packer (curate first-fit decreasing, TRL best-fit decreasing)
  into rows of --seq tokens.
- DPO: the 2,312 hh-rlhf harmless-base test pairs converted to prompt/chosen/rejected
  conversations (8 that do not parse are dropped); curate reads them as JSONL, TRL gets the
  same rows as a `datasets.Dataset` and tokenises them with the same chat template.

Matching settings on both sides: the same model and weights, bf16 autocast over fp32 master
weights (fp32 in --smoke), AdamW (fused on GPU; betas 0.9/0.999, eps 1e-8, weight decay 0),
cosine schedule without warmup, grad-norm clip 1.0, seed 0, no gradient accumulation, no
evaluation, no checkpoints during training; lr 2e-5 for SFT and 1e-6 for DPO (each trainer's
default); DPO with the sigmoid loss, beta 0.1, and the reference log-probs precomputed before
training (curate's default, TRL's `precompute_ref_log_probs=True`); the same attention:
flash_attention_2 when it is installed, else sdpa. No gradient checkpointing, unless a run
runs out of GPU memory: then both sides of that model and mode are run again with it.
The batch: SFT, --batch-tokens / --seq packed rows per step; DPO, the most pairs per step whose
batches, padded to their longest sequence as both trainers pad them, hold at most --batch-tokens
tokens on average over the data (--dpo-pairs overrides it).

Measured: steady-state tokens/s over the steps after --warmup, counting NON-PADDING tokens
on both sides (what the model reads; padding added to fill a batch is not counted):
- curate: RUN/metrics.jsonl has each step's `tokens_per_s` (padded tokens / step seconds); the
  step seconds are recovered from it, and the step's batches rebuilt (same data, packing and
  seeded order as the trainer) to count their non-padding tokens; the rebuilt batches' trained
  tokens are checked against the log's `trained_tokens` (SFT) and pair counts (DPO).
- TRL: a `TrainerCallback` takes the time (after a CUDA sync) at the end of step --warmup and
  of the last step, and the tokens from `state.num_input_tokens_seen` counted with
  `include_num_input_tokens_seen="non_padding"`.
Peak memory is `torch.cuda.max_memory_allocated()` over the whole run (each run is a fresh
process). MFU = tokens/s * `curate.train.flops.flops_per_token(params, layers, hidden, seq)`
/ `curate.train.flops.peak_flops(device name)` (dense bf16 peak).

Goals reported: SFT MFU >= 45%; curate >= 1.3x TRL tokens/s for SFT and DPO at equal or
lower peak memory.

--smoke: tiny models of the same two families (hidden 64, 2 layers, vocab 4096), seq 256,
3 steps (1 warm-up), 4 rows per step, a few hundred rows of data, on the CPU in fp32: the
whole bench end to end in a couple of minutes, no GPU needed.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _quiet in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
    os.environ.setdefault(_quiet, "1")  # progress bars of loading, saving, dataset maps, reference passes
warnings.filterwarnings("ignore", category=FutureWarning)  # renames announced for transformers 6

from transformers import TrainerCallback  # noqa: E402  (after the environment above)

WORK = HERE / "_work" / "train_throughput"
# ../shared/data beside the checkout (this project's layout), else shared/data inside it
SHARED = next(
    (path for path in (REPO.parent / "shared" / "data", REPO / "shared" / "data") if path.is_dir()),
    REPO.parent / "shared" / "data",
)
ALPACA = Path("instructions") / "alpaca_5000.json"
HH_RLHF = Path("preferences") / "hh_rlhf_harmless_base_test.jsonl.gz"

SFT_LR = 2e-5  # curate's and TRL's SFT default
DPO_LR = 1e-6  # curate's and TRL's DPO default
DPO_BETA = 0.1
SEED = 0
TOKENIZER_VOCAB = 32000

# The published shapes (config.json of Qwen/Qwen2.5-0.5B and meta-llama/Llama-3.2-1B).
MODELS = {
    "qwen0.5b": {
        "family": "qwen2", "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
        "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936, "rope_theta": 1e6,
        "rms_norm_eps": 1e-6, "max_position_embeddings": 32768,
    },
    "llama1b": {
        "family": "llama", "hidden_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 8192, "vocab_size": 128256, "rope_theta": 5e5,
        "rms_norm_eps": 1e-5, "max_position_embeddings": 131072, "head_dim": 64,
    },
}  # fmt: skip
SMOKE_SHAPE = {
    "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "intermediate_size": 128, "vocab_size": 4096, "max_position_embeddings": 2048, "head_dim": 16,
}  # fmt: skip
SMOKE = {"seq": 256, "steps": 3, "warmup": 1, "batch_tokens": 1024, "sft_rows": 200, "dpo_rows": 64, "vocab": 2000}


# ------------------------------------------------------------------------------ data and models


def alpaca_conversations(path: Path, limit: int | None) -> list[dict]:
    """Alpaca records as {"messages": [user, assistant]}; records with an empty output are dropped."""
    from curate.instruct import formats

    rows = []
    for record in json.loads(path.read_text(encoding="utf-8")):
        try:
            rows.extend({"messages": row["messages"]} for row in formats.read_row(record, "alpaca"))
        except formats.Unconvertible:
            continue
    return rows[:limit]


def hh_rlhf_pairs(path: Path, limit: int | None) -> list[dict]:
    """hh-rlhf transcripts as {"prompt", "chosen", "rejected"} message lists; unparseable ones dropped."""
    from curate.instruct import formats

    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            try:
                converted = formats.read_row(json.loads(line), "hh-rlhf")
            except formats.Unconvertible:
                continue
            rows.extend({key: row[key] for key in ("prompt", "chosen", "rejected")} for row in converted)
    return rows[:limit]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def texts_of(sft_rows: list[dict], dpo_rows: list[dict]):
    for row in sft_rows:
        for message in row["messages"]:
            yield message["content"]
    for row in dpo_rows:
        for key in ("prompt", "chosen", "rejected"):
            for message in row[key]:
                yield message["content"]


def model_config(name: str, tokenizer, smoke: bool):
    """The model's transformers config: the published shape, or a tiny one of the same family."""
    from transformers import LlamaConfig, Qwen2Config

    shape = dict(MODELS[name])
    family = shape.pop("family")
    if smoke:
        shape.update(SMOKE_SHAPE)
    if family == "qwen2":
        shape.pop("head_dim", None)  # Qwen2 derives it: hidden / heads
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    special["pad_token_id"] = tokenizer.pad_token_id
    config_class = Qwen2Config if family == "qwen2" else LlamaConfig
    return config_class(tie_word_embeddings=True, **shape, **special)


def save_model(name: str, tokenizer, attention: str, smoke: bool, folder: Path) -> dict:
    """A randomly initialised model (seed 0, float32) and the tokenizer, saved to `folder`.

    The attention implementation is written into config.json, where `from_pretrained` reads it:
    curate's trainers load the folder with no attention argument and get the same one as TRL.
    """
    import torch
    from transformers import AutoModelForCausalLM

    config = model_config(name, tokenizer, smoke)
    if config.vocab_size < len(tokenizer):
        raise SystemExit(f"the tokenizer has {len(tokenizer)} tokens, more than {name}'s vocab {config.vocab_size}")
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    info = {
        "name": name,
        "architecture": type(model).__name__,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),  # tied: counted once
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
        "vocab": config.vocab_size,
        "folder": str(folder),
    }
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    del model
    config_path = folder / "config.json"
    saved = json.loads(config_path.read_text())
    saved["attn_implementation"] = attention
    config_path.write_text(json.dumps(saved, indent=2) + "\n")
    return info


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


def curate_steady(metrics: list[dict], steps: list[dict], warmup: int, check: str) -> dict:
    """Non-padding tokens/s over the logged steps after `warmup`, from metrics.jsonl and the rebuilt batches.

    `steps[i]` describes step i + 1: `padded` (input_ids.numel(), what curate's tokens_per_s
    counts), `tokens` (non-padding) and the value of the metric `check` that the log must agree on.
    """
    if len(metrics) != len(steps):
        raise RuntimeError(f"metrics.jsonl has {len(metrics)} steps, the rebuilt batches {len(steps)}")
    seconds = tokens = 0.0
    for record, step in zip(metrics, steps):
        if record[check] != step[check]:
            raise RuntimeError(
                f"step {record['step']}: the log says {check}={record[check]}, the rebuilt batch {step[check]}; "
                "the bench no longer rebuilds curate's batches as the trainer makes them"
            )
        if record["step"] > warmup:
            seconds += step["padded"] / record["tokens_per_s"]
            tokens += step["tokens"]
    return {
        "tokens_per_s": tokens / seconds,
        "timed_steps": len(metrics) - warmup,
        "timed_tokens": int(tokens),
        "timed_seconds": seconds,
        "padded_fraction": 1 - tokens / sum(step["padded"] for step in steps[warmup:]),
        "final_loss": metrics[-1]["loss"],
    }


def curate_sft(job: dict) -> dict:
    from transformers import AutoTokenizer

    from curate.train import batches, data, run_folder
    from curate.train import settings as train_settings
    from curate.train.sft import SFTSettings, train_sft

    settings = SFTSettings(
        model=job["model_dir"], data=(job["data"],), output=Path(job["run_dir"]), max_length=job["seq"],
        packing=True, batch_size=job["batch"], grad_accum=1, max_steps=job["steps"],
        optimizer=train_settings.OptimizerSettings(lr=SFT_LR), max_grad_norm=1.0, eval_fraction=0.0, log_every=1,
        seed=SEED, device=job["device"], bf16=job["bf16"], gradient_checkpointing=job["gradient_checkpointing"],
    )  # fmt: skip
    train_sft(settings, progress=False)

    # rebuild each step's batch as train_sft makes it: same examples, packing and seeded order
    examples, report = curate_sft_examples(job, AutoTokenizer.from_pretrained(job["model_dir"]))
    items = data.pack(examples, job["seq"])
    steps = []
    for _, (_, indices) in zip(range(job["steps"]), batches.micro_batches(len(items), job["batch"], SEED, 0)):
        lengths = [len(items[index]["input_ids"]) for index in indices]
        trained = sum(sum(label != data.IGNORE for label in items[index]["labels"][1:]) for index in indices)
        steps.append({"padded": len(indices) * max(lengths), "tokens": sum(lengths), "trained_tokens": trained})
    result = curate_steady(
        run_folder.read_metrics(Path(job["run_dir"]) / "metrics.jsonl"), steps, job["warmup"], "trained_tokens"
    )
    return {**result, "dataset_tokens": report.tokens, "batch": f"{job['batch']} packed rows"}


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
    """One side, model and mode; in a fresh process, so peak memory and CUDA state are its own."""
    import torch

    cuda = job["device"] == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    try:
        result = RUNNERS[(job["side"], job["mode"])](job)
    except torch.OutOfMemoryError as error:
        return {"error": f"out of GPU memory: {str(error).splitlines()[0]}", "oom": True}
    except Exception as error:  # reported in the table and the JSON; the other runs go on
        return {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    finally:
        shutil.rmtree(job["run_dir"], ignore_errors=True)  # checkpoints (GBs); the numbers are kept
    result["peak_memory_bytes"] = torch.cuda.max_memory_allocated() if cuda else None
    result["wall_seconds"] = time.perf_counter() - started
    return result


def run_in_process(job: dict) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(run_job, job).result()
        except BrokenProcessPool as error:
            return {"error": f"the run's process died: {error}"}


# ------------------------------------------------------------------------------ report


def gib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**30:.2f}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def compare(results: list[dict]) -> list[dict]:
    """curate/TRL ratios per model and mode, and the goals: SFT MFU >= 45%, >= 1.3x tokens/s at <= memory."""
    rows = []
    for model in dict.fromkeys(result["model"] for result in results):
        for mode in dict.fromkeys(result["mode"] for result in results):
            sides = {r["side"]: r for r in results if r["model"] == model and r["mode"] == mode}
            ours, theirs = sides.get("curate"), sides.get("trl")
            if not ours or not theirs:
                continue
            ok = "error" not in ours and "error" not in theirs
            speed = ours["tokens_per_s"] / theirs["tokens_per_s"] if ok else None
            memory = None
            if ok and ours.get("peak_memory_bytes") and theirs.get("peak_memory_bytes"):
                memory = ours["peak_memory_bytes"] / theirs["peak_memory_bytes"]
            row = {"model": model, "mode": mode, "tokens_per_s_ratio": speed, "peak_memory_ratio": memory}
            row["goal_speed"] = None if speed is None or memory is None else speed >= 1.3 and memory <= 1.0
            if mode == "sft":
                row["goal_mfu"] = None if not ok or ours.get("mfu") is None else ours["mfu"] >= 0.45
            rows.append(row)
    return rows


def verdict(value: bool | None) -> str:
    return "n/a" if value is None else ("PASS" if value else "FAIL")


def print_report(results: list[dict], ratios: list[dict]) -> None:
    header = (
        f"{'model':<9} {'mode':<4} {'side':<6} {'tokens/s':>10} {'peak GiB':>9} {'MFU':>7} {'loss':>8} {'GC':>3}  batch"
    )
    print("\n" + header)
    print("-" * len(header))
    for result in results:
        name = f"{result['model']:<9} {result['mode']:<4} {result['side']:<6}"
        if "error" in result:
            print(f"{name} ERROR {result['error']}")
            continue
        loss = "-" if result.get("final_loss") is None else f"{result['final_loss']:.4f}"
        print(
            f"{name} {result['tokens_per_s']:>10,.0f} {gib(result['peak_memory_bytes']):>9} "
            f"{percent(result.get('mfu')):>7} {loss:>8} {'yes' if result['gradient_checkpointing'] else 'no':>3}  "
            f"{result['batch']}"
        )
    print("\ncurate / TRL (non-padding tokens/s; peak memory):")
    for row in ratios:
        line = (
            f"  {row['model']:<9} {row['mode']:<4} tokens/s {ratio_text(row['tokens_per_s_ratio']):>6}  "
            f"memory {ratio_text(row['peak_memory_ratio']):>6}  "
            f"goal >=1.3x at <=1.0x memory: {verdict(row['goal_speed'])}"
        )
        if "goal_mfu" in row:
            line += f"  MFU >= 45%: {verdict(row['goal_mfu'])}"
        print(line)


# ------------------------------------------------------------------------------ the runs


def dpo_pairs_per_step(job: dict, batch_tokens: int) -> int:
    """The most pairs per DPO step whose padded batches hold at most `batch_tokens` tokens on average.

    Both trainers pad a step's 2B sequences to its longest, so that is what the GPU computes
    (and what sets the memory, as SFT's packed rows do); measured over one epoch in curate's order.
    """
    from transformers import AutoTokenizer

    from curate.train import batches

    pairs, _ = curate_dpo_pairs(job, AutoTokenizer.from_pretrained(job["model_dir"]))
    longest = [len(p["prompt_ids"]) + max(len(p["chosen_ids"]), len(p["rejected_ids"])) for p in pairs]
    order = batches.epoch_order(len(pairs), SEED, 0)
    best = 1
    for size in range(1, len(pairs) + 1):
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        if statistics.mean(2 * len(batch) * max(longest[i] for i in batch) for batch in batches) > batch_tokens:
            break
        best = size
    return best


def run_pair(job: dict, work: Path) -> list[dict]:
    """curate then TRL on the same job, each in its own process."""
    pair = []
    for side in ("curate", "trl"):
        run_dir = work / f"{job['model']}-{job['mode']}-{side}{'-gc' if job['gradient_checkpointing'] else ''}"
        result = run_in_process({**job, "side": side, "run_dir": str(run_dir)})
        result = {
            "model": job["model"],
            "mode": job["mode"],
            "side": side,
            "gradient_checkpointing": job["gradient_checkpointing"],
            **result,
        }
        if "error" in result:
            print(f"  {job['model']} {job['mode']} {side}: ERROR {result['error']}")
            if result.get("traceback"):
                print(result["traceback"])
        else:
            print(
                f"  {job['model']} {job['mode']} {side}: {result['tokens_per_s']:,.0f} tokens/s over "
                f"{result['timed_steps']} steps, peak {gib(result['peak_memory_bytes'])} GiB, "
                f"loss {result['final_loss']}, {result['wall_seconds']:.0f} s"
            )
        pair.append(result)
    return pair


# ------------------------------------------------------------------------------ main


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("torch", "transformers", "trl", "accelerate", "datasets", "flash-attn", "curate"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def pick_attention(requested: str, cuda: bool) -> str:
    from transformers.utils import is_flash_attn_2_available

    if requested != "auto":
        return requested
    return "flash_attention_2" if cuda and is_flash_attn_2_available() else "sdpa"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="qwen0.5b,llama1b", help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--modes", default="sft,dpo", help="comma-separated, of sft, dpo")
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per run")
    parser.add_argument("--warmup", type=int, default=10, help="first steps left out of the timing")
    parser.add_argument("--seq", type=int, default=2048, help="sequence length (packed row length; DPO max length)")
    parser.add_argument("--batch-tokens", type=int, default=16384, help="tokens per optimizer step")
    parser.add_argument("--dpo-pairs", type=int, default=None, help="pairs per DPO step (default: from --batch-tokens)")
    parser.add_argument("--attn", default="auto", choices=("auto", "sdpa", "flash_attention_2", "eager"))
    parser.add_argument("--gradient-checkpointing", action="store_true", help="for every run, on both sides")
    parser.add_argument(
        "--data", type=Path, default=SHARED, help="the shared data folder (instructions/, preferences/)"
    )
    parser.add_argument("--workdir", type=Path, default=WORK, help="models, data and runs (deleted at the end)")
    parser.add_argument("--out", type=Path, default=HERE / "_work" / "train_throughput.json")
    parser.add_argument("--smoke", action="store_true", help="tiny models, seq 256, 3 steps, CPU, fp32")
    args = parser.parse_args()
    if args.smoke:
        args.seq, args.steps, args.warmup, args.batch_tokens = (
            SMOKE[k] for k in ("seq", "steps", "warmup", "batch_tokens")
        )
    args.models = [name.strip() for name in args.models.split(",") if name.strip()]
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = [name for name in args.models if name not in MODELS] + [m for m in args.modes if m not in ("sft", "dpo")]
    if unknown:
        parser.error(f"unknown model or mode: {', '.join(unknown)}")
    if not 1 <= args.warmup < args.steps:
        parser.error("need 1 <= --warmup < --steps")
    if args.batch_tokens < args.seq:
        parser.error("--batch-tokens must hold at least one row of --seq tokens")
    return args


def main() -> int:
    import torch

    args = parse_args()
    cuda = torch.cuda.is_available() and not args.smoke
    if not cuda and not args.smoke:
        raise SystemExit("no CUDA device: this bench measures GPU training; run it with --smoke to check it on the CPU")
    for needed in (args.data / ALPACA, args.data / HH_RLHF):
        if not needed.is_file():
            raise SystemExit(
                f"{needed} is missing; pass --data with the shared data folder (instructions/, preferences/)"
            )
    device_name = torch.cuda.get_device_name() if cuda else f"cpu ({platform.processor() or platform.machine()})"
    attention = pick_attention(args.attn, cuda)
    bf16 = cuda  # --smoke: fp32 on the CPU
    found = versions()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("device:", device_name)
    print("versions:", ", ".join(f"{name} {version}" for name, version in found.items()))
    print(
        f"attention: {attention}; dtype: {'bf16 autocast, fp32 weights' if bf16 else 'fp32'}; seq {args.seq}; "
        f"{args.steps} steps, {args.warmup} warm-up; {args.batch_tokens} tokens per step"
    )
    if attention == "sdpa" and "sft" in args.modes and cuda:
        print(
            "note: without flash-attention, TRL's padding-free SFT batch is one flattened row, and sdpa "
            "attends over it with a block mask (quadratic in the batch's tokens); curate keeps rows of --seq"
        )

    from curate.train import flops
    from curate.train.init_model import train_bpe_tokenizer

    peak = flops.peak_flops(device_name) if cuda else None
    args.workdir.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="run-") as scratch:
        work = Path(scratch)
        sft_rows = alpaca_conversations(args.data / ALPACA, SMOKE["sft_rows"] if args.smoke else None)
        dpo_rows = hh_rlhf_pairs(args.data / HH_RLHF, SMOKE["dpo_rows"] if args.smoke else None)
        data_files = {
            "sft": str(write_jsonl(work / "sft.jsonl", sft_rows)),
            "dpo": str(write_jsonl(work / "dpo.jsonl", dpo_rows)),
        }
        tokenizer = train_bpe_tokenizer(texts_of(sft_rows, dpo_rows), SMOKE["vocab"] if args.smoke else TOKENIZER_VOCAB)
        print(f"data: {len(sft_rows)} SFT conversations, {len(dpo_rows)} DPO pairs; tokenizer: {len(tokenizer)} tokens")

        for name in args.models:
            started = time.perf_counter()
            info = save_model(name, tokenizer, attention, args.smoke, work / name)
            per_token = flops.flops_per_token(info["parameters"], info["layers"], info["hidden"], args.seq)
            print(
                f"\n{name}: {info['architecture']}, {info['parameters']:,} parameters, vocab {info['vocab']}, "
                f"{per_token / 1e9:.2f} GFLOP per token (saved in {time.perf_counter() - started:.0f} s)"
            )
            for mode in args.modes:
                job = {
                    "model": name, "mode": mode, "model_dir": info["folder"], "data": data_files[mode],
                    "seq": args.seq, "steps": args.steps, "warmup": args.warmup, "device": "cuda" if cuda else "cpu",
                    "bf16": bf16, "attention": attention, "gradient_checkpointing": args.gradient_checkpointing,
                }  # fmt: skip
                if mode == "sft":
                    job["batch"] = args.batch_tokens // args.seq
                else:
                    job["batch"] = args.dpo_pairs or dpo_pairs_per_step(job, args.batch_tokens)
                pair = run_pair(job, work)
                if any(result.get("oom") for result in pair) and not job["gradient_checkpointing"]:
                    print(f"  {name} {mode}: out of GPU memory; both sides again with gradient checkpointing")
                    pair = run_pair({**job, "gradient_checkpointing": True}, work)
                for result in pair:
                    if "error" not in result:
                        result["mfu"] = flops.mfu(result["tokens_per_s"], per_token, peak)
                    result["flops_per_token"] = per_token
                    result["parameters"] = info["parameters"]
                results.extend(pair)
            shutil.rmtree(work / name, ignore_errors=True)

    ratios = compare(results)
    print_report(results, ratios)
    report = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "device": device_name,
        "peak_bf16_flops": peak,
        "versions": found,
        "settings": {
            "smoke": args.smoke,
            "seq": args.seq,
            "steps": args.steps,
            "warmup": args.warmup,
            "batch_tokens": args.batch_tokens,
            "attention": attention,
            "dtype": "bf16 autocast, fp32 weights" if bf16 else "fp32",
            "sft_lr": SFT_LR,
            "dpo_lr": DPO_LR,
            "dpo_beta": DPO_BETA,
            "seed": SEED,
            "tokens_counted": "non-padding tokens, both sides",
            "dpo_reference": "precomputed, both sides",
        },
        "results": results,
        "ratios": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 1 if any("error" in result for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
