"""Greedy diverse selection: walk the rows best first and keep one only when no kept row is
more similar than `max_cosine`, until the budget is spent (Deita's "repr filter"; SemDeDup's
threshold on the cosine of sentence embeddings).

Candidates go in chunks: each chunk is compared with every kept row by matrix products
(blocked, so memory stays a few MB), then resolved inside itself in rank order. The result is
exactly the one-row-at-a-time greedy walk's, with the work done in BLAS. For large sets an
approximate index (faiss IVF, inner product) finds each candidate's nearest kept row
instead; it may miss a neighbour the exact search would find, which the report says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from curate.errors import UserError

CHUNK = 512  # candidates compared with the kept rows at once
KEPT_BLOCK = 8192  # kept rows per matrix product (a 512 x 8192 float32 block is 16 MiB)
APPROXIMATE_FROM = 100_000  # rows: --index auto uses the approximate index from here on
IVF_PROBES = 16  # lists searched per candidate
EXACT, APPROXIMATE, AUTO = "exact", "approximate", "auto"
INDEXES = (AUTO, EXACT, APPROXIMATE)


@dataclass
class Selection:
    selected: list[int] = field(default_factory=list)  # row numbers, best first
    too_similar: dict[int, tuple[int, float]] = field(default_factory=dict)  # row -> (kept row, cosine)
    over_budget: list[int] = field(default_factory=list)
    index: str = EXACT


def chosen_index(requested: str, rows: int) -> str:
    """The index --index asks for (auto: exact below APPROXIMATE_FROM rows, or without faiss)."""
    if requested == EXACT or (requested == AUTO and rows < APPROXIMATE_FROM):
        return EXACT
    try:
        import faiss  # noqa: F401
    except ImportError:
        if requested == APPROXIMATE:
            raise UserError("--index approximate needs faiss: pip install 'curate[select]'") from None
        return EXACT
    return APPROXIMATE


class _ExactKept:
    def __init__(self, width: int, capacity: int) -> None:
        self.vectors = np.empty((max(1, capacity), width), dtype=np.float32)
        self.rows: list[int] = []

    def nearest(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each candidate's highest cosine to a kept row, and that row's position (-1: none kept)."""
        best = np.full(len(chunk), -np.inf, dtype=np.float32)
        where = np.full(len(chunk), -1, dtype=np.int64)
        for start in range(0, len(self.rows), KEPT_BLOCK):
            block = chunk @ self.vectors[start : min(len(self.rows), start + KEPT_BLOCK)].T
            top = block.argmax(axis=1)
            value = block[np.arange(len(chunk)), top]
            better = value > best
            best[better], where[better] = value[better], top[better] + start
        return best, where

    def add(self, row: int, vector: np.ndarray) -> None:
        self.vectors[len(self.rows)] = vector
        self.rows.append(row)


class _ApproximateKept:
    """The kept rows in a faiss inverted-file index (IVF, inner product): trained once on the
    candidates, each search looks in the `IVF_PROBES` nearest of about 4 sqrt(N) lists."""

    def __init__(self, vectors: np.ndarray) -> None:
        import faiss

        width = vectors.shape[1]
        lists = max(1, min(len(vectors) // 40, int(4 * np.sqrt(len(vectors)))))
        self.index = faiss.IndexIVFFlat(faiss.IndexFlatIP(width), width, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).permutation(len(vectors))[: lists * 64]
        self.index.train(np.ascontiguousarray(vectors[np.sort(sample)]))
        self.index.nprobe = min(lists, IVF_PROBES)
        self.rows: list[int] = []
        self._pending: list[np.ndarray] = []

    def nearest(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._pending:
            self.index.add(np.ascontiguousarray(np.stack(self._pending)))
            self._pending = []
        if not self.rows:
            return np.full(len(chunk), -np.inf, dtype=np.float32), np.full(len(chunk), -1, dtype=np.int64)
        values, positions = self.index.search(np.ascontiguousarray(chunk), 1)
        return np.where(positions[:, 0] >= 0, values[:, 0], -np.inf), positions[:, 0]

    def add(self, row: int, vector: np.ndarray) -> None:
        self._pending.append(vector)
        self.rows.append(row)


def greedy_select(
    order: list[int] | np.ndarray,
    vectors: np.ndarray | None,
    max_cosine: float | None,
    budget: int | None,
    index: str = EXACT,
) -> Selection:
    """Walk `order` (row numbers, best first): keep a row unless its cosine to a kept row
    exceeds `max_cosine` (`vectors`: one L2-normalised row per row number), stop at `budget`."""
    order = [int(row) for row in order]
    limit = len(order) if budget is None else budget
    if vectors is None or max_cosine is None:
        return Selection(order[:limit], {}, order[limit:], index)
    kept = (
        _ApproximateKept(vectors[order])
        if index == APPROXIMATE
        else _ExactKept(vectors.shape[1], min(limit, len(order)))
    )
    result = Selection(index=index)
    for start in range(0, len(order), CHUNK):
        if len(kept.rows) >= limit:
            result.over_budget += order[start:]
            break
        rows = order[start : start + CHUNK]
        chunk = vectors[rows]
        best, where = kept.nearest(chunk)
        best = np.minimum(best, 1.0)  # float32 rounding puts a row's cosine to its copy at 1.0000002
        blocker = [kept.rows[w] if w >= 0 and b > max_cosine else -1 for b, w in zip(best, where)]
        cosine = best.astype(np.float64)
        inside = np.minimum(chunk @ chunk.T, 1.0)  # the chunk against itself, for rows kept earlier in it
        for position, row in enumerate(rows):
            if len(kept.rows) >= limit:
                result.over_budget += rows[position:]
                break
            if blocker[position] >= 0:
                result.too_similar[row] = (blocker[position], float(cosine[position]))
                continue
            kept.add(row, chunk[position])
            result.selected.append(row)
            later = inside[position, position + 1 :]
            for offset in np.flatnonzero(later > max_cosine):
                other = position + 1 + int(offset)
                if blocker[other] < 0:
                    blocker[other], cosine[other] = row, float(later[offset])
    return result
