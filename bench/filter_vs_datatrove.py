"""The four heuristic filters: curate against datatrove 0.10 on the same corpus, one process each.

    python bench/filter_vs_datatrove.py [--docs 20000] [--files 8] [--skip-peer]

Builds a corpus of --docs documents (cached in bench/_work) from the real English web
documents in ../shared/data/web, each copy changed a little (a few words swapped for
others, one line dropped), so copies are distinct texts. Then, in one run:

  * peer: a datatrove pipeline, JsonlReader -> GopherRepetitionFilter -> GopherQualityFilter
    -> C4QualityFilter(filter_no_terminal_punct=False) -> FineWebQualityFilter -> JsonlWriter,
    on LocalPipelineExecutor with one task (one process);
  * curate filter --steps gopher_repetition,gopher_quality,c4,fineweb --workers 1;
  * the same with --workers 2.

Prints docs/s for each, curate/datatrove per core, the 2-worker scaling, and the share of
documents on which the two keep/drop decisions agree.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED_WEB = ROOT.parent / "shared" / "data" / "web"
WORK = HERE / "_work" / "filter_vs_datatrove"
STEPS = "gopher_repetition,gopher_quality,c4,fineweb"


def _seed_texts() -> list[str]:
    texts = []
    sources = [SHARED_WEB / "dclm_quality_labeled.jsonl", *sorted((SHARED_WEB / "cc_en_head").glob("*.jsonl.gz"))]
    sources += sorted(SHARED_WEB.glob("redpajama-*.jsonl")) + [SHARED_WEB / "arxiv.jsonl"]
    for path in sources:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle if line.strip()]
    if not texts:
        raise SystemExit(f"no documents under {SHARED_WEB}; this benchmark needs ../shared/data/web")
    return texts


def _edit(text: str, rng: random.Random) -> str:
    """A near copy: a few words replaced by other words of the same text, maybe one line dropped."""
    lines = text.split("\n")
    if len(lines) > 3 and rng.random() < 0.5:
        del lines[rng.randrange(len(lines))]
    words = "\n".join(lines).split(" ")
    for _ in range(max(1, len(words) // 50)):
        words[rng.randrange(len(words))] = words[rng.randrange(len(words))]
    return " ".join(words)


def build_corpus(docs: int, files: int) -> tuple[Path, int]:
    folder = WORK / f"corpus-{docs}-{files}"
    stamp = WORK / f"corpus-{docs}-{files}.done.json"
    if stamp.exists():
        return folder, json.loads(stamp.read_text())["bytes"]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seeds, rng, total = _seed_texts(), random.Random(0), 0
    handles = [open(folder / f"part-{number:03d}.jsonl", "w", encoding="utf-8") for number in range(files)]
    for number in range(docs):
        text = seeds[number % len(seeds)] if number < len(seeds) else _edit(seeds[number % len(seeds)], rng)
        line = json.dumps({"id": f"doc-{number}", "text": text}, ensure_ascii=False) + "\n"
        total += len(text.encode())
        handles[number % files].write(line)
    for handle in handles:
        handle.close()
    stamp.write_text(json.dumps({"bytes": total}))
    return folder, total


def run_datatrove(corpus: Path, output: Path) -> float:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    pipeline = [
        JsonlReader(str(corpus), glob_pattern="*.jsonl", compression=None),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
        JsonlWriter(str(output / "kept"), compression=None),
    ]
    started = time.perf_counter()
    LocalPipelineExecutor(pipeline=pipeline, tasks=1, workers=1, logging_dir=str(output / "logs")).run()
    return time.perf_counter() - started


def run_curate(corpus: Path, output: Path, workers: int) -> float:
    command = [
        sys.executable,
        "-m",
        "curate",
        "filter",
        str(corpus),
        "-o",
        str(output),
        "--steps",
        STEPS,
        "--workers",
        str(workers),
        "--no-progress",
        "--overwrite",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _kept_ids_curate(output: Path) -> set[str]:
    import pyarrow.parquet as pq

    return {
        value
        for path in sorted((output / "data").glob("*.parquet"))
        for value in pq.read_table(path, columns=["id"]).column("id").to_pylist()
    }


def _kept_ids_datatrove(output: Path) -> set[str]:
    ids = set()
    for path in (output / "kept").glob("*.jsonl"):
        with open(path, encoding="utf-8") as handle:
            ids.update(json.loads(line)["id"] for line in handle)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--skip-peer", action="store_true", help="time curate only")
    args = parser.parse_args()
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")

    corpus, text_bytes = build_corpus(args.docs, args.files)
    print(f"corpus: {args.docs:,} documents in {args.files} files, {text_bytes / args.docs / 1000:.1f} KB average text")
    runs = WORK / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)

    one = run_curate(corpus, runs / "curate-1", workers=1)
    two = run_curate(corpus, runs / "curate-2", workers=2)
    print(f"curate, 1 process:  {one:7.1f} s  {args.docs / one:8.0f} docs/s")
    print(f"curate, 2 processes:{two:7.1f} s  {args.docs / two:8.0f} docs/s  (scaling x{one / two:.2f})")
    if args.skip_peer:
        return
    peer = run_datatrove(corpus, runs / "datatrove")
    print(f"datatrove, 1 process:{peer:6.1f} s  {args.docs / peer:8.0f} docs/s")
    print(f"ratio curate/datatrove per core: x{peer / one:.1f}")
    ours, theirs = _kept_ids_curate(runs / "curate-1"), _kept_ids_datatrove(runs / "datatrove")
    disagree = len(ours ^ theirs)
    print(
        f"decisions agree on {100 * (1 - disagree / args.docs):.2f}% of documents ({disagree} differ); "
        f"kept: curate {len(ours):,}, datatrove {len(theirs):,}"
    )


if __name__ == "__main__":
    main()
