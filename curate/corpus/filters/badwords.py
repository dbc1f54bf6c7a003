"""`badwords`: drop documents where too large a share of the words come from a word list.

C4 dropped any page with a word from the LDNOOBW list; a share threshold keeps pages that
merely quote one. Single-word entries are matched against the document's words (lower
case); an entry of several words counts where the document has those words in a row.
Entries are split into words the way the document's language is.
"""

from __future__ import annotations

from pathlib import Path

import click

from curate.corpus import segment
from curate.corpus.filters.base import DEFAULT_LANGUAGE, WordFilter, ratio
from curate.corpus.filters.spec import FilterSpec, language_settings
from curate.errors import UserError


def load_word_list(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UserError(f"--badwords: cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise UserError(f"--badwords: {path} is not UTF-8 text ({error.reason})") from None
    words = [line.strip().lower() for line in lines if line.strip() and not line.startswith("#")]
    if not words:
        raise UserError(f"--badwords: {path} lists no words (one word or phrase a line)")
    return words


class BadWords(WordFilter):
    name = "badwords"

    def __init__(
        self,
        words: list[str],
        max_ratio: float = 0.01,
        language: str = DEFAULT_LANGUAGE,
        korean_segmenter: str = "space",
    ):
        super().__init__(language, korean_segmenter)
        self.entries = sorted(set(words))
        self.max_ratio = max_ratio
        self._index: dict[str, dict[str, list[tuple[str, ...]]]] = {}  # per language, built on first use

    def describe(self) -> dict:
        return {"entries": len(self.entries), "max_ratio": self.max_ratio}

    def _entries_by_first_word(self, lang: str) -> dict[str, list[tuple[str, ...]]]:
        """Each entry split into words as documents of `lang` are, indexed by its first word."""
        index = self._index.get(lang)
        if index is None:
            index = {}
            for entry in self.entries:
                words = tuple(segment.words(entry, lang, self.korean_segmenter))
                if words:
                    index.setdefault(words[0], []).append(words)
            self._index[lang] = index
        return index

    def stats(self, text: str, lang: str) -> dict:
        words = list(map(str.lower, self.words(text, lang)))
        index = self._entries_by_first_word(lang)
        hits = 0
        for position in [position for position, word in enumerate(words) if word in index]:
            hits += sum(tuple(words[position : position + len(entry)]) == entry for entry in index[words[position]])
        content = len(words) - sum(map(segment.is_symbol, words))
        return {"badwords": hits, "ratio": ratio(hits, content)}

    def decide(self, stats: dict) -> str | None:
        return "too_many_badwords" if stats["ratio"] > self.max_ratio else None


def _build(params: dict) -> BadWords:
    if not params.get("badwords"):
        raise UserError("the badwords step needs a word list: --badwords FILE (one word or phrase a line)")
    return BadWords(
        load_word_list(Path(params["badwords"])),
        max_ratio=params["badwords_max_ratio"],
        **language_settings(params),
    )


SPEC = FilterSpec(
    name="badwords",
    summary="Word-list filter (--badwords FILE): drops documents with too many listed words.",
    build=_build,
    applies=lambda params: bool(params.get("badwords")),
    options=[
        click.option(
            "--badwords",
            type=click.Path(dir_okay=False),
            default=None,
            help="badwords: word list, one word or phrase a line (e.g. the LDNOOBW list).",
        ),
        click.option(
            "--badwords-max-ratio",
            type=click.FloatRange(min=0),
            default=0.01,
            show_default=True,
            help="badwords: most listed words per word; 0 drops a document with any.",
        ),
    ],
)
