"""Gopher's quality and repetition rules (Rae et al. 2021, appendix A), as datatrove 0.10 runs them.

Defaults are datatrove's `GopherQualityFilter` and `GopherRepetitionFilter`; rule names
are datatrove's reasons without the `gopher_` prefix. Per language (docs/filter-rules.md):
the stop-word rule uses a list of that language's commonest function words (English:
datatrove's eight; Korean, Chinese, Japanese: particles) and is off for languages without
a list; the 3-10 character mean word length holds for space-separated alphabetic
languages and is off for Korean, Chinese and Japanese, whose words are one or two
characters long.
"""

from __future__ import annotations

import re
from collections import Counter

import click

from curate.corpus import segment
from curate.corpus.filters.base import DEFAULT_LANGUAGE, WordFilter, count_duplicates, ratio
from curate.corpus.filters.ngrams import ngram_character_fractions
from curate.corpus.filters.spec import FilterSpec, language_settings

STOP_WORDS = {
    "en": ("the", "be", "to", "of", "and", "that", "have", "with"),
    # Kiwi splits particles and endings off; space-split eojeol keep them attached, so with
    # --ko-segmenter space this list rarely matches and the rule is off for Korean.
    "ko": ("이", "가", "은", "는", "을", "를", "의", "에", "고", "다"),
    "zh": ("的", "了", "是", "在", "我", "有", "和", "不"),
    "ja": ("の", "に", "は", "を", "た", "が", "で", "て"),
}
NO_WORD_LENGTH_RULE = frozenset({"ko", "zh", "ja"})


class GopherQuality(WordFilter):
    name = "gopher_quality"

    def __init__(
        self,
        min_doc_words: int | None = 50,
        max_doc_words: int | None = 100_000,
        min_avg_word_length: float | None = 3,
        max_avg_word_length: float | None = 10,
        max_symbol_word_ratio: float | None = 0.1,
        max_bullet_lines_ratio: float | None = 0.9,
        max_ellipsis_lines_ratio: float | None = 0.3,
        min_alpha_words_ratio: float | None = 0.8,
        min_stop_words: int | None = 2,
        language: str = DEFAULT_LANGUAGE,
        korean_segmenter: str = "space",
    ) -> None:
        super().__init__(language, korean_segmenter)
        self.min_doc_words = min_doc_words
        self.max_doc_words = max_doc_words
        self.min_avg_word_length = min_avg_word_length
        self.max_avg_word_length = max_avg_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        self.min_alpha_words_ratio = min_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self._flags: dict[str, tuple[bool, bool]] = {}

    def _word_flags(self, word: str) -> tuple[bool, bool]:
        """(is a symbol, has a letter), cached per distinct word."""
        flags = self._flags.get(word)
        if flags is None:
            if len(self._flags) > 1_000_000:
                self._flags.clear()
            flags = self._flags[word] = (segment.is_symbol(word), any(char.isalpha() for char in word))
        return flags

    def stats(self, text: str, lang: str) -> dict:
        words = self.words(text, lang)
        counts = Counter(words)
        content_words = content_chars = alpha_words = 0
        for word, count in counts.items():
            symbol, alpha = self._word_flags(word)
            if not symbol:
                content_words += count
                content_chars += len(word) * count
            if alpha:
                alpha_words += count
        lines = text.splitlines()
        stop_words = STOP_WORDS.get(lang)
        if lang == "ko" and self.korean_segmenter != "kiwi":
            stop_words = None  # particles stay glued to their eojeol
        return {
            "lang": lang,
            "words": len(words),
            "content_words": content_words,
            "mean_word_length": ratio(content_chars, content_words),
            "hash_ratio": ratio(text.count("#"), len(words)),
            "ellipsis_ratio": ratio(text.count("...") + text.count("…"), len(words)),
            "bullet_lines_ratio": ratio(sum(line.lstrip().startswith(("•", "-")) for line in lines), len(lines)),
            "ellipsis_lines_ratio": ratio(sum(line.rstrip().endswith(("...", "…")) for line in lines), len(lines)),
            "alpha_words_ratio": ratio(alpha_words, len(words)),
            "stop_words": None if stop_words is None else sum(word in counts for word in stop_words),
        }

    def decide(self, stats: dict) -> str | None:
        if self.min_doc_words and stats["content_words"] < self.min_doc_words:
            return "short_doc"
        if self.max_doc_words and stats["content_words"] > self.max_doc_words:
            return "long_doc"
        if stats["lang"] not in NO_WORD_LENGTH_RULE:
            if self.min_avg_word_length and stats["mean_word_length"] < self.min_avg_word_length:
                return "below_avg_threshold"
            if self.max_avg_word_length and stats["mean_word_length"] > self.max_avg_word_length:
                return "above_avg_threshold"
        if self.max_symbol_word_ratio and stats["hash_ratio"] > self.max_symbol_word_ratio:
            return "too_many_hashes"
        if self.max_symbol_word_ratio and stats["ellipsis_ratio"] > self.max_symbol_word_ratio:
            return "too_many_ellipsis"
        if self.max_bullet_lines_ratio and stats["bullet_lines_ratio"] > self.max_bullet_lines_ratio:
            return "too_many_bullets"
        if self.max_ellipsis_lines_ratio and stats["ellipsis_lines_ratio"] > self.max_ellipsis_lines_ratio:
            return "too_many_end_ellipsis"
        if self.min_alpha_words_ratio and stats["alpha_words_ratio"] < self.min_alpha_words_ratio:
            return "below_alpha_threshold"
        if self.min_stop_words and stats["stop_words"] is not None and stats["stop_words"] < self.min_stop_words:
            return "enough_stop_words"
        return None


