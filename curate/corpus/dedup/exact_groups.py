"""Dedup's exact duplicates as a shuffle over tasks (`--partitions R`), so no process sorts
every document's hash.

1. scatter, one task per feature file: each document's (exact hash, ordinal) goes to
   partition hash mod R (`exact-scatter-TTTTT.arrow`, batch r: partition r);
2. groups, one task per partition: its rows sorted by hash, then ordinal; the first of each
   group of equal hashes is its representative, as `clusters.exact_representatives` makes
   it, and every other member is written with it, by the feature file the member is in
   (`exact-RRRRR.arrow`, batch t: file t's duplicates), where the band-key scatter and the
   driver read them.

A group is one hash, so it lies whole in one partition. Memory: a scatter task holds its
file's 24 bytes per document, a group task 24 x documents / R bytes and their sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.corpus.dedup.features import features_path
from curate.corpus.dedup.state_files import read_arrow, read_partition, write_partitions
from curate.io.input_file import InputFile

HASHES_SCHEMA = pa.schema([("a", pa.uint64()), ("b", pa.uint64()), ("ordinal", pa.int64())])
DUPLICATES_SCHEMA = pa.schema([("duplicate", pa.int64()), ("first", pa.int64())])


def scatter_path(folder: Path, index: int) -> Path:
    return folder / f"exact-scatter-{index:05d}.arrow"


def groups_path(folder: Path, partition: int) -> Path:
    return folder / f"exact-{partition:05d}.arrow"


@dataclass
class ExactTask:
    index: int  # the feature file (scatter) or the partition (groups)
    input: InputFile  # named in errors
    folder: Path
    starts: list[int]  # ordinal of each feature file's first document, then the corpus size
    partitions: int


def scatter_hashes(task: ExactTask) -> dict:
    table = read_arrow(features_path(task.folder, task.index))
    a = _numbers(table.column("exact_a"))
    b = _numbers(table.column("exact_b"))
    ordinals = np.arange(len(a), dtype=np.int64) + task.starts[task.index]
    partition = ((a >> np.uint64(40)) % np.uint64(task.partitions)).astype(np.int64)  # a is a hash already
    write_partitions(scatter_path(task.folder, task.index), HASHES_SCHEMA, [a, b, ordinals], partition, task.partitions)
    return {"index": task.index, "documents": len(a)}


def group_hashes(task: ExactTask) -> dict:
    files = len(task.starts) - 1
    table = read_partition([scatter_path(task.folder, index) for index in range(files)], task.index, HASHES_SCHEMA)
    a, b, ordinal = (table.column(name).to_numpy() for name in ("a", "b", "ordinal"))
    order = np.lexsort((ordinal, b, a))
    a, b, ordinal = a[order], b[order], ordinal[order]
    new_group = np.ones(len(a), np.bool_)
    new_group[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    first = ordinal[np.flatnonzero(new_group)][np.cumsum(new_group) - 1]
    duplicate = ~new_group
    members, firsts = ordinal[duplicate], first[duplicate]
    in_file = np.searchsorted(np.asarray(task.starts), members, side="right") - 1
    write_partitions(groups_path(task.folder, task.index), DUPLICATES_SCHEMA, [members, firsts], in_file, files)
    return {"index": task.index, "duplicates": len(members)}


def duplicates_in(paths: list[Path], index: int) -> np.ndarray:
    """The exact duplicates (ordinals) in feature file `index`, from the groups' files."""
    return read_partition(paths, index, DUPLICATES_SCHEMA).column("duplicate").to_numpy()


def all_duplicates(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(duplicate, first) of every exact duplicate."""
    tables = [read_arrow(path) for path in paths]
    if not tables:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    table = pa.concat_tables(tables)
    return _numbers(table.column("duplicate")), _numbers(table.column("first"))


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    return (
        column.combine_chunks().to_numpy(zero_copy_only=False) if column.num_chunks != 1 else column.chunk(0).to_numpy()
    )
