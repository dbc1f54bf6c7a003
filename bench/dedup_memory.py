"""Peak memory of `curate dedup` on 1 million synthetic documents.

    python bench/dedup_memory.py [--docs 1000000] [--files 16] [--workers 2]

Writes --docs documents of 40-120 words (cached in bench/_work/dedup_memory), a tenth of
them near copies of another document (2% of words changed), then runs the whole command
under /usr/bin/time -v and prints its peak resident set size (the largest process: the
main one, or a worker) and its time. The goal is under 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "dedup_memory"


def build(docs: int, files: int) -> Path:
    folder = WORK / f"corpus-{docs}-{files}"
    stamp = folder.with_suffix(".done")
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(0)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(50_000)]
    handles = [open(folder / f"part-{number:03d}.jsonl", "w", encoding="utf-8") for number in range(files)]
    recent: list[list[str]] = []
    for number in range(docs):
        if recent and rng.random() < 0.1:
            words = list(rng.choice(recent))
            for _ in range(max(1, len(words) // 50)):
                words[rng.randrange(len(words))] = rng.choice(vocabulary)
        else:
            words = rng.choices(vocabulary, k=rng.randint(40, 120))
            recent = (recent + [words])[-1000:]
        handles[number % files].write(json.dumps({"id": f"s{number}", "text": " ".join(words)}) + "\n")
    for handle in handles:
        handle.close()
    stamp.write_text("done")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    corpus = build(args.docs, args.files)
    size = sum(path.stat().st_size for path in corpus.glob("*.jsonl"))
    output = WORK / "out"
    shutil.rmtree(output, ignore_errors=True)
    curate = str(Path(sys.executable).with_name("curate"))
    command = [
        "/usr/bin/time",
        "-v",
        curate,
        "dedup",
        str(corpus),
        "-o",
        str(output),
        "--workers",
        str(args.workers),
        "--no-progress",
    ]
    finished = subprocess.run(command, check=True, capture_output=True, text=True)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", finished.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", finished.stderr).group(1)
    manifest = json.loads((output / "_manifest.json").read_text())
    report = json.loads((output / "report.json").read_text())
    result = report["stages"][1]["settings"]["result"]
    print(f"corpus: {args.docs:,} documents, {size / 1e6:.0f} MB, {args.files} files; --workers {args.workers}")
    print(finished.stdout.strip())
    print(
        f"peak RSS {peak_kb / 1024:,.0f} MiB ({peak_kb * 1024 / args.docs:,.0f} bytes per document); wall {wall}; "
        f"job {manifest['timings']['seconds']:.1f} s (hashing {result['seconds']['hashing']:.1f} s, "
        f"clustering {result['seconds']['clustering']:.1f} s)"
    )


if __name__ == "__main__":
    main()
