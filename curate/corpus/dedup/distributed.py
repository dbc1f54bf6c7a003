"""`curate dedup --partitions R`: every duplicate found by tasks on the executor, stage by stage.

Exact groups (exact_groups.py), then the band-key shuffle and the checked candidate pairs
(partitioned.py), then the clusters (components.py). The driver holds no array of one number
per document: it reads back only the duplicates, for decisions.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curate.corpus.dedup import components, exact_groups, partitioned
from curate.corpus.dedup.clusters import Corpus
from curate.corpus.dedup.decisions import Duplicates
from curate.corpus.dedup.features import features_path
from curate.corpus.dedup.settings import DedupSettings
from curate.corpus.dedup.stages import run_stage, state_input


def find_duplicates_in_tasks(
    folder: Path, corpus: Corpus, settings: DedupSettings, partitions: int, workers: int, progress: bool = False
) -> tuple[Duplicates, dict]:
    """The duplicates of the corpus whose feature files are in `folder`, as decisions.py's local
    pass finds them, and counts for the summary; removes the files its stages wrote."""
    tally: dict = {}
    starts = [int(start) for start in corpus.starts]
    tasks = len(starts) - 1
    exact_files: list[Path] = []
    if settings.exact:
        scatter = [
            exact_groups.ExactTask(index, state_input(features_path(folder, index)), folder, starts, partitions)
            for index in range(tasks)
        ]
        run_stage(exact_groups.scatter_hashes, scatter, workers, "dedup: exact hashes", progress)
        groups = [
            exact_groups.ExactTask(number, state_input(folder / f"exact-{number:05d}"), folder, starts, partitions)
            for number in range(partitions)
        ]
        run_stage(exact_groups.group_hashes, groups, workers, "dedup: exact groups", progress)
        for index in range(tasks):
            exact_groups.scatter_path(folder, index).unlink(missing_ok=True)
        exact_files = [exact_groups.groups_path(folder, number) for number in range(partitions)]
    exact, first = exact_groups.all_duplicates(exact_files)
    near = kept = np.zeros(0, np.int64)
    if settings.minhash:
        tally["documents_without_tokens"] = sum(
            int(np.count_nonzero(chunk.to_numpy() == 0)) for table in corpus.tables for chunk in table["tokens"].chunks
        )
        threshold = settings.jaccard_threshold
        pair_files = partitioned.write_candidate_pairs(
            folder, corpus.starts, partitions, workers, threshold, exact_files, progress
        )
        near, kept, found = components.near_duplicates(
            folder,
            pair_files,
            corpus.size,
            tasks=tasks,
            workers=workers,
            threshold=threshold,
            by_rank=settings.keep != "first",
            progress=progress,
        )
        tally |= found
    for path in exact_files:
        path.unlink(missing_ok=True)
    return Duplicates(exact, first, near, kept), tally
