"""DocumentFilter: statistics computed once per document, then a keep/drop decision."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from curate.corpus.filters.words import document_words
from curate.corpus.languages import language_code
from curate.pipeline.step import Step, StepOutput, split_by_rule

DEFAULT_LANGUAGE = "en"


class DocumentFilter(Step):
    """Subclasses implement `stats(text, lang) -> dict` and `decide(stats) -> rule | None`.

    Splitting the two lets a report or a threshold sweep reuse the statistics. The
    document's language comes from the `lang` column when an earlier step (langid) wrote
    one, else from `language` (the --language option).
    """

    name: ClassVar[str] = "filter"

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        super().__init__()
        self.language = language
        # {language: {key: value}} over this step's own settings (filters/thresholds.py)
        self.thresholds: dict[str, dict[str, object]] = {}
        self._limits: dict[str, dict[str, object]] = {}

    def use_thresholds(self, rows: dict[str, dict[str, object]] | None) -> None:
        """Per-language rows over the step's settings; None: the shipped table's rows for this step."""
        from curate.corpus.filters.thresholds import step_rows

        self.thresholds = step_rows(None, self.name) if rows is None else rows
        self._limits = {}

    def limits(self, lang: str) -> dict[str, object]:
        """The settings that judge a document in `lang`: the step's own, with that language's row over them."""
        found = self._limits.get(lang)
        if found is None:
            found = {key: value for key, value in vars(self).items() if not key.startswith("_")}
            found.update(self.thresholds.get(lang, {}))
            self.adjust_limits(lang, found)
            self._limits[lang] = found
        return found

    def adjust_limits(self, lang: str, found: dict[str, object]) -> None:
        """A step's own say over `lang`'s settings once its row is applied (computed once per language)."""

    def describe(self) -> dict:
        """The settings: every public attribute (thresholds, language)."""
        return {key: value for key, value in vars(self).items() if not key.startswith("_") and key != "counters"}

    def stats(self, text: str, lang: str) -> dict:
        raise NotImplementedError

    def decide(self, stats: dict) -> str | None:
        raise NotImplementedError

    def languages(self, batch: pa.Table) -> list[str]:
        """Each row's language as an ISO 639-1 code (`ko-KR`, `kor_Hang` and `KO` are `ko`)."""
        if "lang" in batch.column_names:
            return [language_code(lang or self.language) for lang in batch.column("lang").to_pylist()]
        return [language_code(self.language)] * batch.num_rows

    def run(self, batch: pa.Table) -> StepOutput:
        texts = batch.column("text").to_pylist()
        rules = [self.decide(self.stats(text, lang)) for text, lang in zip(texts, self.languages(batch))]
        return split_by_rule(self.name, batch, rules)


class WordFilter(DocumentFilter):
    """A filter whose statistics count words: how Korean is split is one of its settings."""

    def __init__(self, language: str = DEFAULT_LANGUAGE, korean_segmenter: str = "space") -> None:
        super().__init__(language)
        self.korean_segmenter = korean_segmenter

    def words(self, text: str, lang: str) -> list[str]:
        """The document's words, segmented once and shared by every step (filters/words.py)."""
        return document_words(text, lang, self.korean_segmenter)


def ratio(part: float, whole: float) -> float:
    """part / whole, 0 when whole is 0."""
    return part / whole if whole else 0.0


def count_duplicates(items: list[str]) -> tuple[int, int]:
    """(items equal to an earlier one, their characters)."""
    if len(set(items)) == len(items):
        return 0, 0
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars
