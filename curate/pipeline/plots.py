"""funnel.png and lengths.png: the report's charts, drawn with matplotlib's Agg canvas.

matplotlib is imported only here and only when charts are drawn, so workers and the
command line start without it. Charts carry no timestamp or version, so the same counts
give the same PNG bytes.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from curate.io.atomic import atomic_path

FUNNEL = "funnel.png"
LENGTHS = "lengths.png"
TOP_RULES = 15  # the dropped-by-rule panel shows this many rules, most frequent first

_KEPT_COLOR = "#4c72b0"
_READ_COLOR = "#999999"
_STEP_COLORS = ["#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]


def chart_library_available() -> bool:
    """Import matplotlib's figure module (about half a second); False when it is not installed.

    The executor calls this in a thread while its workers run, so the import costs nothing
    by the time the report is drawn.
    """
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        return False
    return True


def write_charts(folder: Path, report: dict) -> list[str]:
    """Draw the charts of `report` into `folder`; return their file names (none without matplotlib)."""
    if not chart_library_available():
        return []
    written = []
    for name, draw in ((FUNNEL, _funnel), (LENGTHS, _lengths)):
        figure = draw(report)
        if figure is not None:
            save_figure(figure, folder / name)
            written.append(name)
    return written


def save_figure(figure, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100, metadata={"Software": None})


def _funnel(report: dict):
    from matplotlib.figure import Figure

    stages = report["stages"]
    labels = ["records in"] + [stage["stage"] for stage in stages]
    remaining = [report["counts"]["in"]] + [stage["docs_out"] for stage in stages]
    drops = [
        (reason, rows, position)
        for position, stage in enumerate(stages)
        for reason, rows in stage["rejected"].items()
        if rows
    ]
    drops = sorted(drops, key=lambda item: (-item[1], item[0]))[:TOP_RULES]

    figure = Figure(figsize=(11 if drops else 6, max(2.5, 0.45 * max(len(labels), len(drops)) + 1.2)))
    axes = figure.subplots(1, 2 if drops else 1, squeeze=False)[0]
    positions = list(range(len(labels)))[::-1]
    colors = [_READ_COLOR] * 2 + [_STEP_COLORS[(n - 2) % len(_STEP_COLORS)] for n in range(2, len(labels))]
    colors[-1] = _KEPT_COLOR
    bars = axes[0].barh(positions, remaining, color=colors)
    axes[0].bar_label(bars, labels=[f"{value:,}" for value in remaining], padding=3, fontsize=8)
    axes[0].set_yticks(positions, labels)
    axes[0].set_xlabel("documents remaining after the stage")
    axes[0].set_title("Funnel")
    axes[0].set_xlim(0, max(max(remaining), 1) * 1.2)
    if drops:
        rule_positions = list(range(len(drops)))[::-1]
        rule_colors = [
            _READ_COLOR if stage == 0 else _STEP_COLORS[(stage - 1) % len(_STEP_COLORS)] for *_, stage in drops
        ]
        rule_bars = axes[1].barh(rule_positions, [rows for _, rows, _ in drops], color=rule_colors)
        axes[1].bar_label(rule_bars, labels=[f"{rows:,}" for _, rows, _ in drops], padding=3, fontsize=8)
        axes[1].set_yticks(rule_positions, [reason for reason, _, _ in drops], fontsize=8)
        axes[1].set_xlabel("documents dropped")
        axes[1].set_title("Dropped, by rule" + (f" (top {TOP_RULES})" if len(drops) == TOP_RULES else ""))
        axes[1].set_xlim(0, max(rows for _, rows, _ in drops) * 1.2)
    figure.tight_layout()
    return figure


def _lengths(report: dict):
    from matplotlib.figure import Figure

    lengths = report.get("lengths")
    if not lengths or not any(lengths["read"]):
        return None
    edges = [0.5 if edge == 0 else edge for edge in lengths["edges"]]  # log axes cannot show 0
    figure = Figure(figsize=(8, 4))
    axes = figure.subplots()
    axes.stairs(
        lengths["read"], edges, fill=True, color=_READ_COLOR, alpha=0.5, label=f"read ({sum(lengths['read']):,})"
    )
    axes.stairs(lengths["kept"], edges, color=_KEPT_COLOR, linewidth=2, label=f"kept ({sum(lengths['kept']):,})")
    axes.set_xscale("log")
    used = [n for n, count in enumerate(lengths["read"]) if count] + [
        n for n, count in enumerate(lengths["kept"]) if count
    ]
    axes.set_xlim(edges[min(used)], edges[max(used) + 1])
    axes.set_xlabel("document length (characters, log scale)")
    axes.set_ylabel("documents")
    axes.set_title("Document lengths")
    axes.legend()
    figure.tight_layout()
    return figure


CLUSTER_SIZES = "cluster_sizes.png"


def write_cluster_sizes(folder: Path, sizes: dict[int, int]) -> str | None:
    """Draw how many duplicate clusters have each size (log-scaled bins); return the file name."""
    if not sizes or not chart_library_available():
        return None
    from matplotlib.figure import Figure

    largest = max(sizes)
    edges = [2]
    while edges[-1] <= largest:
        edges.append(edges[-1] * 2)
    counts = [sum(count for size, count in sizes.items() if low <= size < high) for low, high in pairwise(edges)]
    labels = [f"{low}" if high - low == 1 else f"{low}-{high - 1}" for low, high in pairwise(edges)]
    figure = Figure(figsize=(8, 3.5))
    axes = figure.subplots()
    bars = axes.bar(range(len(counts)), counts, color=_STEP_COLORS[0])
    axes.bar_label(bars, labels=[f"{count:,}" for count in counts], padding=2, fontsize=8)
    axes.set_xticks(range(len(counts)), labels, fontsize=8)
    axes.set_xlabel("documents in the cluster (kept one + its duplicates)")
    axes.set_ylabel("clusters")
    axes.set_yscale("log")
    axes.set_ylim(0.5, max(counts) * 3)
    axes.set_title("Duplicate clusters by size")
    figure.tight_layout()
    save_figure(figure, folder / CLUSTER_SIZES)
    return CLUSTER_SIZES
