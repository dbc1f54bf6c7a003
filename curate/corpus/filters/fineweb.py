"""FineWeb's own quality rules (Penedo et al. 2024), as datatrove 0.10's FineWebQualityFilter.

Its thresholds can differ per language through the table in filters/thresholds.py.
"""

from __future__ import annotations

import click

from curate.corpus import segment
from curate.corpus.filters import thresholds
from curate.corpus.filters.base import DEFAULT_LANGUAGE, WordFilter, count_duplicates, ratio
from curate.corpus.filters.spec import FilterSpec, language_settings


class FineWebQuality(WordFilter):
    name = "fineweb"

    def __init__(
        self,
        line_punct_thr: float = 0.12,
        line_punct_exclude_zero: bool = False,
        short_line_thr: float = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float = 0.01,
        new_line_ratio: float = 0.3,
        language: str = DEFAULT_LANGUAGE,
        korean_segmenter: str = "space",
        thresholds: dict[str, dict[str, object]] | None = None,
    ) -> None:
        super().__init__(language, korean_segmenter)
        self.line_punct_thr = line_punct_thr
        self.line_punct_exclude_zero = line_punct_exclude_zero
        self.short_line_thr = short_line_thr
        self.short_line_length = short_line_length
        self.char_duplicates_ratio = char_duplicates_ratio
        self.new_line_ratio = new_line_ratio
        self.use_thresholds(thresholds)

    def stats(self, text: str, lang: str) -> dict:
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return {"lang": lang, "empty": True}
        words = self.words(text, lang)
        dup_chars = count_duplicates(lines)[1]
        newlines = text.count("\n")
        short_line_length = self.limits(lang)["short_line_length"] or 0
        return {
            "lang": lang,
            "empty": False,
            "line_punct_ratio": sum(segment.is_terminal(line[-1]) for line in lines) / len(lines),
            "short_line_ratio": sum(len(line) <= short_line_length for line in lines) / len(lines),
            "char_dup_ratio": ratio(dup_chars, len(text) - newlines),
            "list_ratio": newlines / len(words) if words else float("inf"),
        }

    def decide(self, stats: dict) -> str | None:
        if stats["empty"]:
            return "empty"
        limit = self.limits(stats["lang"])
        ratio = stats["line_punct_ratio"]
        if (
            limit["line_punct_thr"]
            and ratio < limit["line_punct_thr"]
            and not (ratio == 0 and self.line_punct_exclude_zero)
        ):
            return "line_punct_ratio"
        if _over(stats["short_line_ratio"], limit["short_line_thr"]):
            return "short_line_ratio"
        if _over(stats["char_dup_ratio"], limit["char_duplicates_ratio"]):
            return "char_dup_ratio"
        if _over(stats["list_ratio"], limit["new_line_ratio"]):
            return "list_ratio"
        return None


def _over(value: float, limit: object) -> bool:
    """value > limit; a null limit (a table row turning the rule off) passes everything."""
    return limit is not None and value > limit


SPEC = FilterSpec(
    name="fineweb",
    summary="FineWeb rules: lines ending in punctuation, short lines, duplicated line characters, list-like pages.",
    build=lambda params: FineWebQuality(
        line_punct_thr=params["fineweb_line_punct_thr"],
        line_punct_exclude_zero=params["fineweb_line_punct_exclude_zero"],
        short_line_thr=params["fineweb_short_line_thr"],
        short_line_length=params["fineweb_short_line_length"],
        char_duplicates_ratio=params["fineweb_char_dup_ratio"],
        new_line_ratio=params["fineweb_new_line_ratio"],
        **language_settings(params),
        thresholds=thresholds.from_params(params, "fineweb"),
    ),
    options=[
        click.option(
            "--fineweb-line-punct-thr",
            type=click.FloatRange(0, 1),
            default=0.12,
            show_default=True,
            help="fineweb: fewest lines ending in terminal punctuation, as a share.",
        ),
        click.option(
            "--fineweb-line-punct-exclude-zero/--no-fineweb-line-punct-exclude-zero",
            default=False,
            show_default=True,
            help="fineweb: keep documents where no line ends in punctuation.",
        ),
        click.option(
            "--fineweb-short-line-thr",
            type=click.FloatRange(0, 1),
            default=0.67,
            show_default=True,
            help="fineweb: most short lines, as a share.",
        ),
        click.option(
            "--fineweb-short-line-length",
            type=click.IntRange(min=0),
            default=30,
            show_default=True,
            help="fineweb: a line this long or shorter is short (characters).",
        ),
        click.option(
            "--fineweb-char-dup-ratio",
            type=click.FloatRange(0, 1),
            default=0.01,
            show_default=True,
            help="fineweb: most characters in duplicated lines, as a share.",
        ),
        click.option(
            "--fineweb-new-line-ratio",
            type=click.FloatRange(min=0),
            default=0.3,
            show_default=True,
            help="fineweb: most line breaks per word (list-like pages).",
        ),
    ],
)
