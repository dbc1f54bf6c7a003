"""How much labellers agree: Cohen's kappa per pair of labellers, Krippendorff's alpha overall.

A unit is what one label is about: an item for compare (the key chosen, or "tie") and rank
(the key ranked first); an (item, answer) pair for rate (its 1-5 score). Written answers have
no agreement. Kappa is computed by hand (two lines of arithmetic: scikit-learn is not a
dependency); alpha comes from the `krippendorff` package, nominal for choices, interval for
scores.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np


def units(task: str, answers: list[dict]) -> dict[tuple, dict[str, object]]:
    """unit -> {labeller name: label}."""
    found: dict[tuple, dict[str, object]] = defaultdict(dict)
    for answer in answers:
        given = answer["answer"]
        if task == "compare":
            found[(answer["item"],)][answer["name"]] = given["choice"]
        elif task == "rank":
            found[(answer["item"],)][answer["name"]] = given["order"][0]
        elif task == "rate":
            for key, score in given["scores"].items():
                found[(answer["item"], key)][answer["name"]] = int(score)
    return found


def cohen_kappa(first: list, second: list) -> float | None:
    """Agreement of two labellers on the same units beyond chance; None without a shared unit."""
    if not first:
        return None
    observed = sum(a == b for a, b in zip(first, second)) / len(first)
    one, two = Counter(first), Counter(second)
    expected = sum(one[label] * two[label] for label in one) / len(first) ** 2
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def agreement(task: str, answers: list[dict]) -> dict:
    """{"pairs": [{a, b, units, kappa}], "alpha": float | None, "units": n, "level": ...}."""
    if task == "write":
        return {"pairs": [], "alpha": None, "units": 0, "level": None}
    found = units(task, answers)
    names = sorted({name for labels in found.values() for name in labels})
    pairs = []
    for first, second in combinations(names, 2):
        shared = [labels for labels in found.values() if first in labels and second in labels]
        kappa = cohen_kappa([labels[first] for labels in shared], [labels[second] for labels in shared])
        pairs.append({"a": first, "b": second, "units": len(shared), "kappa": kappa})
    level = "interval" if task == "rate" else "nominal"
    return {"pairs": pairs, "alpha": _alpha(found, names, level), "units": len(found), "level": level}


def _alpha(found: dict[tuple, dict[str, object]], names: list[str], level: str) -> float | None:
    multiple = [labels for labels in found.values() if len(labels) >= 2]
    values = sorted({str(v) for labels in multiple for v in labels.values()})
    if not multiple or len(values) < 2:
        return None if not multiple else 1.0
    import krippendorff

    codes = {value: number for number, value in enumerate(values)}
    data = np.full((len(names), len(multiple)), np.nan)
    for column, labels in enumerate(multiple):
        for name, value in labels.items():
            data[names.index(name), column] = float(value) if level == "interval" else codes[str(value)]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def draw(path: Path, stats: dict, progress: dict[str, int]) -> None:
    """agreement.png: answers per labeller, and the kappa of each pair as a heat map."""
    from matplotlib.figure import Figure

    from curate.pipeline.plots import save_figure

    names = sorted(progress)
    figure = Figure(figsize=(10, 4))
    left = figure.add_subplot(1, 2, 1)
    left.barh(names, [progress[name] for name in names], color="#4c72b0")
    left.set_xlabel("answers")
    left.set_title("answers per labeller")
    right = figure.add_subplot(1, 2, 2)
    grid = np.full((len(names), len(names)), np.nan)
    for pair in stats["pairs"]:
        if pair["kappa"] is not None:
            i, j = names.index(pair["a"]), names.index(pair["b"])
            grid[i, j] = grid[j, i] = pair["kappa"]
    shown = right.imshow(grid, vmin=-1, vmax=1, cmap="RdBu")
    right.set_xticks(range(len(names)), names, rotation=45, ha="right")
    right.set_yticks(range(len(names)), names)
    alpha = stats["alpha"]
    right.set_title("Cohen's kappa per pair" + (f"; Krippendorff's alpha {alpha:.2f}" if alpha is not None else ""))
    figure.colorbar(shown, ax=right)
    figure.tight_layout()
    save_figure(figure, path)