_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")


class GopherRepetition(WordFilter):
    name = "gopher_repetition"

    def __init__(
        self,
        dup_line_frac: float | None = 0.3,
        dup_para_frac: float | None = 0.3,
        dup_line_char_frac: float | None = 0.2,
        dup_para_char_frac: float | None = 0.2,
        top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16)),
        dup_n_grams: tuple[tuple[int, float], ...] = (
            (5, 0.15),
            (6, 0.14),
            (7, 0.13),
            (8, 0.12),
            (9, 0.11),
            (10, 0.10),
        ),
        language: str = DEFAULT_LANGUAGE,
        korean_segmenter: str = "space",
    ) -> None:
        super().__init__(language, korean_segmenter)
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = tuple(top_n_grams)
        self.dup_n_grams = tuple(dup_n_grams)
        self._top_ns = [n for n, _ in self.top_n_grams]
        self._dup_ns = [n for n, _ in self.dup_n_grams]

    def stats(self, text: str, lang: str) -> dict:
        if not text:
            return {"empty": True}
        paragraphs = _PARAGRAPH_BREAK.split(text.strip())
        para_dups, para_chars = count_duplicates(paragraphs)
        lines = _LINE_BREAKS.split(text)
        line_dups, line_chars = count_duplicates(lines)
        top, dup = ngram_character_fractions(self.words(text, lang), len(text), self._top_ns, self._dup_ns)
        return {
            "empty": False,
            "dup_para_frac": para_dups / len(paragraphs),
            "dup_para_char_frac": para_chars / len(text),
            "dup_line_frac": line_dups / len(lines),
            "dup_line_char_frac": line_chars / len(text),
            "top_ngram_char_frac": top,
            "dup_ngram_char_frac": dup,
        }

    def decide(self, stats: dict) -> str | None:
        if stats["empty"]:
            return "empty"
        for rule in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"):
            limit = getattr(self, rule)
            if limit and stats[rule] > limit:
                return rule
        for n, limit in self.top_n_grams:
            if n in stats["top_ngram_char_frac"] and stats["top_ngram_char_frac"][n] > limit:
                return f"top_{n}_gram"
        for n, limit in self.dup_n_grams:
            if stats["dup_ngram_char_frac"].get(n, 0.0) > limit:
                return f"duplicated_{n}_n_grams"
        return None


def _ngram_limits(value: str | None) -> tuple[tuple[int, float], ...]:
    """`2:0.2,3:0.18` -> ((2, 0.2), (3, 0.18)); empty turns the rules off."""
    if not value:
        return ()
    limits = []
    for item in value.split(","):
        n, _, limit = item.partition(":")
        try:
            limits.append((int(n), float(limit)))
        except ValueError:
            raise click.BadParameter(f"{item!r} is not N:FRACTION (like 2:0.2)") from None
    return tuple(limits)


def _off(value: float | None) -> float | None:
    """A threshold of 0 switches its rule off, as in datatrove."""
    return value or None


