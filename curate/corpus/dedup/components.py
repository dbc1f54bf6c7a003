"""Dedup's clusters as tasks over edge partitions, so no process holds every pair.

After partitioned.py's bucket tasks, the passed pairs lie in R files by the partition of
their later document. Here, with R tasks a stage, on the executor:

1. edges: partition r's pairs, each once (a pair met in two bands is alike in both),
   counted (candidates, below the threshold), and the passed ones written as edges both
   ways, each by the partition of its source (`edges-0-*.arrow`);
2. stars, until nothing changes: the large-star and small-star steps of Kiveris et al.,
   "Connected Components in MapReduce and Beyond" (SoCC 2014). Each reads the edges whose
   source is in its partition, so it sees every neighbour of its vertices, and writes the
   new edges by source again. Large-star links each vertex's larger neighbours to the
   least of its neighbourhood; small-star links each vertex and its smaller neighbours to
   the least of them. The edge set stops changing (an order-free digest of each stage's
   input, summed over tasks, equals the last one's) exactly when every component is a star
   around its least document;
3. kept, one task a partition: each star whose centre is in it is one component, decided
   as the local pass decides it (`clusters.choose_kept`: the best document by rank, then
   stars split by signature), writing (member, kept) for each member not kept
   (`near-*.npy`). The driver reads back only those.

Memory per task: the edges of one partition, 16 bytes x 2 x passed pairs / R, and their sort
(about as much again); a kept task also one signature per member of its components of three
or more. Stages are a few: candidate pairs join each document to its bucket's first, so the
graph's stars are nearly formed when the rounds begin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.corpus.dedup.clusters import Corpus, choose_kept
from curate.corpus.dedup.partitioned import PAIRS_SCHEMA, vertex_partition
from curate.corpus.dedup.stages import run_stage, state_input
from curate.corpus.dedup.state_files import read_array, read_partition, write_array, write_partitions
from curate.errors import RunFailed
from curate.io.input_file import InputFile
from curate.io.manifest import read_json, write_json_atomic

EDGES_SCHEMA = pa.schema([("source", pa.int64()), ("target", pa.int64())])
MAX_ROUNDS = 64  # large-star/small-star needs O(log^2 n) rounds; far fewer on dedup's graphs


def edges_path(folder: Path, stage: int, index: int) -> Path:
    return folder / f"edges-{stage}-{index:05d}.arrow"


def tally_path(folder: Path, stage: int, index: int) -> Path:
    return folder / f"tally-{stage}-{index:05d}.json"


def near_path(folder: Path, index: int) -> Path:
    return folder / f"near-{index:05d}.npy"


@dataclass
class StageTask:
    index: int  # the partition
    input: InputFile  # named in errors
    folder: Path
    sources: list[Path]  # the previous stage's files; batch `index` of each is this task's
    stage: int  # this stage's number: it writes edges-{stage}-{index}
    kind: str  # "edges", "large", "small" or "kept"
    size: int  # documents in the corpus
    partitions: int
    tasks: int = 0  # feature files (kept tasks read signatures and ranks)
    threshold: float = 0.0
    by_rank: bool = False  # --keep longest or a column: the kept document is the best by rank


def run_stage_task(task: StageTask) -> dict:
    if task.kind == "edges":
        table = read_partition(task.sources, task.index, PAIRS_SCHEMA)
        later, earlier = table.column("later").to_numpy(), table.column("earlier").to_numpy()
        codes, first = np.unique(later * task.size + earlier, return_index=True)
        passed = table.column("passed").to_numpy(zero_copy_only=False)[first]
        tally = {"candidate_pairs": len(codes), "pairs_below_threshold": int(np.count_nonzero(~passed))}
        source, target = np.divmod(codes[passed], task.size)
        _write_edges(task, np.concatenate([source, target]), np.concatenate([target, source]))
        write_json_atomic(tally_path(task.folder, task.stage, task.index), tally)
        return tally
    source, target = _read_edges(task)
    if task.kind == "kept":
        return _decide_components(task, source, target)
    digest = int(np.bitwise_xor.reduce(_mixed(source * task.size + target))) if len(source) else 0
    starts = np.flatnonzero(np.r_[True, source[1:] != source[:-1]]) if len(source) else np.zeros(0, np.int64)
    least = np.minimum(source[starts], target[starts])  # targets sort within a source: the first is least
    group_least = np.repeat(least, np.diff(np.r_[starts, len(source)]))
    if task.kind == "large":  # each larger neighbour to the least of the neighbourhood
        larger = target > source
        new_source, new_target = target[larger], group_least[larger]
    else:  # small: the vertex and its smaller neighbours to the least of them
        smaller = target < source
        vertices = np.unique(source[smaller])
        new_source = np.concatenate([vertices, target[smaller]])
        new_target = np.concatenate(
            [group_least[starts[np.searchsorted(source[starts], vertices)]], group_least[smaller]]
        )
    linked = new_source != new_target
    new_source, new_target = new_source[linked], new_target[linked]
    _write_edges(task, np.concatenate([new_source, new_target]), np.concatenate([new_target, new_source]))
    tally = {"edges": len(source), "digest": digest}
    write_json_atomic(tally_path(task.folder, task.stage, task.index), tally)
    return tally


def _mixed(codes: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: each edge's code spread over 64 bits, so that the xor of a stage's
    edges changes when the edges do."""
    mixed = codes.astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return mixed ^ (mixed >> np.uint64(31))


