"""report.json, report.md and scores.png of a prefs run.

Prompts, answers and judge replies are data: report.md quotes them through io/markdown.py,
so a `<script>` or `![x](http://...)` in an answer shows as those characters.
"""

from __future__ import annotations

from pathlib import Path

from curate.io.markdown import cell
from curate.pipeline import plots
from curate.pipeline.report import heading, write_report_files

SCORES = "scores.png"


def write_prefs_report(folder: Path, manifest: dict, scores: list[float], examples: dict | None = None) -> None:
    """`examples`: {"pairs": [...], "judge_failures": [...]}, a few of each, quoted in report.md."""
    run, counts, llm = manifest["prefs"], manifest["counts"], manifest["llm"]
    report = {
        "command": manifest["command"],
        "command_line": manifest["command_line"],
        "counts": counts,
        "prefs": run | {"tie_rate": round(run["ties"] / run["pairs_considered"], 4) if run["pairs_considered"] else None},
        "llm": llm,
        "scores": {"count": len(scores), "min": min(scores, default=None), "max": max(scores, default=None),
                   "mean": round(sum(scores) / len(scores), 4) if scores else None},
        "timings": manifest["timings"],
        "examples": examples or {},
    }  # fmt: skip
    chart = _draw_scores(folder, scores)
    report["charts"] = [chart] if chart else []
    write_report_files(folder, report, render_markdown(report))


def render_markdown(report: dict) -> str:
    run, counts, llm = report["prefs"], report["counts"], report["llm"]
    lines = heading(report)
    lines.append(
        f"**{counts['kept']:,} preference pairs** from {run['prompts']:,} prompts: {run['candidates']:,} candidates "
        f"({run['n']} asked per prompt), {run['judged']:,} judged, {run['pairs_considered']:,} pairs considered "
        f"({run['pairing']})."
    )
    tie_rate = run.get("tie_rate")
    lines += [
        "",
        f"Ties: {run['ties']:,}"
        + (f" ({100 * tie_rate:.1f}% of the pairs considered)" if tie_rate is not None else "")
        + f"; under --min-margin: {run['below_min_margin']:,}.",
    ]
    judge = llm.get("judge") or {}
    bias = judge.get("position_bias")
    if bias is not None:
        lines += [
            "",
            f"Position bias of the pairwise judge: {bias:.3f} (the share of pairs whose verdict followed the "
            f"position, not the answer, when the order was swapped; over {judge.get('position_bias_pairs', 0):,} pairs).",
        ]
    lines += ["", "## Dropped, by reason", ""]
    if counts["by_reason"]:
        lines += ["| reason | rows |", "|---|---:|"] + [
            f"| `{reason}` | {rows:,} |" for reason, rows in counts["by_reason"].items()
        ]
        lines += [
            "",
            "Every dropped candidate, pair and prompt is in `rejected/` with its `reason`; `raw` holds the answers.",
        ]
    else:
        lines.append("Nothing was dropped.")
    lines += ["", "## Scores", ""]
    if SCORES in report.get("charts", []):
        lines += [f"![scores]({SCORES})", ""]
    scores = report["scores"]
    if scores["count"]:
        lines.append(
            f"{scores['count']:,} scores from {scores['min']:g} to {scores['max']:g}, mean {scores['mean']:g}."
        )
    lines += [
        "",
        "## Models",
        "",
        "| stage | requests | from the cache | retries | failed | prompt tokens | completion tokens |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for stage in ("policy", "judge"):
        usage = llm.get(stage) or {}
        if "requests" in usage:
            lines.append(
                f"| {stage} | {usage['requests']:,} | {usage['cache_hits']:,} | {usage.get('retries_total', 0):,} "
                f"| {usage.get('statuses', {}).get('failed', 0):,} | {usage['prompt_tokens']:,} | {usage['completion_tokens']:,} |"
            )
    failures = judge.get("failures") or {}
    if failures:
        lines += [
            "",
            "Judge failures (no usable score, counted, never scored 0): "
            + ", ".join(f"{reason} {count:,}" for reason, count in failures.items())
            + ".",
        ]
    lines += _examples(report.get("examples") or {})
    lines += ["", f"Ran in {report['timings']['seconds']} s."]
    return "\n".join(lines) + "\n"


def _examples(examples: dict) -> list[str]:
    """A few pairs and judge replies, every piece of data as text (cell), never as markup."""
    lines = []
    pairs, failures = examples.get("pairs") or [], examples.get("judge_failures") or []
    if pairs:
        lines += [
            "",
            "## Examples",
            "",
            f"The first {len(pairs)} pairs (all are in `data/`):",
            "",
            "| prompt | chosen | score | rejected | score |",
            "|---|---|---:|---|---:|",
        ]
        lines += [
            f"| {cell(pair['prompt'], 120)} | {cell(pair['chosen'], 160)} | {cell(_number(pair['score_chosen']))} "
            f"| {cell(pair['rejected'], 160)} | {cell(_number(pair['score_rejected']))} |"
            for pair in pairs
        ]
    if failures:
        lines += [
            "",
            f"Judge replies without a usable score (the first {len(failures)}; each candidate is in `rejected/`):",
            "",
            "| reason | answer judged | the judge's reply |",
            "|---|---|---|",
        ]
        lines += [
            f"| {cell(failure['reason'])} | {cell(failure['answer'], 120)} | {cell(failure['reply'], 200)} |"
            for failure in failures
        ]
    return lines


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _draw_scores(folder: Path, scores: list[float]) -> str | None:
    if not scores or not plots.chart_library_available():
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.2))
    axes = figure.subplots()
    axes.hist(scores, bins=min(30, max(5, len(set(scores)))), color="#4c72b0", edgecolor="white")
    axes.set_xlabel("judge score")
    axes.set_ylabel("candidates")
    axes.set_title("Scores of the judged candidates")
    figure.tight_layout()
    plots.save_figure(figure, folder / SCORES)
    return SCORES
