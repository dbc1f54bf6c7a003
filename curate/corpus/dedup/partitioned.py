"""Dedup's candidate pairs as a shuffle over tasks, so no process holds every band key.

`clusters.candidate_pairs` reads each band's key of every document in the driver. With
`--partitions R` the same pairs are found by tasks that run on the executor (worker
processes, or Ray tasks):

1. scatter, one task per feature file: each eligible document's (band, key, ordinal) rows
   (eligible: a word or more, and not an exact copy of an earlier document, by exact_groups.py)
   go to partition hash(band, key) mod R, written as one Arrow file per task whose record
   batch r is partition r (`scatter-TTTTT.arrow`);
2. buckets, one task per partition: batch r of every scatter file, grouped by (band, key);
   each document of a bucket is joined to the bucket's first, as the local pass
   joins it, each pair checked as the local pass checks it (the share of equal signature
   values against the threshold), and the pairs written with their results by the partition
   of their later document (`pairs-RRRRR.arrow`), where components.py takes them on.

A bucket is one (band, key), so it lies whole in one partition and the pairs are exactly
the local pass's. Memory: a scatter task holds its file's rows (18 bytes per document and
band), a bucket task its partition's (18 x bands x documents / R bytes), its pairs and their
documents' signatures. With --verify (which also joins neighbours in a bucket) the local
pass runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.corpus.dedup.clusters import Corpus, join_to_first, pair_signatures, signatures_agree, split_codes
from curate.corpus.dedup.exact_groups import duplicates_in
from curate.corpus.dedup.features import features_path
from curate.corpus.dedup.stages import run_stage, state_input
from curate.corpus.dedup.state_files import read_arrow, read_partition, write_partitions
from curate.io.input_file import InputFile
from curate.pipeline.pool import report_progress

_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads (band, key) over partitions
_SCHEMA = pa.schema([("band", pa.uint16()), ("key", pa.uint64()), ("ordinal", pa.int64())])
PAIRS_SCHEMA = pa.schema([("later", pa.int64()), ("earlier", pa.int64()), ("passed", pa.bool_())])


def scatter_path(folder: Path, index: int) -> Path:
    return folder / f"scatter-{index:05d}.arrow"


def pairs_path(folder: Path, partition: int) -> Path:
    return folder / f"pairs-{partition:05d}.arrow"


@dataclass
class ScatterTask:
    index: int
    input: InputFile  # the feature file, named in errors
    folder: Path
    start: int  # ordinal of the file's first document
    partitions: int
    exact_files: list[Path]  # exact_groups.py's files (none without exact dedup)


@dataclass
class BucketTask:
    index: int  # the partition
    input: InputFile
    folder: Path
    tasks: int
    size: int  # documents in the corpus
    threshold: float  # a pair passes when its signatures agree on this share of values
    partitions: int


def partition_of(bands: np.ndarray, keys: np.ndarray, partitions: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = (keys ^ (bands.astype(np.uint64) * _MIX)) * _MIX
    return ((mixed >> np.uint64(32)) % np.uint64(partitions)).astype(np.int64)


def scatter_bands(task: ScatterTask) -> dict:
    """Write the band keys of one feature file's eligible documents (a word or more, and no
    exact duplicate of an earlier one: as the local pass bands them), grouped by partition."""
    table = read_arrow(features_path(task.folder, task.index))
    column = table.column("bands")
    width = column.type.list_size
    values = np.concatenate(
        [chunk.flatten().to_numpy(zero_copy_only=False) for chunk in column.chunks] or [np.zeros(0, np.uint64)]
    ).reshape(-1, width)
    eligible = np.concatenate([chunk.to_numpy() > 0 for chunk in table.column("tokens").chunks] or [np.zeros(0, bool)])
    if task.exact_files:
        eligible[duplicates_in(task.exact_files, task.index) - task.start] = False
    rows = np.flatnonzero(eligible)
    keys = values[rows].reshape(-1)
    bands = np.tile(np.arange(width, dtype=np.uint16), len(rows))
    ordinals = np.repeat(rows.astype(np.int64) + task.start, width)
    partition = partition_of(bands, keys, task.partitions)
    write_partitions(
        scatter_path(task.folder, task.index), _SCHEMA, [bands, keys, ordinals], partition, task.partitions
    )
    report_progress(len(values), 0)
    return {"index": task.index, "rows": len(rows)}


def bucket_pairs(task: BucketTask) -> dict:
    """Join each document of every bucket in this partition to the bucket's first, and check
    each pair as the main process would: the share of equal signature values. The pairs go
    out partitioned by their later document (`vertex_partition`), where components.py reads them."""
    paths = [scatter_path(task.folder, index) for index in range(task.tasks)]
    table = read_partition(paths, task.index, _SCHEMA)
    band = table.column("band").to_numpy()
    key = table.column("key").to_numpy()
    ordinal = table.column("ordinal").to_numpy()
    order = np.lexsort((key, band))
    band, key, ordinal = band[order], key[order], ordinal[order]
    new_bucket = np.ones(len(ordinal), np.bool_)
    new_bucket[1:] = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    member, first = join_to_first(ordinal, new_bucket)
    later, earlier = split_codes(np.unique(member * task.size + first), task.size)
    members, signatures = pair_signatures(Corpus(task.folder, task.tasks), later, earlier)
    passed = signatures_agree(members, signatures, later, earlier, task.threshold)
    partition = vertex_partition(later, task.partitions)
    write_partitions(
        pairs_path(task.folder, task.index), PAIRS_SCHEMA, [later, earlier, passed], partition, task.partitions
    )
    return {"index": task.index, "pairs": len(later), "passed": int(passed.sum())}


def write_candidate_pairs(
    folder: Path,
    starts: np.ndarray,
    partitions: int,
    workers: int,
    threshold: float,
    exact_files: list[Path],
    progress: bool = False,
) -> list[Path]:
    """Find and check the candidate pairs of the eligible documents with scatter and bucket
    tasks on the executor (`exact_files`: exact_groups.py's, or none without exact dedup);
    returns the pair files (`PAIRS_SCHEMA`, batch r: the pairs whose later document is in
    vertex partition r). A pair met in two bands may be in two files, alike."""
    size, tasks = int(starts[-1]), len(starts) - 1
    scatter = [
        ScatterTask(
            index, state_input(features_path(folder, index)), folder, int(starts[index]), partitions, exact_files
        )
        for index in range(tasks)
    ]
    run_stage(scatter_bands, scatter, workers, "dedup: band keys", progress)
    buckets = [
        BucketTask(number, state_input(folder / f"partition-{number:05d}"), folder, tasks, size, threshold, partitions)
        for number in range(partitions)
    ]
    run_stage(bucket_pairs, buckets, workers, "dedup: buckets", progress)
    for index in range(tasks):
        scatter_path(folder, index).unlink(missing_ok=True)
    return [pairs_path(folder, number) for number in range(partitions)]


def candidate_pairs(
    folder: Path, starts: np.ndarray, partitions: int, workers: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(later, earlier, passed), each pair once, as `clusters.candidate_pairs` and its check give
    them (without exact dedup): what `write_candidate_pairs` found, read back into this process
    (and its files removed)."""
    paths = write_candidate_pairs(folder, starts, partitions, workers, threshold, [])
    table = pa.concat_tables([read_partition(paths, number, PAIRS_SCHEMA) for number in range(partitions)])
    size = int(starts[-1])
    codes = table.column("later").to_numpy() * size + table.column("earlier").to_numpy()
    codes, first = np.unique(codes, return_index=True)
    passed = table.column("passed").to_numpy(zero_copy_only=False)[first]
    for path in paths:
        path.unlink(missing_ok=True)
    later, earlier = split_codes(codes, size)
    return later, earlier, passed


def vertex_partition(ordinals: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each document (by ordinal) in the shuffles of pairs and edges."""
    with np.errstate(over="ignore"):
        mixed = ordinals.astype(np.uint64) * _MIX
    return ((mixed >> np.uint64(32)) % np.uint64(partitions)).astype(np.int64)