def _write_edges(task: StageTask, source: np.ndarray, target: np.ndarray) -> None:
    partition = vertex_partition(source, task.partitions)
    write_partitions(
        edges_path(task.folder, task.stage, task.index), EDGES_SCHEMA, [source, target], partition, task.partitions
    )


def _read_edges(task: StageTask) -> tuple[np.ndarray, np.ndarray]:
    """This partition's edges, each once, sorted by source then target."""
    table = read_partition(task.sources, task.index, EDGES_SCHEMA)
    codes = np.unique(table.column("source").to_numpy() * task.size + table.column("target").to_numpy())
    return np.divmod(codes, task.size)


def _decide_components(task: StageTask, source: np.ndarray, target: np.ndarray) -> dict:
    """Each star whose centre (its least document, with only larger neighbours) is in this
    partition is a component: decide it as the local pass does."""
    starts = np.flatnonzero(np.r_[True, source[1:] != source[:-1]]) if len(source) else np.zeros(0, np.int64)
    centre = target[starts] > source[starts]
    lengths = np.diff(np.r_[starts, len(source)])
    in_star = np.repeat(centre, lengths)
    leaves = target[in_star]
    centres = source[starts[centre]]
    # members in input order within a component: the centre, then its leaves (sorted)
    offsets = np.r_[0, np.cumsum(lengths[centre])[:-1]]
    grouped = np.insert(leaves, offsets, centres)
    component_starts = np.r_[offsets + np.arange(len(offsets)), len(grouped)]
    corpus = Corpus(task.folder, task.tasks)
    rank = corpus.values("keep", grouped).astype(np.float64) if task.by_rank else None
    big = np.repeat(np.diff(component_starts) > 2, np.diff(component_starts))
    members = np.unique(grouped[big])
    signatures = corpus.signatures(members)
    kept = choose_kept(
        grouped, component_starts, rank, lambda wanted: signatures[np.searchsorted(members, wanted)], task.threshold
    )
    rejected = kept != grouped
    write_array(near_path(task.folder, task.index), np.stack([grouped[rejected], kept[rejected]]))
    return {"components": len(centres)}


def near_duplicates(
    folder: Path,
    pair_files: list[Path],
    size: int,
    *,
    tasks: int,
    workers: int,
    threshold: float,
    by_rank: bool,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(members, kept, tally): every document that a near duplicate's component does not keep,
    the document kept in its place, and the counts of pairs and rounds; from `pair_files`
    (partitioned.write_candidate_pairs) by stages of tasks on the executor. Removes its files."""
    partitions = len(pair_files)
    made: list[Path] = []

    def stage(number: int, kind: str, sources: list[Path], label: str) -> list[dict]:
        todo = [
            StageTask(
                index, state_input(folder / f"{kind}-{index:05d}"), folder, sources, number, kind, size, partitions,
                tasks, threshold, by_rank,
            )
            for index in range(partitions)
        ]  # fmt: skip
        run_stage(run_stage_task, todo, workers, label, progress)
        made.extend(tally_path(folder, number, index) for index in range(partitions))
        made.extend(edges_path(folder, number, index) for index in range(partitions))
        return [read_json(tally_path(folder, number, index)) or {} for index in range(partitions)]

    tallies = stage(0, "edges", pair_files, "dedup: edges")
    tally = {key: sum(item[key] for item in tallies) for key in ("candidate_pairs", "pairs_below_threshold")}
    number, previous = 0, None
    while True:
        if number >= 2 * MAX_ROUNDS:
            raise RunFailed(f"dedup's components did not settle in {MAX_ROUNDS} rounds")
        large = stage(number + 1, "large", _edge_files(folder, number, partitions), "dedup: components")
        digest = (sum(item["edges"] for item in large), _xor([item["digest"] for item in large]))
        stage(number + 2, "small", _edge_files(folder, number + 1, partitions), "dedup: components")
        number += 2
        if digest == previous:
            break
        previous = digest
    stage(number + 1, "kept", _edge_files(folder, number, partitions), "dedup: clusters")
    made.extend(near_path(folder, index) for index in range(partitions))
    near = [np.asarray(read_array(near_path(folder, index))) for index in range(partitions)]
    pairs = np.concatenate(near, axis=1) if near else np.zeros((2, 0), np.int64)
    for path in [*made, *pair_files]:
        path.unlink(missing_ok=True)
    tally |= {"partitions": partitions, "component_rounds": number // 2}
    return pairs[0], pairs[1], tally


def _edge_files(folder: Path, stage: int, partitions: int) -> list[Path]:
    return [edges_path(folder, stage, index) for index in range(partitions)]


def _xor(values: list[int]) -> int:
    result = 0
    for value in values:
        result ^= value
    return result
