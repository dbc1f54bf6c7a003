"""Dedup: curate's whole command against datasketch and rensa (Rust) on the same corpus, one process each.

    python bench/dedup_vs_peers.py [--docs 20000] [--files 8] [--workers 1,2]

The corpus is the filter benchmark's (cached in bench/_work): real English web documents
from ../shared/data/web repeated with small edits (a few words swapped, a line dropped),
so most documents are near duplicates of others. In one run:

  * datasketch: per document MinHash(num_perm=112, seed=1).update_batch(shingles), then
    MinHashLSH(params=(14, 8)) query, and insert when nothing matched;
  * rensa: the same with RMinHash.update and RMinHashLSH(num_bands=14);
  * rensa, bulk: RMinHash.digest_matrix_from_token_sets and
    RMinHashLSH.insert_matrix_and_query_duplicate_flags, its fastest interface;
  * curate dedup --workers N for each N: read, normalise, hash, signatures, LSH,
    clusters, and write the Parquet dataset folder with its report.

The peers get word 5-gram shingles made beforehand, untimed (lower case, runs of
letters and digits, digit runs as 0: the shingles curate makes); their time is
signatures and LSH only. curate's time is its job as the manifest records it (from the
start of the command's work to the sealed folder); the process wall time, with Python
start-up and imports, is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from filter_vs_datatrove import build_corpus  # noqa: E402  (the same cached corpus)

WORK = HERE / "_work" / "dedup_vs_peers"
NUM_PERM, BANDS, ROWS, SEED, NGRAM = 112, 14, 8, 1, 5
_WORD = re.compile(r"[^\W_]+")
_DIGITS = re.compile(r"\d+")


def _texts(corpus: Path) -> list[str]:
    texts = []
    for path in sorted(corpus.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle]
    return texts


def shingles(text: str) -> list[str]:
    words = [_DIGITS.sub("0", word) for word in _WORD.findall(text.lower())]
    if len(words) < NGRAM:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)]


def _stream(shingle_sets: list[list[str]], sketch, lsh) -> tuple[float, set[int]]:
    """Per document: make its sketch, query the index, insert it when nothing matched."""
    started = time.perf_counter()
    duplicates = set()
    for number, items in enumerate(shingle_sets):
        minhash = sketch(items)
        if lsh.query(minhash):
            duplicates.add(number)
        else:
            lsh.insert(number, minhash)
    return time.perf_counter() - started, duplicates


def run_datasketch(shingle_sets: list[list[str]]) -> tuple[float, set[int]]:
    from datasketch import MinHash, MinHashLSH

    def sketch(items: list[str]) -> MinHash:
        minhash = MinHash(num_perm=NUM_PERM, seed=SEED)
        minhash.update_batch([item.encode() for item in items])
        return minhash

    return _stream(shingle_sets, sketch, MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS)))


def run_rensa(shingle_sets: list[list[str]]) -> tuple[float, set[int]]:
    from rensa import RMinHash, RMinHashLSH

    def sketch(items: list[str]) -> RMinHash:
        minhash = RMinHash(num_perm=NUM_PERM, seed=SEED)
        minhash.update(items)
        return minhash

    lsh = RMinHashLSH(threshold=(1 / BANDS) ** (1 / ROWS), num_perm=NUM_PERM, num_bands=BANDS)
    return _stream(shingle_sets, sketch, lsh)


def run_rensa_bulk(shingle_sets: list[list[str]]) -> tuple[float, set[int]]:
    from rensa import RMinHash, RMinHashLSH

    started = time.perf_counter()
    matrix = RMinHash.digest_matrix_from_token_sets(shingle_sets, NUM_PERM, SEED)
    lsh = RMinHashLSH(threshold=(1 / BANDS) ** (1 / ROWS), num_perm=NUM_PERM, num_bands=BANDS)
    flags = lsh.insert_matrix_and_query_duplicate_flags(matrix)
    seconds = time.perf_counter() - started
    # flags mark every member of a bucket, the first too; count all but the first of each
    return seconds, {number for number, flag in enumerate(flags) if flag}


def run_curate(corpus: Path, output: Path, workers: int) -> tuple[float, float, set[str]]:
    shutil.rmtree(output, ignore_errors=True)
    command = [
        str(Path(sys.executable).with_name("curate")),
        "dedup",
        str(corpus),
        "-o",
        str(output),
        "--workers",
        str(workers),
        "--no-progress",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    manifest = json.loads((output / "_manifest.json").read_text())
    import pyarrow.parquet as pq

    rejected = {
        row
        for path in sorted((output / "rejected").glob("*.parquet"))
        for row in pq.read_table(path, columns=["id"]).column("id").to_pylist()
    }
    return manifest["timings"]["seconds"], wall, rejected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts for curate")
    args = parser.parse_args()
    corpus, total_bytes = build_corpus(args.docs, args.files)
    texts = _texts(corpus)
    docs = len(texts)
    print(f"corpus: {docs:,} documents, {total_bytes / 1e6:.1f} MB of text, {args.files} files ({corpus})")
    shingle_sets = [shingles(text) for text in texts]

    results = {}
    for name, runner in (("datasketch", run_datasketch), ("rensa", run_rensa), ("rensa bulk", run_rensa_bulk)):
        seconds, duplicates = runner(shingle_sets)
        results[name] = seconds
        print(
            f"{name:<12} signatures + LSH only: {seconds:6.2f} s  {docs / seconds:8,.0f} docs/s  "
            f"{len(duplicates):,} documents matched an earlier one"
        )
    for workers in [int(item) for item in args.workers.split(",")]:
        seconds, wall, rejected = run_curate(corpus, WORK / f"out-{workers}", workers)
        rate = docs / seconds
        print(
            f"curate --workers {workers}: whole command {seconds:6.2f} s  {rate:8,.0f} docs/s "
            f"({rate / workers:,.0f} per worker; process wall {wall:.2f} s with start-up)  "
            f"{len(rejected):,} documents rejected"
        )
        if workers == 1:
            base = seconds
            print(
                f"  curate per core / datasketch: x{rate / (docs / results['datasketch']):.1f}, "
                f"/ rensa: x{rate / (docs / results['rensa']):.2f}, / rensa bulk: x{rate / (docs / results['rensa bulk']):.2f}"
            )
        else:
            print(f"  scaling against --workers 1: x{base / seconds:.2f}")


if __name__ == "__main__":
    main()
