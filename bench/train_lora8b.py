"""A Llama-3.1-8B-shaped model trained by curate's train-sft with LoRA (bf16 base) and QLoRA (NF4 base).

    python bench/train_lora8b.py [--modes lora,qlora] [--steps 10] [--warmup 3] [--seq 2048]
        [--rows 2] [--lora-r 16] [--lora-alpha 32] [--lora-dropout 0.05] [--lora-target all-linear]
        [--lr 1e-4] [--gradient-checkpointing] [--model-dir DIR] [--remove-model] [--data DIR]
        [--env ENV.json] [--budget SECONDS] [--out-dir DIR] [--out FILE] [--smoke]

The model (bench/train_shapes.py, llama8b: hidden 4096, 32 layers, 32 heads / 8 kv, MLP
14336, vocab 128256, untied head, rope theta 5e5; 8,030,261,248 parameters) is built at
random directly on the GPU in bf16 (seconds, where float32 initialisation on the CPU takes
minutes) and saved once as bf16 safetensors in --model-dir with the bench's tokenizer; a later
run with the same --model-dir reuses it (bench_model.json says what was built). curate loads
that folder as `--model DIR`:
- lora: `train_sft(lora=LoraSettings(...))`, the base kept in bf16 (its checkpoint dtype),
  adapters on every linear layer (--lora-target all-linear: q, k, v, o, gate, up, down), bf16
  autocast;
- qlora: the same with `load_in_4bit=True`: the folder reloaded in NF4 with bitsandbytes
  (double quantisation, bf16 compute) and peft's k-bit preparation. CUDA only: on a machine
  without CUDA, or without bitsandbytes, it is recorded as skipped with the reason.
Data: the Alpaca SFT rows, packed into rows of --seq tokens, --rows rows per step, lr 1e-4
(LoRA's usual; it does not change the speed), no gradient checkpointing unless asked or a run
runs out of GPU memory (then that mode runs again with it).

Measured, as bench/train_throughput.py measures curate: steady-state non-padding tokens/s
over the steps after --warmup (metrics.jsonl and the rebuilt batches), peak memory
(`torch.cuda.max_memory_allocated()`, and `max_memory_reserved()`, of the run's own process)
and MFU. FLOPs per token, the LoRA convention: the frozen base's weight gradients are never
computed, so 4N (2N forward + 2N for the activations' gradients) + 6 per adapter parameter
+ causal attention (6 * layers * hidden * seq); N the bf16 model's parameters, for QLoRA too
(dequantisation is not counted). A full fine-tune would be 6N + attention. MFU is over the
measured bf16 matmul peak (`mfu`) and the datasheet one (`mfu_spec`).

Results: one JSON per mode in --out-dir (kind "lora8b", llama8b_<mode>.json) as soon as it
ends, and all of them in --out.

--smoke: a tiny Llama of the same kind (hidden 64, 2 layers, vocab 4096, untied), fp32 on the
CPU, seq 256, 3 steps (1 warm-up), 200 rows of data: LoRA end to end, QLoRA skipped (no CUDA).
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import shutil
import sys
from pathlib import Path

import train_measure as measure
import train_shapes as shapes
from train_measure import ALPACA, SHARED, WORK

SMOKE = {"seq": 256, "steps": 3, "warmup": 1, "rows": 2, "sft_rows": 200, "vocab": 2000}
TOKENIZER_VOCAB = 32000
MODE_SECONDS = {"gpu": 40.0, "smoke": 5.0}  # the least a mode is started with


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="lora,qlora", help="comma-separated, of lora, qlora, in run order")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--rows", type=int, default=2, help="packed rows of --seq tokens per step")
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--lora-alpha", type=int, default=32)
    parser.add_argument("--lora-dropout", type=float, default=0.05)
    parser.add_argument("--lora-target", default="all-linear")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--model-dir", type=Path, default=WORK / "llama8b", help="where the model is saved (reused)")
    parser.add_argument("--remove-model", action="store_true", help="delete --model-dir at the end")
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder (instructions/)")
    parser.add_argument("--workdir", type=Path, default=WORK / "train_lora8b", help="data and runs")
    parser.add_argument(
        "--env", default=None, help="the device probe's JSON (train_measure.py --probe); else probed here"
    )
    parser.add_argument("--budget", type=float, default=None, help="wall-clock seconds for the whole script")
    parser.add_argument("--out-dir", type=Path, default=None, help="one JSON per mode, written as each one ends")
    parser.add_argument("--out", type=Path, default=WORK / "train_lora8b.json")
    parser.add_argument("--smoke", action="store_true", help="tiny Llama, CPU, fp32, LoRA only")
    args = parser.parse_args()
    if args.smoke:
        args.seq, args.steps, args.warmup, args.rows = (SMOKE[k] for k in ("seq", "steps", "warmup", "rows"))
        if args.model_dir == WORK / "llama8b":
            args.model_dir = WORK / "llama8b-smoke"
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not args.modes or any(mode not in ("lora", "qlora") for mode in args.modes):
        parser.error("--modes takes lora and/or qlora")
    if not 1 <= args.warmup < args.steps:
        parser.error("need 1 <= --warmup < --steps")
    return args


def why_no_qlora(cuda: bool) -> str | None:
    if not cuda:
        return "QLoRA's 4-bit NF4 kernels (bitsandbytes) need CUDA; this machine has none"
    if importlib.util.find_spec("bitsandbytes") is None:
        return "bitsandbytes is not installed (carry its wheel: bench/gpu_issue18_prepare.sh)"
    return None


def ensure_model(args, cuda: bool, attention: str, budget: measure.Budget) -> dict:
    """The saved model's info: the one in --model-dir when this bench built it alike, else built now."""
    spec = {
        "name": "llama8b", "smoke": args.smoke, "folder": str(args.model_dir),
        "device": "cuda" if cuda else "cpu", "dtype": "bfloat16" if cuda else "float32", "attention": attention,
    }  # fmt: skip
    info = shapes.saved_model(args.model_dir, spec)
    if info is not None:
        print(f"llama8b: reusing {args.model_dir} ({info['parameters']:,} parameters, {info['dtype']})", flush=True)
        return {**info, "reused": True}
    shutil.rmtree(args.model_dir, ignore_errors=True)
    args.model_dir.parent.mkdir(parents=True, exist_ok=True)
    sft_rows = measure.alpaca_conversations(args.data / ALPACA, SMOKE["sft_rows"] if args.smoke else None)
    tokenizer_dir = args.workdir / "tokenizer"
    vocab = SMOKE["vocab"] if args.smoke else TOKENIZER_VOCAB
    measure.save_tokenizer(sft_rows, [], vocab, tokenizer_dir)
    info = measure.call_in_process(shapes.build_model, {**spec, "tokenizer": str(tokenizer_dir)}, budget.left())
    if "error" not in info:
        print(
            f"llama8b: {info['architecture']}, {info['parameters']:,} parameters, built in {info['build_seconds']:.1f} s "
            f"on {spec['device']} in {spec['dtype']}, saved in {info['save_seconds']:.1f} s "
            f"({info['bytes'] / 2**30:.1f} GiB)",
            flush=True,
        )
    return {**info, "reused": False}


