"""DocumentFilter: statistics computed once per document, then a keep/drop decision."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

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

    def describe(self) -> dict:
        """The settings: every public attribute (thresholds, language)."""
        return {key: value for key, value in vars(self).items() if not key.startswith("_") and key != "counters"}

    def stats(self, text: str, lang: str) -> dict:
        raise NotImplementedError

    def decide(self, stats: dict) -> str | None:
        raise NotImplementedError

    def languages(self, batch: pa.Table) -> list[str]:
        if "lang" in batch.column_names:
            return [lang or self.language for lang in batch.column("lang").to_pylist()]
        return [self.language] * batch.num_rows

    def run(self, batch: pa.Table) -> StepOutput:
        texts = batch.column("text").to_pylist()
        rules = [self.decide(self.stats(text, lang)) for text, lang in zip(texts, self.languages(batch))]
        return split_by_rule(self.name, batch, rules)