def _fraction(name: str, default: float, text: str) -> object:
    return click.option(name, type=click.FloatRange(min=0), default=default, show_default=True, help=text)


QUALITY_SPEC = FilterSpec(
    name="gopher_quality",
    summary="Gopher quality rules: word count, mean word length, symbols, bullets, letters, stop words.",
    build=lambda params: GopherQuality(
        min_doc_words=_off(params["gopher_min_doc_words"]),
        max_doc_words=_off(params["gopher_max_doc_words"]),
        min_avg_word_length=_off(params["gopher_min_avg_word_length"]),
        max_avg_word_length=_off(params["gopher_max_avg_word_length"]),
        max_symbol_word_ratio=_off(params["gopher_max_symbol_word_ratio"]),
        max_bullet_lines_ratio=_off(params["gopher_max_bullet_lines_ratio"]),
        max_ellipsis_lines_ratio=_off(params["gopher_max_ellipsis_lines_ratio"]),
        min_alpha_words_ratio=_off(params["gopher_min_alpha_words_ratio"]),
        min_stop_words=_off(params["gopher_min_stop_words"]),
        **language_settings(params),
    ),
    options=[
        click.option(
            "--gopher-min-doc-words",
            type=click.IntRange(min=0),
            default=50,
            show_default=True,
            help="gopher_quality: fewest words (not counting punctuation); 0 turns a rule off.",
        ),
        click.option(
            "--gopher-max-doc-words",
            type=click.IntRange(min=0),
            default=100_000,
            show_default=True,
            help="gopher_quality: most words.",
        ),
        _fraction("--gopher-min-avg-word-length", 3, "gopher_quality: shortest mean word length (characters)."),
        _fraction("--gopher-max-avg-word-length", 10, "gopher_quality: longest mean word length."),
        _fraction("--gopher-max-symbol-word-ratio", 0.1, "gopher_quality: most '#' or '...' per word."),
        _fraction("--gopher-max-bullet-lines-ratio", 0.9, "gopher_quality: most lines starting with a bullet."),
        _fraction("--gopher-max-ellipsis-lines-ratio", 0.3, "gopher_quality: most lines ending with '...'."),
        _fraction("--gopher-min-alpha-words-ratio", 0.8, "gopher_quality: fewest words with a letter, as a share."),
        click.option(
            "--gopher-min-stop-words",
            type=click.IntRange(min=0),
            default=2,
            show_default=True,
            help="gopher_quality: fewest distinct stop words (the, be, to, of, and, that, have, with).",
        ),
    ],
)

REPETITION_SPEC = FilterSpec(
    name="gopher_repetition",
    summary="Gopher repetition rules: duplicate lines and paragraphs, top and duplicated n-grams.",
    build=lambda params: GopherRepetition(
        dup_line_frac=_off(params["gopher_dup_line_frac"]),
        dup_para_frac=_off(params["gopher_dup_para_frac"]),
        dup_line_char_frac=_off(params["gopher_dup_line_char_frac"]),
        dup_para_char_frac=_off(params["gopher_dup_para_char_frac"]),
        top_n_grams=_ngram_limits(params["gopher_top_ngrams"]),
        dup_n_grams=_ngram_limits(params["gopher_dup_ngrams"]),
        **language_settings(params),
    ),
    options=[
        _fraction("--gopher-dup-line-frac", 0.3, "gopher_repetition: most duplicate lines, as a share of lines."),
        _fraction("--gopher-dup-para-frac", 0.3, "gopher_repetition: most duplicate paragraphs."),
        _fraction("--gopher-dup-line-char-frac", 0.2, "gopher_repetition: most characters in duplicate lines."),
        _fraction("--gopher-dup-para-char-frac", 0.2, "gopher_repetition: most characters in duplicate paragraphs."),
        click.option(
            "--gopher-top-ngrams",
            default="2:0.2,3:0.18,4:0.16",
            show_default=True,
            metavar="N:FRAC,...",
            help="gopher_repetition: most characters covered by the commonest n-gram, per n.",
        ),
        click.option(
            "--gopher-dup-ngrams",
            default="5:0.15,6:0.14,7:0.13,8:0.12,9:0.11,10:0.1",
            show_default=True,
            metavar="N:FRAC,...",
            help="gopher_repetition: most characters in repeated n-grams, per n.",
        ),
    ],
)
