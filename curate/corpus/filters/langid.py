"""The `langid` step: fastText language identification (lid.176 by default).

Every document gets `lang` (the model's top label without `__label__`: ISO 639-1 codes
such as en, ko, zh where one exists) and `lang_score` (its probability). With --lang,
documents are dropped by rule:
  langid:other_language  the top language is not one of --lang
  langid:low_score       the top language is wanted but scored below --lang-threshold
Without --lang every document is kept, labelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import click
import pyarrow as pa

from curate.corpus import fasttext_models
from curate.corpus.filters.spec import FilterSpec
from curate.errors import UserError
from curate.io.schema import set_column
from curate.pipeline.step import Step, StepOutput, split_by_rule

DEFAULT_THRESHOLD = 0.65


class LanguageId(fasttext_models.LazyModel, Step):
    name = "langid"
    added_columns: ClassVar = {"lang": pa.string(), "lang_score": pa.float64()}

    def __init__(
        self,
        model_path: str,
        languages: Sequence[str] = (),
        threshold: float = DEFAULT_THRESHOLD,
        model_source: str | None = None,
    ) -> None:
        super().__init__(model_path, model_source)
        self.languages = frozenset(languages)
        self.threshold = threshold

    def describe(self) -> dict:
        return {"model": self.model_source, "languages": sorted(self.languages) or "all", "threshold": self.threshold}

    def identify(self, texts: list[str | None]) -> tuple[list[str | None], list[float]]:
        """The top language and its probability for each text."""
        lines = [fasttext_models.one_line(text or "") for text in texts]
        labels, probabilities = self.model.predict(lines, k=1, on_unicode_error="replace")
        langs = [top[0].removeprefix("__label__") if len(top) else None for top in labels]
        scores = [fasttext_models.probability(top[0]) if len(top) else 0.0 for top in probabilities]
        return langs, scores

    def rule(self, lang: str | None, score: float) -> str | None:
        if not self.languages:
            return None
        if lang is not None and lang not in self.languages:
            return "other_language"
        return None if score >= self.threshold and lang is not None else "low_score"

    def run(self, batch: pa.Table) -> StepOutput:
        langs, scores = self.identify(batch.column("text").to_pylist())
        self.counters.update(f"lang_{lang}" for lang in langs)
        batch = set_column(batch, "lang", pa.array(langs, pa.string()))
        batch = set_column(batch, "lang_score", pa.array(scores, pa.float64()))
        # the new columns are set before the split, so rejected rows say which language they were
        return split_by_rule(self.name, batch, [self.rule(lang, score) for lang, score in zip(langs, scores)])


def parse_languages(value: str | None) -> list[str]:
    """`--lang en,ko` as ["en", "ko"]."""
    if not value:
        return []
    return [code.strip().lower().removeprefix("__label__") for code in value.split(",") if code.strip()]


def build(params: dict) -> LanguageId:
    source = params["langid_model"]
    path = fasttext_models.resolve_model(source, "--langid-model", fasttext_models.LANGID_HINT)
    languages = parse_languages(params.get("lang"))
    # Load once here to fail before any work on a bad file, or on `--lang kr` for Korean (ko).
    known = fasttext_models.model_labels(path)
    unknown = [code for code in languages if code not in known]
    if unknown:
        raise UserError(
            f"--lang: {', '.join(unknown)} not among the {len(known)} languages of {source} "
            f"(codes as the model gives them, e.g. {', '.join(known[:6])})"
        )
    return LanguageId(str(path), languages, params["lang_threshold"], model_source=source)


SPEC = FilterSpec(
    name="langid",
    summary="fastText language id: adds lang and lang_score; with --lang keeps those languages.",
    build=build,
    applies=lambda params: bool(parse_languages(params.get("lang"))),
    options=[
        click.option(
            "--lang",
            default=None,
            metavar="CODES",
            help="langid: keep documents whose top language is one of these (en or en,ko; lid.176 codes). "
            "Turns langid on in the default steps; without it, langid (named in --steps) labels and keeps all.",
        ),
        click.option(
            "--lang-threshold",
            type=click.FloatRange(0.0, 1.0),
            default=DEFAULT_THRESHOLD,
            show_default=True,
            help="langid: with --lang, drop documents whose top language scores below this (langid:low_score).",
        ),
        click.option(
            "--langid-model",
            default=fasttext_models.DEFAULT_LANGID_URL,
            show_default=True,
            metavar="PATH_OR_URL",
            help="langid: fastText model file, or a URL downloaded once into the cache "
            "(CURATE_CACHE_DIR, default the user cache dir; CURATE_OFFLINE=1 never downloads).",
        ),
    ],
)
