"""Tokens per second of `curate tokenize` against a plain loop over a fast tokenizer and against
datatrove 0.10.1's DocumentTokenizer, on the same documents and tokenizer, in one run.

The documents are the shared Common Crawl head (`../shared/data/web/cc_en_head/*.jsonl.gz`) and
the project's `sample_data/web`, repeated to --megabytes of text over --files JSONL files. The
tokenizer is init-model's byte-level BPE trained here (8,000 tokens; no download).

- curate: `tokenize_corpus` end to end (read, encode, data/ Parquet, tokens/ shards, manifest).
- loop: `tokenizer(batch)["input_ids"]` of transformers' fast tokenizer over batches of 1,000
  texts already in memory, in one process (encoding only: no reading or writing).
- datatrove: JsonlReader -> DocumentTokenizer (no shuffle) on LocalPipelineExecutor, one task
  per file, the same worker count (read, encode, its .ds shards).

    python bench/tokenize_vs_peers.py --workers 2
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "web" / "cc_en_head"


def texts_of_inputs() -> list[str]:
    texts = []
    for path in sorted(SHARED.glob("*.jsonl.gz")) + sorted((REPO / "sample_data" / "web").iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("text"), str) and record["text"]:
                    texts.append(record["text"])
    return texts


def write_corpus(folder: Path, megabytes: float, files: int) -> list[str]:
    base = texts_of_inputs()
    texts, size = [], 0
    while size < megabytes * 1e6:
        for text in base:
            texts.append(text)
            size += len(text.encode())
    folder.mkdir(parents=True)
    for number in range(files):
        with open(folder / f"part-{number:03d}.jsonl", "w", encoding="utf-8") as handle:
            for position in range(number, len(texts), files):
                handle.write(json.dumps({"id": str(position), "text": texts[position]}, ensure_ascii=False) + "\n")
    return texts


def run_curate(corpus: Path, tokenizer: Path, out: Path, workers: int) -> tuple[float, int]:
    from curate.corpus.tokenize.command import TokenizeSettings, tokenize_corpus

    started = time.perf_counter()
    result = tokenize_corpus(
        [str(corpus)],
        out,
        TokenizeSettings(tokenizer=tokenizer),
        options={"inputs": [str(corpus)], "workers": workers},
        command_line="bench",
        workers=workers,
        progress=False,
    )
    return time.perf_counter() - started, result.manifest["tokens"]["tokens_written"]


def run_loop(texts: list[str], tokenizer: Path) -> tuple[float, int]:
    from transformers import AutoTokenizer

    fast = AutoTokenizer.from_pretrained(tokenizer)
    started, tokens = time.perf_counter(), 0
    for first in range(0, len(texts), 1000):
        ids = fast(texts[first : first + 1000], add_special_tokens=False)["input_ids"]
        tokens += sum(len(row) + 1 for row in ids)  # + the EOS the others write
    return time.perf_counter() - started, tokens


def run_datatrove(corpus: Path, tokenizer: Path, out: Path, workers: int, files: int) -> tuple[float, int]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer

    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(corpus)),
            DocumentTokenizer(
                str(out / "tokens"),
                tokenizer_name_or_path=str(tokenizer / "tokenizer.json"),  # a local file: Tokenizer.from_file
                eos_token="<|im_end|>",
                shuffle_documents=False,
            ),
        ],
        tasks=files,
        workers=workers,
        logging_dir=str(out / "logs"),
        skip_completed=False,
    )
    started = time.perf_counter()
    executor.run()
    seconds = time.perf_counter() - started
    tokens = sum(path.stat().st_size for path in (out / "tokens").glob("*.ds")) // 2
    return seconds, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=20.0)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from importlib.metadata import version

    import tokenizers
    import transformers

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        texts = write_corpus(root / "corpus", args.megabytes, args.files)
        tokenizer = root / "tokenizer"
        subprocess.run(
            [sys.executable, "-m", "curate", "init-model", "-o", str(tokenizer), "--corpus", str(REPO / "sample_data")]
            + ["--size", "tiny"],
            check=True,
            capture_output=True,
        )
        print(
            f"{len(texts):,} documents, {sum(len(t.encode()) for t in texts) / 1e6:.1f} MB in {args.files} files; "
            f"{args.workers} worker(s); tokenizers {tokenizers.__version__}, transformers {transformers.__version__}, "
            f"datatrove {version('datatrove')}"
        )
        results = {
            "curate tokenize": run_curate(root / "corpus", tokenizer, root / "curate", args.workers),
            "loop tokenizer(batch)": run_loop(texts, tokenizer),
            "datatrove DocumentTokenizer": run_datatrove(
                root / "corpus", tokenizer, root / "datatrove", args.workers, args.files
            ),
        }
    ours_seconds = results["curate tokenize"][0]
    for name, (seconds, tokens) in results.items():
        print(
            f"{name:<30} {tokens:>12,} tokens {seconds:7.2f} s {tokens / seconds:>12,.0f} tokens/s  "
            f"{ours_seconds / seconds:.2f}x curate's speed"
        )
    if len({tokens for _, tokens in results.values()}) != 1:
        print("note: the token counts differ (see above)")


if __name__ == "__main__":
    main()
