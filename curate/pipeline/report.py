"""report.json and report.md: the funnel of a run, from records read to rows kept."""

from __future__ import annotations

from pathlib import Path

from curate.io.manifest import write_json_atomic
from curate.pipeline.step import Step


def build_report(manifest: dict, merged: dict, steps: list[Step]) -> dict:
    read = merged["read"]
    stages = [
        {
            "stage": "read",
            "docs_in": read["records"],
            "dropped": sum(read["rejected"].values()),
            "docs_out": read["docs"],
            "bytes_out": read["bytes"],
            "rejected": read["rejected"],
        }
    ]
    for step, tally in zip(steps, merged["steps"]):
        stages.append(
            {
                "stage": tally["name"],
                "settings": step.describe(),
                "docs_in": tally["docs_in"],
                "dropped": sum(tally["rejected"].values()),
                "docs_out": tally["docs_out"],
                "bytes_in": tally["bytes_in"],
                "bytes_out": tally["bytes_out"],
                "rejected": tally["rejected"],
                "counters": tally.get("counters", {}),
                "seconds": round(tally["seconds"], 3),
            }
        )
    return {
        "command": manifest["command"],
        "command_line": manifest["command_line"],
        "inputs": {"files": len(manifest["inputs"]), "bytes": sum(item["size"] for item in manifest["inputs"])},
        "counts": manifest["counts"],
        "kept_bytes": merged["kept"]["bytes"],
        "stages": stages,
        "timings": manifest.get("timings", {}),
    }


def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:,.0f} {unit}" if unit == "B" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1024
    return str(nbytes)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def render_markdown(report: dict) -> str:
    counts = report["counts"]
    total = counts["in"]
    lines = [
        f"# curate {report['command']}: report",
        "",
        f"`{report['command_line']}`",
        "",
        f"{report['inputs']['files']} input files ({_size(report['inputs']['bytes'])}): "
        f"**{total:,} records in, {counts['kept']:,} kept ({_share(counts['kept'], total)}), "
        f"{counts['rejected']:,} rejected**"
        + (f", of which {counts['unreadable']:,} unreadable" if counts["unreadable"] else "")
        + ".",
        "",
        "## Funnel",
        "",
        "| stage | docs in | dropped | docs out | text out | seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage in report["stages"]:
        lines.append(
            f"| {stage['stage']} | {stage['docs_in']:,} | {stage['dropped']:,} | {stage['docs_out']:,} "
            f"| {_size(stage['bytes_out'])} | {stage.get('seconds', '')} |"
        )
    lines += ["", "## Dropped, by reason", ""]
    if counts["by_reason"]:
        lines += ["| reason | rows | share of input |", "|---|---:|---:|"]
        lines += [f"| `{reason}` | {rows:,} | {_share(rows, total)} |" for reason, rows in counts["by_reason"].items()]
    else:
        lines.append("Nothing was dropped.")
    lines += ["", "Every dropped row is in `rejected/` with its `reason`; unreadable input keeps its bytes in `raw`."]
    timings = report.get("timings") or {}
    if timings:
        lines += [
            "",
            f"Ran in {timings['seconds']} s with {timings['workers']} worker(s)"
            + (f"; {timings['resumed_tasks']} task(s) were already done by an earlier run" if timings.get("resumed_tasks") else "")
            + ".",
        ]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, report: dict) -> None:
    write_json_atomic(folder / "report.json", report)
    tmp = folder / ".report.md.tmp"
    tmp.write_text(render_markdown(report), encoding="utf-8")
    tmp.replace(folder / "report.md")
