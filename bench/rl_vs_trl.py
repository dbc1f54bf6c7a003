"""RL throughput: curate's train-grpo against TRL 1.16's GRPOTrainer, and curate's train-ppo alone.

    python bench/rl_vs_trl.py [--shape tiny|small|qwen0.5b] [--prompts 4] [--generations 4]
        [--new-tokens 64] [--steps 6] [--warmup 2] [--ppo-prompts 4] [--lr 1e-6]
        [--runs curate_grpo,trl_grpo,curate_ppo] [--budget SECONDS] [--out FILE] [--md FILE] [--smoke]

Both GRPO sides get the same random model (built once, saved, loaded by each), the same
prompts in the same order (sample_data/instructions/seed_tasks.en.jsonl: curate reads the
file; TRL gets a `datasets.Dataset` whose conversational "prompt" column holds the same
messages, ordered as curate's seeded batches take them, with `shuffle_dataset=False`), the
same verifiable reward (`even_share`: the share of even token ids, cheap and indifferent to
EOS), the same G, prompts per step, completion budget, sampling (temperature 1, top-p 1,
top-k off), lr (cosine, no warmup), AdamW (fused on GPU), grad-norm clip 1.0, loss "dapo",
beta 0 (no reference), one iteration, no gradient checkpointing, float32 master weights with
bf16 autocast on a GPU (float32 on the CPU). TRL runs generation as it does by default:
outside autocast, so in float32 on the float32 weights. Completions are random tokens that
rarely hit EOS (about max-new-tokens / vocab per completion), so both sides generate nearly
fixed lengths; the mean length each side actually generated is reported.
Shapes: tiny (tests' 2-layer Llama, vocab 1000), small (`curate init-model --size small`,
~29M Llama, vocab 8000), qwen0.5b (a random Qwen2.5-0.5B shape: Qwen2, hidden 896, 24
layers, 14/2 heads, MLP 4864, vocab 151936, tied; bf16 weights saved on GPU) with the
8,000-token project tokenizer: ids the model samples above the tokenizer decode as nothing
(checked before the runs). --smoke: the CPU, 3 steps (1 warm-up), 2 prompts x G 2, 16 new
tokens; qwen0.5b then a 2-layer hidden-64 Qwen2 keeping the 151936 vocabulary.

Measured, each run in its own fresh process, over the steps after --warmup:
- curate: RUN/metrics.jsonl's `rollout_tokens_per_s` (completion tokens / seconds of encode
  + generate + decode + reward) and `tokens_per_s` (prompt + completion tokens / the rest of
  the step); the token counts come from the step's rollout itself (`RLRun.record` is wrapped
  to read them), so seconds = tokens / rate. Whole-step time: between `end_step` calls.
- TRL: the trainer's `_generate` (tokenise + generate + decode) and `_calculate_rewards` are
  wrapped with a clock (CUDA synchronised); their sum is the rollout time; a callback times
  each optimizer step (on_step_begin to on_step_end); training time = step - rollout. Tokens
  are counted from `_generate`'s returned prompt and completion ids (TRL's logged metrics
  hold no generation timing; its profiling_context only reports to wandb/mlflow/trackio).
- Peak memory: `torch.cuda.max_memory_allocated` on GPU; on the CPU the process's peak RSS,
  VmHWM of /proc/self/status (ru_maxrss is also kept, but a spawned child inherits the
  parent's high-water mark from the fork before exec, so it is not the child's own).
Printed: a markdown table (also --md) and the curate/TRL ratios; --out gets the JSON.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
import traceback
from pathlib import Path

import train_measure as measure
from train_measure import REPO, SEED, WORK, gib, ratio_text

SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"
RUNS = ("curate_grpo", "trl_grpo", "curate_ppo")
LEAST = {"gpu": 60.0, "cpu": 20.0}  # seconds a run is started with at least (else skipped)
MOST = {"gpu": 200.0, "cpu": 900.0}  # seconds a run may take when --budget is given
DEFAULTS = {  # prompts, generations, new_tokens, steps, warmup, ppo_prompts
    "gpu": {"prompts": 4, "generations": 8, "new_tokens": 256, "steps": 8, "warmup": 2, "ppo_prompts": 12},
    "cpu": {"prompts": 4, "generations": 4, "new_tokens": 64, "steps": 6, "warmup": 2, "ppo_prompts": 4},
    "smoke": {"prompts": 2, "generations": 2, "new_tokens": 16, "steps": 3, "warmup": 1, "ppo_prompts": 2},
}
TRL_TIMING = (
    "TRL: GRPOTrainer._generate (tokenise+generate+decode) and _calculate_rewards wrapped with a "
    "CUDA-synchronised clock = rollout; a TrainerCallback times each step (on_step_begin..on_step_end); "
    "training = step - rollout"
)


def even_share(completion_ids, **columns) -> list[float]:
    """The reward of both sides: the share of the completion's token ids that are even."""
    return [sum(1 for token in ids if token % 2 == 0) / max(len(ids), 1) for ids in completion_ids]


