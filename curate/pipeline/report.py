"""report.json, report.md and their charts: the funnel of a run, from records read to rows kept."""

from __future__ import annotations

from pathlib import Path

from curate.io import markdown
from curate.io.atomic import atomic_path
from curate.io.manifest import write_json_atomic
from curate.io.readers.batch import RAW_PREFIX_BYTES, TOO_LONG
from curate.pipeline import counts
from curate.pipeline.plots import write_charts
from curate.pipeline.step import Step

SKIPPED_SHOWN = 50  # skipped files report.md lists one by one


def build_report(manifest: dict, merged: dict, steps: list[Step], notes: dict[str, list[dict]]) -> dict:
    """report.json's content; `notes` holds each step's notes, one per task."""
    read = merged["read"]
    stages = [
        {
            "stage": "read",
            "docs_in": read["records"],
            "dropped": sum(read["rejected"].values()),
            "docs_out": read["docs"],
            "bytes_out": read["bytes"],
            "rejected": read["rejected"],
            "rejected_bytes": read.get("rejected_bytes", {}),  # raw bytes of the unreadable records
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
                "rejected_bytes": tally.get("rejected_bytes", {}),
                "counters": tally.get("counters", {}),
                "seconds": round(tally["seconds"], 3),
            }
        )
    report = {
        "command": manifest["command"],
        "command_line": manifest["command_line"],
        "dry_run": bool(manifest.get("dry_run")),
        "sample": manifest.get("sample"),
        "inputs": {"files": len(manifest["inputs"]), "bytes": sum(item["size"] for item in manifest["inputs"])},
        # files met in input folders and globs and not read, with why (io/sources.py)
        "skipped_inputs": manifest.get("skipped_inputs", []),
        "counts": manifest["counts"],
        "read_bytes": read["bytes"],
        "kept_bytes": merged["kept"]["bytes"],
        "stages": stages,
        "lengths": {
            "unit": "characters",
            "edges": counts.LENGTH_EDGES,  # bin i is [edges[i], edges[i+1]); longer texts count in the last
            "read": read.get("lengths", [0] * (len(counts.LENGTH_EDGES) - 1)),
            "kept": merged["kept"].get("lengths", [0] * (len(counts.LENGTH_EDGES) - 1)),
        },
        "timings": manifest.get("timings", {}),
        # what steps noted per task beyond counters (dedup: snippets of the largest clusters)
        "step_notes": [
            {"step": step.name, "notes": notes[step.name]} for step in steps if any(notes.get(step.name, []))
        ],
    }
    return report


def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:,.0f} {unit}" if unit == "B" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1024
    return str(nbytes)


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def heading(report: dict) -> list[str]:
    """The first lines of every report.md: the command and the command line that ran it."""
    return [f"# curate {report['command']}: report", "", markdown.code(report["command_line"]), ""]


def _summary(report: dict) -> list[str]:
    counts_ = report["counts"]
    total = counts_["in"]
    lines = [
        f"{report['inputs']['files']} input file{'' if report['inputs']['files'] == 1 else 's'} "
        f"({_size(report['inputs']['bytes'])}): "
        f"**{total:,} records in ({_size(report.get('read_bytes', 0))} of text), "
        f"{counts_['kept']:,} kept ({share(counts_['kept'], total)}, {_size(report['kept_bytes'])}), "
        f"{counts_['rejected']:,} rejected**"
        + (f", of which {counts_['unreadable']:,} unreadable" if counts_["unreadable"] else "")
        + "."
    ]
    skipped = report.get("skipped_inputs") or []
    if skipped:
        files = sum(entry.get("files", 1) for entry in skipped)
        lines += ["", f"{files:,} file{'' if files == 1 else 's'} in the input folders not read: see Skipped inputs."]
    if report.get("sample"):
        lines += ["", f"**Sampled: first {report['sample']:,} documents** of the input, in input order."]
    if report.get("dry_run"):
        lines += ["", "**Dry run**: counts and charts only; no `data/` or `rejected/` shards were written."]
    return lines


