"""Read JSONL.gz and write Parquet: curate's reader + shard writer against Hugging Face datasets.

    python bench/io_throughput.py [--mb 200] [--files 8] [--workers N]

Builds a corpus of at least --mb MB of uncompressed JSONL (gzip-compressed on disk) by
repeating the real web documents in ../shared/data/web, then in one run times:

  * curate, one process: the local executor with no steps (read, write zstd shards);
  * curate, N processes (default: the number of cores);
  * peer: datasets.load_dataset("json", ...) + Dataset.to_parquet(...), fresh cache.

Prints MB/s of uncompressed JSONL and the ratio curate/peer.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED_WEB = HERE.parent.parent / "shared" / "data" / "web"
WORK = HERE / "_work" / "io_throughput"


def _seed_records() -> list[dict]:
    records = []
    for path in sorted(SHARED_WEB.glob("**/*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if isinstance(record.get("text"), str):
                    records.append(record)
    if not records:
        raise SystemExit(f"no documents under {SHARED_WEB}; this benchmark needs ../shared/data/web")
    return records


def build_corpus(megabytes: int, files: int) -> tuple[list[Path], int, int]:
    """Write the corpus once (cached in bench/_work); return files, uncompressed bytes, docs."""
    folder = WORK / f"corpus-{megabytes}mb-{files}"
    stamp = folder / "_done.json"  # underscore: folder walks skip it, so the folder is clean input
    if stamp.exists():
        info = json.loads(stamp.read_text())
        return sorted(folder.glob("*.jsonl.gz")), info["bytes"], info["docs"]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seeds = _seed_records()
    target = megabytes * 1_000_000
    per_file = target // files + 1
    total_bytes = total_docs = 0
    paths = []
    for number in range(files):
        path = folder / f"part-{number:03d}.jsonl.gz"
        written = 0
        repeat = 0
        with gzip.open(path, "wb", compresslevel=6) as out:
            while written < per_file:
                for index, seed in enumerate(seeds):
                    record = dict(seed)
                    record["id"] = f"{number}-{repeat}-{index}"  # Dolma ids are URLs: make every copy unique
                    line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
                    out.write(line)
                    written += len(line)
                    total_docs += 1
                repeat += 1
        total_bytes += written
        paths.append(path)
    stamp.write_text(json.dumps({"bytes": total_bytes, "docs": total_docs}))
    return paths, total_bytes, total_docs


def time_curate(paths: list[Path], workers: int, scratch: Path) -> float:
    from curate.io.sources import expand_inputs
    from curate.pipeline.executor import Job, run_job

    output = scratch / f"curate-w{workers}"
    job = Job(
        command="bench-io",
        output=output,
        inputs=expand_inputs([str(path) for path in paths]),
        steps=[],
        options={"workers": workers},
        command_line="bench/io_throughput.py",
    )
    started = time.perf_counter()
    run_job(job, workers=workers, progress=False)
    elapsed = time.perf_counter() - started
    shutil.rmtree(output)
    return elapsed


def time_fingerprints(paths: list[Path]) -> float:
    """What every run pays to know its inputs: the whole-file xxh3 of each (io/fingerprint.py),
    which the curate runs above include."""
    from curate.io.fingerprint import fingerprint

    started = time.perf_counter()
    for path in paths:
        fingerprint(path)
    return time.perf_counter() - started


def time_datasets(paths: list[Path], scratch: Path) -> float:
    import datasets

    datasets.disable_progress_bars()
    cache = scratch / "hf-cache"
    started = time.perf_counter()
    dataset = datasets.load_dataset(
        "json", data_files=[str(path) for path in paths], split="train", cache_dir=str(cache)
    )
    dataset.to_parquet(str(scratch / "datasets.parquet"))
    elapsed = time.perf_counter() - started
    del dataset
    shutil.rmtree(cache)
    (scratch / "datasets.parquet").unlink()
    return elapsed


def main() -> None:
    from curate.pipeline.pool import default_workers

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200, help="uncompressed JSONL size of the corpus")
    parser.add_argument("--files", type=int, default=8, help="number of input files")
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="curate worker processes for the parallel run"
    )
    args = parser.parse_args()

    paths, raw_bytes, docs = build_corpus(args.mb, args.files)
    on_disk = sum(path.stat().st_size for path in paths)
    print(f"corpus: {len(paths)} files, {docs:,} docs, {raw_bytes / 1e6:,.0f} MB JSONL ({on_disk / 1e6:,.0f} MB gzip)")
    with tempfile.TemporaryDirectory(dir=WORK) as scratch_name:
        scratch = Path(scratch_name)
        results = {
            "curate, 1 process": time_curate(paths, 1, scratch),
            f"curate, {args.workers} processes": time_curate(paths, args.workers, scratch),
            "datasets load_dataset('json') + to_parquet": time_datasets(paths, scratch),
        }
        hashing = time_fingerprints(paths)
    peer = results["datasets load_dataset('json') + to_parquet"]
    print(f"{'run':<45} {'seconds':>8} {'MB/s':>8} {'docs/s':>10} {'vs peer':>8}")
    for name, seconds in results.items():
        print(
            f"{name:<45} {seconds:8.2f} {raw_bytes / 1e6 / seconds:8.1f} {docs / seconds:10,.0f} {peer / seconds:7.2f}x"
        )
    one = results["curate, 1 process"]
    print(
        f"input fingerprints (xxh3 of every byte, {on_disk / 1e6:,.0f} MB on disk): {hashing:.3f} s, "
        f"{on_disk / 1e6 / hashing:,.0f} MB/s, {100 * hashing / one:.1f}% of the 1-process run"
    )


if __name__ == "__main__":
    main()
