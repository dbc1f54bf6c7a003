"""The `clean` step: normalise Unicode and whitespace, drop texts left empty."""

from __future__ import annotations

import click
import pyarrow as pa

from curate.corpus.filters.spec import FilterSpec
from curate.corpus.text import UNICODE_FORMS, normalize_unicode, normalize_whitespace
from curate.pipeline.step import Step, StepOutput, split_rewritten


class CleanText(Step):
    """Rules: `empty` (the text was ""), `whitespace_only` (nothing left after normalising)."""

    name = "clean"

    def __init__(self, unicode_form: str = "NFC", whitespace: bool = True) -> None:
        super().__init__()
        if unicode_form not in UNICODE_FORMS:
            raise ValueError(f"unicode_form must be one of {UNICODE_FORMS}, not {unicode_form!r}")
        self.unicode_form = unicode_form
        self.whitespace = whitespace

    def describe(self) -> dict:
        return {"unicode_form": self.unicode_form, "whitespace": self.whitespace}

    def clean(self, text: str) -> str:
        text = normalize_unicode(text, self.unicode_form)
        return normalize_whitespace(text) if self.whitespace else text

    def run(self, batch: pa.Table) -> StepOutput:
        texts = batch.column("text").to_pylist()
        cleaned = [self.clean(text) for text in texts]
        self.counters["changed"] += sum(new != old for new, old in zip(cleaned, texts))
        rules = [
            None if new.strip() else ("empty" if old == "" else "whitespace_only") for new, old in zip(cleaned, texts)
        ]
        return split_rewritten(self.name, batch, texts, cleaned, rules)


SPEC = FilterSpec(
    name="clean",
    summary="Unicode normalisation (NFC) and whitespace; drops empty and whitespace-only texts.",
    build=lambda params: CleanText(unicode_form=params["unicode_form"], whitespace=params["whitespace"]),
    options=[
        click.option(
            "--unicode",
            "unicode_form",
            type=click.Choice(UNICODE_FORMS),
            default="NFC",
            show_default=True,
            help="clean: Unicode normalisation of every text.",
        ),
        click.option(
            "--whitespace/--no-whitespace",
            default=True,
            show_default=True,
            help="clean: one space between words, no spaces at line ends, at most one blank line.",
        ),
    ],
)