def run_mode(mode: str, args, info: dict, data_file: str, cuda: bool, attention: str, budget) -> dict:
    from train_sides import run_job

    job = {
        "model": "llama8b", "mode": "sft", "side": "curate", "model_dir": info["folder"], "data": data_file,
        "seq": args.seq, "steps": args.steps, "warmup": args.warmup, "device": "cuda" if cuda else "cpu",
        "bf16": cuda, "attention": attention, "gradient_checkpointing": args.gradient_checkpointing,
        "batch": args.rows, "lr": args.lr, "load_in_4bit": mode == "qlora",
        "lora": {"r": args.lora_r, "alpha": args.lora_alpha, "dropout": args.lora_dropout, "target": args.lora_target},
    }  # fmt: skip
    result = measure.call_in_process(run_job, {**job, "run_dir": str(args.workdir / f"run-{mode}")}, budget.left())
    if result.get("oom") and not job["gradient_checkpointing"] and budget.allows(MODE_SECONDS["gpu"]):
        print(f"  {mode}: out of GPU memory ({result['error']}); again with gradient checkpointing", flush=True)
        first = result
        job["gradient_checkpointing"] = True
        result = measure.call_in_process(
            run_job, {**job, "run_dir": str(args.workdir / f"run-{mode}-gc")}, budget.left()
        )
        result["first_try"] = first
    result["gradient_checkpointing"] = job["gradient_checkpointing"]
    result["batch_tokens"] = args.rows * args.seq
    return result


