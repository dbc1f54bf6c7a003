"""Fit the per-language thresholds table (curate/corpus/filters/thresholds.yaml) on reference text.

FineWeb-2's method: per language, set each heuristic threshold where it keeps a fixed high
share of text known to be good. Here a rule keeps --keep (0.97) of the reference documents:
a one-sided limit sits at the (1 - keep) or keep quantile of the statistic, a two-sided one
(mean word length) splits the rest between its ends. Rules whose English value still means
something in the language (repetition, letters, stop-word count, words per line) are only
ever loosened, never made stricter than English, because clean reference prose repeats less
than the web does. Statistics are the steps' own (`stats`), with Kiwi for Korean words.

    python bench/fit_thresholds.py --konlpy-wheel /tmp/konlpy/konlpy-0.6.0-py2.py3-none-any.whl \
        --korean ../shared/data/korean --chinese ../shared/data/preferences/sharegpt_dpo_demo.zh.json \
        [--keep 0.97] [--write curate/corpus/filters/thresholds.yaml]

Japanese has no reference text here: its row is not fitted (see docs/filter-rules.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import regex

from curate.corpus.filters.c4 import C4Quality
from curate.corpus.filters.gopher import GopherQuality, GopherRepetition
from curate.corpus.segment import CJK_LANGUAGES

ENGLISH_QUALITY = GopherQuality(thresholds={})
ENGLISH_REPETITION = GopherRepetition(thresholds={})
STOP_WORDS = {
    # Kiwi separates particles and endings, so these are words of their own (Korean: the commonest
    # particles; Chinese and Japanese: the commonest single-character function words)
    "ko": ["이", "가", "은", "는", "을", "를", "의", "에", "고", "다"],
    "zh": ["的", "了", "是", "在", "我", "有", "和", "不"],
    "ja": ["の", "に", "は", "を", "た", "が", "で", "て"],
}
_HAN = regex.compile(r"\p{Han}")
_LETTER = regex.compile(r"\p{L}")


def chunks(text: str, size: int = 1500) -> list[str]:
    """Paragraph-aligned pieces of about `size` characters: one long law text is many documents."""
    pieces, current = [], ""
    for paragraph in re.split(r"\n\s*\n", text):
        current = f"{current}\n\n{paragraph}" if current else paragraph
        if len(current) >= size:
            pieces.append(current.strip())
            current = ""
    if len(current) >= size // 3:
        pieces.append(current.strip())
    return pieces


def konlpy_documents(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(name for name in archive.namelist() if re.search(r"data/corpus/(kobill|kolaw)/.+\.txt$", name))
        texts = [archive.read(name).decode("utf-8") for name in names]
    return [piece for text in texts for piece in chunks(text)]


def grouped(lines: list[str], size: int = 20) -> list[str]:
    """Short texts (comments, dialogue turns, sentences) joined into documents of `size` lines."""
    lines = [line.strip() for line in lines if line.strip()]
    return ["\n".join(lines[start : start + size]) for start in range(0, len(lines) - size + 1, size)]


def korean_short_documents(folder: Path) -> list[str]:
    comments = (folder / "news_comments.ko.txt").read_text(encoding="utf-8").splitlines()
    with open(folder / "chatbot_qa.ko.csv", encoding="utf-8") as handle:
        dialogue = [f"{row['Q']} {row['A']}" for row in csv.DictReader(handle)]
    with open(folder / "xnli.dev.ko.tsv", encoding="utf-8") as handle:
        sentences = sorted({row["sentence1"] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)})
    return grouped(comments) + grouped(dialogue) + grouped(sentences)


def chinese_documents(path: Path) -> list[str]:
    records = json.loads(path.read_text(encoding="utf-8"))
    texts = [record["chosen"]["value"] for record in records]
    texts += [turn["value"] for record in records for turn in record["conversations"]]
    # prose, not code or English: at least 200 characters, most letters Han
    return [
        text
        for text in dict.fromkeys(texts)
        if len(text) >= 200 and len(_HAN.findall(text)) >= 0.6 * max(1, len(_LETTER.findall(text)))
    ]


def quantile(values: list[float], share: float) -> float:
    return float(np.quantile(np.asarray(values, dtype=float), share))


def kept(values: list[float], low: float | None = None, high: float | None = None) -> float:
    array = np.asarray(values, dtype=float)
    ok = np.ones(len(array), dtype=bool)
    if low is not None:
        ok &= array >= low
    if high is not None:
        ok &= array <= high
    return float(ok.mean()) if len(array) else float("nan")


def fit_language(lang: str, documents: list[str], word_documents: list[str], keep: float) -> tuple[dict, list[str]]:
    """The language's row and a line per rule: the fitted value and the share of reference text each keeps."""
    quality = GopherQuality(korean_segmenter="kiwi", thresholds={lang: {"stop_words": tuple(STOP_WORDS[lang])}})
    repetition = GopherRepetition(korean_segmenter="kiwi", thresholds={})
    lines: list[str] = []
    every = documents + word_documents
    word_stats = [quality.stats(text, lang) for text in every]
    word_stats = [stats for stats in word_stats if stats["content_words"] >= 50]  # as the short_doc rule would
    lengths = [stats["mean_word_length"] for stats in word_stats]
    tail = (1 - keep) / 2
    low, high = round(quantile(lengths, tail) - 0.005, 2), round(quantile(lengths, 1 - tail) + 0.005, 2)
    if max(lengths) - min(lengths) < 0.01:
        # Chinese: every Han character is a word of its own, so its script's mean word length is
        # always 1 and the rule can tell nothing apart: off
        low = high = None
    alpha = min(
        ENGLISH_QUALITY.min_alpha_words_ratio,
        round(quantile([s["alpha_words_ratio"] for s in word_stats], 1 - keep), 2),
    )
    stop_counts = [stats["stop_words"] for stats in word_stats]
    min_stop = min(ENGLISH_QUALITY.min_stop_words, int(quantile(stop_counts, 1 - keep)))
    lines.append(
        f"  gopher_quality.avg_word_length ({lang} script words) [{low}, {high}]: keeps {kept(lengths, low, high):.1%} "
        f"(English [3, 10]: {kept(lengths, 3, 10):.1%}) of {len(lengths)} documents"
    )
    alphas = [s["alpha_words_ratio"] for s in word_stats]
    lines.append(
        f"  gopher_quality.min_alpha_words_ratio {alpha}: keeps {kept(alphas, alpha):.1%} (English 0.8: {kept(alphas, 0.8):.1%})"
    )
    lines.append(
        f"  gopher_quality.min_stop_words {min_stop} of {STOP_WORDS[lang]}: keeps {kept(stop_counts, min_stop):.1%}"
    )
    row: dict = {
        "gopher_quality": {
            "min_avg_word_length": low,
            "max_avg_word_length": high,
            "min_alpha_words_ratio": alpha,
            "min_stop_words": min_stop,
            "stop_words": STOP_WORDS[lang],
        }
    }
    # repetition: long-form documents only (grouped short texts are not documents)
    rep_stats = [repetition.stats(text, lang) for text in documents]
    top, dup = {}, {}
    for n, english in ENGLISH_REPETITION.top_n_grams:
        values = [stats["top_ngram_char_frac"].get(n, 0.0) for stats in rep_stats]
        top[n] = max(english, round(quantile(values, keep) + 0.005, 2))
        lines.append(
            f"  gopher_repetition.top_{n}_gram {top[n]}: keeps {kept(values, high=top[n]):.1%} "
            f"(English {english}: {kept(values, high=english):.1%}) of {len(values)} documents"
        )
    for n, english in ENGLISH_REPETITION.dup_n_grams:
        values = [stats["dup_ngram_char_frac"].get(n, 0.0) for stats in rep_stats]
        dup[n] = max(english, round(quantile(values, keep) + 0.005, 2))
        lines.append(
            f"  gopher_repetition.duplicated_{n}_n_grams {dup[n]}: keeps {kept(values, high=dup[n]):.1%} "
            f"(English {english}: {kept(values, high=english):.1%})"
        )
    row["gopher_repetition"] = {"top_n_grams": top, "dup_n_grams": dup}
    # c4 counts whitespace words per line, which means nothing without spaces (a line of Chinese is one
    # "word"); Korean keeps English's 3, since the short lines of its reference are bill form headers
    if lang not in CJK_LANGUAGES:
        return row, lines
    per_line = [len(line.split()) for text in documents for line in text.splitlines() if line.strip()]
    english_min = C4Quality().min_words_per_line
    min_words = min(english_min, int(quantile(per_line, 1 - keep)))
    lines.append(
        f"  c4.min_words_per_line {min_words}: keeps {kept(per_line, min_words):.1%} of lines "
        f"(English {english_min}: {kept(per_line, english_min):.1%}) of {len(per_line)} lines"
    )
    if min_words != english_min:
        row["c4"] = {"min_words_per_line": min_words}
    return row, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--konlpy-wheel", type=Path, required=True, help="konlpy-*.whl (pip download konlpy --no-deps)")
    parser.add_argument("--korean", type=Path, required=True, help="../shared/data/korean")
    parser.add_argument("--chinese", type=Path, help="../shared/data/preferences/sharegpt_dpo_demo.zh.json")
    parser.add_argument("--keep", type=float, default=0.97, help="share of reference text every rule keeps")
    parser.add_argument("--write", type=Path, help="write the table here (else print it)")
    args = parser.parse_args()

    table: dict = {}
    ko_long = konlpy_documents(args.konlpy_wheel)
    ko_short = korean_short_documents(args.korean)
    print(f"ko: {len(ko_long)} long-form pieces (konlpy kobill + kolaw), {len(ko_short)} grouped short texts")
    table["ko"], lines = fit_language("ko", ko_long, ko_short, args.keep)
    print("\n".join(lines))
    if args.chinese:
        zh = chinese_documents(args.chinese)
        print(f"zh: {len(zh)} documents")
        table["zh"], lines = fit_language("zh", zh, [], args.keep)
        print("\n".join(lines))
    table["ja"] = JAPANESE_UNFITTED
    text = render(table, args.keep)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write}")
    else:
        print(text)


# No Japanese reference text offline: the rules curate ran before the table (word length off,
# particles as stop words, English limits elsewhere), marked as unfitted in the file.
JAPANESE_UNFITTED = {
    "gopher_quality": {"min_avg_word_length": None, "max_avg_word_length": None, "stop_words": STOP_WORDS["ja"]},
    "c4": {"min_words_per_line": 1},
}


def render(table: dict, keep: float) -> str:
    import yaml

    header = (
        "# Per-language thresholds of the heuristic filter steps, over the English (datatrove) defaults.\n"
        f"# Written by bench/fit_thresholds.py: each fitted limit keeps {keep:.0%} of reference text\n"
        "# (ko: konlpy's kobill + kolaw, ../shared/data/korean; zh: sharegpt_dpo_demo.zh.json).\n"
        "# ja: NOT FITTED (no Japanese reference text offline): conservative values, word-length rule off.\n"
        "# null turns a rule off for the language. See docs/filter-rules.md.\n"
    )
    return header + yaml.safe_dump(table, allow_unicode=True, sort_keys=True, default_flow_style=None, width=110)


if __name__ == "__main__":
    main()
