"""What each stage of the distributed dedup (`--partitions R`) writes and holds, measured and
projected to a billion documents.

    python bench/dedup_stages.py [--docs 1000000] [--files 32] [--partitions 8]

On bench/dedup_memory.py's corpus (a tenth near copies), the hashing pass runs first; then
the clustering runs in this process with one worker, so each task of each stage runs here,
one after another, and its peak memory is measured alone: tracemalloc's peak over the task
(NumPy's arrays, which are what a task holds: Arrow files are read memory-mapped), plus
Arrow's own allocations. Bytes per stage are the sizes of the files the stage writes.

Projection (linear, written out in the output): a stage's bytes scale with the documents N;
a task's peak with N / R. So at N' documents and R' partitions, bytes' = bytes x N'/N and
peak' = peak x (N'/R') / (N/R). R' is chosen as 4 tasks per core of 100 nodes of 32 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from dedup_memory import build  # noqa: E402

DRIVER = "driver (between stages)"


def profile(corpus: Path, partitions: int) -> tuple[dict, dict, int, dict]:
    """(bytes written per stage, peak bytes of the largest task per stage, documents, summary)."""
    import pyarrow as pa

    from curate.corpus.dedup import components, exact_groups, partitioned
    from curate.corpus.dedup.decisions import find_duplicates
    from curate.corpus.dedup.distributed import find_duplicates_in_tasks
    from curate.corpus.dedup.features import FeatureTask, features_path, hash_file
    from curate.corpus.dedup.settings import DedupSettings
    from curate.io.readers import ReaderOptions
    from curate.io.sources import expand_inputs

    written: dict[str, int] = defaultdict(int)
    peaks: dict[str, int] = defaultdict(int)

    def measured(function, stage_of, path_of):
        def run(task):
            pool = pa.default_memory_pool()
            arrow_before = pool.bytes_allocated()
            current, peak = tracemalloc.get_traced_memory()
            peaks[DRIVER] = max(peaks[DRIVER], peak)  # the driver's own, up to this task
            tracemalloc.reset_peak()
            result = function(task)
            stage = stage_of(task)
            task_peak = tracemalloc.get_traced_memory()[1] - current
            peaks[stage] = max(peaks[stage], task_peak + pool.bytes_allocated() - arrow_before)
            tracemalloc.reset_peak()
            path = path_of(task)
            written[stage] += path.stat().st_size if path.exists() else 0
            return result

        return run

    def component_stage(task) -> str:
        return {"edges": "edges (unique pairs)", "large": "components (rounds)", "small": "components (rounds)"}.get(
            task.kind, "kept (per component)"
        )

    def component_file(task) -> Path:
        if task.kind == "kept":
            return components.near_path(task.folder, task.index)
        return components.edges_path(task.folder, task.stage, task.index)

    stages = [  # (module, task function, stage, the file a task writes)
        (exact_groups, "scatter_hashes", "exact scatter", exact_groups.scatter_path),
        (exact_groups, "group_hashes", "exact groups", exact_groups.groups_path),
        (partitioned, "scatter_bands", "scatter (band keys)", partitioned.scatter_path),
        (partitioned, "bucket_pairs", "buckets (pairs)", partitioned.pairs_path),
    ]
    for module, name, stage, path in stages:
        function = measured(
            getattr(module, name),
            lambda task, stage=stage: stage,
            lambda task, path=path: path(task.folder, task.index),
        )
        setattr(module, name, function)
    components.run_stage_task = measured(components.run_stage_task, component_stage, component_file)  # fmt: skip

    settings = DedupSettings()
    files = expand_inputs([str(corpus)])
    state = Path(tempfile.mkdtemp(prefix="dedup-stages-"))
    for index, item in enumerate(files):
        hash_file(FeatureTask(index, item, state, ReaderOptions(), settings))
    written["features (hashing pass)"] = sum(features_path(state, i).stat().st_size for i in range(len(files)))

    def find(corpus_):
        return find_duplicates_in_tasks(state, corpus_, settings, partitions, workers=1)

    tracemalloc.start()
    started = time.perf_counter()
    summary = find_duplicates(state, len(files), settings, find=find)
    summary["clustering_seconds"] = time.perf_counter() - started
    peaks[DRIVER] = max(peaks[DRIVER], tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
    return dict(written), dict(peaks), summary["documents"], summary


def report(corpus: Path, partitions: int, target: int = 10**9, nodes: int = 100, cores: int = 32) -> None:
    written, peaks, docs, summary = profile(corpus, partitions)
    target_partitions = 4 * nodes * cores
    print(f"  distributed dedup, {docs:,} documents, --partitions {partitions}: "
          f"{summary['candidate_pairs']:,} candidate pairs, {summary['component_rounds']} component rounds, "
          f"{summary['near_duplicates']:,} near duplicates, clustering {summary['clustering_seconds']:.1f} s (1 worker)")  # fmt: skip
    print(f"  projection to N'={target:.0e} documents, R'={target_partitions:,} partitions ({nodes} nodes x {cores} "
          f"cores x 4): bytes' = bytes x N'/N; task peak' = peak x (N'/R') / (N/R)")  # fmt: skip
    header = ("stage", "bytes", "B/doc", "bytes at N'", "task peak", "peak at N'/R'")
    print("  {:<26}{:>12}{:>8}{:>14}{:>12}{:>16}".format(*header))
    for stage in dict.fromkeys([*written, *peaks]):
        if stage == DRIVER:
            continue
        size, peak = written.get(stage, 0), peaks.get(stage)
        projected_peak = (
            "" if peak is None else f"{peak * (target / target_partitions) / (docs / partitions) / 2**20:,.0f} MiB"
        )
        shown_peak = "" if peak is None else f"{peak / 2**20:,.1f} MiB"
        print(f"  {stage:<26}{size / 2**20:>10,.1f}MiB{size / docs:>8,.1f}{size * target / docs / 2**40:>12,.2f}TiB"
              f"{shown_peak:>12}{projected_peak:>16}")  # fmt: skip
    driver = peaks[DRIVER]
    duplicates = summary["exact_duplicates"] + summary["near_duplicates"]
    print(f"  {DRIVER}: peak {driver / 2**20:,.1f} MiB of arrays ({driver / docs:,.0f} B/doc, "
          f"{driver / max(duplicates, 1):,.0f} B per duplicate); it grows with the duplicates: at N' with the "
          f"same share, {driver * target / docs / 2**30:,.1f} GiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    report(build(args.docs, args.files), args.partitions)


if __name__ == "__main__":
    main()
