"""report.md of `curate select`, with scores.png (a histogram per score, selected against all
scored rows) and map.png (the embeddings in two dimensions, PCA, selected against not):
counts by reason, what the judge and the encoder spent, the share of each source or category
kept, and the rows at both ends of the score range. Data is quoted as text, never markup."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from curate.io import markdown
from curate.pipeline.plots import chart_library_available, save_figure

SCORES_PNG = "scores.png"
MAP_PNG = "map.png"
EXAMPLES = 10  # rows quoted at each end of the score range
MAP_POINTS = 20_000  # most points drawn on the map (a seeded sample beyond)
_SELECTED, _OTHER = "#4c72b0", "#cccccc"


def write_select_report(
    output: Path, manifest: dict, rows: list, vectors: np.ndarray | None, candidates: list, selected: list[int]
) -> None:
    counts, stats = manifest["counts"], manifest["select"]
    lines = ["# curate select", "", f"`{manifest['command_line']}`", ""]
    budget = stats["budget"]
    lines.append(
        f"- rows read: {counts['in']:,}; selected: {counts['kept']:,}"
        + (f" of a budget of {budget:,}" if budget else "")
    )
    if budget and counts["kept"] < budget:
        lines.append(f"- the budget was not met: only {counts['kept']:,} rows passed the floor and the diversity check")
    if stats.get("max_cosine") is not None and vectors is not None:
        index = (
            "exact search"
            if stats["index"] == "exact"
            else "an approximate index (faiss IVF), which may miss a neighbour"
        )
        lines.append(f"- no two selected rows have a cosine above {stats['max_cosine']:g} ({index})")
    elif stats.get("embeddings"):
        lines.append("- no row reached the diversity check")
    else:
        lines.append("- no --embedding-model: rows were picked by score alone, without a diversity check")
    lines += _spending(stats)
    if counts["by_reason"]:
        lines += ["", "| reason | rows |", "|---|---:|"]
        lines += [f"| {markdown.cell(reason)} | {number:,} |" for reason, number in counts["by_reason"].items()]
    lines += _score_table(rows)
    lines += _groups(rows)
    charts = _charts(output, rows, vectors, selected)
    lines += [f"\n![{name}]({name})" for name in charts]
    lines += _examples(candidates)
    (output / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _spending(stats: dict) -> list[str]:
    lines = []
    for name in ("judge", "complexity"):
        part = stats.get(name)
        if part and "requests" in part:
            lines.append(
                f"- {name}: {part['requests']:,} requests sent, {part['cache_hits']:,} answered from the cache, "
                f"{part['scored']:,} of {part['candidates']:,} rows scored"
                + (f"; failures: {_counts(part['failures'])}" if part["failures"] else "")
            )
        elif part and part.get("judge") == "reward-model":
            lines.append(
                f"- quality: reward model {markdown.code(part['model'])}, mean reward {part['reward_mean'] or 0:.3f}"
            )
        elif part and part.get("rater") == "proxy":
            lines.append("- complexity: the proxy (instruction length and constraint cues), no model")
    embeddings = stats.get("embeddings")
    if embeddings:
        spent = (
            f"{embeddings['requests']:,} requests, {embeddings['cache_hits']:,} texts from the cache"
            if embeddings["kind"] == "endpoint"
            else "in this process"
        )
        lines.append(
            f"- embeddings: {markdown.code(embeddings['model'])}, {embeddings['dimensions']} dimensions, "
            f"{'instruction and answer' if embeddings['with_answer'] else 'instruction'}; {spent}"
        )
    return lines


def _counts(counts: dict) -> str:
    return ", ".join(f"{markdown.text(name)} {number:,}" for name, number in counts.items())


def _score_table(rows: list) -> list[str]:
    lines = ["", "| score | rows scored | mean, all | mean, selected |", "|---|---:|---:|---:|"]
    for name in ("quality", "complexity", "score"):
        every = [getattr(row, name) for row in rows if getattr(row, name) is not None]
        chosen = [getattr(row, name) for row in rows if getattr(row, name) is not None and row.reason is None]
        if every:
            mean_chosen = f"{np.mean(chosen):.3f}" if chosen else "-"
            lines.append(f"| {name} | {len(every):,} | {np.mean(every):.3f} | {mean_chosen} |")
    return lines if len(lines) > 3 else []


def _groups(rows: list) -> list[str]:
    total = Counter(row.group for row in rows)
    kept = Counter(row.group for row in rows if row.reason is None)
    lines = ["", "| source or category | rows | selected | share selected |", "|---|---:|---:|---:|"]
    for group, number in total.most_common(30):
        lines.append(f"| {markdown.cell(group, 60)} | {number:,} | {kept[group]:,} | {kept[group] / number:.1%} |")
    if len(total) > 30:
        lines.append(f"| ({len(total) - 30:,} more) | | | |")
    return lines


def _examples(candidates: list) -> list[str]:
    ranked = sorted((row for row in candidates if row.score is not None), key=lambda row: -row.score)
    if not ranked:
        return []
    lines = []
    ends = (("Highest", ranked[:EXAMPLES]), ("Lowest", ranked[::-1][:EXAMPLES]))
    for title, chosen in ends:
        lines += [
            "",
            f"## {title} combined scores",
            "",
            "| id | score | quality | complexity | outcome | instruction |",
        ]
        lines.append("|---|---:|---:|---:|---|---|")
        for row in chosen:
            question = next((m["content"] for m in row.prompt[::-1] if m["role"] == "user"), "")
            lines.append(
                f"| {markdown.cell(row.id, 40)} | {row.score:.3f} | {_number(row.quality)} | {_number(row.complexity)} "
                f"| {markdown.cell(row.reason or 'selected')} | {markdown.cell(question, 120)} |"
            )
    return lines


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _charts(output: Path, rows: list, vectors: np.ndarray | None, selected: list[int]) -> list[str]:
    if not chart_library_available():
        return []
    from matplotlib.figure import Figure

    written = []
    names = [name for name in ("quality", "complexity", "score") if any(getattr(r, name) is not None for r in rows)]
    if names:
        figure = Figure(figsize=(4.2 * len(names), 3.4))
        for number, name in enumerate(names, start=1):
            axes = figure.add_subplot(1, len(names), number)
            every = [getattr(row, name) for row in rows if getattr(row, name) is not None]
            chosen = [getattr(row, name) for row in rows if getattr(row, name) is not None and row.reason is None]
            if len(set(every)) <= 12 and all(float(v).is_integer() for v in every):  # a rating: a bar per value
                bins = np.arange(min(every) - 0.5, max(every) + 1.5)
            else:
                bins = np.histogram_bin_edges(every, bins=20)
            axes.hist(every, bins=bins, color=_OTHER, label="scored")
            axes.hist(chosen, bins=bins, color=_SELECTED, label="selected")
            axes.set_title(name)
            axes.set_ylabel("rows")
            axes.legend(fontsize=8)
        figure.tight_layout()
        save_figure(figure, output / SCORES_PNG)
        written.append(SCORES_PNG)
    if vectors is not None and len(vectors) >= 3:
        points = _pca2(vectors)
        chosen = np.zeros(len(vectors), dtype=bool)
        chosen[selected] = True
        shown = np.arange(len(vectors))
        if len(shown) > MAP_POINTS:
            shown = np.sort(np.random.default_rng(0).choice(shown, MAP_POINTS, replace=False))
        figure = Figure(figsize=(6, 5))
        axes = figure.add_subplot(1, 1, 1)
        other = shown[~chosen[shown]]
        mine = shown[chosen[shown]]
        axes.scatter(points[other, 0], points[other, 1], s=6, color=_OTHER, label=f"not selected ({(~chosen).sum():,})")
        axes.scatter(points[mine, 0], points[mine, 1], s=8, color=_SELECTED, label=f"selected ({chosen.sum():,})")
        axes.set_title("instruction embeddings (PCA)")
        axes.set_xticks([])
        axes.set_yticks([])
        axes.legend(fontsize=8, loc="best")
        figure.tight_layout()
        save_figure(figure, output / MAP_PNG)
        written.append(MAP_PNG)
    return written


def _pca2(vectors: np.ndarray) -> np.ndarray:
    """The rows projected on their first two principal components (sign fixed, so the picture is
    the same every run)."""
    centred = vectors.astype(np.float64) - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred[: min(len(centred), 50_000)], full_matrices=False)
    components = axes[:2]
    components *= np.where(components.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
    projected = centred @ components.T
    return projected if projected.shape[1] == 2 else np.pad(projected, ((0, 0), (0, 2 - projected.shape[1])))
