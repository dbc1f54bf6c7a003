"""What a training loop writes into its run folder: metrics.jsonl, checkpoint-N/, final/, curves."""

from __future__ import annotations

import json
from pathlib import Path

from curate.pipeline import ownership
from curate.train.checkpoint import save_checkpoint
from curate.train.distributed import Distributed
from curate.train.optim import Optimization


def claim(output: Path, dist: Distributed) -> None:
    """Make the run folder (new or empty) curate's, or check it is, and lock it for this run
    (pipeline/ownership.py): a folder of other files is refused, so metrics.jsonl,
    checkpoint-N/ and final/ never replace a user's own; only the main process writes it."""
    if dist.is_main:
        ownership.claim(Path(output), "run folder", "is not a curate training run folder")


class MetricsLog:
    """`metrics.jsonl`: one JSON object per logged step, flushed at once so a killed run keeps it."""

    def __init__(self, path: Path, resume_from_step: int | None = None) -> None:
        self.path = path
        if resume_from_step is not None and path.exists():
            # a resumed run continues the log: drop what the killed run logged after its checkpoint
            kept = [
                line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= resume_from_step
            ]
            path.write_text("".join(line + "\n" for line in kept))
        elif path.exists():
            path.unlink()
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run, closed by close()

    def log(self, record: dict) -> None:
        self._handle.write(json.dumps(record, sort_keys=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class RunFolder:
    """What a loop writes into its run folder, from the main process only: a metrics.jsonl
    line per logged step, `checkpoint-N/` every `save_every` steps, and at the end `final/`,
    truncation.json and the curves. Steps are counted from 1."""

    def __init__(
        self, output: Path, settings, total_steps: int, start_step: int, resumed_from: Path | None, dist=None
    ) -> None:
        self.output = Path(output)
        self.settings = settings
        self.total_steps = total_steps
        self.dist = dist or Distributed()
        self.last_checkpoint = resumed_from  # named when a NaN stops the run
        self.metrics = (
            MetricsLog(self.output / "metrics.jsonl", start_step if resumed_from else None)
            if self.dist.is_main
            else None
        )

    def evaluate_now(self, step: int) -> bool:
        every = self.settings.eval_every
        return self.dist.is_main and ((every and step % every == 0) or step == self.total_steps)

    def end_step(self, step: int, record: dict, model, tokenizer, optimization: Optimization) -> None:
        """Log the step's metrics (every `log_every` steps, the last and evaluated ones) and write
        `checkpoint-N/` every `save_every` steps."""
        last = step == self.total_steps
        evaluated = any(key.startswith("eval_") for key in record)
        if self.metrics is not None and (step % self.settings.log_every == 0 or last or evaluated):
            self.metrics.log(record)
        if self.settings.save_every and step % self.settings.save_every == 0 and not last:
            if self.dist.is_main:
                self.last_checkpoint = save_checkpoint(
                    self.output / f"checkpoint-{step}",
                    model,
                    tokenizer,
                    optimization.optimizer,
                    optimization.scheduler,
                    {"step": step},
                )
            self.dist.barrier()

    def finish(self, model, tokenizer, truncation: dict, panels: tuple[tuple[str, ...], ...]) -> Path:
        """Save `final/`, truncation.json and the curves (loss.png); the final folder."""
        from curate.io.manifest import write_json_atomic
        from curate.train.curves import write_curves

        final = self.output / "final"
        if self.dist.is_main:
            self.metrics.close()
            save_checkpoint(final, model, tokenizer, None, None, {"step": self.total_steps})
            write_json_atomic(self.output / "truncation.json", truncation)
            write_curves(self.output, panels)
        self.dist.barrier()
        return final
