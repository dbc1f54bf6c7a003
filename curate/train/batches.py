"""Which rows a step trains on: the train/eval split, the epoch order, micro-batches, step counts.

Every process reads and splits all the rows the same way (the same seed), and takes its share
of each global micro-batch (distributed.py), so the data order never depends on the world size.
"""

from __future__ import annotations

import math
import random

from curate.train.settings import TrainSettings


def read_split(settings: TrainSettings, kind: str | None = None) -> tuple[list, list]:
    """Every row of --data (`data.read_rows`, checked to be of `kind` when given), split into
    train and eval rows by --eval-fraction and --seed. Every process reads and splits it all."""
    from curate.train import data

    rows = [row for path in settings.data for row in data.read_rows(path, kind=kind)]
    return split_rows(rows, settings.eval_fraction, settings.seed)


def total_steps(settings: TrainSettings, count: int, world: int) -> int:
    """Optimizer steps: --max-steps, else --epochs over `count` rows (or pairs), at least one."""
    per_step = settings.batch_size * world * settings.grad_accum
    return settings.max_steps or max(1, math.ceil(count * settings.epochs / per_step))


def split_rows(rows: list, eval_fraction: float, seed: int) -> tuple[list, list]:
    if eval_fraction <= 0 or len(rows) < 2:
        return rows, []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = max(1, round(len(rows) * eval_fraction))
    held_out = set(order[:held])
    return [row for n, row in enumerate(rows) if n not in held_out], [
        row for n, row in enumerate(rows) if n in held_out
    ]


def epoch_order(count: int, seed: int, epoch: int) -> list[int]:
    order = list(range(count))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def micro_batches(count: int, batch_size: int, seed: int, start: int):
    """(epoch, indices) of every micro-batch from global micro-batch number `start` on, forever."""
    per_epoch = math.ceil(count / batch_size)
    number = start
    while True:
        epoch, within = divmod(number, per_epoch)
        order = epoch_order(count, seed, epoch)
        yield number, order[within * batch_size : (within + 1) * batch_size]
        number += 1
