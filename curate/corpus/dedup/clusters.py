"""Pass 2 of dedup in one process: exact groups, LSH candidate pairs, clusters, and what each
cluster keeps (decisions.py turns them into decisions; with --partitions, distributed.py finds
the same by tasks, and `choose_kept` decides each component there too).

Runs in the main process on the memory-mapped feature files. Memory holds a few arrays
of one number per document (about 60 bytes per document in all), one band of keys at a
time (16 bytes per document), and the candidate pairs; never the text.

For documents in input order (their ordinal):
- exact: the first document of each group of equal exact hashes is its representative;
  the others are `exact_duplicate` of it.
- near: representatives with at least one token are banded; documents sharing a band
  key are candidate pairs (each joined to the first of its bucket in input order, and
  with --verify to its neighbour in the bucket too). A pair counts only if its similarity reaches the threshold:
  estimated from the signatures, or with --verify the exact Jaccard of the shingle
  sets. Connected components of the pairs are joined with union-find (scipy), then
  each is split into stars around the document it keeps (see `choose_kept`): the first,
  the longest or the highest by a column, ties to the first.
- cluster: a kept document with every document rejected in its favour, directly or
  through an exact copy; `cluster_size` counts them all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from curate.corpus.dedup.features import features_path
from curate.corpus.dedup.settings import DedupSettings
from curate.corpus.dedup.state_files import read_arrow


class Corpus:
    """The feature files of every task, read as columns over all documents in input order."""

    def __init__(self, folder: Path, tasks: int) -> None:
        self.tables = [read_arrow(features_path(folder, index)) for index in range(tasks)]
        self.starts = np.zeros(tasks + 1, np.int64)
        np.cumsum([table.num_rows for table in self.tables], out=self.starts[1:])
        self.size = int(self.starts[-1])

    def column(self, name: str, dtype=None) -> np.ndarray:
        parts = [chunk.to_numpy(zero_copy_only=False) for table in self.tables for chunk in table.column(name).chunks]
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype or np.uint64)

    def band(self, band: int) -> np.ndarray:
        parts = []
        for table in self.tables:
            for chunk in table.column("bands").chunks:
                width = chunk.type.list_size
                values = chunk.flatten().to_numpy(zero_copy_only=False)
                parts.append(values.reshape(-1, width)[:, band])
        return np.concatenate(parts) if parts else np.zeros(0, np.uint64)

    def signatures(self, ordinals: np.ndarray) -> np.ndarray:
        """The (32-bit) signatures of `ordinals` (sorted, unique), one row each."""
        rows = []
        tasks = self.task_of(ordinals)
        for task in np.unique(tasks):
            local = ordinals[tasks == task] - self.starts[task]
            column = self.tables[task].column("signature")
            taken = column.take(pa.array(local)).combine_chunks()
            rows.append(taken.flatten().to_numpy().reshape(len(local), column.type.list_size))
        return np.concatenate(rows) if rows else np.zeros((0, 1), np.uint32)

    def values(self, name: str, ordinals: np.ndarray) -> np.ndarray:
        """Column `name`'s values of `ordinals` (any order, repeats allowed), read from the map."""
        unique, back = np.unique(ordinals, return_inverse=True)
        parts = []
        tasks = self.task_of(unique)
        for task in np.unique(tasks):
            local = unique[tasks == task] - self.starts[task]
            parts.append(self.tables[task].column(name).take(pa.array(local)).to_numpy(zero_copy_only=False))
        return np.concatenate(parts)[back] if parts else np.zeros(0)

    def task_of(self, ordinals: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, ordinals, side="right") - 1

    def ids(self, ordinals: np.ndarray) -> list[str]:
        """The ids of `ordinals` (sorted, unique), in their order."""
        ids: list[str] = []
        tasks = self.task_of(ordinals)
        for task in np.unique(tasks):
            local = ordinals[tasks == task] - self.starts[task]
            ids += self.tables[task].column("id").take(pa.array(local)).to_pylist()
        return ids

    def list_values(self, name: str, ordinals: np.ndarray) -> dict[int, np.ndarray]:
        """Each of `ordinals`' (sorted, unique) values of list column `name`, copied out of the map."""
        wanted: dict[int, np.ndarray] = {}
        for task, table in enumerate(self.tables):
            low, high = np.searchsorted(ordinals, self.starts[task : task + 2])
            if low == high:
                continue
            local = ordinals[low:high] - self.starts[task]
            row = 0
            for chunk in table.column(name).chunks:
                offsets = chunk.offsets.to_numpy()
                values = chunk.values.to_numpy(zero_copy_only=False)
                inside = local[(local >= row) & (local < row + len(chunk))]
                for position in inside:
                    start, end = offsets[position - row], offsets[position - row + 1]
                    wanted[int(position + self.starts[task])] = np.array(values[start:end])
                row += len(chunk)
        return wanted


