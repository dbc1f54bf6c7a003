"""`curate dedup --partitions R`: candidate pairs found by scatter and bucket tasks are the
in-process pass's, so every decision and byte is the same for any R."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate.corpus.dedup import clusters, partitioned
from curate.corpus.dedup.features import features_path
from curate.corpus.dedup.settings import DedupSettings
from curate.corpus.dedup.state_files import write_arrow
from curate.io.writer import WriterOptions
from tests.test_dedup import SHARED_WEB, _corpus_files, _run, _shard_bytes, needs_shared


@pytest.mark.parametrize("partitions", [1, 3, 16])
def test_partitioned_pairs_are_the_local_pairs(tmp_path, partitions):
    rng = np.random.default_rng(partitions)
    sizes, bands = [0, 70, 1, 130], 5  # an empty file, a one-document file
    keys = rng.integers(0, 40, size=(sum(sizes), bands), dtype=np.uint64)  # few keys: many buckets of many
    starts = np.concatenate([[0], np.cumsum(sizes)])
    signatures = rng.integers(0, 3, size=(sum(sizes), 8), dtype=np.uint32)  # pairs near and far
    words = np.where(rng.random(sum(sizes)) < 0.8, rng.integers(1, 50, sum(sizes)), 0)  # a fifth without a word
    for index in range(len(sizes)):
        block = keys[starts[index] : starts[index + 1]]
        column = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1), pa.uint64()), bands)
        rows = pa.FixedSizeListArray.from_arrays(pa.array(signatures[starts[index] : starts[index + 1]].reshape(-1)), 8)
        tokens = pa.array(words[starts[index] : starts[index + 1]], pa.int32())
        write_arrow(features_path(tmp_path, index), pa.table({"bands": column, "signature": rows, "tokens": tokens}))
    eligible = np.flatnonzero(words > 0)  # ordinals, as decide() gives them
    local = clusters.candidate_pairs(lambda band: keys[:, band], sum(sizes), eligible, bands)
    later, earlier, passed = partitioned.candidate_pairs(tmp_path, starts, partitions, 1, threshold=0.5)
    assert len(local[0]) > 100
    assert np.array_equal(local[0], later) and np.array_equal(local[1], earlier)
    expected = clusters.estimated_similarity(signatures, later, earlier) >= 0.5
    assert np.array_equal(passed, expected) and 0 < passed.sum() < len(passed)
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"features-{i:05d}.arrow" for i in range(4)]


@pytest.mark.parametrize(
    "settings",
    [
        DedupSettings(),
        DedupSettings(keep="longest"),
        DedupSettings(exact=False),
        DedupSettings(minhash=False),
        DedupSettings(language="ko"),
        DedupSettings(lines=True),
    ],
    ids=["default", "keep-longest", "no-exact", "exact-only", "character-shingles", "lines"],
)
def test_decisions_and_bytes_do_not_depend_on_partitions(tmp_path, settings):
    _corpus_files(tmp_path)
    first = sorted((tmp_path / "in").iterdir())[0]
    (tmp_path / "in" / f"zz-copy{''.join(first.suffixes)}").write_bytes(first.read_bytes())  # exact copies
    writer = WriterOptions(max_rows=25)
    local = _run([tmp_path / "in"], tmp_path / "local", settings, writer=writer)
    for partitions, workers in ((1, 1), (5, 2)):
        out = tmp_path / f"partitions-{partitions}"
        shuffled = _run([tmp_path / "in"], out, settings, workers=workers, writer=writer, partitions=partitions)
        assert shuffled.manifest["counts"] == local.manifest["counts"]
        assert _shard_bytes(out) == _shard_bytes(tmp_path / "local")
    assert local.manifest["counts"]["rejected"] > 0


@needs_shared
def test_real_web_documents(tmp_path):
    import shutil

    files = sorted(str(path) for path in (SHARED_WEB / "cc_en_head").glob("*.jsonl.gz"))
    files.append(str(SHARED_WEB / "dclm_quality_labeled.jsonl"))
    for number, path in enumerate(files[:2]):  # copies of two files: exact duplicates across files
        files.append(shutil.copy(path, tmp_path / f"copy-{number}.jsonl.gz"))
    local = _run(files, tmp_path / "local")
    shuffled = _run(files, tmp_path / "shuffled", workers=2, partitions=4)
    assert shuffled.manifest["counts"] == local.manifest["counts"] and local.manifest["counts"]["rejected"] > 0
    assert _shard_bytes(tmp_path / "shuffled") == _shard_bytes(tmp_path / "local")
