"""Reading a judge model's reply: a score (pointwise) or a winner (pairwise), and its rationale."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence

from curate.prefs.judges.base import NO_SCORE, NO_VERDICT, SCORE_OUT_OF_RANGE, WRONG_SCALE

# ------------------------------------------------------------------------------ parsing scores

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_OUT_OF = rf"(?:[*_\s]*(?:/|out\s+of)\s*({_NUMBER}))?"
_SCORE_KEYS = ("score", "rating", "grade")
_RATIONALE_KEYS = ("rationale", "reasoning", "reason", "explanation", "justification", "analysis", "feedback")
# "Score: 8", "Rating: 7/10", "**Score:** 9", "Final score = 8", "Score (1-10): 6", '"score": 8' (broken JSON)
_LABELLED_SCORE = re.compile(
    r"(?:[*_#]+\s*)?(?:\b(?:final|overall|total)\s+)?\b(?:score|rating|grade)\b(?:\s*\([^)\n]{0,40}\))?"
    rf"[\"'*_ \t]*[:=][\"'*_\s]*({_NUMBER}){_OUT_OF}[*_]*",
    re.IGNORECASE,
)
# a number alone on a line: "8", "**8**", "8/10", "[[8]]", "8."
_ALONE_SCORE = re.compile(rf"[\s*_`\[(\"']*({_NUMBER}){_OUT_OF}[\s*_`\])\"'.]*", re.IGNORECASE)
_SCORE_STRING = re.compile(rf"\s*[*_]*({_NUMBER}){_OUT_OF}[*_.\s]*", re.IGNORECASE)
_RATIONALE_LABEL = re.compile(
    r"^[*_#\s]*(?:rationale|reasoning|explanation|justification)[*_\s]*:[*_\s]*", re.IGNORECASE
)
_QUOTED_RATIONALE = re.compile(
    r'"(?:rationale|reasoning|explanation|justification)"\s*:\s*"((?:[^"\\\n]|\\.)*)"', re.IGNORECASE
)
_FENCE = re.compile(r"^[ \t]*```[\w-]*[ \t]*$", re.MULTILINE)
_MARKUP_ONLY = re.compile(r"[\s*_#>|\-\"',{}`]*")


def parse_score(text: str, low: float = 1, high: float = 10) -> tuple[float | None, str | None, str | None]:
    """A judge's reply read as `(score, rationale, failure)`; exactly one of score and failure is None.

    Precedence, first that applies wins:

    1. A JSON object anywhere in the text, fenced (```json ... ```) or bare, with a key
       `score`, `rating` or `grade` (any case) whose value is a number or a string such as
       "8" or "8/10". With several such objects, the last. The rationale is its
       `rationale` (or reasoning, explanation, ...) string, else the text around the object.
    2. The LAST labelled score in the text: "Score: 8", "Rating: 7/10", "**Score:** 9",
       "Final score = 8", "Score (1-10): 6", and '"score": 8' in JSON too broken to parse.
       The rationale is the rest of the text, with the score's line and a leading
       "Rationale:" label removed.
    3. A number alone on the last non-empty line ("8", "**8**", "8/10", "[[8]]"); the
       rationale is the text above it.

    A score outside [low, high] is `score_out_of_range`; an "x/N" whose N is not `high` is
    `wrong_scale` (never rescaled). Nothing found (words only, a number inside a sentence)
    is `no_score`, with the whole reply as the rationale so a report can show it.
    """
    score, rationale, failure, _ = parse_score_and_source(text, low, high)
    return score, rationale, failure


def parse_score_and_source(
    text: str, low: float, high: float
) -> tuple[float | None, str | None, str | None, str | None]:
    """parse_score, plus where the score came from: "json", "label", "line" or None."""
    text = text or ""
    for start, end, found in reversed(_json_objects(text)):
        value = _first_key(found, _SCORE_KEYS)
        number = _json_number(value) if value is not None else None
        if number is None:
            continue
        rationale = _first_key(found, _RATIONALE_KEYS)
        if not isinstance(rationale, str) or not rationale.strip():
            rationale = text[:start] + text[end:]
        score, failure = _in_range(*number, low, high)
        return score, _clean(rationale), failure, "json"

    labelled = list(_LABELLED_SCORE.finditer(text))
    if labelled:
        match = labelled[-1]
        score, failure = _in_range(match.group(1), match.group(2), low, high)
        return score, _rest(text, match), failure, "label"

    lines = text.rstrip().splitlines()
    if lines:
        alone = _ALONE_SCORE.fullmatch(lines[-1])
        if alone is not None:
            score, failure = _in_range(alone.group(1), alone.group(2), low, high)
            return score, _clean("\n".join(lines[:-1])), failure, "line"
    return None, _clean(text), NO_SCORE, None


def _json_objects(text: str) -> list[tuple[int, int, dict]]:
    """Every JSON object in `text` (nested ones too) as (start, end, object), by start."""
    decoder = json.JSONDecoder()
    found = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError:
            pass
        else:
            if isinstance(value, dict):
                found.append((position, end, value))
        position = text.find("{", position + 1)
    return found


def _first_key(found: Mapping, keys: Sequence[str]):
    lowered = {str(key).strip().lower(): value for key, value in found.items()}
    for key in keys:
        if key in lowered:
            return lowered[key]
    return None


def _json_number(value) -> tuple[str, str | None] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return repr(value), None
    if isinstance(value, str):
        match = _SCORE_STRING.fullmatch(value)
        if match is not None:
            return match.group(1), match.group(2)
    return None


def _in_range(number: str, scale: str | None, low: float, high: float) -> tuple[float | None, str | None]:
    score = float(number)
    if not math.isfinite(score):
        return None, NO_SCORE
    if scale is not None and float(scale) != float(high):
        return None, WRONG_SCALE
    if not low <= score <= high:
        return None, SCORE_OUT_OF_RANGE
    return score, None


def _without(text: str, start: int, end: int) -> str:
    """`text` without [start, end), and without that line when nothing but markup is left on it."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if _MARKUP_ONLY.fullmatch(text[line_start:start] + text[end:line_end]):
        return text[:line_start] + text[line_end + 1 :]
    return text[:start] + text[end:]


