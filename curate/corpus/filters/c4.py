"""C4's line and document rules (Raffel et al. 2020), as datatrove 0.10's C4QualityFilter.

Defaults follow FineWeb's use of it: `filter_no_terminal_punct=False` (lines without a
final period are kept). Like C4 and datatrove, the step rewrites a kept document to the
lines that passed: lines with a word over 1000 characters, with fewer than 3 words, with
"javascript" or a cookie/terms-of-use phrase are removed, and Wikipedia citation marks
([1], [edit], [citation needed]) are cut. A document is dropped when it contains "lorem
ipsum" or a curly bracket, or keeps fewer than 5 sentences. The per-language table
(filters/thresholds.py) can change the sentence, words-per-line and word-length limits per
language: Chinese and Japanese lines have no spaces, so "3 words" means nothing there.
"""

from __future__ import annotations

import re

import click
import pyarrow as pa

from curate.corpus import segment
from curate.corpus.filters import thresholds
from curate.corpus.filters.base import DEFAULT_LANGUAGE, DocumentFilter
from curate.corpus.filters.spec import FilterSpec
from curate.pipeline.step import StepOutput, split_rewritten

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


class C4Quality(DocumentFilter):
    name = "c4"

    def __init__(
        self,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = False,
        min_num_sentences: int = 5,
        min_words_per_line: int = 3,
        max_word_length: int = 1000,
        filter_lorem_ipsum: bool = True,
        filter_javascript: bool = True,
        filter_curly_bracket: bool = True,
        filter_policy: bool = True,
        language: str = DEFAULT_LANGUAGE,
        thresholds: dict[str, dict[str, object]] | None = None,
    ) -> None:
        super().__init__(language)
        self.remove_citations = remove_citations
        self.filter_no_terminal_punct = filter_no_terminal_punct
        self.min_num_sentences = min_num_sentences
        self.min_words_per_line = min_words_per_line
        self.max_word_length = max_word_length
        self.filter_lorem_ipsum = filter_lorem_ipsum
        self.filter_javascript = filter_javascript
        self.filter_curly_bracket = filter_curly_bracket
        self.filter_policy = filter_policy
        self.use_thresholds(thresholds)

    def stats(self, text: str, lang: str) -> dict:
        """Line counts by outcome, the kept lines and their sentences; `drop` for a whole-document rule."""
        limit = self.limits(lang)
        max_word_length = limit["max_word_length"] if limit["max_word_length"] is not None else -1
        min_words_per_line = limit["min_words_per_line"] or 0
        min_num_sentences = limit["min_num_sentences"] if limit["min_num_sentences"] is not None else -1
        kept: list[str] = []
        removed = {"too_long_word": 0, "no_terminal_punct": 0, "too_few_words": 0, "javascript": 0, "policy": 0}
        sentences = 0
        for line in text.splitlines():
            line = line.strip()
            words = line.split()
            if max_word_length != -1 and len(line) > max_word_length and max(map(len, words)) > max_word_length:
                removed["too_long_word"] += 1
                continue
            if self.remove_citations and "[" in line:
                line = _CITATION.sub("", line)
            if self.filter_no_terminal_punct and (not line.endswith(_END_PUNCTUATION) or line.endswith("...")):
                removed["no_terminal_punct"] += 1
                continue
            if len(words) < min_words_per_line:
                removed["too_few_words"] += 1
                continue
            lowered = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lowered:
                return {"drop": "lorem_ipsum"}
            if self.filter_javascript and "javascript" in lowered:
                removed["javascript"] += 1
                continue
            if self.filter_curly_bracket and "{" in line:
                return {"drop": "curly_bracket"}
            if self.filter_policy and any(phrase in lowered for phrase in POLICY_PHRASES):
                removed["policy"] += 1
                continue
            if min_num_sentences != -1:
                sentences += segment.sentence_count(line, lang)
            kept.append(line)
        return {"lang": lang, "drop": None, "sentences": sentences, "kept_lines": kept, "removed_lines": removed}

    def decide(self, stats: dict) -> str | None:
        if stats["drop"]:
            return stats["drop"]
        if stats["sentences"] < (self.limits(stats["lang"])["min_num_sentences"] or 0):
            return "too_few_sentences"
        return None

    def run(self, batch: pa.Table) -> StepOutput:
        texts = batch.column("text").to_pylist()
        rules: list[str | None] = []
        rewritten: list[str | None] = []
        for text, lang in zip(texts, self.languages(batch)):
            stats = self.stats(text, lang)
            rule = self.decide(stats)
            rules.append(rule)
            new_text = None
            if rule is None:
                new_text = "\n".join(stats["kept_lines"]).strip()
                self.counters["lines_removed"] += sum(stats["removed_lines"].values())
                self.counters["docs_rewritten"] += new_text != text
            rewritten.append(new_text)
        return split_rewritten(self.name, batch, texts, rewritten, rules)


def _flag(name: str, default: bool, text: str):
    return click.option(f"--{name}/--no-{name}", default=default, show_default=True, help=text)


SPEC = FilterSpec(
    name="c4",
    summary="C4 rules: drop lorem ipsum and curly brackets, keep 5+ sentences; removes boilerplate lines.",
    build=lambda params: C4Quality(
        remove_citations=params["c4_remove_citations"],
        filter_no_terminal_punct=params["c4_terminal_punct"],
        min_num_sentences=params["c4_min_sentences"],
        min_words_per_line=params["c4_min_words_per_line"],
        max_word_length=params["c4_max_word_length"],
        filter_lorem_ipsum=params["c4_lorem_ipsum"],
        filter_javascript=params["c4_javascript"],
        filter_curly_bracket=params["c4_curly_bracket"],
        filter_policy=params["c4_policy"],
        language=params["language"],
        thresholds=thresholds.from_params(params, "c4"),
    ),
    options=[
        click.option(
            "--c4-min-sentences",
            type=int,
            default=5,
            show_default=True,
            help="c4: fewest sentences left after line removal (-1: off).",
        ),
        click.option(
            "--c4-min-words-per-line", type=int, default=3, show_default=True, help="c4: remove lines with fewer words."
        ),
        click.option(
            "--c4-max-word-length",
            type=int,
            default=1000,
            show_default=True,
            help="c4: remove lines with a longer word (-1: off).",
        ),
        _flag("c4-terminal-punct", False, "c4: remove lines that do not end in . ? ! \" ' (C4 did; FineWeb did not)."),
        _flag("c4-remove-citations", True, "c4: cut [1], [edit], [citation needed]."),
        _flag("c4-lorem-ipsum", True, "c4: drop documents with 'lorem ipsum'."),
        _flag("c4-javascript", True, "c4: remove lines mentioning javascript."),
        _flag("c4-curly-bracket", True, "c4: drop documents with a '{'."),
        _flag("c4-policy", True, "c4: remove lines about cookies, privacy policy or terms of use."),
    ],
)
