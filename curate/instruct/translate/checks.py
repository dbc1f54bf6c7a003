"""What a translated field must pass, and why it is rejected when it does not.

Checks run in this order, and the first that fails names the reason:

  request_failed         no answer after every retry
  cut_by_length          the reply hit its max tokens (finish_reason "length")
  empty_translation      the reply is empty (or only the wrapping tags)
  wrong_language         fastText (lid.176) does not see the target language in the
                         translation's prose (its protected spans left out): the top label is
                         another language and the target's probability is under 0.1. Korean,
                         Japanese and Chinese also pass when most letters are in their script
                         (Hangul; kana with Han; Han). Only prose with at least 20 English-equivalent
                         letters in words of two letters or more is read (20 x the target's
                         characters per English character: 9 Hangul syllables): shorter texts,
                         notation ("C D E", "4x1 = 4") and mostly-code fields are too short to tell
  truncated_translation  letters in the translation's prose / letters in the source's is under
                         the floor: --min-length-ratio, or by default 0.6 x the pair's usual ratio
                         (target's characters per English character / source's): 0.27 English to
                         Korean, 1.33 Korean to English, 0.6 between alphabets. Only sources of at
                         least 40 English-equivalent letters of prose are measured
  lost_span              a protected span of the source (spans.py) is missing from the translation
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from curate.corpus import fasttext_models
from curate.corpus.languages import language_code
from curate.errors import UserError
from curate.instruct.translate import spans
from curate.instruct.translate.languages import chars_per_english_char, script_language
from curate.llm.backend import EMPTY, FAILED, LENGTH, Completion

MIN_LANGID_LETTERS = 20  # English-equivalent letters of prose before language ID is trusted
MIN_RATIO_LETTERS = 40  # English-equivalent letters of source prose before its length ratio counts
LANGID_TOP = 5
TARGET_PROBABILITY = 0.1  # a target this likely is accepted even when another language tops it
SCRIPT_LANGUAGES = frozenset({"ko", "ja", "zh"})  # a script of their own: most letters in it settle it
RATIO_FACTOR = 0.6  # the default floor, as a share of the pair's usual length ratio
_WORD = re.compile(r"[^\W\d_]{2,}")
_WRAPPER = re.compile(r"^\s*<(text_to_translate|translation)>\s*(.*?)\s*</\1>\s*$", re.S)


@dataclass(frozen=True)
class Verdict:
    """Why a field is rejected (None: it passed) and the detail that says how."""

    reason: str | None
    detail: str = ""


PASSED = Verdict(None)


class LanguageId:
    """lid.176 (or the model `--langid-model` names), found and loaded as the langid step does."""

    def __init__(self, source: str) -> None:
        path = fasttext_models.resolve_model(source, "--langid-model", fasttext_models.LANGID_HINT)
        self.model = fasttext_models.load_model(Path(path))
        self.labels = {language_code(label) for label in fasttext_models.labels(self.model)}

    def require(self, code: str, option: str) -> None:
        if code not in self.labels:
            raise UserError(
                f"{option}: the language-ID model does not know {code}, so translations into it cannot be checked"
            )

    def top(self, text: str) -> list[tuple[str, float]]:
        """The likeliest languages of `text`, best first, as (code, probability)."""
        labels, probabilities = self.model.predict(fasttext_models.one_line(text), k=LANGID_TOP)
        return [(language_code(label), fasttext_models.probability(p)) for label, p in zip(labels, probabilities)]


def letters(text: str) -> int:
    return sum(char.isalpha() for char in text)


def word_letters(text: str) -> int:
    """Letters in words of two letters or more: what language ID reads (not "C D E" or "4x1")."""
    return sum(len(word) for word in _WORD.findall(text))


def unwrapped(reply: str) -> str:
    """The reply without the tags some models wrap a translation in, stripped."""
    found = _WRAPPER.match(reply)
    return (found.group(2) if found else reply).strip()


def default_min_ratio(source_prose: str, target: str) -> float:
    """The length-ratio floor of this source's script into `target` (see the module docstring)."""
    source = chars_per_english_char(script_language(source_prose) or "en")
    return RATIO_FACTOR * chars_per_english_char(target) / source


def language_verdict(translation_prose: str, target: str, langid: LanguageId) -> Verdict:
    if word_letters(translation_prose) < MIN_LANGID_LETTERS * chars_per_english_char(target):
        return PASSED
    if target in SCRIPT_LANGUAGES and script_language(translation_prose) == target:
        return PASSED  # Hangul is Korean, kana Japanese, whatever fastText makes of a list of quoted words
    found = langid.top(translation_prose)
    if not found or found[0][0] == target or dict(found).get(target, 0.0) >= TARGET_PROBABILITY:
        return PASSED
    label, probability = found[0]
    return Verdict("wrong_language", f"detected {label} ({probability:.2f}), not {target}")


ALREADY_PROBABILITY = 0.8  # fastText this sure that a source field is in the target language: not sent


def in_target_already(source: str, target: str, langid: LanguageId) -> bool:
    """A source field written in the target language (an English answer in a Korean set being
    translated into English): long enough to tell, and in the target's script or fastText's
    top label at ALREADY_PROBABILITY or more."""
    prose = spans.prose(source)
    if word_letters(prose) < MIN_LANGID_LETTERS * chars_per_english_char(target):
        return False
    if target in SCRIPT_LANGUAGES:
        return script_language(prose) == target
    found = langid.top(prose)
    return bool(found) and found[0][0] == target and found[0][1] >= ALREADY_PROBABILITY


def ratio_verdict(source_prose: str, translation_prose: str, target: str, min_ratio: float | None) -> Verdict:
    script = script_language(source_prose) or "en"
    source_letters = letters(source_prose)
    if source_letters < MIN_RATIO_LETTERS * chars_per_english_char(script):
        return PASSED
    floor = min_ratio if min_ratio is not None else default_min_ratio(source_prose, target)
    ratio = letters(translation_prose) / source_letters
    if ratio >= floor:
        return PASSED
    return Verdict(
        "truncated_translation",
        f"{letters(translation_prose)} letters for {source_letters}: ratio {ratio:.2f} under {floor:.2f}",
    )


def field_verdict(
    source: str,
    completion: Completion,
    translation: str,
    target: str,
    langid: LanguageId,
    min_ratio: float | None,
) -> Verdict:
    """How the `translation` of `source` (the reply of `completion`, unmasked) fares."""
    if completion.status == FAILED:
        return Verdict("request_failed", completion.error or "no answer")
    if completion.status == LENGTH:
        return Verdict("cut_by_length", "the reply hit its max tokens")
    if completion.status == EMPTY or not translation.strip():
        return Verdict("empty_translation", "the reply is empty")
    source_prose, translation_prose = spans.prose(source), spans.prose(translation)
    for verdict in (
        language_verdict(translation_prose, target, langid),
        ratio_verdict(source_prose, translation_prose, target, min_ratio),
    ):
        if verdict.reason is not None:
            return verdict
    lost = spans.lost_spans(source, translation)
    if lost:
        more = f" (and {len(lost) - 1} more)" if len(lost) > 1 else ""
        return Verdict("lost_span", f"lost {spans.shown(lost[0])}{more}")
    return PASSED