def exact_representatives(corpus: Corpus) -> np.ndarray:
    """For each document, the first document with the same exact hash (itself if none before)."""
    first = np.arange(corpus.size, dtype=np.int64)
    if corpus.size == 0:
        return first
    a, b = corpus.column("exact_a"), corpus.column("exact_b")
    order = np.lexsort((b, a))  # stable: equal hashes stay in input order
    sorted_a, sorted_b = a[order], b[order]
    new_group = np.ones(corpus.size, np.bool_)
    new_group[1:] = (sorted_a[1:] != sorted_a[:-1]) | (sorted_b[1:] != sorted_b[:-1])
    group_first = np.maximum.accumulate(np.where(new_group, np.arange(corpus.size), 0))
    first[order] = order[group_first]
    return first


def candidate_pairs(
    band_keys: Callable[[int], np.ndarray], size: int, eligible: np.ndarray, bands: int, chain: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(later, earlier) pairs of `eligible` documents that share a band key, each pair once.

    `band_keys(b)` gives band b's key of every one of the `size` documents.

    One band at a time: sort the eligible documents' keys, and join each document of a
    bucket to the bucket's first in input order (and, with `chain`, to its neighbour in
    the sorted order).
    """
    codes = []
    count = len(eligible)
    for band in range(bands):
        if count < 2:
            break
        keys = band_keys(band)[eligible]
        order = np.argsort(keys)  # not stable (6x faster); each bucket's first is found below
        sorted_keys = keys[order]
        new_bucket = np.ones(count, np.bool_)
        new_bucket[1:] = sorted_keys[1:] != sorted_keys[:-1]
        docs = eligible[order]
        member, first = join_to_first(docs, new_bucket)
        codes.append(member * size + first)
        if chain:
            members = np.flatnonzero(~new_bucket)
            later = np.maximum(docs[members], docs[members - 1])
            codes.append(later * size + np.minimum(docs[members], docs[members - 1]))
    if not codes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    later, earlier = split_codes(np.unique(np.concatenate(codes)), size)
    keep = later != earlier
    return later[keep], earlier[keep]


def join_to_first(docs: np.ndarray, new_bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(document, its bucket's first) for every document of a bucket but that first one, in
    input order; `docs` are grouped by bucket (any order within one), `new_bucket` marks where
    each bucket starts."""
    bucket_first = np.minimum.reduceat(docs, np.flatnonzero(new_bucket))[np.cumsum(new_bucket) - 1]
    joined = docs != bucket_first
    return docs[joined], bucket_first[joined]


