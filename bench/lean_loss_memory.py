"""Peak GPU memory of one training step through curate's lean loss against the full-logits path.

    python bench/lean_loss_memory.py [--model qwen0.5b] [--seq 4096] [--rows 1]
        [--chunk-tokens N] [--out bench/_work/lean_loss_memory.json] [--smoke]

A randomly initialised Qwen2.5-0.5B-shaped model (vocab 151,936: the 150k-vocabulary case;
bench/train_shapes.py), float32 master weights under bf16 autocast as curate's full
fine-tunes train, all parameters trainable, one row of --seq random tokens, every position
labelled. Each path runs one forward + backward of the next-token loss (mean over the
labelled tokens):
- plain: `curate.train.lean_loss.PlainCausalLM`, the model's own [B, L, V] logits at once
  (bf16 under autocast), then a float32 copy of the labelled positions' logits for the
  log-softmax, as the trainers did before the lean loss;
- lean: `curate.train.lean_loss.LeanCausalLM`, what `token_scorer` gives train-sft and
  train-dpo: the decoder's hidden states, then the output head on a chunk of positions at a
  time (default ~256 MiB of float32 logits per chunk), each chunk checkpointed.
Measured per path: `torch.cuda.max_memory_allocated()` from a reset just before the step
(weights included, gradients allocated by backward included), the peak above what was
allocated before the step, and the step's seconds; the two losses must agree (same
weights, same tokens). A tiny warm-up step of each path runs first, so cuBLAS workspaces
and kernels are in place for both. Lean runs first: its figure lands even if plain runs
out of memory.

--smoke: the same on the CPU in float32 with a tiny Qwen shape that keeps the 151,936-entry
vocabulary, seq 256, 64-position lean chunks: the whole script end to end; it reports no
memory (null, with the reason).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import train_measure as measure
import train_shapes as shapes

SMOKE = {"seq": 256, "rows": 1, "chunk_tokens": 64}  # several lean chunks even at 256 tokens


def step(scorer, ids, labels, device: str, bf16: bool) -> dict:
    """One forward + backward of the mean next-token loss; peak memory from a reset just before it."""
    import torch

    cuda = device == "cuda"
    scorer.model.zero_grad(set_to_none=True)
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated() if cuda else None
    started = time.perf_counter()
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        logps, _ = scorer({"input_ids": ids}, labels)
    loss = -logps.sum() / logps.numel()
    loss.backward()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() if cuda else None
    scorer.model.zero_grad(set_to_none=True)
    return {
        "peak_memory_bytes": peak,
        "allocated_before_bytes": before,
        "peak_above_before_bytes": None if peak is None else peak - before,
        "seconds": seconds,
        "loss": float(loss.detach()),
        "labelled_tokens": int(logps.numel()),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen0.5b", choices=sorted(shapes.MODELS))
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--chunk-tokens", type=int, default=None, help="positions per lean chunk (default: ~256 MiB)")
    parser.add_argument("--out", type=Path, default=measure.WORK / "lean_loss_memory.json")
    parser.add_argument("--smoke", action="store_true", help="CPU, float32, tiny shape with the full vocabulary")
    args = parser.parse_args()
    if args.smoke:
        args.seq, args.rows = SMOKE["seq"], SMOKE["rows"]
        args.chunk_tokens = args.chunk_tokens or SMOKE["chunk_tokens"]
    return args


def main() -> int:
    import torch

    from curate.train.lean_loss import LeanCausalLM, PlainCausalLM

    args = parse_args()
    cuda = torch.cuda.is_available() and not args.smoke
    if not cuda and not args.smoke:
        raise SystemExit("no CUDA device: this bench measures GPU memory; run it with --smoke to check it on the CPU")
    device = "cuda" if cuda else "cpu"
    bf16 = cuda
    vocab = shapes.MODELS[args.model]["vocab_size"]
    special = {"bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0}
    config = shapes.model_config(args.model, special, args.smoke, {"vocab_size": vocab})
    started = time.perf_counter()
    model = shapes.random_model(config, device, torch.float32)
    model.train()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    print(
        f"{args.model}{' (smoke shape)' if args.smoke else ''}: {parameters:,} parameters, vocab {vocab:,}, "
        f"{args.rows} x {args.seq} tokens, {'bf16 autocast over fp32 weights' if bf16 else 'fp32'} on {device} "
        f"(built in {time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    lean = LeanCausalLM(model, args.chunk_tokens)
    plain = PlainCausalLM(model)
    generator = torch.Generator().manual_seed(shapes.SEED)
    ids = torch.randint(0, vocab, (args.rows, args.seq), generator=generator).to(device)
    for scorer in (lean, plain):  # warm-up: kernels and workspaces, on a few tokens
        step(scorer, ids[:, :64], ids[:, :64], device, bf16)

    record = {
        "kind": "lean_loss",
        "command": " ".join([sys.executable, *sys.argv]),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "model": args.model,
        "smoke": args.smoke,
        "parameters": parameters,
        "vocab": vocab,
        "seq": args.seq,
        "rows": args.rows,
        "dtype": "bf16 autocast, fp32 weights" if bf16 else "fp32",
        "attention": getattr(model.config, "_attn_implementation", None),
        "lean_chunk_tokens": lean.chunk_tokens,
        "memory_note": None if cuda else "CPU run: no CUDA memory statistics; the control flow only",
        "runs": {},
    }
    for name, scorer in (("lean", lean), ("plain", plain)):
        try:
            result = step(scorer, ids, ids, device, bf16)
        except torch.OutOfMemoryError as error:
            result = {"error": f"out of GPU memory: {str(error).splitlines()[0]}", "oom": True}
            model.zero_grad(set_to_none=True)
        record["runs"][name] = result
        if "error" in result:
            print(f"  {name}: ERROR {result['error']}", flush=True)
        else:
            print(
                f"  {name}: peak {measure.gib(result['peak_memory_bytes'])} GiB "
                f"({measure.gib(result['peak_above_before_bytes'])} GiB above the weights), "
                f"{result['seconds']:.2f} s, loss {result['loss']:.5f}",
                flush=True,
            )
        measure.write_json(args.out, record)  # after each path: a killed run keeps the first

    runs = record["runs"]
    if all("error" not in run for run in runs.values()):
        record["loss_difference"] = abs(runs["lean"]["loss"] - runs["plain"]["loss"])
        if cuda:
            record["peak_ratio_plain_over_lean"] = (
                runs["plain"]["peak_memory_bytes"] / runs["lean"]["peak_memory_bytes"]
            )
            record["peak_saved_bytes"] = runs["plain"]["peak_memory_bytes"] - runs["lean"]["peak_memory_bytes"]
            record["goal_lower_peak"] = runs["lean"]["peak_memory_bytes"] < runs["plain"]["peak_memory_bytes"]
            print(
                f"plain / lean peak: {record['peak_ratio_plain_over_lean']:.2f}x "
                f"({measure.gib(record['peak_saved_bytes'])} GiB saved); "
                f"loss difference {record['loss_difference']:.2e}"
            )
        else:
            print(f"loss difference {record['loss_difference']:.2e} (no memory figures on the CPU)")
    elif cuda and "error" in runs["plain"] and runs["plain"].get("oom") and "error" not in runs["lean"]:
        record["goal_lower_peak"] = True  # the plain path did not fit at all
    measure.write_json(args.out, record)
    print(f"wrote {args.out}")
    return 1 if any("error" in run for run in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
