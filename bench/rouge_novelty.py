"""Time the self-instruct ROUGE-L novelty check: curate's RougeLIndex against rouge-score.

Self-instruct and Alpaca drop a generated instruction when its ROUGE-L F1 against any
instruction in the pool exceeds 0.7; Alpaca's generate_instruction.py scores every pool item
with rouge-score (`rouge_scorer._score_lcs` over pre-tokenised lists, in a process pool).
Here both sides run on one core:

- curate: `RougeLIndex.best_match(candidate)` over a pool of N texts, for every candidate.
- peer, Alpaca's way (generate_instruction.py): the pool tokenised once with the
  RougeScorer's tokenizer, then `rouge_scorer._score_lcs(candidate_tokens, item_tokens)` for
  every pool item, for a few candidates (it is slow), timed per candidate.
- peer, self-instruct's way (bootstrap_instructions.py): `RougeScorer(["rougeL"],
  use_stemmer=False).score(candidate, item)` for every pool item, tokenising both each time.
Both peers run one process here; their scripts spread the pool over a process pool, which
divides the wall time by the cores at best.

The pool: real English sentences of 4 to 150 words, exact duplicates dropped:
1. ../shared/data/instructions/alpaca_5000.json instructions, inputs and outputs, split into
   sentences, and instructions/dolly_hhrlhf_small.jsonl prompts (the instruction inside the
   template) and responses, split into sentences. That gives about 27,400 texts.
2. Topped up to the largest pool size with the sentences of the conversation turns of
   preferences/hh_rlhf_harmless_base_test.jsonl.gz (real human requests and assistant
   replies), in file order. `--no-top-up` keeps source 1 only.
The texts are shuffled with a fixed seed; pool size N takes the first N. Candidates: held-out
Alpaca instructions (not in any pool), the realistic and harder case of a mostly novel
instruction, plus a few exact and near duplicates (a word dropped) of pool items.

Scores are checked equal (same float) to rouge-score's maximum for every peer candidate.

Run: .venv/bin/python bench/rouge_novelty.py [--sizes 5000 20000 50000] [--candidates 500]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"

SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
DOLLY_INSTRUCTION = re.compile(r"### Instruction:\n(.*?)\n\n### Response:", re.S)
TURN = re.compile(r"\n\n(?:Human|Assistant): ")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_BREAK.split(text) if 4 <= len(s.split()) <= 150]


def load_texts(top_up_to: int, candidates: int, seed: int) -> tuple[list[str], list[str], dict[str, int]]:
    """(pool texts in shuffled order, held-out candidate instructions, texts per source)."""
    alpaca = json.loads((SHARED / "instructions" / "alpaca_5000.json").read_text())
    instructions = [record["instruction"].strip() for record in alpaca]
    held_out = set(
        random.Random(seed).sample(sorted(set(i for i in instructions if 4 <= len(i.split()) <= 150)), candidates)
    )

    texts: dict[str, None] = {}  # insertion-ordered set
    counts: dict[str, int] = {}

    def take(source: str, pieces: list[str], limit: int | None = None) -> None:
        before = len(texts)
        for piece in pieces:
            if limit is not None and len(texts) >= limit:
                break
            if piece not in held_out:
                texts.setdefault(piece)
        counts[source] = len(texts) - before

    take(
        "alpaca_5000", [s for r in alpaca for field in ("instruction", "input", "output") for s in sentences(r[field])]
    )
    dolly = []
    for line in (SHARED / "instructions" / "dolly_hhrlhf_small.jsonl").open():
        record = json.loads(line)
        match = DOLLY_INSTRUCTION.search(record["prompt"])
        dolly += sentences(match.group(1) if match else record["prompt"]) + sentences(record["response"])
    take("dolly_hhrlhf_small", dolly)
    if top_up_to > len(texts):
        turns = []
        with gzip.open(SHARED / "preferences" / "hh_rlhf_harmless_base_test.jsonl.gz", "rt") as lines:
            for line in lines:
                record = json.loads(line)
                for turn in TURN.split(record["chosen"]):
                    turns += sentences(turn)
                turns += sentences(TURN.split(record["rejected"])[-1])  # the reply that differs
        take("hh_rlhf_harmless (top-up)", turns, limit=top_up_to)
    pool = list(texts)
    random.Random(seed).shuffle(pool)
    return pool, sorted(held_out), counts


def near_duplicates(pool: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    out = []
    for text in rng.sample(pool, count):
        words = text.split()
        if len(words) > 4:
            del words[rng.randrange(len(words))]
        out.append(" ".join(words))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000, 50_000])
    parser.add_argument("--candidates", type=int, default=500, help="held-out instructions to time")
    parser.add_argument("--duplicates", type=int, default=25, help="exact + near duplicates added to the candidates")
    parser.add_argument("--peer-candidates", type=int, default=5, help="candidates the peer scores against the pool")
    parser.add_argument("--no-top-up", action="store_true", help="Alpaca + Dolly sentences only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"needs the real data in {SHARED}")
    from rouge_score import rouge_scorer

    from curate.instruct.self_instruct.similarity import RougeLIndex, english_tokens

    largest = max(args.sizes)
    pool_all, held_out, counts = load_texts(0 if args.no_top_up else largest, args.candidates, args.seed)
    print(f"pool texts: {len(pool_all):,} ({', '.join(f'{k} {v:,}' for k, v in counts.items())})")
    if len(pool_all) < largest:
        print(f"only {len(pool_all):,} distinct texts: the largest pool is that size, not {largest:,}")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)

    print(
        f"\n{'pool':>7} {'cands':>6} {'mean ms':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'build s':>8}"
        f" {'>0.7':>5} | {'alpaca ms':>9} {'ratio':>7} | {'self-instr ms':>13} {'ratio':>7}"
    )
    for size in args.sizes:
        pool = pool_all[:size]
        size = len(pool)
        candidates = (
            held_out
            + pool[: args.duplicates // 2]
            + near_duplicates(pool, args.duplicates - args.duplicates // 2, args.seed)
        )
        started = time.perf_counter()
        index = RougeLIndex()
        for text in pool:
            index.add(text)
        build_s = time.perf_counter() - started

        times, results = [], []
        for candidate in candidates:
            started = time.perf_counter()
            results.append(index.best_match(candidate))
            times.append((time.perf_counter() - started) * 1000)

        # The peer on a few candidates, spread over the held-out list; the scores must match.
        step = max(1, len(held_out) // args.peer_candidates)
        peer_ids = list(range(0, len(held_out), step))[: args.peer_candidates]
        peer_ms, pretok_ms = [], []
        pool_tokens = [english_tokens(text) for text in pool]
        for i in peer_ids:
            candidate = candidates[i]
            started = time.perf_counter()
            scores = [scorer.score(candidate, text)["rougeL"].fmeasure for text in pool]
            peer_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            candidate_tokens = english_tokens(candidate)
            pretok = [rouge_scorer._score_lcs(candidate_tokens, tokens).fmeasure for tokens in pool_tokens]
            pretok_ms.append((time.perf_counter() - started) * 1000)
            score, item = results[i]
            assert score == max(scores) == max(pretok), (candidate, score, max(scores))
            assert item is None or scores[item] == score
        mean = statistics.fmean(times)
        alpaca_peer, self_instruct_peer = statistics.fmean(pretok_ms), statistics.fmean(peer_ms)
        above = sum(score > 0.7 for score, _ in results)
        print(
            f"{size:>7,} {len(candidates):>6} {mean:>8.3f} {percentile(times, 0.5):>7.3f} {percentile(times, 0.99):>7.3f}"
            f" {max(times):>7.2f} {build_s:>8.2f} {above:>5} | {alpaca_peer:>9,.0f} {'x' + format(alpaca_peer / mean, ',.0f'):>7}"
            f" | {self_instruct_peer:>13,.0f} {'x' + format(self_instruct_peer / mean, ',.0f'):>7}"
        )
    print(
        f"\nms: curate RougeLIndex.best_match per candidate, one core (build s: adding the pool); >0.7: candidates a"
        f" self-instruct filter drops.\nalpaca / self-instr ms: rouge-score over the whole pool per candidate, mean of"
        f" {args.peer_candidates} candidates, one core; ratio: peer ms / curate mean ms.\n"
        "Best scores equal (same float) to rouge-score's maximum on every peer candidate."
    )


if __name__ == "__main__":
    main()
