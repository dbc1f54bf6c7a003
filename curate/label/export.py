"""`curate label export`: the labellers' answers as a dataset folder.

compare and rank: TRL preference rows by majority vote. compare: the answer more than half
of the item's labellers chose; rank: the best and worst answers by mean rank (Borda), kept
when more than half of the labellers put the best above the worst. An item whose majority
says "tie" (or whose best and worst share a mean rank) is `label:tie`; a split vote is
`label:no_majority`; an item nobody answered is `label:unlabelled`, one with fewer answers than
the overlap (or --min-votes) `label:incomplete`. Every row keeps each
labeller's answer in `meta`. rate: one SFT row per (prompt, answer) with the mean `score` and
the number of `ratings`. write: one SFT row per written answer. report.md has progress per
labeller, time per item and agreement (agreement.py), with agreement.png.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import xxhash

from curate.instruct import formats
from curate.instruct.interop import write_interop_files
from curate.io import markdown
from curate.io.manifest import read_manifest
from curate.io.schema import RECORD_REJECTED_SCHEMA
from curate.label.agreement import agreement, draw
from curate.label.store import Project
from curate.pipeline import folder, in_memory
from curate.pipeline.folder import FolderState
from curate.pipeline.identity import job_identity
from curate.pipeline.job import JobResult

SOURCE = "label"
SCHEMAS = {
    "compare": formats.output_schema("preference"),
    "rank": formats.output_schema("preference"),
    "rate": pa.schema(
        list(formats.output_schema("messages")) + [pa.field("score", pa.float64()), pa.field("ratings", pa.int64())]
    ),
    "write": formats.output_schema("messages"),
}
LAYOUTS = {"compare": "preference", "rank": "preference", "rate": "messages", "write": "messages"}


def export_project(
    project_folder: Path, output: Path, *, command_line: str, overwrite: bool = False, min_votes: int | None = None
) -> JobResult:
    """The project's answers as a dataset folder; an item with fewer than `min_votes` answers
    (default: the project's overlap) is `label:incomplete` (compare, rank, rate)."""
    clock = folder.Clock()
    project = Project(project_folder)
    try:
        task, items, answers = project.task, project.items(), project.answers()
        wanted = project.overlap if min_votes is None else min_votes
        people = {person.name: project.progress(person.id) for person in project.labellers()}
    finally:
        project.close()
    digest = xxhash.xxh3_128_hexdigest(repr(sorted((a["item"], a["name"], str(a["answer"])) for a in answers)).encode())
    identity = job_identity(
        SOURCE, {"task": task, "min_votes": wanted}, project=str(project_folder.resolve()), answers=digest
    )
    if in_memory.prepare(output, identity, overwrite, command_line) is FolderState.COMPLETE:
        return JobResult(output, read_manifest(output), skipped=True)
    by_item: dict[int, list[dict]] = defaultdict(list)
    for given in answers:
        by_item[given["item"]].append(given)
    kept, rejected = [], []
    for item in items:
        given = by_item.get(item["id"], [])
        if task != "write" and 0 < len(given) < wanted:
            detail = f"{len(given)} of the {wanted} answers wanted (--min-votes)"
            rejected.append(_rejected(item, "label:incomplete", detail, given))
            continue
        made, dropped = ROWS[task](item, given)
        kept += made
        rejected += dropped
    stats = agreement(task, answers)
    manifest = in_memory.sealed_manifest(
        output, command="label-export", command_line=command_line, options={"task": task}, identity=identity,
        inputs=[], kept=kept, kept_schema=SCHEMAS[task], rejected=rejected, rejected_schema=RECORD_REJECTED_SCHEMA,
        clock=clock, extra={"label": {"task": task, "items": len(items), "answers": len(answers), "agreement": stats}},
    )  # fmt: skip
    _report(output, manifest, task, answers, people, stats)
    write_interop_files(output, LAYOUTS[task], output.resolve().name, manifest["counts"], command_line)
    folder.finish(output, manifest)
    return JobResult(output, manifest, skipped=False)


def _votes(given: list[dict]) -> dict:
    return {answer["name"]: {k: v for k, v in answer["answer"].items() if k != "shown_order"} for answer in given}


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _pair(item: dict, best: str, worst: str, given: list[dict]) -> dict:
    contents = {candidate["key"]: candidate["content"] for candidate in item["candidates"]}
    row = {
        "id": item["key"],
        "prompt": item["messages"],
        "chosen": _assistant(contents[best]),
        "rejected": _assistant(contents[worst]),
        "meta": {"answers": _votes(given), "chosen_key": best, "rejected_key": worst, **item["source"]},
    }
    return formats.to_arrow_row(row, "preference", source=SOURCE)


def _rejected(item: dict, reason: str, detail: str, given: list[dict]) -> dict:
    raw = {"messages": item["messages"], "candidates": item["candidates"], "answers": _votes(given)}
    return formats.rejected_row(item["key"], SOURCE, reason, detail, raw, {"answers": _votes(given)})


def _compare(item: dict, given: list[dict]) -> tuple[list, list]:
    if not given:
        return [], [_rejected(item, "label:unlabelled", "no labeller answered this item", given)]
    votes = Counter(answer["answer"]["choice"] for answer in given)
    (top, count), *rest = votes.most_common() + [(None, 0)]
    shown = ", ".join(f"{key} {n}" for key, n in sorted(votes.items()))
    if count * 2 <= len(given) or (rest and rest[0][1] == count):
        return [], [_rejected(item, "label:no_majority", f"votes: {shown}", given)]
    if top == "tie":
        return [], [_rejected(item, "label:tie", f"votes: {shown}", given)]
    other = next(candidate["key"] for candidate in item["candidates"] if candidate["key"] != top)
    return [_pair(item, top, other, given)], []


def _rank(item: dict, given: list[dict]) -> tuple[list, list]:
    if not given:
        return [], [_rejected(item, "label:unlabelled", "no labeller answered this item", given)]
    places: dict[str, list[int]] = defaultdict(list)
    for answer in given:
        for place, key in enumerate(answer["answer"]["order"]):
            places[key].append(place)
    mean = {key: statistics.fmean(values) for key, values in places.items()}
    ordered = sorted(mean, key=lambda key: (mean[key], key))
    best, worst = ordered[0], ordered[-1]
    detail = "mean ranks: " + ", ".join(f"{key} {mean[key]:.2f}" for key in ordered)
    if mean[best] == mean[worst] or mean[best] == mean[ordered[1]] or mean[worst] == mean[ordered[-2]]:
        return [], [_rejected(item, "label:tie", detail, given)]
    above = sum(a["answer"]["order"].index(best) < a["answer"]["order"].index(worst) for a in given)
    if above * 2 <= len(given):
        return [], [
            _rejected(item, "label:no_majority", f"{detail}; {above} of {len(given)} put {best} above {worst}", given)
        ]
    return [_pair(item, best, worst, given)], []


def _rate(item: dict, given: list[dict]) -> tuple[list, list]:
    if not given:
        return [], [_rejected(item, "label:unlabelled", "no labeller answered this item", given)]
    rows = []
    for candidate in item["candidates"]:
        scores = [answer["answer"]["scores"][candidate["key"]] for answer in given]
        row = {
            "id": f"{item['key']}:{candidate['key']}",
            "messages": [*item["messages"], *_assistant(candidate["content"])],
            "meta": {"scores": {a["name"]: a["answer"]["scores"][candidate["key"]] for a in given}, **item["source"]},
        }
        arrow = formats.to_arrow_row(row, "messages", source=SOURCE)
        rows.append(arrow | {"score": statistics.fmean(scores), "ratings": len(scores)})
    return rows, []


def _write(item: dict, given: list[dict]) -> tuple[list, list]:
    if not given:
        return [], [_rejected(item, "label:unlabelled", "no labeller wrote an answer", given)]
    rows = []
    for answer in given:
        row = {
            "id": item["key"] if len(given) == 1 else f"{item['key']}#{answer['name']}",
            "messages": [*item["messages"], *_assistant(answer["answer"]["text"])],
            "meta": {"labeller": answer["name"], "draft": item["draft"], **item["source"]},
        }
        rows.append(formats.to_arrow_row(row, "messages", source=SOURCE))
    return rows, []


ROWS = {"compare": _compare, "rank": _rank, "rate": _rate, "write": _write}


def _report(output: Path, manifest: dict, task: str, answers: list[dict], people: dict, stats: dict) -> None:
    counts = manifest["counts"]
    lines = ["# curate label export", "", f"`{manifest['command_line']}`", ""]
    lines.append(f"- task: {task}; items: {manifest['label']['items']:,}; answers: {len(answers):,}")
    lines.append(f"- rows kept: {counts['kept']:,}; rejected: {counts['rejected']:,}")
    if counts["by_reason"]:
        lines += ["", "| reason | items |", "|---|---:|"]
        lines += [f"| {markdown.cell(reason)} | {number:,} |" for reason, number in counts["by_reason"].items()]
    lines += ["", "| labeller | answered | skipped | median seconds per item |", "|---|---:|---:|---:|"]
    for name, progress in sorted(people.items()):
        seconds = sorted(a["seconds"] for a in answers if a["name"] == name)
        median = f"{seconds[len(seconds) // 2]:.1f}" if seconds else "-"
        lines.append(f"| {markdown.cell(name)} | {progress['answered']:,} | {progress['skipped']:,} | {median} |")
    if stats["level"] is not None:
        alpha = "not enough shared items" if stats["alpha"] is None else f"{stats['alpha']:.3f}"
        lines += ["", f"Krippendorff's alpha ({stats['level']}): {alpha}, over {stats['units']:,} units", ""]
        lines += ["| labellers | shared units | Cohen's kappa |", "|---|---:|---:|"]
        for pair in stats["pairs"]:
            kappa = "-" if pair["kappa"] is None else f"{pair['kappa']:.3f}"
            lines.append(f"| {markdown.cell(pair['a'])} / {markdown.cell(pair['b'])} | {pair['units']:,} | {kappa} |")
        if people:
            draw(output / "agreement.png", stats, {name: p["answered"] for name, p in people.items()})
            lines += ["", "![agreement](agreement.png)"]
    (output / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
