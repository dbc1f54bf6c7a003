"""Pass 2 of dedup, its outcome: which documents are rejected, in favour of which, in clusters
of what size; written as one decisions file per input file, then the summary last.

The duplicates are found in this process (clusters.py, on arrays of one number per
document) or, with `--partitions`, by tasks on the executor (partitioned.py, components.py),
which hand back only the duplicates: (exact duplicate, its first copy) and (near duplicate,
the document kept in its place). Both end here, as those sparse maps, so what this process
holds from then on grows with the duplicates, not with the documents:

- exact: the first document of each group of equal exact hashes is its representative;
  the others are `exact_duplicate` of it;
- near: a representative that a near-duplicate component does not keep is `near_duplicate`
  of the one kept in its place;
- cluster: a kept document with every document rejected in its favour, directly or through
  an exact copy; `cluster_size` counts them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.corpus.dedup.clusters import Corpus, exact_representatives, frequent_lines, near_kept_here
from curate.corpus.dedup.settings import DedupSettings
from curate.corpus.dedup.state_files import write_array, write_arrow
from curate.io.manifest import read_json, write_json_atomic

EXACT, NEAR = "exact_duplicate", "near_duplicate"
DECISIONS = ("kept", EXACT, NEAR)  # a rejected document's decision code indexes this
TOP_CLUSTERS = 10
MEMBERS_SHOWN = 10
CLUSTERS_FILE = "clusters.json"
FREQUENT_LINES_FILE = "frequent_lines.npy"


def decisions_path(folder: Path, index: int) -> Path:
    return folder / f"decisions-{index:05d}.arrow"


@dataclass
class Duplicates:
    """Sparse: each exact duplicate with its first copy, each near duplicate with the document
    kept in its place (ordinals; the two sets never meet)."""

    exact: np.ndarray
    exact_first: np.ndarray
    near: np.ndarray
    near_kept: np.ndarray


@dataclass
class Decisions:
    """The rejected documents only, by ordinal (sorted), with why, for whom, and their cluster's size."""

    rejected: np.ndarray
    reason: np.ndarray  # uint8: index in DECISIONS
    target: np.ndarray  # the document it duplicates
    cluster_size: np.ndarray
    summary: dict


# finds the duplicates by tasks (partitioned.find_duplicates): the duplicates and counts for the summary
DuplicateFinder = Callable[[Corpus], tuple[Duplicates, dict]] | None


def decide(corpus: Corpus, settings: DedupSettings, find: DuplicateFinder = None) -> Decisions:
    summary: dict = {"documents": corpus.size}
    if find is not None and not settings.verify:  # --verify's neighbour pairs: in this process only
        duplicates, tally = find(corpus)
        summary |= tally
    else:
        duplicates = _duplicates_here(corpus, settings, summary)
    return _decisions(corpus, duplicates, summary)


def _duplicates_here(corpus: Corpus, settings: DedupSettings, summary: dict) -> Duplicates:
    ordinals = np.arange(corpus.size, dtype=np.int64)
    exact_first = exact_representatives(corpus) if settings.exact else ordinals
    near_kept = ordinals
    if settings.minhash:
        tokens = corpus.column("tokens")
        eligible = np.flatnonzero((exact_first == ordinals) & (tokens > 0))
        summary["documents_without_tokens"] = int(np.count_nonzero(tokens == 0))
        near_kept = near_kept_here(corpus, settings, eligible, summary)
    exact, near = np.flatnonzero(exact_first != ordinals), np.flatnonzero(near_kept != ordinals)
    return Duplicates(exact, exact_first[exact], near, near_kept[near])


