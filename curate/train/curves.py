"""loss.png: the curves of a run's metrics.jsonl, drawn at the end of training."""

from __future__ import annotations

from pathlib import Path

from curate.pipeline import plots
from curate.train.run_folder import read_metrics

CURVES = "loss.png"


def write_curves(run: Path, panels: tuple[tuple[str, ...], ...] = (("loss", "eval_loss"),)) -> Path | None:
    """One panel per group of metric names (e.g. loss and eval_loss), against the step."""
    path = Path(run) / "metrics.jsonl"
    if not path.is_file() or not plots.chart_library_available():
        return None
    records = read_metrics(path)
    shown = [panel for panel in panels if any(name in record for record in records for name in panel)]
    if not shown:
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.2 * len(shown)))
    for axes, panel in zip(figure.subplots(len(shown), 1, squeeze=False)[:, 0], shown):
        for name in panel:
            points = [(record["step"], record[name]) for record in records if record.get(name) is not None]
            if points:
                steps, values = zip(*points)
                axes.plot(steps, values, marker="o" if name.startswith("eval_") else None, markersize=3, label=name)
        axes.set_xlabel("step")
        axes.legend()
        axes.grid(alpha=0.3)
    figure.suptitle(Path(run).name)
    figure.tight_layout()
    plots.save_figure(figure, Path(run) / CURVES)
    return Path(run) / CURVES
