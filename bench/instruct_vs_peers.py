"""Time curate's template rendering, assistant masks and format conversion against peers.

On the 5,000 real Alpaca records of ../shared/data/instructions/alpaca_5000.json:

1. text: curate `ChatTemplate.render` against transformers' `apply_chat_template(tokenize=False)`
   (same template, same conversations; the outputs are checked equal).
2. masks: curate `assistant_spans` + a fast tokenizer's offsets -> token mask, for a template
   WITHOUT generation tags (qwen2_5.jinja), against transformers'
   `apply_chat_template(return_assistant_tokens_mask=True)`, which needs the tagged
   qwen2_5_training.jinja to do it at all.
3. convert: curate's `convert_dataset(--to messages, workers=1)` (read, validate, convert, check
   the read-back, write Parquet, manifest, report, dataset card and trainer files) against
   `datasets`: load_dataset("json") + map to messages + to_parquet, both in this process; the
   CLI command's wall time is printed beside. Once on the records as they are and once on
   `--scale` times as many (the same records repeated), where fixed costs weigh less.

Run: .venv/bin/python bench/instruct_vs_peers.py [--rows N] [--scale K]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
SHARED = REPO.parent / "shared" / "data"


def alpaca_messages(records: list[dict]) -> list[list[dict]]:
    conversations = []
    for record in records:
        user = record["instruction"] + (f"\n\n{record['input']}" if record["input"] else "")
        conversations.append([{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}])
    return conversations


def best_of(function, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def bench_text_and_masks(conversations: list[list[dict]]) -> None:
    from tiny_tokenizer import markers_in, train_tokenizer

    from curate.instruct.spans import assistant_spans, token_mask
    from curate.instruct.templates import ChatTemplate

    plain = (SHARED / "chat_templates" / "qwen2_5.jinja").read_text()
    tagged = (SHARED / "chat_templates" / "qwen2_5_training.jinja").read_text()
    tokenizer = train_tokenizer(markers_in([plain]))
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    template = ChatTemplate(plain, "qwen2_5", special)
    n = len(conversations)

    ours = [template.render(conversation) for conversation in conversations]
    theirs = [tokenizer.apply_chat_template(c, tokenize=False, chat_template=plain) for c in conversations]
    assert ours == theirs, "renderings differ"
    ours_s = best_of(lambda: [template.render(c) for c in conversations])
    theirs_s = best_of(
        lambda: [tokenizer.apply_chat_template(c, tokenize=False, chat_template=plain) for c in conversations]
    )
    print(f"text   curate render            {n / ours_s:>9,.0f} conv/s")
    print(f"text   transformers apply_chat  {n / theirs_s:>9,.0f} conv/s   curate x{theirs_s / ours_s:.2f}")

    def curate_masks():
        # as curate's trainer does: render every conversation, tokenize them in one batch
        rendered = [assistant_spans(template, conversation) for conversation in conversations]
        encodings = tokenizer([r.text for r in rendered], add_special_tokens=False, return_offsets_mapping=True)
        return [token_mask(offsets, r.spans, r.text)[0] for offsets, r in zip(encodings["offset_mapping"], rendered)]

    def transformers_masks():
        return [
            tokenizer.apply_chat_template(c, chat_template=tagged, return_dict=True, return_assistant_tokens_mask=True)[
                "assistant_masks"
            ]
            for c in conversations
        ]

    ours_masks, their_masks = curate_masks(), transformers_masks()
    same = sum(a == b for a, b in zip(ours_masks, their_masks))
    ours_s, theirs_s = best_of(curate_masks, 2), best_of(transformers_masks, 2)
    print(f"masks  curate spans, no tags     {n / ours_s:>9,.0f} conv/s")
    print(f"masks  transformers, tagged tpl  {n / theirs_s:>9,.0f} conv/s   curate x{theirs_s / ours_s:.2f}")
    print(
        f"       token masks identical on {same:,} of {n:,} conversations "
        "(qwen2_5_training's tag also covers the '\\n' of the assistant header; see docs/templates.md)"
    )


def bench_convert(records: list[dict], label: str = "") -> None:
    import datasets

    work = Path(tempfile.mkdtemp(prefix="curate-bench-"))
    try:
        source = work / "alpaca.jsonl"
        source.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
        from curate.instruct.command import convert_dataset
        from curate.io.readers import ReaderOptions
        from curate.io.writer import WriterOptions

        def run_curate():
            shutil.rmtree(work / "out", ignore_errors=True)
            convert_dataset(
                [str(source)],
                work / "out",
                "messages",
                None,
                options={},
                command_line="bench",
                reader=ReaderOptions(),
                writer=WriterOptions(),
                workers=1,
                progress=False,
            )

        command = [
            str(REPO / ".venv" / "bin" / "curate"),
            "convert",
            str(source),
            "-o",
            str(work / "cli"),
            "--to",
            "messages",
            "--workers",
            "1",
            "--no-progress",
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        command_s = time.perf_counter() - started

        def run_datasets():
            shutil.rmtree(work / "hf", ignore_errors=True)
            loaded = datasets.load_dataset("json", data_files=str(source), split="train", cache_dir=str(work / "cache"))

            def to_messages(row):
                user = row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")
                return {
                    "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]
                }

            loaded.map(to_messages, load_from_cache_file=False).to_parquet(str(work / "hf.parquet"))
            shutil.rmtree(work / "cache", ignore_errors=True)

        datasets.disable_progress_bars()
        ours_s, theirs_s = best_of(run_curate), best_of(run_datasets)
        n = len(records)
        print(
            f"convert{label} curate convert_dataset   {n / ours_s:>9,.0f} rows/s ({ours_s:.3f} s: read, convert, "
            "Parquet, manifest, report, dataset card)"
        )
        print(
            f"convert{label} datasets load+map+parquet {n / theirs_s:>8,.0f} rows/s ({theirs_s:.3f} s)   "
            f"curate x{theirs_s / ours_s:.2f}"
        )
        print(
            f"convert `curate convert` as a command: {command_s:.2f} s, of which Python start and imports are the rest"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--scale", type=int, default=10, help="Also convert the records repeated this many times.")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent: the benchmark needs the shared data beside the checkout")
    records = json.loads((SHARED / "instructions" / "alpaca_5000.json").read_text())[: args.rows]
    bench_text_and_masks(alpaca_messages(records))
    bench_convert(records)
    if args.scale > 1:
        bench_convert(records * args.scale, f" x{args.scale}")


if __name__ == "__main__":
    main()