def _rest(text: str, match: re.Match) -> str | None:
    """The rationale around a labelled score or verdict: a "rationale" string of JSON too broken
    to parse, else the text without the label's line and without a leading "Rationale:" label."""
    quoted = _QUOTED_RATIONALE.search(text)
    if quoted is not None:
        try:
            return _clean(json.loads(f'"{quoted.group(1)}"'))
        except ValueError:
            pass
    return _clean(_RATIONALE_LABEL.sub("", _without(text, match.start(), match.end()).strip()))


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = _FENCE.sub("", text).strip()
    return cleaned or None


# ------------------------------------------------------------------------------ parsing verdicts

_VERDICT_KEYS = ("winner", "verdict", "preferred", "better", "choice", "preference")
_LABELLED_VERDICT = re.compile(
    r"(?:[*_#]+\s*)?(?:\b(?:final|overall)\s+)?"
    r"\b(?:winner|verdict|better\s+answer|preferred\s+answer|preference|choice)\b[\"'*_ \t]*[:=][\"'*_\s\[]*"
    r"(?:(?:answer|response|assistant)\s+)?(a|b|c|tie|draw)\b[\]*_\"']*",
    re.IGNORECASE,
)
_BRACKETED_VERDICT = re.compile(r"\[\[\s*(a|b|c|tie)\s*\]\]", re.IGNORECASE)
_TIES = {"tie", "draw", "c", "equal", "tied", "both", "neither", "same"}


def _winner(value: str) -> str | None:
    """ "A", "B" or "tie" from a verdict value ("A", "[[B]]", "Answer A", "**tie**"); None otherwise."""
    words = re.sub(r"[\[\]*_`\"'().:!,]", " ", value).lower().split()
    if len(words) == 2 and words[0] in ("answer", "response", "assistant", "candidate", "output"):
        words = words[1:]
    if len(words) != 1:
        return None
    if words[0] in ("a", "b"):
        return words[0].upper()
    return "tie" if words[0] in _TIES else None


def parse_verdict(text: str) -> tuple[str | None, str | None, str | None]:
    """A pairwise judge's reply read as `(winner, rationale, failure)`; winner is "A", "B" or "tie".

    Precedence: (1) a JSON object with `winner` (or verdict, preferred, better, choice) whose
    value reads as A, B or tie ("Answer A", "[[B]]"; "C", "draw", "equal" are ties); the
    last one; (2) the last labelled line, "Winner: A", "**Verdict:** [[B]]", "Better answer:
    Answer A"; (3) the last "[[A]]" / "[[B]]" / "[[C]]" (MT-Bench's format, C a tie);
    (4) a last non-empty line that is only a verdict ("A", "**B**", "Tie"). Otherwise
    failure `no_verdict`, with the whole reply as the rationale.
    """
    text = text or ""
    for start, end, found in reversed(_json_objects(text)):
        value = _first_key(found, _VERDICT_KEYS)
        winner = _winner(value) if isinstance(value, str) else None
        if winner is None:
            continue
        rationale = _first_key(found, _RATIONALE_KEYS)
        if not isinstance(rationale, str) or not rationale.strip():
            rationale = text[:start] + text[end:]
        return winner, _clean(rationale), None
    for pattern in (_LABELLED_VERDICT, _BRACKETED_VERDICT):
        matches = list(pattern.finditer(text))
        if matches:
            match = matches[-1]
            return _winner(match.group(1)), _rest(text, match), None
    lines = text.rstrip().splitlines()
    if lines:
        winner = _winner(lines[-1])
        if winner is not None:
            return winner, _clean("\n".join(lines[:-1])), None
    return None, _clean(text), NO_VERDICT


def has_json_verdict(text: str) -> bool:
    """Whether a (cut) reply holds a JSON object with a readable verdict."""
    return any(
        isinstance(value := _first_key(found, _VERDICT_KEYS), str) and _winner(value) is not None
        for _, _, found in _json_objects(text)
    )