# ------------------------------------------------------------------------------ the model (a fresh process)


def build_model(spec: dict) -> dict:
    import torch
    from transformers import AutoTokenizer

    folder, shape, device = Path(spec["folder"]), spec["shape"], spec["device"]
    shutil.rmtree(folder, ignore_errors=True)
    if shape == "tiny":
        from tests.tiny_chat_model import make_tiny_chat_model

        make_tiny_chat_model(folder)
    else:
        from curate.train.init_model import init_model

        corpus = [str(path) for path in sorted((REPO / "sample_data").rglob("*.jsonl"))]
        init_model(folder, corpus, size="tiny" if shape == "qwen0.5b" else "small", overwrite=True)
    if shape == "qwen0.5b":
        import train_shapes as shapes

        tokenizer = AutoTokenizer.from_pretrained(folder)
        overrides = {"vocab_size": shapes.MODELS["qwen0.5b"]["vocab_size"]} if spec["smoke"] else None
        config = shapes.model_config("qwen0.5b", shapes.special_ids(tokenizer), spec["smoke"], overrides)
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        model = shapes.random_model(config, device, dtype)
        for path in folder.glob("*.safetensors"):
            path.unlink()
        model.save_pretrained(folder, safe_serialization=True)
    from transformers import AutoConfig

    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = AutoConfig.from_pretrained(folder)
    # random completions hold ids past the tokenizer's vocabulary: they must decode (as nothing), not crash
    probe = [0, len(tokenizer) - 1, len(tokenizer), config.vocab_size - 1]
    decoded = tokenizer.batch_decode([probe], skip_special_tokens=True)[0]
    tokenizer(decoded, add_special_tokens=False)
    weights = sum(path.stat().st_size for path in folder.glob("*.safetensors"))
    return {
        "shape": shape, "architecture": config.architectures[0], "folder": str(folder),
        "layers": config.num_hidden_layers, "hidden": config.hidden_size, "vocab": config.vocab_size,
        "tokenizer_tokens": len(tokenizer), "saved_dtype": str(config.dtype), "safetensors_bytes": weights,
    }  # fmt: skip


# ------------------------------------------------------------------------------ one run (a fresh process)


def sync(cuda: bool) -> float:
    if cuda:
        import torch

        torch.cuda.synchronize()
    return time.perf_counter()


def memory(cuda: bool) -> dict:
    import torch

    if cuda:
        return {
            "peak_memory_bytes": torch.cuda.max_memory_allocated(),
            "peak_reserved_bytes": torch.cuda.max_memory_reserved(),
        }
    hwm = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"peak_memory_bytes": hwm if hwm is not None else maxrss, "ru_maxrss_bytes": maxrss}


