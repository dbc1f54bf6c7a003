"""report.json, report.md and novelty.png of a self-instruct run.

Instructions, inputs, outputs and the model's answers are data: report.md quotes them through
io/markdown.py, so markup a model wrote shows as its characters.
"""

from __future__ import annotations

import json
from pathlib import Path

from curate.instruct.self_instruct.grow import Outcome, SelfInstructSettings
from curate.io.markdown import cell
from curate.pipeline import plots
from curate.pipeline.report import heading, share, write_report_files

NOVELTY = "novelty.png"
BINS = 20  # ROUGE-L histogram bins over [0, 1]
EXAMPLES = 5  # accepted tasks quoted in report.md (and one rejected per reason)


def novelty_histogram(similarities: list[float]) -> list[int]:
    counts = [0] * BINS
    for score in similarities:
        counts[min(int(score * BINS), BINS - 1)] += 1
    return counts


def write_self_instruct_report(folder: Path, manifest: dict, outcome: Outcome, settings: SelfInstructSettings) -> None:
    histogram = novelty_histogram(outcome.similarities)
    report = {
        "command": manifest["command"],
        "command_line": manifest["command_line"],
        "counts": manifest["counts"],
        "self_instruct": manifest["self_instruct"] | {"num": settings.num, "max_similarity": settings.max_similarity},
        "llm": manifest["llm"],
        "novelty": {
            "edges": [round(n / BINS, 2) for n in range(BINS + 1)],
            "candidates": histogram,  # best ROUGE-L of each candidate that reached the novelty check
            "accepted_mean": _mean([item.similarity for item in outcome.accepted]),
        },
        "timings": manifest["timings"],
        "examples": examples(outcome),
    }
    chart = _draw_novelty(folder, histogram, settings.max_similarity)
    report["charts"] = [chart] if chart else []
    write_report_files(folder, report, render_markdown(report))


def examples(outcome: Outcome) -> dict:
    """The first accepted tasks, and the first rejected task (or answer) of each reason."""
    accepted = [item.task.as_dict() for item in outcome.accepted[:EXAMPLES]]
    rejected: dict[str, dict] = {}
    for item in outcome.rejected:
        if item.reason not in rejected:
            rejected[item.reason] = {"reason": item.reason, "text": _instruction(item.raw), "detail": item.detail}
    return {"accepted": accepted, "rejected": list(rejected.values())}


def _instruction(raw: str) -> str:
    """A rejected task's instruction (raw holds the task as JSON), or the whole answer."""
    try:
        task = json.loads(raw)
    except ValueError:
        return raw
    return task.get("instruction", raw) if isinstance(task, dict) else raw


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def render_markdown(report: dict) -> str:
    counts, run, llm = report["counts"], report["self_instruct"], report["llm"]
    lines = heading(report)
    lines.append(
        f"**{counts['kept']:,} of {run['num']:,} tasks accepted** from {run['candidates']:,} candidates "
        f"in {run['requests']:,} requests ({run['rounds']:,} rounds), grown from {run['seeds']:,} seed tasks."
    )
    if not run["reached_num"]:
        lines += [
            "",
            f"**Stopped early:** the request budget ran out with {counts['kept']:,} of {run['num']:,} "
            "accepted. Raise --max-requests, or check the rejected reasons below.",
        ]
    lines += ["", "## Rejected, by reason", ""]
    if counts["by_reason"]:
        lines += ["| reason | rows | share |", "|---|---:|---:|"]
        for reason, rows in counts["by_reason"].items():
            lines.append(f"| `{reason}` | {rows:,} | {share(rows, counts['in'])} |")
        lines += [
            "",
            "Every rejected task (or unusable answer) is in `rejected/` with its `reason` and `detail`; "
            "`raw` holds the task as JSON, or the whole answer.",
        ]
    else:
        lines.append("Nothing was rejected.")
    lines += ["", "## Requests and tokens", "", "| | |", "|---|---:|"]
    lines += [
        f"| requests answered by the model | {llm['requests']:,} |",
        f"| answers from the cache | {llm['cache_hits']:,} |",
        f"| retries | {llm['retries_total']:,} |",
    ]
    lines += [f"| retries: {cause} | {count:,} |" for cause, count in llm["retries"].items()]
    lines += [f"| answers {status} | {count:,} |" for status, count in llm["statuses"].items()]
    lines += [
        f"| prompt tokens (model requests) | {llm['prompt_tokens']:,} |",
        f"| completion tokens (model requests) | {llm['completion_tokens']:,} |",
    ]
    novelty = report["novelty"]
    lines += [
        "",
        "## Novelty",
        "",
        f"Best ROUGE-L F1 of each candidate against the seeds and the tasks accepted before it; "
        f"above {run['max_similarity']} it is rejected as `too_similar`."
        + (f" Mean over accepted tasks: {novelty['accepted_mean']}." if novelty["accepted_mean"] is not None else ""),
        "",
    ]
    if NOVELTY in report.get("charts", []):
        lines += [f"![novelty]({NOVELTY})", ""]
    lines += ["| ROUGE-L | candidates |", "|---|---:|"]
    edges = novelty["edges"]
    for position, count in enumerate(novelty["candidates"]):
        if count:
            lines.append(f"| {edges[position]:.2f} - {edges[position + 1]:.2f} | {count:,} |")
    lines += _examples(report.get("examples") or {})
    timings = report["timings"]
    lines += ["", f"Ran in {timings['seconds']} s."]
    return "\n".join(lines) + "\n"


def _examples(examples: dict) -> list[str]:
    """Tasks and answers quoted as text (cell), never as markup."""
    accepted, rejected = examples.get("accepted") or [], examples.get("rejected") or []
    if not accepted and not rejected:
        return []
    lines = ["", "## Examples"]
    if accepted:
        lines += [
            "",
            f"The first {len(accepted)} accepted tasks (all are in `data/`):",
            "",
            "| instruction | input | output |",
            "|---|---|---|",
        ]
        lines += [
            f"| {cell(task['instruction'], 160)} | {cell(task['input'], 80)} | {cell(task['output'], 160)} |"
            for task in accepted
        ]
    if rejected:
        lines += [
            "",
            "One rejected task (or answer) per reason:",
            "",
            "| reason | task or answer | detail |",
            "|---|---|---|",
        ]
        lines += [
            f"| {cell(item['reason'])} | {cell(item['text'], 160)} | {cell(item['detail'], 160)} |" for item in rejected
        ]
    return lines


def _draw_novelty(folder: Path, histogram: list[int], threshold: float) -> str | None:
    if not any(histogram) or not plots.chart_library_available():
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.5))
    axes = figure.subplots()
    edges = [n / BINS for n in range(BINS + 1)]
    colors = ["#c44e52" if low >= threshold else "#4c72b0" for low in edges[:-1]]
    axes.bar(edges[:-1], histogram, width=1 / BINS, align="edge", color=colors, edgecolor="white")
    axes.axvline(threshold, color="#333333", linestyle="--", linewidth=1)
    axes.text(threshold, max(histogram), f" max similarity {threshold}", va="top", fontsize=8)
    axes.set_xlim(0, 1)
    axes.set_xlabel("best ROUGE-L F1 against the pool")
    axes.set_ylabel("candidates")
    axes.set_title("Novelty of generated instructions")
    figure.tight_layout()
    plots.save_figure(figure, folder / NOVELTY)
    return NOVELTY