def _funnel_table(report: dict) -> list[str]:
    lines = [
        "| stage | docs in | dropped | docs out | text in | text out | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for stage in report["stages"]:
        text_in = _size(stage["bytes_in"]) if "bytes_in" in stage else "-"
        lines.append(
            f"| {stage['stage']} | {stage['docs_in']:,} | {stage['dropped']:,} | {stage['docs_out']:,} "
            f"| {text_in} | {_size(stage['bytes_out'])} | {stage.get('seconds', '')} |"
        )
    lines.append(f"| **kept** | | | **{report['counts']['kept']:,}** | | **{_size(report['kept_bytes'])}** | |")
    return lines


def _drops_table(report: dict) -> list[str]:
    """Dropped documents grouped under their stage, rules most frequent first."""
    total = report["counts"]["in"]
    lines = ["| stage | rule | docs | text | share of input |", "|---|---|---:|---:|---:|"]
    for stage in report["stages"]:
        if not stage["dropped"]:
            continue
        rule_bytes = stage.get("rejected_bytes", {})
        lines.append(
            f"| **{stage['stage']}** | all | **{stage['dropped']:,}** | {_size(sum(rule_bytes.values()))} "
            f"| {share(stage['dropped'], total)} |"
        )
        for reason, rows in sorted(stage["rejected"].items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"| | `{reason}` | {rows:,} | {_size(rule_bytes.get(reason, 0))} | {share(rows, total)} |")
    return lines


def _lengths_table(report: dict) -> list[str]:
    lengths = report["lengths"]
    edges = lengths["edges"]
    lines = ["| characters | read | kept |", "|---|---:|---:|"]
    for position, (read, kept) in enumerate(zip(lengths["read"], lengths["kept"])):
        if read or kept:
            low, high = edges[position], edges[position + 1] - 1
            if position == len(edges) - 2:
                span = f"{low:,} or more"
            else:
                span = f"{low:,}" if low == high else f"{low:,} - {high:,}"
            lines.append(f"| {span} | {read:,} | {kept:,} |")
    return lines


def _skipped_section(skipped: list[dict]) -> list[str]:
    """The files the input folders and globs held that were not read, and why: counts by reason,
    then the first SKIPPED_SHOWN of them (all are in report.json and the manifest)."""
    if not skipped:
        return []
    by_reason: dict[str, int] = {}
    for entry in skipped:
        by_reason[entry["reason"]] = by_reason.get(entry["reason"], 0) + entry.get("files", 1)
    lines = ["", "## Skipped inputs", "", "| reason | files |", "|---|---:|"]
    lines += [
        f"| {markdown.cell(reason)} | {count:,} |"
        for reason, count in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
    ]
    lines += ["", "| path | reason | why |", "|---|---|---|"]
    for entry in skipped[:SKIPPED_SHOWN]:
        files = f" ({entry['files']:,} files)" if "files" in entry else ""
        lines.append(
            f"| {markdown.cell(entry['path'])}{files} | {markdown.cell(entry['reason'])} | {markdown.cell(entry['detail'])} |"
        )
    if len(skipped) > SKIPPED_SHOWN:
        lines += ["", f"... and {len(skipped) - SKIPPED_SHOWN:,} more, listed in report.json and _manifest.json."]
    return lines


def render_markdown(report: dict, sections: list[list[str]] = ()) -> str:
    charts = report.get("charts", [])
    lines = [*heading(report), *_summary(report)]
    lines += ["", "## Funnel", ""]
    if "funnel.png" in charts:
        lines += ["![funnel](funnel.png)", ""]
    lines += _funnel_table(report)
    lines += ["", "## Dropped, by stage and rule", ""]
    if report["counts"]["by_reason"]:
        lines += _drops_table(report)
    else:
        lines.append("Nothing was dropped.")
    if report.get("dry_run"):
        lines += ["", "A run without `--dry-run` writes every dropped row to `rejected/` with its `reason`."]
    else:
        lines += [
            "",
            "Every dropped row is in `rejected/` with its `reason`; unreadable input keeps its bytes in `raw`.",
        ]
        if TOO_LONG in report["counts"]["by_reason"]:
            lines[-1] += f" A `{TOO_LONG}` document keeps only its first {RAW_PREFIX_BYTES // 1024} KiB there."
    lines += _skipped_section(report.get("skipped_inputs") or [])
    lines += ["", "## Document lengths", ""]
    if "lengths.png" in charts:
        lines += ["![lengths](lengths.png)", ""]
    lines += _lengths_table(report)
    for section in sections:
        lines += ["", *section]
    timings = report.get("timings") or {}
    if timings:
        lines += [
            "",
            f"Ran in {timings['seconds']} s with {timings['workers']} worker(s)"
            + (
                f"; {timings['resumed_tasks']} task(s) were already done by an earlier run"
                if timings.get("resumed_tasks")
                else ""
            )
            + ".",
        ]
    return "\n".join(lines) + "\n"


def write_report(
    folder: Path, report: dict, steps: list[Step], notes: dict[str, list[dict]], charts: bool = True
) -> None:
    """Charts first (unless `charts` is off), then report.json and report.md, each written whole or not at all.

    Each step may add a section to report.md from its tasks' `notes` (Step.report_section).
    """
    report["charts"] = write_charts(folder, report) if charts else []
    sections = [section for step in steps if (section := step.report_section(notes.get(step.name, []), folder))]
    write_report_files(folder, report, render_markdown(report, sections))


def write_report_files(folder: Path, report: dict, markdown: str) -> None:
    """report.json and report.md, each written whole or not at all."""
    write_json_atomic(folder / "report.json", report)
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(markdown, encoding="utf-8")