def curate_run(job: dict) -> list[dict]:
    """train-grpo or train-ppo; per step: tokens (from the rollout), seconds (from metrics.jsonl), step wall."""
    from curate.train.rl.loop import RLRun
    from curate.train.rl.rollout import Sampling
    from curate.train.run_folder import read_metrics
    from curate.train.settings import OptimizerSettings

    cuda = job["device"] == "cuda"
    counts, ends = {}, {}
    record, end_step = RLRun.record, RLRun.end_step

    def counting_record(self, step, rollout, *args, **kwargs):
        completion = int(rollout.completion_mask.sum())
        counts[step] = {"rows": len(rollout.texts), "completion_tokens": completion,
                        "prompt_tokens": int(rollout.attention_mask.sum()) - completion}  # fmt: skip
        return record(self, step, rollout, *args, **kwargs)

    def clocked_end_step(self, step, *args, **kwargs):
        end_step(self, step, *args, **kwargs)
        ends[step] = sync(cuda)

    RLRun.record, RLRun.end_step = counting_record, clocked_end_step
    ppo = job["run"] == "curate_ppo"
    common = {
        "model": job["model"], "data": (str(SEEDS),), "output": Path(job["run_dir"]), "max_length": 1024,
        "batch_size": job["ppo_prompts"] if ppo else job["prompts"], "grad_accum": 1, "max_steps": job["steps"],
        "optimizer": OptimizerSettings(lr=job["lr"]), "max_grad_norm": 1.0, "eval_fraction": 0.0, "log_every": 1,
        "seed": SEED, "device": job["device"], "bf16": cuda, "rewards": ("rl_vs_trl:even_share",),
        "sampling": Sampling(temperature=1.0, top_p=1.0, max_new_tokens=job["new_tokens"]),
    }  # fmt: skip
    if ppo:
        from curate.train.rl.ppo import PPOSettings, train_ppo

        train_ppo(PPOSettings(**common), progress=False)
    else:
        from curate.train.rl.grpo import GRPOSettings, train_grpo

        train_grpo(GRPOSettings(**common, num_generations=job["generations"], beta=0.0, loss="dapo"), progress=False)
    steps = []
    for entry in read_metrics(Path(job["run_dir"]) / "metrics.jsonl"):
        step, count = entry["step"], counts[entry["step"]]
        rollout = count["completion_tokens"] / entry["rollout_tokens_per_s"]
        train = (count["prompt_tokens"] + count["completion_tokens"]) / entry["tokens_per_s"]
        wall = ends[step] - ends[step - 1] if step - 1 in ends else None
        steps.append({"step": step, **count, "rollout_seconds": rollout, "train_seconds": train, "step_seconds": wall,
                      "loss": entry.get("loss"), "reward": entry.get("reward"), "eos_share": entry.get("eos_share")})  # fmt: skip
    return steps


def trl_prompt_rows(job: dict) -> list[list[dict]]:
    """The prompts' messages in the order curate's seeded batches take them, one batch per step."""
    from curate.train import batches
    from curate.train.rl.prompts import read_prompts

    prompts, _ = read_prompts([str(SEEDS)])
    train, _ = batches.split_rows(prompts, 0.0, SEED)
    order = batches.micro_batches(len(train), job["prompts"], SEED, 0)
    return [train[index].messages for _, (_, indices) in zip(range(job["steps"]), order) for index in indices]


