"""What the training benches share: the environment, the data, runs in fresh processes under a
time limit, the device probe (name, memory, measured bf16 matmul peak), results as JSON.

    python bench/train_measure.py --probe --out FILE [--smoke]

writes the device probe as JSON (kind "env"): the device, its memory, the package versions
and the MEASURED dense bf16 matmul peak (8192 x 8192 x 8192 products, after warm-up; on the
CPU, --smoke, a small one in float32 that means nothing). Every MFU of these benches is
FLOPs per token x tokens/s over that measured peak (`mfu`); `mfu_spec` is over the datasheet
dense bf16 peak (`curate.train.flops.PEAK_BF16_FLOPS`, 989 TFLOP/s for the H100 and H200).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import os
import platform
import sys
import time
import traceback
import warnings
from multiprocessing import get_context
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _quiet in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
    os.environ.setdefault(_quiet, "1")  # progress bars of loading, saving, dataset maps, reference passes
warnings.filterwarnings("ignore", category=FutureWarning)  # renames announced for transformers 6

WORK = HERE / "_work"
# ../shared/data beside the checkout (this project's layout), else shared/data inside it, else the
# copy that bench/gpu_issue18_prepare.sh makes to carry to a device machine
SHARED = next(
    (
        path
        for path in (REPO.parent / "shared" / "data", REPO / "shared" / "data", WORK / "device" / "data")
        if path.is_dir()
    ),
    REPO.parent / "shared" / "data",
)
ALPACA = Path("instructions") / "alpaca_5000.json"
HH_RLHF = Path("preferences") / "hh_rlhf_harmless_base_test.jsonl.gz"
SEED = 0
PACKAGES = (
    "torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets", "tokenizers",
    "safetensors", "huggingface-hub", "flash-attn", "liger-kernel", "curate",
)  # fmt: skip


# ------------------------------------------------------------------------------ data


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


def check_data(folder: Path, *needed: Path) -> None:
    for path in needed:
        if not (folder / path).is_file():
            raise SystemExit(
                f"{folder / path} is missing; pass --data with the shared data folder (instructions/, preferences/)"
            )


def save_tokenizer(sft_rows: list[dict], dpo_rows: list[dict], vocab: int, folder: Path):
    """The bench's byte-level BPE (trained here on its own text, ChatML template), saved to `folder`."""
    from curate.train.init_model import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(texts_of(sft_rows, dpo_rows), vocab)
    tokenizer.save_pretrained(folder)
    return tokenizer


# ------------------------------------------------------------------------------ curate's steady state


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


# ------------------------------------------------------------------------------ fresh processes


def _child(function, argument, connection) -> None:
    try:
        result = function(argument)
    except BaseException as error:  # reported to the parent; it decides what a failure means
        result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    connection.send(result)
    connection.close()


def call_in_process(function, argument, timeout: float | None = None) -> dict:
    """`function(argument)` in a fresh spawned process (its own CUDA context and peak memory),
    killed after `timeout` seconds; a dict with "error" when it failed, died or ran out of time."""
    context = get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(function, argument, send))
    started = time.perf_counter()
    process.start()
    send.close()
    result = None
    try:
        if receive.poll(None if timeout is None else max(timeout, 0.0)):
            try:
                result = receive.recv()
            except EOFError:  # it died before answering
                result = None
        else:
            process.kill()
            process.join()
            return {"error": f"timed out after {time.perf_counter() - started:.0f} s (limit {timeout:.0f} s)"}
    finally:
        receive.close()
    process.join(60)
    if process.is_alive():
        process.kill()
        process.join()
    if result is None:
        return {"error": f"the run's process died (exit code {process.exitcode})"}
    return result