def split_codes(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair codes (later x size + earlier) back into their two ordinals."""
    return np.divmod(codes, size) if size else (codes, codes)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted sets of distinct hashes."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


def verify_pairs(corpus: Corpus, later: np.ndarray, earlier: np.ndarray, threshold: float) -> np.ndarray:
    """A mask of the pairs whose exact shingle Jaccard is at least `threshold`."""
    shingles = corpus.list_values("shingles", np.unique(np.concatenate([later, earlier])))
    return np.array(
        [jaccard(shingles[int(x)], shingles[int(y)]) >= threshold for x, y in zip(later, earlier)], np.bool_
    )


def components(size: int, later: np.ndarray, earlier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The connected components (two or more documents) of the pairs.

    Returns the members, grouped by component and in input order within one, and the
    start of each component in that array followed by its length.
    """
    if len(later) == 0:
        return np.zeros(0, np.int64), np.zeros(1, np.int64)
    graph = coo_matrix((np.ones(len(later), np.int8), (later, earlier)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    members = np.unique(np.concatenate([later, earlier]))
    order = np.argsort(labels[members], kind="stable")
    grouped, label = members[order], labels[members][order]
    starts = np.concatenate([[0], np.flatnonzero(label[1:] != label[:-1]) + 1, [len(grouped)]])
    return grouped, starts


def choose_kept(
    grouped: np.ndarray,
    starts: np.ndarray,
    rank: np.ndarray | None,
    signatures: Callable[[np.ndarray], np.ndarray],
    threshold: float,
) -> np.ndarray:
    """For each member of `grouped` (components as `components` gives them, in any order of
    components), the document kept in its place (itself when it is kept); `rank` is each
    member's, or None to keep the first.

    Within a component the best document is kept (highest `rank`, then first in input
    order); every member whose signature agrees with it on at least `threshold` of the
    values is its duplicate. Members left over start a cluster of their own the same
    way. A chain of pairs (A like B, B like C) thus never makes A stand for a C that is
    unlike it, as plain union-find would.
    """
    kept = grouped.copy()
    lengths = np.diff(starts)
    # Most components are one pair that has already passed the check: decided at once.
    first = starts[:-1][lengths == 2]
    second = first + 1
    second_wins = rank[second] > rank[first] if rank is not None else np.zeros(len(first), np.bool_)
    kept[np.where(second_wins, first, second)] = grouped[np.where(second_wins, second, first)]
    for start, length in zip(starts[:-1][lengths > 2].tolist(), lengths[lengths > 2].tolist()):
        positions = np.arange(start, start + length)
        score = -rank[positions] if rank is not None else np.zeros(length)
        positions = positions[np.lexsort((grouped[positions], score))]
        group = grouped[positions]
        values = signatures(group)
        remaining = np.arange(length)
        while len(remaining):
            center = remaining[0]
            close = np.mean(values[remaining] == values[center], axis=1) >= threshold
            kept[positions[remaining[close]]] = group[center]
            remaining = remaining[~close]
    return kept


def pair_signatures(corpus: Corpus, later: np.ndarray, earlier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(members, their signatures): every document of the pairs once, sorted, with its row."""
    members = np.unique(np.concatenate([later, earlier]))
    return members, corpus.signatures(members)


def signatures_agree(
    members: np.ndarray, signatures: np.ndarray, later: np.ndarray, earlier: np.ndarray, threshold: float
) -> np.ndarray:
    """A mask of the pairs whose signatures agree on at least `threshold` of their values."""
    rows = np.searchsorted(members, later), np.searchsorted(members, earlier)
    return estimated_similarity(signatures, *rows) >= threshold


def estimated_similarity(signatures: np.ndarray, left: np.ndarray, right: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """The share of equal signature values of each (left, right) row pair: MinHash's Jaccard estimate."""
    similarity = np.empty(len(left), np.float64)
    for start in range(0, len(left), chunk):
        end = start + chunk
        similarity[start:end] = np.mean(signatures[left[start:end]] == signatures[right[start:end]], axis=1)
    return similarity


def near_kept_here(corpus: Corpus, settings: DedupSettings, eligible: np.ndarray, summary: dict) -> np.ndarray:
    """For each document, the one kept in its place by near dedup: found in this process."""
    size = corpus.size
    later, earlier = candidate_pairs(
        corpus.band, size, eligible, settings.minhash_settings.bands, chain=settings.verify
    )
    # Every candidate pair is checked: LSH lets through some pairs well below the threshold.
    members, signatures = pair_signatures(corpus, later, earlier)
    if settings.verify:
        passed = verify_pairs(corpus, later, earlier, settings.jaccard_threshold)
    else:
        passed = signatures_agree(members, signatures, later, earlier, settings.jaccard_threshold)
    summary["candidate_pairs"] = len(later)
    summary["pairs_below_threshold"] = int(np.count_nonzero(~passed))
    later, earlier = later[passed], earlier[passed]
    rank = corpus.column("keep", np.float64) if settings.keep != "first" else None
    grouped, starts = components(size, later, earlier)
    near_kept = np.arange(size, dtype=np.int64)
    near_kept[grouped] = choose_kept(
        grouped,
        starts,
        rank[grouped] if rank is not None else None,
        lambda wanted: signatures[np.searchsorted(members, wanted)],
        settings.jaccard_threshold,
    )
    return near_kept


def frequent_lines(corpus: Corpus, threshold: int, kept: np.ndarray, partitions: int = 16) -> np.ndarray:
    """Sorted hashes of the non-blank lines seen more than `threshold` times in the kept documents.

    Only documents that survive exact and near dedup count, so that a document's own
    copies never make its lines frequent. Counted one hash partition at a time (by the
    top bits), so memory holds a 1/`partitions` share of the line hashes at once.
    """
    shift = np.uint64(64 - int(np.log2(partitions)))
    frequent = []
    for part in range(partitions):
        pieces = []
        row = 0
        for table in corpus.tables:
            for chunk in table.column("lines").chunks:
                counts = np.diff(chunk.offsets.to_numpy())
                values = chunk.flatten().to_numpy(zero_copy_only=False)
                counted = np.repeat(kept[row : row + len(chunk)], counts)
                pieces.append(values[counted & ((values >> shift) == part)])
                row += len(chunk)
        values = np.concatenate(pieces) if pieces else np.zeros(0, np.uint64)
        unique, counts = np.unique(values[values != 0], return_counts=True)
        frequent.append(unique[counts > threshold])
    return np.sort(np.concatenate(frequent))
