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
