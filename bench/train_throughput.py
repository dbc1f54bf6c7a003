"""Training throughput of curate's train-sft / train-dpo against TRL's SFTTrainer / DPOTrainer.

    python bench/train_throughput.py [--models qwen0.5b,llama1b] [--modes sft,dpo]
        [--plan llama1b:sft,qwen0.5b:sft,...] [--steps 30] [--warmup 10] [--seq 2048]
        [--batch-tokens 16384] [--dpo-pairs N] [--attn auto] [--gradient-checkpointing]
        [--budget SECONDS] [--env ENV.json] [--out-dir DIR]
        [--out bench/_work/train_throughput.json] [--smoke]

Models (bench/train_shapes.py): randomly initialised Qwen2.5-0.5B- and Llama-3.2-1B-shaped
models, no download, built on the GPU (the CPU in --smoke) and saved once as float32
safetensors that both sides load. The tokenizer is a byte-level BPE trained here on the
bench's own text (`curate.train.init_model.train_bpe_tokenizer`, 32k tokens, ChatML
template): its ids are all below the published vocab sizes, so the models keep their real
embedding and LM-head shapes.

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
process; `max_memory_reserved` is kept too). MFU = tokens/s x FLOPs per token (6N + causal
attention, `train_shapes.flops_per_token`) over the MEASURED dense bf16 matmul peak of the
device (`train_measure.py --probe`, or --env with its JSON); `mfu_spec` is over the datasheet
peak (989 TFLOP/s for the H100 and H200).

Goals reported: SFT MFU >= 45%; curate >= 1.3x TRL tokens/s for SFT and DPO at equal or
lower peak memory.

Order and results: --plan lists model:mode pairs in the order they run (default: every
--models x --modes, model by model); the models are built once and kept until the end.
--out-dir gets one JSON per pair as soon as both its sides have run (kind
"throughput_pair": both runs and their ratio), so a killed bench keeps what it finished;
--out gets everything at the end. --budget: wall-clock seconds for the whole bench; a pair is
started only when about --pair-seconds are left (else recorded as skipped), and each run is
killed when the budget runs out.

--smoke: tiny models of the same two families (hidden 64, 2 layers, vocab 4096), seq 256,
3 steps (1 warm-up), 4 rows per step, a few hundred rows of data, on the CPU in fp32: the
whole bench end to end in a couple of minutes, no GPU needed.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import train_measure as measure
import train_shapes as shapes
from train_measure import ALPACA, HH_RLHF, SEED, SHARED, WORK, gib, percent, ratio_text

SMOKE = {"seq": 256, "steps": 3, "warmup": 1, "batch_tokens": 1024, "sft_rows": 200, "dpo_rows": 64, "vocab": 2000}
TOKENIZER_VOCAB = 32000
PAIR_SECONDS = {"gpu": 60.0, "smoke": 5.0}  # the least a pair is started with (see --pair-seconds)
THROUGHPUT_MODELS = ("qwen0.5b", "llama1b")


# ------------------------------------------------------------------------------ report


def compare(results: list[dict]) -> list[dict]:
    """curate/TRL ratios per model and mode, and the goals: SFT MFU >= 45%, >= 1.3x tokens/s at <= memory."""
    rows = []
    for model in dict.fromkeys(result["model"] for result in results):
        for mode in dict.fromkeys(result["mode"] for result in results):
            sides = {r["side"]: r for r in results if r["model"] == model and r["mode"] == mode}
            ours, theirs = sides.get("curate"), sides.get("trl")
            if not ours or not theirs:
                continue
            rows.append(ratio_row(model, mode, ours, theirs))
    return rows


def ratio_row(model: str, mode: str, ours: dict, theirs: dict) -> dict:
    ok = "error" not in ours and "error" not in theirs
    speed = ours["tokens_per_s"] / theirs["tokens_per_s"] if ok else None
    memory = None
    if ok and ours.get("peak_memory_bytes") and theirs.get("peak_memory_bytes"):
        memory = ours["peak_memory_bytes"] / theirs["peak_memory_bytes"]
    row = {"model": model, "mode": mode, "tokens_per_s_ratio": speed, "peak_memory_ratio": memory}
    row["goal_speed"] = None if speed is None or memory is None else speed >= 1.3 and memory <= 1.0
    if mode == "sft":
        row["goal_mfu"] = None if "error" in ours or ours.get("mfu") is None else ours["mfu"] >= 0.45
    return row


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
    from train_sides import curate_dpo_pairs
    from transformers import AutoTokenizer

    from curate.train import batches

    pairs, _ = curate_dpo_pairs(job, AutoTokenizer.from_pretrained(job["model_dir"]))
    longest = [len(p["prompt_ids"]) + max(len(p["chosen_ids"]), len(p["rejected_ids"])) for p in pairs]
    order = batches.epoch_order(len(pairs), SEED, 0)
    best = 1
    for size in range(1, len(pairs) + 1):
        steps = [order[start : start + size] for start in range(0, len(order), size)]
        if statistics.mean(2 * len(batch) * max(longest[i] for i in batch) for batch in steps) > batch_tokens:
            break
        best = size
    return best


def run_pair(job: dict, work: Path, budget: measure.Budget) -> list[dict]:
    """curate then TRL on the same job, each in its own process, killed when the budget runs out."""
    from train_sides import run_job

    pair = []
    for side in ("curate", "trl"):
        run_dir = work / f"{job['model']}-{job['mode']}-{side}{'-gc' if job['gradient_checkpointing'] else ''}"
        left = budget.left()
        if left is not None and left < 1:
            result = {"error": "not started: the bench's budget ran out", "skipped": True}
        else:
            result = measure.call_in_process(run_job, {**job, "side": side, "run_dir": str(run_dir)}, left)
            shutil.rmtree(run_dir, ignore_errors=True)  # a killed run leaves its folder
        result = {
            "model": job["model"],
            "mode": job["mode"],
            "side": side,
            "gradient_checkpointing": job["gradient_checkpointing"],
            **result,
        }
        if "error" in result:
            print(f"  {job['model']} {job['mode']} {side}: ERROR {result['error']}", flush=True)
            if result.get("traceback"):
                print(result["traceback"], flush=True)
        else:
            print(
                f"  {job['model']} {job['mode']} {side}: {result['tokens_per_s']:,.0f} tokens/s over "
                f"{result['timed_steps']} steps, peak {gib(result['peak_memory_bytes'])} GiB, "
                f"loss {result['final_loss']}, {result['wall_seconds']:.0f} s",
                flush=True,
            )
        pair.append(result)
    return pair


# ------------------------------------------------------------------------------ main


def pick_attention(requested: str, cuda: bool) -> str:
    from transformers.utils import is_flash_attn_2_available

    if requested != "auto":
        return requested
    return "flash_attention_2" if cuda and is_flash_attn_2_available() else "sdpa"


def parse_plan(args, parser) -> list[tuple[str, str]]:
    if args.plan:
        plan = []
        for item in args.plan.split(","):
            model, _, mode = item.strip().partition(":")
            plan.append((model, mode))
    else:
        models = [name.strip() for name in args.models.split(",") if name.strip()]
        modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
        plan = [(model, mode) for model in models for mode in modes]
    unknown = [f"{m}:{d}" for m, d in plan if m not in THROUGHPUT_MODELS or d not in ("sft", "dpo")]
    if unknown or not plan:
        parser.error(
            f"unknown model or mode: {', '.join(unknown) or 'none given'} (models {', '.join(THROUGHPUT_MODELS)})"
        )
    return plan


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", default="qwen0.5b,llama1b", help=f"comma-separated, of {', '.join(THROUGHPUT_MODELS)}"
    )
    parser.add_argument("--modes", default="sft,dpo", help="comma-separated, of sft, dpo")
    parser.add_argument("--plan", default=None, help="model:mode pairs in run order (overrides --models, --modes)")
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
    parser.add_argument(
        "--workdir", type=Path, default=WORK / "train_throughput", help="models, data and runs (deleted at the end)"
    )
    parser.add_argument("--budget", type=float, default=None, help="wall-clock seconds for the whole bench")
    parser.add_argument("--pair-seconds", type=float, default=None, help="the least time left to start a pair")
    parser.add_argument(
        "--env", default=None, help="the device probe's JSON (train_measure.py --probe); else probed here"
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="one JSON per pair, written as each one ends")
    parser.add_argument("--out", type=Path, default=WORK / "train_throughput.json")
    parser.add_argument("--smoke", action="store_true", help="tiny models, seq 256, 3 steps, CPU, fp32")
    args = parser.parse_args()
    if args.smoke:
        args.seq, args.steps, args.warmup, args.batch_tokens = (
            SMOKE[k] for k in ("seq", "steps", "warmup", "batch_tokens")
        )
    args.plan = parse_plan(args, parser)
    if not 1 <= args.warmup < args.steps:
        parser.error("need 1 <= --warmup < --steps")
    if args.batch_tokens < args.seq:
        parser.error("--batch-tokens must hold at least one row of --seq tokens")
    if args.pair_seconds is None:
        args.pair_seconds = PAIR_SECONDS["smoke" if args.smoke else "gpu"]
    return args


def pair_record(model: str, mode: str, pair: list[dict], common: dict) -> dict:
    ratio = ratio_row(model, mode, pair[0], pair[1]) if len(pair) == 2 else None
    return {"kind": "throughput_pair", "model": model, "mode": mode, **common, "runs": pair, "ratio": ratio}


def main() -> int:
    import torch

    args = parse_args()
    budget = measure.Budget(args.budget)
    cuda = torch.cuda.is_available() and not args.smoke
    if not cuda and not args.smoke:
        raise SystemExit("no CUDA device: this bench measures GPU training; run it with --smoke to check it on the CPU")
    measure.check_data(args.data, ALPACA, HH_RLHF)
    env, measured_peak, spec_peak = measure.peaks(args, args.smoke)
    attention = pick_attention(args.attn, cuda)
    bf16 = cuda  # --smoke: fp32 on the CPU
    command = shlex.join([sys.executable, *sys.argv])
    print("command:", command)
    print("device:", env["device"], f"(measured matmul peak {(measured_peak or 0) / 1e12:.0f} TFLOP/s)" if cuda else "")
    print("versions:", ", ".join(f"{name} {version}" for name, version in env["versions"].items()))
    print(
        f"attention: {attention}; dtype: {'bf16 autocast, fp32 weights' if bf16 else 'fp32'}; seq {args.seq}; "
        f"{args.steps} steps, {args.warmup} warm-up; {args.batch_tokens} tokens per step; "
        f"plan: {', '.join(f'{m}:{d}' for m, d in args.plan)}"
        + (f"; budget {args.budget:.0f} s" if args.budget else "")
    )
    if attention == "sdpa" and any(mode == "sft" for _, mode in args.plan) and cuda:
        print(
            "note: without flash-attention, TRL's padding-free SFT batch is one flattened row, and sdpa "
            "attends over it with a block mask (quadratic in the batch's tokens); curate keeps rows of --seq"
        )
    settings = {
        "smoke": args.smoke, "seq": args.seq, "steps": args.steps, "warmup": args.warmup,
        "batch_tokens": args.batch_tokens, "attention": attention,
        "dtype": "bf16 autocast, fp32 weights" if bf16 else "fp32",
        "sft_lr": 2e-5, "dpo_lr": 1e-6, "dpo_beta": 0.1, "seed": SEED,
        "tokens_counted": "non-padding tokens, both sides", "dpo_reference": "precomputed, both sides",
        "flops_convention": "6N + 6 * layers * hidden * seq per token (full fine-tune)",
    }  # fmt: skip
    common = {
        "command": command, "device": env["device"], "peak_flops_measured": measured_peak,
        "peak_flops_spec": spec_peak, "versions": env["versions"], "settings": settings,
    }  # fmt: skip

    args.workdir.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="run-") as scratch:
        work = Path(scratch)
        sft_rows = measure.alpaca_conversations(args.data / ALPACA, SMOKE["sft_rows"] if args.smoke else None)
        dpo_rows = measure.hh_rlhf_pairs(args.data / HH_RLHF, SMOKE["dpo_rows"] if args.smoke else None)
        data_files = {
            "sft": str(measure.write_jsonl(work / "sft.jsonl", sft_rows)),
            "dpo": str(measure.write_jsonl(work / "dpo.jsonl", dpo_rows)),
        }
        vocab = SMOKE["vocab"] if args.smoke else TOKENIZER_VOCAB
        tokenizer = measure.save_tokenizer(sft_rows, dpo_rows, vocab, work / "tokenizer")
        print(f"data: {len(sft_rows)} SFT conversations, {len(dpo_rows)} DPO pairs; tokenizer: {len(tokenizer)} tokens")

        built: dict[str, dict] = {}
        for index, (name, mode) in enumerate(args.plan, 1):
            if not budget.allows(args.pair_seconds):
                reason = budget.why_not(args.pair_seconds)
                print(f"\n{name} {mode}: skipped ({reason})", flush=True)
                record = {"kind": "throughput_pair", "model": name, "mode": mode, **common, "skipped": reason}
                if args.out_dir:
                    measure.write_json(args.out_dir / f"train_{index:02d}_{name}_{mode}.json", record)
                continue
            if name not in built:
                spec = {
                    "name": name, "smoke": args.smoke, "folder": str(work / name), "tokenizer": str(work / "tokenizer"),
                    "device": "cuda" if cuda else "cpu", "dtype": "float32", "attention": attention,
                }  # fmt: skip
                info = measure.call_in_process(shapes.build_model, spec, budget.left())
                if "error" in info:
                    print(f"\n{name}: building the model failed: {info['error']}\n{info.get('traceback', '')}")
                    info["per_token"] = None
                else:
                    info["per_token"] = shapes.flops_per_token(
                        info["parameters"], info["layers"], info["hidden"], args.seq
                    )
                    print(
                        f"\n{name}: {info['architecture']}, {info['parameters']:,} parameters, vocab {info['vocab']}, "
                        f"{info['per_token'] / 1e9:.2f} GFLOP per token (built in {info['build_seconds']:.0f} s, "
                        f"saved in {info['save_seconds']:.0f} s)",
                        flush=True,
                    )
                built[name] = info
            info = built[name]
            if "error" in info:
                pair = [{"model": name, "mode": mode, "side": side, "gradient_checkpointing": False,
                         "error": f"the model was not built: {info['error']}"} for side in ("curate", "trl")]  # fmt: skip
            else:
                job = {
                    "model": name, "mode": mode, "model_dir": info["folder"], "data": data_files[mode],
                    "seq": args.seq, "steps": args.steps, "warmup": args.warmup, "device": "cuda" if cuda else "cpu",
                    "bf16": bf16, "attention": attention, "gradient_checkpointing": args.gradient_checkpointing,
                }  # fmt: skip
                if mode == "sft":
                    job["batch"] = args.batch_tokens // args.seq
                else:
                    job["batch"] = args.dpo_pairs or dpo_pairs_per_step(job, args.batch_tokens)
                print(f"{name} {mode}: {job['batch']} {'rows' if mode == 'sft' else 'pairs'} per step", flush=True)
                pair = run_pair(job, work, budget)
                if any(result.get("oom") for result in pair) and not job["gradient_checkpointing"]:
                    if budget.allows(args.pair_seconds):
                        print(f"  {name} {mode}: out of GPU memory; both sides again with gradient checkpointing")
                        pair = run_pair({**job, "gradient_checkpointing": True}, work, budget)
                    else:
                        print(f"  {name} {mode}: out of GPU memory; no time left to run it again with checkpointing")
            for result in pair:
                per_token = info.get("per_token")
                if "error" not in result and per_token:
                    result.update(measure.mfu_pair(result["tokens_per_s"], per_token, measured_peak, spec_peak))
                result["flops_per_token"] = per_token
                result["parameters"] = info.get("parameters")
            results.extend(pair)
            if args.out_dir:
                record = pair_record(name, mode, pair, common)
                measure.write_json(args.out_dir / f"train_{index:02d}_{name}_{mode}.json", record)

    ratios = compare(results)
    print_report(results, ratios)
    measure.write_json(args.out, {**common, "kind": "throughput", "results": results, "ratios": ratios})
    print(f"\nwrote {args.out}" + (f" and one JSON per pair in {args.out_dir}" if args.out_dir else ""))
    return 1 if any("error" in result for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
