"""Gopher's quality and repetition rules (Rae et al. 2021, appendix A), as datatrove 0.10 runs them.

Defaults are datatrove's `GopherQualityFilter` and `GopherRepetitionFilter`; rule names
are datatrove's reasons without the `gopher_` prefix. Those defaults judge English and every
language without a row in the per-language table (filters/thresholds.py, docs/filter-rules.md):
the shipped table gives Korean, Chinese and Japanese their own stop words (particles), mean
word lengths and n-gram limits; in those languages the mean word length counts only the words
of their own script (NATIVE_SCRIPT), so quoted English words do not move it. The English stop words apply to English only, so a language
without a stop-word list skips that rule. Korean split on spaces (--ko-segmenter space) keeps
its particles glued to the eojeol, so the word-length and stop-word rules are off for it.
"""

from __future__ import annotations

import re
from collections import Counter

import click
import regex

from curate.corpus import segment
from curate.corpus.filters import thresholds
from curate.corpus.filters.base import DEFAULT_LANGUAGE, WordFilter, count_duplicates, ratio
from curate.corpus.filters.ngrams import ngram_character_fractions
from curate.corpus.filters.spec import FilterSpec, language_settings

ENGLISH_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
# In these languages the mean word length counts only the words of the language's own script:
# Korean prose quotes English words (Python, GitHub), whose length says nothing of the text
NATIVE_SCRIPT = {
    "ko": regex.compile(r"\p{Hangul}"),
    **dict.fromkeys(("zh", "yue", "wuu"), regex.compile(r"\p{Han}")),
    "ja": regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]"),
}
_WORD_RULES = ("min_avg_word_length", "max_avg_word_length", "stop_words")


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
        stop_words: tuple[str, ...] = ENGLISH_STOP_WORDS,
        language: str = DEFAULT_LANGUAGE,
        korean_segmenter: str = "space",
        thresholds: dict[str, dict[str, object]] | None = None,
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
        self.stop_words = tuple(stop_words)
        self._flags: dict[str, tuple[bool, bool]] = {}
        self.use_thresholds(thresholds)

    def adjust_limits(self, lang: str, found: dict[str, object]) -> None:
        if "stop_words" not in self.thresholds.get(lang, {}) and lang != "en":
            found["stop_words"] = None  # the English list would reject every other language
        if lang == "ko" and self.korean_segmenter != "kiwi":
            found.update(dict.fromkeys(_WORD_RULES))  # particles stay glued to their eojeol

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
        native = NATIVE_SCRIPT.get(lang)
        length_words = length_chars = 0
        for word, count in counts.items():
            symbol, alpha = self._word_flags(word)
            if not symbol:
                content_words += count
                content_chars += len(word) * count
                if native is not None and native.search(word):
                    length_words += count
                    length_chars += len(word) * count
            if alpha:
                alpha_words += count
        if native is None:
            length_words, length_chars = content_words, content_chars
        lines = text.splitlines()
        stop_words = self.limits(lang)["stop_words"]
        return {
            "lang": lang,
            "words": len(words),
            "content_words": content_words,
            "mean_word_length": ratio(length_chars, length_words),
            "hash_ratio": ratio(text.count("#"), len(words)),
            "ellipsis_ratio": ratio(text.count("...") + text.count("…"), len(words)),
            "bullet_lines_ratio": ratio(sum(line.lstrip().startswith(("•", "-")) for line in lines), len(lines)),
            "ellipsis_lines_ratio": ratio(sum(line.rstrip().endswith(("...", "…")) for line in lines), len(lines)),
            "alpha_words_ratio": ratio(alpha_words, len(words)),
            "stop_words": None if stop_words is None else sum(word in counts for word in stop_words),
        }

    def decide(self, stats: dict) -> str | None:
        limit = self.limits(stats["lang"])
        if limit["min_doc_words"] and stats["content_words"] < limit["min_doc_words"]:
            return "short_doc"
        if limit["max_doc_words"] and stats["content_words"] > limit["max_doc_words"]:
            return "long_doc"
        if limit["min_avg_word_length"] and stats["mean_word_length"] < limit["min_avg_word_length"]:
            return "below_avg_threshold"
        if limit["max_avg_word_length"] and stats["mean_word_length"] > limit["max_avg_word_length"]:
            return "above_avg_threshold"
        if limit["max_symbol_word_ratio"] and stats["hash_ratio"] > limit["max_symbol_word_ratio"]:
            return "too_many_hashes"
        if limit["max_symbol_word_ratio"] and stats["ellipsis_ratio"] > limit["max_symbol_word_ratio"]:
            return "too_many_ellipsis"
        if limit["max_bullet_lines_ratio"] and stats["bullet_lines_ratio"] > limit["max_bullet_lines_ratio"]:
            return "too_many_bullets"
        if limit["max_ellipsis_lines_ratio"] and stats["ellipsis_lines_ratio"] > limit["max_ellipsis_lines_ratio"]:
            return "too_many_end_ellipsis"
        if limit["min_alpha_words_ratio"] and stats["alpha_words_ratio"] < limit["min_alpha_words_ratio"]:
            return "below_alpha_threshold"
        if (
            limit["min_stop_words"]
            and stats["stop_words"] is not None
            and stats["stop_words"] < limit["min_stop_words"]
        ):
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
        thresholds: dict[str, dict[str, object]] | None = None,
    ) -> None:
        super().__init__(language, korean_segmenter)
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = tuple(top_n_grams)
        self.dup_n_grams = tuple(dup_n_grams)
        self.use_thresholds(thresholds)

    def adjust_limits(self, lang: str, found: dict[str, object]) -> None:
        row = self.thresholds.get(lang, {})
        for key in ("top_n_grams", "dup_n_grams"):
            if key in row:  # a language's sizes over the step's own, one size at a time
                found[key] = thresholds.merge_ngrams(getattr(self, key), row[key])

    def _ngram_sizes(self, lang: str) -> tuple[list[int], list[int]]:
        limit = self.limits(lang)
        return [n for n, _ in limit["top_n_grams"] or ()], [n for n, _ in limit["dup_n_grams"] or ()]

    def stats(self, text: str, lang: str) -> dict:
        if not text:
            return {"lang": lang, "empty": True}
        paragraphs = _PARAGRAPH_BREAK.split(text.strip())
        para_dups, para_chars = count_duplicates(paragraphs)
        lines = _LINE_BREAKS.split(text)
        line_dups, line_chars = count_duplicates(lines)
        top, dup = ngram_character_fractions(self.words(text, lang), len(text), *self._ngram_sizes(lang))
        return {
            "lang": lang,
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
        limits = self.limits(stats["lang"])
        for rule in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"):
            limit = limits[rule]
            if limit and stats[rule] > limit:
                return rule
        for n, limit in limits["top_n_grams"] or ():
            if n in stats["top_ngram_char_frac"] and stats["top_ngram_char_frac"][n] > limit:
                return f"top_{n}_gram"
        for n, limit in limits["dup_n_grams"] or ():
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
        thresholds=thresholds.from_params(params, "gopher_quality"),
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
            help="gopher_quality: fewest distinct stop words (English: the, be, to, of, and, that, have, with).",
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
        thresholds=thresholds.from_params(params, "gopher_repetition"),
    ),
    options=[
        # shared by the four heuristic steps; declared once, with the first of them
        thresholds.THRESHOLDS_OPTION,
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
