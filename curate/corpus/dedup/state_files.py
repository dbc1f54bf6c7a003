"""dedup's state files under OUT/.curate/dedup: written whole or not at all, read memory-mapped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from curate.io.atomic import atomic_path


def read_arrow(path: Path) -> pa.Table:
    """An Arrow IPC file, memory-mapped: columns are read from disk as they are used."""
    return ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def write_arrow(path: Path, table: pa.Table) -> None:
    with atomic_path(path) as tmp, ipc.new_file(str(tmp), table.schema) as writer:
        writer.write_table(table)


def write_array(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


def read_array(path: Path) -> np.ndarray:
    """A NumPy file, memory-mapped (read-only)."""
    return np.load(path, mmap_mode="r", allow_pickle=False)


def write_partitions(
    path: Path, schema: pa.Schema, columns: list[np.ndarray], partition: np.ndarray, count: int
) -> None:
    """One Arrow file whose record batch r holds the rows of `columns` with `partition` r, for
    r in 0..`count`-1 (an empty batch keeps batch r at index r): one task's side of a shuffle."""
    order = np.argsort(partition, kind="stable")
    bounds = np.searchsorted(partition[order], np.arange(count + 1))
    with atomic_path(path) as tmp, ipc.new_file(str(tmp), schema) as writer:
        for number in range(count):
            chosen = order[bounds[number] : bounds[number + 1]]
            writer.write_batch(pa.record_batch([column[chosen] for column in columns], schema=schema))


def read_partition(paths: list[Path], partition: int, schema: pa.Schema) -> pa.Table:
    """Batch `partition` of every file in `paths`, as one table: one partition's side of a shuffle."""
    batches = []
    for path in paths:
        with pa.memory_map(str(path), "r") as source:
            batches.append(ipc.open_file(source).get_batch(partition))
    return pa.Table.from_batches(batches, schema=schema)
