"""components.py: clusters found by stages of tasks over edge partitions are the local pass's,
for any partition count, on graphs with long chains, stars and duplicated pairs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate.corpus.dedup import clusters, components, partitioned
from curate.corpus.dedup.features import features_path
from curate.corpus.dedup.state_files import write_arrow, write_partitions


def _features(folder, sizes, signatures, keep):
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for index in range(len(sizes)):
        low, high = starts[index], starts[index + 1]
        rows = pa.FixedSizeListArray.from_arrays(pa.array(signatures[low:high].reshape(-1)), signatures.shape[1])
        write_arrow(features_path(folder, index), pa.table({"signature": rows, "keep": pa.array(keep[low:high])}))


def _graph(rng, size):
    """Random pairs, a long chain in a shuffled order (many rounds), and a big star."""
    later = rng.integers(1, size, 300)
    earlier = (later * rng.random(300)).astype(np.int64)
    chain = rng.permutation(np.arange(200, 400))
    star = np.arange(450, 500)
    first = np.concatenate([later, chain[1:], star[1:]])
    second = np.concatenate([earlier, chain[:-1], np.full(49, 470)])
    keep = first != second
    return np.maximum(first, second)[keep], np.minimum(first, second)[keep]


def _pair_files(folder, later, earlier, passed, partitions, rng):
    """The pairs as bucket tasks leave them: by the later document's partition, some in two files."""
    paths = []
    for number in range(partitions):
        chosen = rng.random(len(later)) < 0.6
        chosen |= np.arange(len(later)) % partitions == number  # each pair in one file at least
        path = partitioned.pairs_path(folder, number)
        part = partitioned.vertex_partition(later[chosen], partitions)
        schema = partitioned.PAIRS_SCHEMA
        write_partitions(path, schema, [later[chosen], earlier[chosen], passed[chosen]], part, partitions)
        paths.append(path)
    return paths


@pytest.mark.parametrize("partitions", [1, 2, 7])
@pytest.mark.parametrize("by_rank", [False, True])
def test_distributed_clusters_are_the_local_ones(tmp_path, partitions, by_rank):
    rng = np.random.default_rng(partitions + 10 * by_rank)
    size, sizes = 600, [0, 250, 1, 349]
    signatures = rng.integers(0, 2, size=(size, 8), dtype=np.uint32)  # members near and far
    keep = rng.integers(0, 5, size).astype(np.float64)  # ties decided by input order
    _features(tmp_path, sizes, signatures, keep)
    later, earlier = _graph(rng, size)
    codes = np.unique(later * size + earlier)
    later, earlier = np.divmod(codes, size)
    passed = rng.random(len(later)) < 0.85
    pair_files = _pair_files(tmp_path, later, earlier, passed, partitions, rng)

    members, kept, tally = components.near_duplicates(
        tmp_path, pair_files, size, tasks=len(sizes), workers=1, threshold=0.6, by_rank=by_rank
    )

    grouped, starts = clusters.components(size, later[passed], earlier[passed])
    expected = np.arange(size)
    rank = keep[grouped] if by_rank else None
    expected[grouped] = clusters.choose_kept(grouped, starts, rank, lambda wanted: signatures[wanted], 0.6)
    got = np.arange(size)
    got[members] = kept
    assert np.array_equal(got, expected)
    assert np.all(kept != members) and len(members) == np.count_nonzero(expected != np.arange(size)) > 200
    assert tally["candidate_pairs"] == len(later) and tally["pairs_below_threshold"] == np.count_nonzero(~passed)
    assert tally["component_rounds"] >= 2  # the shuffled chain takes several
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"features-{i:05d}.arrow" for i in range(4)]


def test_no_pairs(tmp_path):
    _features(tmp_path, [3], np.zeros((3, 4), np.uint32), np.zeros(3))
    files = _pair_files(
        tmp_path, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool), 3, np.random.default_rng(0)
    )
    members, kept, tally = components.near_duplicates(
        tmp_path, files, 3, tasks=1, workers=1, threshold=0.5, by_rank=False
    )
    assert len(members) == len(kept) == 0 and tally["candidate_pairs"] == 0