class Budget:
    """Wall-clock seconds left of `seconds` (None: no limit) since it was made."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    def left(self) -> float | None:
        return None if self.seconds is None else self.seconds - (time.monotonic() - self.started)

    def allows(self, needed: float) -> bool:
        left = self.left()
        return left is None or left >= needed

    def why_not(self, needed: float) -> str:
        return (
            f"not started: {self.left():.0f} s left of the {self.seconds:.0f} s budget, it needs about {needed:.0f} s"
        )


# ------------------------------------------------------------------------------ the device


def measure_bf16_peak(device: str) -> dict:
    """Dense matmul FLOP/s measured here: bf16 8192^3 products on CUDA (3 warm-up, 50 timed), a
    small float32 one on the CPU (for the control flow only; it means nothing)."""
    import torch

    if device == "cuda":
        size, dtype, repeats = 8192, torch.bfloat16, 50
    else:
        size, dtype, repeats = 512, torch.float32, 5
    generator = torch.Generator(device=device).manual_seed(SEED)
    a = torch.randn(size, size, device=device, dtype=dtype, generator=generator)
    b = torch.randn(size, size, device=device, dtype=dtype, generator=generator)
    for _ in range(3):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {"flops": 2 * size**3 * repeats / seconds, "size": size, "dtype": str(dtype), "repeats": repeats}


def probe(smoke: bool) -> dict:
    """The device (in a fresh process, so the caller holds no CUDA context): name, memory, peaks."""
    import torch

    from curate.train import flops

    cuda = torch.cuda.is_available() and not smoke
    device = "cuda" if cuda else "cpu"
    name = torch.cuda.get_device_name() if cuda else f"cpu ({platform.processor() or platform.machine()})"
    measured = measure_bf16_peak(device)
    return {
        "kind": "env",
        "device": name,
        "cuda": cuda,
        "gpu_memory_bytes": torch.cuda.get_device_properties(0).total_memory if cuda else None,
        "cuda_version": torch.version.cuda,
        "peak_flops_measured": measured["flops"] if cuda else None,
        "peak_flops_spec": flops.peak_flops(name) if cuda else None,
        "cpu_matmul_flops": None if cuda else measured["flops"],
        "peak_measurement": measured,
        "versions": versions(),
        "python": platform.python_version(),
    }


def probe_in_process(smoke: bool) -> dict:
    return call_in_process(probe, smoke, timeout=300)


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def mfu_pair(tokens_per_s: float | None, per_token: float, measured: float | None, spec: float | None) -> dict:
    """MFU over the measured bf16 peak (`mfu`) and over the datasheet one (`mfu_spec`)."""
    if tokens_per_s is None:
        return {"mfu": None, "mfu_spec": None}
    return {
        "mfu": tokens_per_s * per_token / measured if measured else None,
        "mfu_spec": tokens_per_s * per_token / spec if spec else None,
    }


def peaks(args, smoke: bool) -> tuple[dict, float | None, float | None]:
    """(probe, measured peak, datasheet peak): from --env (the probe's JSON) when given, else probed now."""
    env = json.loads(Path(args.env).read_text()) if getattr(args, "env", None) else probe_in_process(smoke)
    if "error" in env:
        raise SystemExit(f"the device probe failed: {env['error']}")
    return env, env.get("peak_flops_measured"), env.get("peak_flops_spec")


# ------------------------------------------------------------------------------ results


def write_json(path: Path, value) -> Path:
    """Written whole or not at all (a temporary file renamed), so a killed run leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    temporary.replace(path)
    return path


def gib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**30:.2f}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", action="store_true", help="probe the device and write its JSON")
    parser.add_argument("--out", type=Path, default=WORK / "env.json")
    parser.add_argument("--smoke", action="store_true", help="the CPU, whatever is installed")
    args = parser.parse_args()
    if not args.probe:
        parser.error("nothing to do: pass --probe")
    env = probe_in_process(args.smoke)
    write_json(args.out, env)
    if "error" in env:
        print(f"probe failed: {env['error']}\n{env.get('traceback', '')}")
        return 1
    measured = env["peak_flops_measured"] or env["cpu_matmul_flops"]
    print(f"device: {env['device']}; measured matmul peak {measured / 1e12:.1f} TFLOP/s; wrote {args.out}")
    print("versions:", ", ".join(f"{name} {version}" for name, version in env["versions"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