def trl_run(job: dict) -> list[dict]:
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    cuda = job["device"] == "cuda"
    steps: list[dict] = []
    current: dict = {}

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            current.clear()
            current.update(rows=0, prompt_tokens=0, completion_tokens=0, rollout_seconds=0.0, generate_seconds=0.0)
            current["begin"] = sync(cuda)

        def on_step_end(self, args, state, control, **kwargs):
            wall = sync(cuda) - current.pop("begin")
            steps.append({"step": state.global_step, **current, "step_seconds": wall,
                          "train_seconds": wall - current["rollout_seconds"]})  # fmt: skip

    config = GRPOConfig(
        output_dir=job["run_dir"], max_steps=job["steps"], per_device_train_batch_size=job["prompts"] * job["generations"],
        gradient_accumulation_steps=1, num_generations=job["generations"], max_completion_length=job["new_tokens"],
        temperature=1.0, top_p=1.0, top_k=0, learning_rate=job["lr"], lr_scheduler_type="cosine", warmup_steps=0,
        weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=1.0,
        optim="adamw_torch_fused" if cuda else "adamw_torch", bf16=cuda, use_cpu=not cuda,
        gradient_checkpointing=False, beta=0.0, loss_type="dapo", epsilon=0.2, num_iterations=1,
        scale_rewards="group", shuffle_dataset=False, disable_dropout=True, seed=SEED,
        model_init_kwargs={"dtype": "float32"}, logging_steps=1, save_strategy="no", report_to="none",
        disable_tqdm=True, dataloader_num_workers=0, log_completions=False,
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(job["model"])
    dataset = Dataset.from_dict({"prompt": trl_prompt_rows(job)})
    trainer = GRPOTrainer(
        model=job["model"], reward_funcs=[even_share], args=config, train_dataset=dataset,
        processing_class=tokenizer, callbacks=[StepClock()],
    )  # fmt: skip
    trainer.remove_callback(PrinterCallback)
    generate, rewards, single = trainer._generate, trainer._calculate_rewards, trainer._generate_single_turn

    def timed_generate(prompts):
        started = sync(cuda)
        output = generate(prompts)
        current["rollout_seconds"] += sync(cuda) - started
        prompt_ids, completion_ids = output[0], output[1]
        current["rows"] += len(completion_ids)
        current["prompt_tokens"] += sum(len(ids) for ids in prompt_ids)
        current["completion_tokens"] += sum(len(ids) for ids in completion_ids)
        return output

    def timed_rewards(*args, **kwargs):
        started = sync(cuda)
        output = rewards(*args, **kwargs)
        current["rollout_seconds"] += sync(cuda) - started
        return output

    def timed_single(*args, **kwargs):
        started = sync(cuda)
        output = single(*args, **kwargs)
        current["generate_seconds"] += sync(cuda) - started
        return output

    trainer._generate, trainer._calculate_rewards, trainer._generate_single_turn = (
        timed_generate, timed_rewards, timed_single,
    )  # fmt: skip
    trainer.train()
    logged = {entry["step"]: entry for entry in trainer.state.log_history if "loss" in entry}
    for step in steps:
        entry = logged.get(step["step"], {})
        step.update(loss=entry.get("loss"), reward=entry.get("reward"), eos_share=None)
    return steps


def run_job(job: dict) -> dict:
    """One run in this fresh process: its steps, summarised after the warm-up, and its peak memory."""
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    cuda = job["device"] == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    try:
        steps = (trl_run if job["run"] == "trl_grpo" else curate_run)(job)
    except Exception as error:  # reported in the table and the JSON; the other runs go on
        return {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(), **memory(cuda)}
    finally:
        shutil.rmtree(job["run_dir"], ignore_errors=True)
    return {**summary(steps, job["warmup"]), **memory(cuda), "wall_seconds": time.perf_counter() - started,
            "steps": steps}  # fmt: skip


def summary(steps: list[dict], warmup: int) -> dict:
    timed = [step for step in steps if step["step"] > warmup]
    if not timed:
        raise RuntimeError(f"no step after the {warmup} warm-up steps was logged ({len(steps)} steps)")
    total = {key: sum(step[key] for step in timed) for key in ("rows", "prompt_tokens", "completion_tokens")}
    rollout, train = sum(s["rollout_seconds"] for s in timed), sum(s["train_seconds"] for s in timed)
    walls = [s["step_seconds"] for s in timed if s.get("step_seconds") is not None]
    tokens = total["prompt_tokens"] + total["completion_tokens"]
    return {
        "timed_steps": len(timed), **total, "mean_completion_length": total["completion_tokens"] / total["rows"],
        "rollout_seconds": rollout, "train_seconds": train,
        "rollout_tokens_per_s": total["completion_tokens"] / rollout, "train_tokens_per_s": tokens / train,
        "step_seconds": sum(walls) / len(walls) if walls else (rollout + train) / len(timed),
        "step_tokens_per_s": tokens / (rollout + train),
        "generate_only_seconds": sum(s.get("generate_seconds", 0.0) for s in timed) or None,
        "prompt_tokens_per_step": [s["prompt_tokens"] for s in steps],
        "final_loss": steps[-1].get("loss"),
    }  # fmt: skip


# ------------------------------------------------------------------------------ report


def ratios(results: dict) -> dict:
    ours, theirs = results.get("curate_grpo", {}), results.get("trl_grpo", {})
    if "rollout_tokens_per_s" not in ours or "rollout_tokens_per_s" not in theirs:  # failed or skipped
        return {}
    keys = ("rollout_tokens_per_s", "train_tokens_per_s", "step_tokens_per_s", "peak_memory_bytes")
    found = {key: ours[key] / theirs[key] for key in keys if ours.get(key) and theirs.get(key)}
    found["same_prompt_tokens_per_step"] = ours["prompt_tokens_per_step"] == theirs["prompt_tokens_per_step"]
    return found


def table(result: dict) -> str:
    setting = result["settings"]
    rows = [
        f"RL throughput, {result['device']}, model {result['model'].get('architecture')} "
        f"({setting['shape']}, vocab {result['model'].get('vocab')}), {setting['new_tokens']} new tokens, "
        f"{setting['steps']} steps ({setting['warmup']} untimed); "
        + ", ".join(f"{name} {result['versions'].get(name)}" for name in ("torch", "transformers", "trl")),
        "",
        "| run | rows/step | mean completion len | rollout tok/s | train tok/s | step s | step tok/s | peak mem GiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in RUNS:
        run = result["runs"].get(name)
        if run is None:
            continue
        if "error" in run or "skipped" in run:
            why = str(run.get("error") or run.get("skipped")).splitlines()[0][:200].replace("|", "/")
            rows.append(f"| {name} | {why} | | | | | | |")
            continue
        rows.append(
            f"| {name} | {run['rows'] // run['timed_steps']} | {run['mean_completion_length']:.1f} "
            f"| {run['rollout_tokens_per_s']:,.0f} | {run['train_tokens_per_s']:,.0f} | {run['step_seconds']:.2f} "
            f"| {run['step_tokens_per_s']:,.0f} | {gib(run['peak_memory_bytes'])} |"
        )
    found = result["ratios"]
    if found:
        rows += ["", "curate/TRL GRPO: " + ", ".join(
            f"{key.replace('_bytes', '')} {ratio_text(found.get(key))}"
            for key in ("rollout_tokens_per_s", "train_tokens_per_s", "step_tokens_per_s", "peak_memory_bytes")
        ) + f"; same prompt tokens each step: {found['same_prompt_tokens_per_step']}"]  # fmt: skip
    rows += ["", "train tok/s: prompt + completion tokens once per step over the step's time less the rollout; "
             "curate_ppo's step holds 4 PPO epochs of policy + value and the reference and value passes.",
             f"Timing: {TRL_TIMING}; curate: metrics.jsonl rates x the rollout's own token counts.",
             "Peak memory: " + ("torch.cuda.max_memory_allocated" if result["cuda"] else "VmHWM (peak RSS) of each run's process")]  # fmt: skip
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=("tiny", "small", "qwen0.5b"), default="small")
    for name in ("prompts", "generations", "new_tokens", "steps", "warmup", "ppo_prompts"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None, help="default: per device")
    parser.add_argument("--lr", type=float, default=1e-6, help="both sides (curate's and TRL's GRPO default)")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"a comma list of {', '.join(RUNS)}")
    parser.add_argument(
        "--budget", type=float, default=None, help="wall-clock seconds for all runs (each at most 200 s on GPU)"
    )
    parser.add_argument("--workdir", type=Path, default=WORK / "rl_vs_trl")
    parser.add_argument("--out", type=Path, default=WORK / "rl_vs_trl.json")
    parser.add_argument("--md", type=Path, default=None, help="also write the markdown table here")
    parser.add_argument("--smoke", action="store_true", help="the CPU, tiny steps")
    args = parser.parse_args()
    runs = [name for name in args.runs.split(",") if name]
    if unknown := set(runs) - set(RUNS):
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")
    budget = measure.Budget(args.budget)
    env = measure.probe_in_process(args.smoke)
    if "error" in env:
        raise SystemExit(f"the device probe failed: {env['error']}")
    cuda = bool(env["cuda"])
    kind = "smoke" if args.smoke else ("gpu" if cuda else "cpu")
    setting = {
        key: getattr(args, key) if getattr(args, key) is not None else value for key, value in DEFAULTS[kind].items()
    }
    setting |= {"shape": args.shape, "lr": args.lr, "smoke": args.smoke, "reward": "rl_vs_trl:even_share"}
    if 12 % setting["prompts"]:  # a short last batch of an epoch would give curate fewer rows than TRL
        parser.error(f"--prompts must divide the {SEEDS.name} file's 12 prompts")
    if setting["warmup"] >= setting["steps"]:
        parser.error("--warmup must be below --steps")
    device = "cuda" if cuda else "cpu"
    model_dir = args.workdir / f"model_{args.shape}{'_smoke' if args.smoke else ''}"
    model = measure.call_in_process(
        build_model,
        {"folder": str(model_dir), "shape": args.shape, "device": device, "smoke": args.smoke},
        600 if budget.left() is None else max(budget.left(), 1.0),
    )
    result = {
        "kind": "rl_vs_trl", "device": env["device"], "cuda": cuda, "versions": env["versions"], "settings": setting,
        "model": model, "trl_timing": TRL_TIMING, "runs": {}, "ratios": {},
    }  # fmt: skip
    if "error" in model:
        measure.write_json(args.out, result)
        raise SystemExit(f"building the model failed: {model['error']}\n{model.get('traceback', '')}")
    print(f"device {env['device']}; model {model['architecture']} {args.shape}: {model['layers']} layers, "
          f"hidden {model['hidden']}, vocab {model['vocab']} ({model['tokenizer_tokens']} in the tokenizer)")  # fmt: skip
    sys.stdout.flush()
    least = LEAST["gpu" if cuda else "cpu"]
    for index, name in enumerate(runs):
        held = least * (len(runs) - index - 1)
        left = budget.left()
        if left is not None and left - held < least:
            result["runs"][name] = {"skipped": f"not started: {left:.0f} s left, {held:.0f} s held for later runs"}
        else:
            job = {
                **setting,
                "run": name,
                "model": str(model_dir),
                "device": device,
                "run_dir": str(args.workdir / f"run_{name}"),
            }
            limit = None if left is None else min(left - held, MOST["gpu" if cuda else "cpu"])
            result["runs"][name] = measure.call_in_process(run_job, job, limit)
        run = result["runs"][name]
        if "error" in run:
            print(f"{name}: FAILED {run['error']}\n{run.get('traceback', '')}")
        elif "skipped" not in run:
            print(f"{name}: rollout {run['rollout_tokens_per_s']:,.0f} tok/s, train {run['train_tokens_per_s']:,.0f} "
                  f"tok/s, {run['step_seconds']:.2f} s/step, peak {gib(run['peak_memory_bytes'])} GiB, "
                  f"mean completion {run['mean_completion_length']:.1f} ({run['wall_seconds']:.0f} s in all)")  # fmt: skip
        sys.stdout.flush()
        result["ratios"] = ratios(result["runs"])
        measure.write_json(args.out, result)
        if args.md:
            args.md.parent.mkdir(parents=True, exist_ok=True)
            args.md.write_text(table(result) + "\n")
    print("\n" + table(result))
    print(f"\nwrote {args.out}" + (f" and {args.md}" if args.md else ""))
    return 0 if all("error" not in run for run in result["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
