"""What a training loop writes into its run folder: metrics.jsonl, checkpoint-N/, final/, curves."""

from __future__ import annotations

import json
import sys
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


def _clear_earlier_checkpoints(output: Path) -> None:
    """A new run in a run folder replaces the earlier run's checkpoint-N/ folders, so a later
    --resume cannot continue from a step of another run. Only folders holding curate's trainer
    state in this claimed folder are removed."""
    import shutil

    from curate.train.checkpoint import STATE_FILE

    earlier = [
        path
        for path in output.glob("checkpoint-*")
        if path.is_dir() and not path.is_symlink() and (path / STATE_FILE).is_file()
        and path.name.removeprefix("checkpoint-").removesuffix(".tmp").isdigit()
    ]  # fmt: skip
    for path in earlier:
        shutil.rmtree(path)
    if earlier:
        print(f"{output}: a new run; removed the earlier run's {len(earlier)} checkpoint folders", file=sys.stderr)


class RunFolder:
    """What a loop writes into its run folder, from the main process only: a metrics.jsonl
    line per logged step, `checkpoint-N/` every `save_every` steps, and at the end `final/`,
    truncation.json and the curves. Steps are counted from 1."""

    def __init__(
        self,
        output: Path,
        settings,
        total_steps: int,
        start_step: int,
        resumed_from: Path | None,
        dist=None,
        root=None,
        companions: dict | None = None,
    ) -> None:
        self.companions = companions  # models saved beside the trained one (PPO's value model)
        self.progress_extra: dict = {}  # what else a loop resumes from (PPO's adaptive KL coefficient)
        self.root = root  # the model as it trains: when FSDP shards it, every process gathers its checkpoints
        self.output = Path(output)
        self.settings = settings
        self.total_steps = total_steps
        self.dist = dist or Distributed()
        self.last_checkpoint = resumed_from  # named when a NaN stops the run
        self.merged: Path | None = None  # RUN/merged, with --merge
        if self.dist.is_main and resumed_from is None:
            _clear_earlier_checkpoints(self.output)
        self.metrics = (
            MetricsLog(self.output / "metrics.jsonl", start_step if resumed_from else None)
            if self.dist.is_main
            else None
        )

    def evaluate_now(self, step: int, everywhere: bool = False) -> bool:
        """Whether this process evaluates after `step`: the main one, or all of them when the
        model is sharded (its layers gather their weights together) or the caller shares the
        evaluation out (`everywhere`)."""
        from curate.train.fsdp import is_sharded

        every = self.settings.eval_every
        sharded = self.root is not None and is_sharded(self.root)
        due = bool((every and step % every == 0) or step == self.total_steps)
        return (self.dist.is_main or sharded or everywhere) and due

    def end_step(self, step: int, record: dict, model, tokenizer, optimization: Optimization) -> None:
        """Log the step's metrics (every `log_every` steps, the last and evaluated ones) and write
        `checkpoint-N/` every `save_every` steps."""
        last = step == self.total_steps
        evaluated = any(key.startswith("eval_") for key in record)
        if self.metrics is not None and (step % self.settings.log_every == 0 or last or evaluated):
            self.metrics.log(record)
        if self.settings.save_every and step % self.settings.save_every == 0 and not last:
            gathered = self._gather(model, optimization.optimizer)
            if self.dist.is_main:
                self.last_checkpoint = save_checkpoint(
                    self.output / f"checkpoint-{step}",
                    model,
                    tokenizer,
                    optimization.optimizer,
                    optimization.scheduler,
                    {"step": step, **self.progress_extra},
                    gathered,
                    self.companions,
                )
            self.dist.barrier()

    def _gather(self, model, optimizer) -> tuple | None:
        """A sharded model's whole weights and optimizer state, gathered by every process (the
        main one gets them); None when the model is not sharded."""
        from curate.train.fsdp import full_state, is_sharded

        if self.root is None or not is_sharded(self.root):
            return None
        weights, state = full_state(self.root, optimizer)
        if self.root is not model:  # a loss module holding the model as `.model`
            weights = {key.removeprefix("model."): value for key, value in weights.items()}
        return weights, state

    def finish(self, model, tokenizer, truncation: dict, panels: tuple[tuple[str, ...], ...]) -> Path:
        """Save `final/`, truncation.json and the curves (loss.png), and with --merge `merged/`
        (the LoRA adapter merged into its base); the final folder."""
        from curate.io.manifest import write_json_atomic
        from curate.train.curves import write_curves

        final = self.output / "final"
        gathered = self._gather(model, None)
        if self.dist.is_main:
            self.metrics.close()
            save_checkpoint(final, model, tokenizer, None, None, {"step": self.total_steps}, gathered, self.companions)
            write_json_atomic(self.output / "truncation.json", truncation)
            write_curves(self.output, panels)
            if self.settings.merge:
                from curate.train.merge import merge_adapter

                self.merged = merge_adapter(final, self.output / "merged", overwrite=True)["output"]
        self.dist.barrier()
        return final
