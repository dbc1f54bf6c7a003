"""The GPU training figures as markdown tables, ready for docs/BENCHMARKS.md, from the benches' JSON.

    python bench/train_report.py ITEMS_DIR_OR_JSON... [--json results.json] [--md report.md]

Reads every JSON it is given (a folder: every *.json in it, in name order): the device probe
(kind "env", train_measure.py --probe), curate-vs-TRL pairs ("throughput_pair",
train_throughput.py --out-dir), the lean-loss memory step ("lean_loss", lean_loss_memory.py),
the 8B LoRA / QLoRA runs ("lora8b", train_lora8b.py --out-dir), and the prepared script's
records of items it skipped or that failed ("skipped", "failed", gpu_issue18.sh). Writes the
markdown (stdout, and --md) and, with --json, all the records in one file
({"items": {file name: record}}): what comes back from the device machine. Imports no torch:
it runs in a fraction of a second, after every item of the prepared script.

MFU is over the measured dense bf16 matmul peak of the device; the figure over the datasheet
peak (989 TFLOP/s for the H100 and H200) follows in parentheses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

GOAL_MFU = 0.45
GOAL_SPEED = 1.3


def gib(value) -> str:
    return "-" if value is None else f"{value / 2**30:.1f}"


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def mfu_text(run: dict) -> str:
    text = pct(run.get("mfu"))
    return text if run.get("mfu_spec") is None else f"{text} ({pct(run['mfu_spec'])})"


def ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def yes_no(value) -> str:
    return "not measured" if value is None else ("**yes**" if value else "**no**")


def load(paths: list[Path]) -> dict[str, dict]:
    items: dict[str, dict] = {}
    for path in paths:
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                record = json.loads(file.read_text())
            except (OSError, json.JSONDecodeError) as error:
                items[file.name] = {"kind": "failed", "item": file.name, "reason": f"unreadable JSON: {error}"}
                continue
            if isinstance(record, dict) and isinstance(record.get("items"), dict) and "kind" not in record:
                items.update(record["items"])  # an earlier merged results.json
            else:
                items[file.name] = record
    return items


def of_kind(items: dict[str, dict], kind: str) -> list[dict]:
    return [record for record in items.values() if isinstance(record, dict) and record.get("kind") == kind]


def header(items: dict[str, dict]) -> list[str]:
    env = next(iter(of_kind(items, "env")), None)
    if env is None:
        source = next((r for r in items.values() if isinstance(r, dict) and r.get("device")), {})
        return [f"Device: {source.get('device', 'unknown')} (no probe record)", ""]
    measured = env.get("peak_flops_measured")
    versions = env.get("versions") or {}
    lines = [
        f"Device: {env['device']}"
        + (f", {gib(env['gpu_memory_bytes'])} GiB" if env.get("gpu_memory_bytes") else "")
        + (f"; measured dense bf16 matmul peak {measured / 1e12:.0f} TFLOP/s" if measured else "; no GPU (dry run)")
        + (f" (datasheet {env['peak_flops_spec'] / 1e12:.0f})" if env.get("peak_flops_spec") else "")
        + ".",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items() if version) + ".",
        "",
    ]
    return lines


def throughput_section(items: dict[str, dict]) -> tuple[list[str], dict]:
    pairs = of_kind(items, "throughput_pair")
    goals: dict = {}
    if not pairs:
        return ["No curate-vs-TRL pair ran.", ""], goals
    settings = next((p.get("settings") for p in pairs if p.get("settings")), {}) or {}
    lines = [
        "### curate vs TRL: SFT (packed) and DPO, randomly initialised Qwen2.5-0.5B and Llama-3.2-1B shapes",
        "",
        f"Sequence {settings.get('seq')}, {settings.get('batch_tokens')} tokens a step, {settings.get('steps')} steps "
        f"(the first {settings.get('warmup')} untimed), {settings.get('dtype')}, attention {settings.get('attention')}; "
        "tokens/s count non-padding tokens; peak = `torch.cuda.max_memory_allocated()`; "
        "MFU = (6N + attention) FLOPs per token over the measured bf16 peak (datasheet in parentheses).",
        "",
        "| model | mode | side | tokens/s | peak GiB | MFU | grad. ckpt | batch |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    ratio_lines = [
        "",
        "| model | mode | curate / TRL tokens/s | curate / TRL peak memory | >= 1.3x at <= memory | SFT MFU >= 45% |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for pair in pairs:
        model, mode = pair["model"], pair["mode"]
        if pair.get("skipped"):
            lines.append(f"| {model} | {mode} | - | skipped: {pair['skipped']} | | | | |")
            continue
        for run in pair.get("runs", []):
            if "error" in run:
                lines.append(f"| {model} | {mode} | {run['side']} | error: {run['error'][:120]} | | | | |")
                continue
            lines.append(
                f"| {model} | {mode} | {run['side']} | {run['tokens_per_s']:,.0f} | {gib(run.get('peak_memory_bytes'))} "
                f"| {mfu_text(run)} | {'yes' if run.get('gradient_checkpointing') else 'no'} | {run.get('batch', '')} |"
            )
        row = pair.get("ratio") or {}
        goals[(model, mode, "speed")] = row.get("goal_speed")
        if mode == "sft":
            goals[(model, mode, "mfu")] = row.get("goal_mfu")
            curate = next((r for r in pair.get("runs", []) if r.get("side") == "curate" and "error" not in r), None)
            goals[(model, mode, "mfu_value")] = curate.get("mfu") if curate else None
        goals[(model, mode, "ratio")] = (row.get("tokens_per_s_ratio"), row.get("peak_memory_ratio"))
        ratio_lines.append(
            f"| {model} | {mode} | {ratio(row.get('tokens_per_s_ratio'))} | {ratio(row.get('peak_memory_ratio'))} "
            f"| {yes_no(row.get('goal_speed'))} | {yes_no(row.get('goal_mfu')) if mode == 'sft' else ''} |"
        )
    return lines + ratio_lines + [""], goals


def lean_section(items: dict[str, dict]) -> tuple[list[str], dict]:
    records = of_kind(items, "lean_loss")
    if not records:
        return ["The lean-loss memory step did not run.", ""], {}
    record = records[0]
    lines = [
        f"### Lean loss: one training step, {record['model']} shape (vocab {record['vocab']:,}), "
        f"{record['rows']} x {record['seq']} tokens",
        "",
        f"{record['parameters']:,} parameters, {record['dtype']}, every position labelled; peak = "
        "`torch.cuda.max_memory_allocated()` over forward + backward (weights and gradients included).",
        "",
        "| loss path | peak GiB | above the weights GiB | seconds | loss |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    names = {"plain": "full logits (`PlainCausalLM`)", "lean": "chunked (`LeanCausalLM`, curate's default)"}
    for name in ("plain", "lean"):
        run = record.get("runs", {}).get(name)
        if run is None:
            lines.append(f"| {names[name]} | not run | | | |")
        elif "error" in run:
            lines.append(f"| {names[name]} | error: {run['error'][:120]} | | | |")
        else:
            lines.append(
                f"| {names[name]} | {gib(run['peak_memory_bytes'])} | {gib(run['peak_above_before_bytes'])} "
                f"| {run['seconds']:.2f} | {run['loss']:.4f} |"
            )
    if record.get("peak_ratio_plain_over_lean"):
        lines += ["", f"Full logits / lean peak: {record['peak_ratio_plain_over_lean']:.2f}x "
                  f"({gib(record['peak_saved_bytes'])} GiB less with the lean loss)."]  # fmt: skip
    if record.get("memory_note"):
        lines += ["", record["memory_note"]]
    return lines + [""], {"lean": record.get("goal_lower_peak"), "lean_record": record}


def lora_section(items: dict[str, dict]) -> tuple[list[str], dict]:
    records = of_kind(items, "lora8b")
    goals: dict = {}
    if not records:
        return ["The Llama-3.1-8B LoRA / QLoRA runs did not run.", ""], goals
    settings = records[0].get("settings", {})
    lora = settings.get("lora", {})
    lines = [
        "### Llama-3.1-8B shape: curate train-sft with LoRA (bf16 base) and QLoRA (NF4 base)",
        "",
        f"Sequence {settings.get('seq')}, {settings.get('rows_per_step')} packed rows a step, "
        f"{settings.get('steps')} steps (the first {settings.get('warmup')} untimed); LoRA r {lora.get('r')}, alpha "
        f"{lora.get('alpha')}, dropout {lora.get('dropout')}, {lora.get('target')}; bf16 autocast. "
        "MFU = (4N + 6 x adapter parameters + attention) FLOPs per token (the frozen base's weight gradients "
        "are not computed; N = the bf16 model's parameters) over the measured bf16 peak (datasheet in parentheses).",
        "",
        "| mode | tokens/s | peak GiB | reserved GiB | MFU | trainable parameters | grad. ckpt | wall s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for record in records:
        mode = record["mode"]
        result = record.get("result") or {}
        if record.get("skipped"):
            lines.append(f"| {mode} | skipped: {record['skipped']} | | | | | | |")
            goals[mode] = None
        elif "error" in result:
            lines.append(f"| {mode} | error: {result['error'][:120]} | | | | | | |")
            goals[mode] = False
        else:
            lines.append(
                f"| {mode} | {result['tokens_per_s']:,.0f} | {gib(result.get('peak_memory_bytes'))} "
                f"| {gib(result.get('peak_reserved_bytes'))} | {mfu_text(result)} "
                f"| {result.get('trainable_parameters') or 0:,} | {'yes' if result.get('gradient_checkpointing') else 'no'} "
                f"| {result.get('wall_seconds', 0):.0f} |"
            )
            goals[mode] = record.get("trains_on_one_gpu")  # None on a CPU dry run
            goals[f"{mode}_peak"] = result.get("peak_memory_bytes")
    model = next((r["model"] for r in records if isinstance(r.get("model"), dict)), None)
    if model:
        lines += [
            "",
            f"The model: {model['parameters']:,} parameters, built at random on the {'GPU' if model['dtype'] == 'bfloat16' else 'CPU'} "
            f"in {model['dtype']} in {model['build_seconds']:.1f} s and saved ({gib(model.get('bytes'))} GiB) in "
            f"{model['save_seconds']:.1f} s" + (" (reused)" if model.get("reused") else "") + ".",
        ]
    return lines + [""], goals


def goals_section(throughput: dict, lean: dict, lora: dict) -> list[str]:
    def speed_text(model: str, mode: str) -> str:
        measured = throughput.get((model, mode, "ratio"))
        text = yes_no(throughput.get((model, mode, "speed")))
        if measured and measured[0] is not None:
            text += f" ({ratio(measured[0])} tokens/s, {ratio(measured[1])} memory)"
        return text

    mfu = throughput.get(("llama1b", "sft", "mfu_value"))
    lines = [
        "### Goals",
        "",
        "| goal | met |",
        "| --- | --- |",
        f"| SFT MFU >= 45% on the 1B shape | {yes_no(throughput.get(('llama1b', 'sft', 'mfu')))}"
        + (f" ({pct(mfu)})" if mfu is not None else "")
        + " |",
    ]
    for mode in ("sft", "dpo"):
        for model in ("llama1b", "qwen0.5b"):
            lines.append(
                f"| {mode.upper()} {model}: >= {GOAL_SPEED}x TRL tokens/s at <= peak memory | {speed_text(model, mode)} |"
            )
    for mode, label in (("lora", "LoRA, bf16 base"), ("qlora", "QLoRA, NF4 base")):
        peak = lora.get(f"{mode}_peak")
        lines.append(
            f"| 8B shape trains with {label} on one GPU | {yes_no(lora.get(mode))}"
            + (f" (peak {gib(peak)} GiB)" if peak else "")
            + " |"
        )
    record = lean.get("lean_record") or {}
    saved = f" ({gib(record['peak_saved_bytes'])} GiB less)" if record.get("peak_saved_bytes") is not None else ""
    shape = f"vocab {record.get('vocab', 151936):,}, seq {record.get('seq', 4096)}"
    lines.append(f"| lean loss lowers a training step's peak memory ({shape}) | {yes_no(lean.get('lean'))}{saved} |")
    return lines + [""]


def problems_section(items: dict[str, dict]) -> list[str]:
    lines = []
    for name, record in items.items():
        if isinstance(record, dict) and record.get("kind") in ("skipped", "failed"):
            lines.append(f"- {record.get('item', name)}: {record['kind']}: {record.get('reason', '')}")
    return (["### Not run or failed", "", *lines, ""]) if lines else []


def render(items: dict[str, dict]) -> str:
    throughput_lines, throughput = throughput_section(items)
    lean_lines, lean = lean_section(items)
    lora_lines, lora = lora_section(items)
    lines = ["## Training on the GPU: curate vs TRL, lean loss, 8B LoRA / QLoRA", "", *header(items)]
    lines += goals_section(throughput, lean, lora)
    lines += throughput_lines + lean_lines + lora_lines + problems_section(items)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path, help="JSON files or folders of them")
    parser.add_argument("--json", type=Path, default=None, help="all the records in one file")
    parser.add_argument("--md", type=Path, default=None, help="the markdown")
    parser.add_argument("--quiet", action="store_true", help="do not print the markdown")
    args = parser.parse_args()
    items = load([path for path in args.inputs if path.exists()])
    markdown = render(items)
    for path, text in ((args.json, json.dumps({"items": items}, indent=2) + "\n"), (args.md, markdown)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(text)
            temporary.replace(path)
    if not args.quiet:
        print(markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
