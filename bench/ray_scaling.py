"""`curate filter` and `curate dedup` with the local executor and with Ray on the same cores,
and what dedup's state would weigh at a billion documents.

    python bench/ray_scaling.py [--docs 100000 1000000] [--files 32] [--workers 2]

For each corpus size (documents of 40-120 words, a tenth near copies: bench/dedup_memory.py's
corpus, cached in bench/_work), each command runs twice under /usr/bin/time -v: `--executor
local` and `--executor ray` against a Ray head started here for the bench (`ray start --head
--num-cpus N` on 127.0.0.1, stopped at the end), so Ray's own start-up is not counted. It
prints wall times, Ray's overhead per task ((ray - local) / tasks), whether the outputs are
byte-identical, the peak RSS of the largest process, and dedup's per-stage bytes and per-task
peak memory with a projection to 1e9 documents on 100 nodes (bench/dedup_stages.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dedup_stages  # noqa: E402
from dedup_memory import WORK, build  # noqa: E402  (the same synthetic corpus)

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
STEPS = "clean,gopher_repetition,gopher_quality,c4,fineweb"


def start_ray(cpus: int) -> tuple[subprocess.Popen, str, str]:
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(Path(temp) / "head.log", "wb")
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--port", str(port),
         "--num-cpus", str(cpus), "--node-ip-address", "127.0.0.1", "--include-dashboard=false",
         "--disable-usage-stats", "--object-store-memory", str(200 << 20), "--temp-dir", temp],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **RAY_ENV},
    )  # fmt: skip
    while b"Ray runtime started" not in (Path(temp) / "head.log").read_bytes():
        if head.poll() is not None:
            raise SystemExit("ray start failed: " + (Path(temp) / "head.log").read_text())
        time.sleep(0.2)
    return head, f"127.0.0.1:{port}", temp


def run(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes, largest process) of a curate command."""
    started = time.perf_counter()
    finished = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, env={**os.environ, **RAY_ENV}
    )
    wall = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{finished.stdout}\n{finished.stderr[-3000:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", finished.stderr).group(1)) * 1024
    return wall, peak


def shard_digest(output: Path) -> str:
    digest = hashlib.sha256()
    for sub in ("data", "rejected"):
        for path in sorted((output / sub).glob("*")):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def dedup_tasks(output: Path, files: int) -> int:
    """Tasks of a dedup run on Ray: per file hashing, exact scatter, band scatter and removal;
    per partition exact groups, buckets, edges, two per component round and kept."""
    report = json.loads((output / "report.json").read_text())
    dedup = next(stage for stage in report["stages"] if stage["stage"] == "dedup")
    result = dedup["settings"]["result"]
    partitions = result.get("partitions", 0)
    return files * 4 + partitions * (4 + 2 * result.get("component_rounds", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--commands", nargs="+", default=["filter", "dedup"], choices=["filter", "dedup"])
    args = parser.parse_args()
    curate = str(Path(sys.executable).with_name("curate"))
    head, address, temp = start_ray(args.workers)
    try:
        for docs in args.docs:
            corpus = build(docs, args.files)
            megabytes = sum(path.stat().st_size for path in corpus.glob("*.jsonl")) / 1e6
            print(f"\n{docs:,} documents, {megabytes:,.0f} MB in {args.files} files, --workers {args.workers}")
            for name, extra in (("filter", ["--steps", STEPS]), ("dedup", [])):
                if name not in args.commands:
                    continue
                results = {}
                for executor in ("local", "ray"):
                    output = WORK / f"scaling-{name}-{executor}"
                    shutil.rmtree(output, ignore_errors=True)
                    command = [curate, name, str(corpus), "-o", str(output), "--workers", str(args.workers),
                               "--no-progress", "--executor", executor, *extra]  # fmt: skip
                    if executor == "ray":
                        command += ["--ray-address", address]
                    wall, peak = run(command)
                    manifest = json.loads((output / "_manifest.json").read_text())
                    results[executor] = (wall, peak, shard_digest(output), manifest, output)
                    print(f"  {name:<6} {executor:<5} {wall:8.1f} s  {docs / wall:9,.0f} docs/s  "
                          f"peak RSS {peak / 2**20:7,.0f} MiB")  # fmt: skip
                local, ray_run = results["local"], results["ray"]
                tasks = dedup_tasks(ray_run[4], args.files) if name == "dedup" else args.files
                print(f"  {name:<6} ray overhead {(ray_run[0] - local[0]) / tasks * 1000:+,.0f} ms per task "
                      f"({tasks} tasks); identical output: {local[2] == ray_run[2]}; "
                      f"kept {local[3]['counts']['kept']:,} of {docs:,}")  # fmt: skip
                if name == "dedup":
                    before, peak = clustering_peak(corpus, args.workers)
                    print(f"  dedup clustering alone: {before / 2**20:,.0f} MiB before, {peak / 2**20:,.0f} MiB at its "
                          f"peak ({(peak - before) / docs:,.0f} B/doc)")  # fmt: skip
                    shuffled = clustering_peak(corpus, args.workers, partitions=4 * args.workers, address=address)
                    print(f"  dedup clustering with --partitions {4 * args.workers} on Ray: the driver adds "
                          f"{(shuffled[1] - shuffled[0]) / docs:,.0f} B/doc")  # fmt: skip
                    print(f"  today's clustering in one process at {(peak - before) / docs:,.0f} B/doc would need "
                          f"{(peak - before) * 1e9 / docs / 2**30:,.0f} GiB at 1e9 documents")  # fmt: skip
                    dedup_stages.report(corpus, 4 * args.workers)
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


CLUSTERING_PEAK = """
import resource, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from curate.corpus.dedup.decisions import find_duplicates
from curate.corpus.dedup.features import FeatureTask, hash_file
from curate.corpus.dedup.settings import DedupSettings
from curate.io.readers import ReaderOptions
from curate.io.sources import expand_inputs

corpus, state, workers, partitions = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
files = expand_inputs([corpus])
tasks = [FeatureTask(i, item, state, ReaderOptions(), DedupSettings()) for i, item in enumerate(files)]
with ProcessPoolExecutor(workers) as pool:  # hashing in other processes: this one only clusters
    list(pool.map(hash_file, tasks))
find = None
if partitions:  # every duplicate found by Ray tasks, as with --executor ray: this process only drives
    from curate.corpus.dedup.distributed import find_duplicates_in_tasks
    from curate.pipeline import pool, ray_executor

    pool.use_executor("ray", ray_executor.RaySettings(sys.argv[5]))
    ray_executor.connect(ray_executor.RaySettings(sys.argv[5]))

    def find(corpus):
        return find_duplicates_in_tasks(state, corpus, DedupSettings(), partitions, workers)

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

find_duplicates(state, len(files), DedupSettings(), find=find)
print(before * 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def clustering_peak(corpus: Path, workers: int, partitions: int = 0, address: str = "") -> tuple[int, int]:
    """(RSS before, peak RSS) of a process that runs only dedup's clustering pass on `corpus`
    (with `partitions`, its candidate pairs found and checked by Ray tasks on `address`)."""
    state = Path(tempfile.mkdtemp(prefix="dedup-state-"))
    try:
        finished = subprocess.run(
            [sys.executable, "-c", CLUSTERING_PEAK, str(corpus), str(state), str(workers), str(partitions), address],
            capture_output=True, text=True, check=True, env={**os.environ, **RAY_ENV},
        )  # fmt: skip
    finally:
        shutil.rmtree(state, ignore_errors=True)
    before, peak = map(int, finished.stdout.split()[-2:])
    return before, peak


if __name__ == "__main__":
    main()