def main() -> int:
    import torch

    args = parse_args()
    budget = measure.Budget(args.budget)
    cuda = torch.cuda.is_available() and not args.smoke
    if not cuda and not args.smoke:
        raise SystemExit("no CUDA device: this bench measures GPU training; run it with --smoke to check it on the CPU")
    measure.check_data(args.data, ALPACA)
    env, measured_peak, spec_peak = measure.peaks(args, args.smoke)
    from train_throughput import pick_attention

    attention = pick_attention("auto", cuda)
    command = shlex.join([sys.executable, *sys.argv])
    print("command:", command)
    print(
        f"device: {env['device']}; attention {attention}; seq {args.seq}, {args.rows} rows per step, {args.steps} steps"
    )
    args.workdir.mkdir(parents=True, exist_ok=True)
    data_file = str(args.workdir / "sft.jsonl")
    measure.write_jsonl(
        Path(data_file), measure.alpaca_conversations(args.data / ALPACA, SMOKE["sft_rows"] if args.smoke else None)
    )
    common = {
        "kind": "lora8b", "command": command, "device": env["device"], "gpu_memory_bytes": env.get("gpu_memory_bytes"),
        "peak_flops_measured": measured_peak, "peak_flops_spec": spec_peak, "versions": env["versions"],
        "settings": {
            "smoke": args.smoke, "seq": args.seq, "rows_per_step": args.rows, "steps": args.steps,
            "warmup": args.warmup, "lr": args.lr, "attention": attention,
            "lora": {"r": args.lora_r, "alpha": args.lora_alpha, "dropout": args.lora_dropout,
                     "target": args.lora_target},
            "base_dtype": {"lora": "bf16" if cuda else "fp32", "qlora": "nf4 (double quant, bf16 compute)"},
            "flops_convention": "4N + 6 x adapter parameters + 6 * layers * hidden * seq per token "
                                "(frozen base: no weight gradients; N the bf16 model's parameters)",
        },
    }  # fmt: skip

    info = None
    records = []
    for mode in args.modes:
        record = {**common, "mode": mode}
        reason = why_no_qlora(cuda) if mode == "qlora" else None
        if reason is None and not budget.allows(MODE_SECONDS["smoke" if args.smoke else "gpu"]):
            reason = budget.why_not(MODE_SECONDS["smoke" if args.smoke else "gpu"])
        if reason is None and info is None:
            info = ensure_model(args, cuda, attention, budget)
        if reason is None and "error" in info:
            reason = f"the model was not built: {info['error']}"
        if reason is not None:
            print(f"  {mode}: skipped ({reason})", flush=True)
            record["skipped"] = reason
        else:
            record["model"] = info
            result = run_mode(mode, args, info, data_file, cuda, attention, budget)
            record["result"] = result
            if "error" in result:
                print(f"  {mode}: ERROR {result['error']}\n{result.get('traceback', '')}", flush=True)
            else:
                trainable = result.get("trainable_parameters")
                per_token = shapes.flops_per_token(
                    info["parameters"], info["layers"], info["hidden"], args.seq, trainable
                )
                result["flops_per_token"] = per_token
                result.update(measure.mfu_pair(result["tokens_per_s"], per_token, measured_peak, spec_peak))
                record["trains_on_one_gpu"] = True if cuda else None  # a CPU dry run says nothing of a GPU
                print(
                    f"  {mode}: {result['tokens_per_s']:,.0f} tokens/s over {result['timed_steps']} steps, "
                    f"peak {measure.gib(result['peak_memory_bytes'])} GiB "
                    f"(reserved {measure.gib(result['peak_reserved_bytes'])}), MFU {measure.percent(result.get('mfu'))}, "
                    f"{trainable:,} trainable, loss {result['final_loss']:.4f}, {result['wall_seconds']:.0f} s",
                    flush=True,
                )
        records.append(record)
        if args.out_dir:
            measure.write_json(args.out_dir / f"llama8b_{mode}.json", record)
    if args.remove_model:
        shutil.rmtree(args.model_dir, ignore_errors=True)
    measure.write_json(args.out, {"kind": "lora8b_all", "records": records})
    print(f"wrote {args.out}" + (f" and one JSON per mode in {args.out_dir}" if args.out_dir else ""))
    return 1 if any("error" in record.get("result", {}) for record in records) else 0


if __name__ == "__main__":
    sys.exit(main())