def _decisions(corpus: Corpus, duplicates: Duplicates, summary: dict) -> Decisions:
    exact, near = duplicates.exact, duplicates.near
    order = np.argsort(near)
    near, near_kept = near[order], duplicates.near_kept[order]
    # an exact copy's cluster is its first copy's: that one's near root if it has one
    first = duplicates.exact_first
    at = np.minimum(np.searchsorted(near, first), max(len(near) - 1, 0))
    exact_root = np.where(near[at] == first, near_kept[at], first) if len(near) else first
    rejected = np.concatenate([exact, near])
    order = np.argsort(rejected)
    rejected = rejected[order]
    reason = np.concatenate([np.full(len(exact), 1, np.uint8), np.full(len(near), 2, np.uint8)])[order]
    target = np.concatenate([first, near_kept])[order]
    root = np.concatenate([exact_root, near_kept])[order]
    roots, members = np.unique(root, return_counts=True)
    sizes = members + 1  # the kept document and every one rejected in its favour
    cluster_size = sizes[np.searchsorted(roots, root)]
    summary |= {"exact_duplicates": len(exact), "near_duplicates": len(near)}
    summary |= _cluster_summary(corpus, rejected, reason, root, roots, sizes)
    return Decisions(rejected, reason, target, cluster_size, summary)


def _cluster_summary(
    corpus: Corpus, rejected: np.ndarray, reason: np.ndarray, root: np.ndarray, roots: np.ndarray, sizes: np.ndarray
) -> dict:
    histogram = np.bincount(sizes) if len(sizes) else np.zeros(0, np.int64)
    top = np.lexsort((roots, -sizes))[:TOP_CLUSTERS]
    clusters = []
    for kept, size in zip(roots[top].tolist(), sizes[top].tolist()):
        members = rejected[root == kept][: MEMBERS_SHOWN - 1]
        decided = reason[root == kept][: MEMBERS_SHOWN - 1]
        shown = [(kept, "kept"), *zip(members.tolist(), (DECISIONS[code] for code in decided))]
        tasks = corpus.task_of(np.array([ordinal for ordinal, _ in shown], np.int64))
        clusters.append(
            {
                "size": size,
                "members": [
                    {"ordinal": o, "task": int(t), "row": int(o - corpus.starts[t]), "decision": decision}
                    for (o, decision), t in zip(shown, tasks)
                ],
            }
        )
    shown_ordinals = np.array(sorted({m["ordinal"] for c in clusters for m in c["members"]}), np.int64)
    ids = dict(zip(shown_ordinals.tolist(), corpus.ids(shown_ordinals)))
    for cluster in clusters:
        for member in cluster["members"]:
            member["id"] = ids[member["ordinal"]]
    return {
        "clusters": len(roots),
        "documents_in_clusters": int(sizes.sum()),
        "cluster_sizes": {str(size): int(count) for size, count in enumerate(histogram) if count},
        "largest": clusters,
    }


def write_decisions(folder: Path, corpus: Corpus, decisions: Decisions) -> None:
    """One file per task with its rejected rows (row, reason, duplicate_of, cluster_size)."""
    rejected = decisions.rejected
    targets = np.unique(decisions.target)
    target_ids = np.array(corpus.ids(targets), dtype=object)
    for task in range(len(corpus.tables)):
        low, high = np.searchsorted(rejected, corpus.starts[task : task + 2])
        table = pa.table(
            {
                "row": pa.array(rejected[low:high] - corpus.starts[task], pa.int64()),
                "reason": pa.array(np.array(DECISIONS, dtype=object)[decisions.reason[low:high]], pa.string()),
                "duplicate_of": pa.array(target_ids[np.searchsorted(targets, decisions.target[low:high])], pa.string()),
                "cluster_size": pa.array(decisions.cluster_size[low:high], pa.int64()),
            }
        )
        write_arrow(decisions_path(folder, task), table)


def find_duplicates(
    folder: Path, tasks: int, settings: DedupSettings, hashing_seconds: float = 0.0, find: DuplicateFinder = None
) -> dict:
    """Pass 2, resumable: decide, write each task's decisions, then the summary last."""
    summary = read_json(folder / CLUSTERS_FILE)
    if summary is not None:
        return summary
    started = time.perf_counter()
    corpus = Corpus(folder, tasks)
    decisions = decide(corpus, settings, find)
    if settings.lines:
        kept = np.ones(corpus.size, np.bool_)
        kept[decisions.rejected] = False
        write_array(folder / FREQUENT_LINES_FILE, frequent_lines(corpus, settings.line_threshold, kept))
    write_decisions(folder, corpus, decisions)
    decisions.summary["seconds"] = {
        "hashing": round(hashing_seconds, 3),
        "clustering": round(time.perf_counter() - started, 3),
    }
    write_json_atomic(folder / CLUSTERS_FILE, decisions.summary)
    return decisions.summary
