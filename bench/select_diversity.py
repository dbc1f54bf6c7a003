"""Semantic dedup for `curate select`: the greedy walk under --max-cosine on one core.

Runs, on the same embeddings in one process:
  * curate's exact walk (diversity.greedy_select: chunks of candidates against the kept
    rows by blocked matrix products, resolved inside the chunk in rank order);
  * curate's approximate walk (faiss IVF over the kept rows), when faiss is installed;
  * the peer: Deita's "repr filter" loop as its repository writes it (one candidate at a
    time, its cosine to every kept row by a torch matrix-vector product, kept when the
    largest is within the threshold), restated here because deita is not on PyPI.
The exact walk must pick exactly the peer's rows; the approximate one is compared with it.

The embeddings: N unit vectors of D dimensions around C topic centres (so neighbours are
real), a share of them near copies of another row (cosine about 0.95), in a random order
standing for the ranking. Every library is held to one thread.

    python bench/select_diversity.py [--rows 50000] [--dim 384] [--max-cosine 0.9] [--budget 0]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from curate.instruct.select import diversity  # noqa: E402


def embeddings(rows: int, dim: int, centres: int, copies: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(centres, dim))
    vectors = topics[rng.integers(0, centres, rows)] + 1.2 * rng.normal(size=(rows, dim))
    copied = rng.random(rows) < copies
    sources = rng.integers(0, rows, copied.sum())
    vectors[copied] = vectors[sources] + 0.33 * rng.normal(size=(int(copied.sum()), dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def deita_loop(order: np.ndarray, vectors: np.ndarray, max_cosine: float, budget: int | None) -> list[int]:
    import torch

    torch.set_num_threads(1)
    table = torch.from_numpy(vectors)
    kept = torch.empty((len(order) if budget is None else budget, vectors.shape[1]))
    chosen: list[int] = []
    for row in order:
        if budget is not None and len(chosen) == budget:
            break
        candidate = table[int(row)]
        if chosen and float((kept[: len(chosen)] @ candidate).max()) > max_cosine:
            continue
        kept[len(chosen)] = candidate
        chosen.append(int(row))
    return chosen


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--centres", type=int, default=2_000)
    parser.add_argument("--copies", type=float, default=0.2, help="share of rows that are near copies of another")
    parser.add_argument("--max-cosine", type=float, default=0.9)
    parser.add_argument("--budget", type=int, default=0, help="0: no budget (dedup the whole set)")
    args = parser.parse_args()
    budget = args.budget or None
    vectors = embeddings(args.rows, args.dim, args.centres, args.copies)
    order = np.random.default_rng(1).permutation(args.rows)
    print(f"{args.rows:,} rows x {args.dim} dimensions, --max-cosine {args.max_cosine}, budget {budget}; one thread")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.processor() or platform.machine()}")

    exact, exact_s = timed(diversity.greedy_select, order, vectors, args.max_cosine, budget, diversity.EXACT)
    print(f"curate exact:       {exact_s:7.2f} s  kept {len(exact.selected):,}, too similar {len(exact.too_similar):,}")
    peer, peer_s = timed(deita_loop, order, vectors, args.max_cosine, budget)
    print(f"Deita's loop (peer): {peer_s:7.2f} s  kept {len(peer):,}")
    print(f"  same rows as the peer: {exact.selected == peer}; curate exact is {peer_s / exact_s:.1f}x faster")
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:
        print("curate approximate: faiss is not installed (pip install 'curate[select]')")
        return
    approx, approx_s = timed(diversity.greedy_select, order, vectors, args.max_cosine, budget, diversity.APPROXIMATE)
    chosen = vectors[approx.selected]
    worst = max(
        float((chosen[i : i + 2048] @ chosen.T - np.eye(len(chosen), dtype=np.float32)[i : i + 2048]).max())
        for i in range(0, len(chosen), 2048)
    )
    agree = len(set(approx.selected) & set(peer)) / max(1, len(peer))
    print(
        f"curate approximate: {approx_s:7.2f} s  kept {len(approx.selected):,} ({agree:.1%} of the peer's rows); "
        f"highest cosine between kept rows {worst:.3f}; {peer_s / approx_s:.1f}x the peer"
    )


if __name__ == "__main__":
    main()
