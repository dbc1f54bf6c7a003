"""The cheap checks a generated task must pass before the novelty check (self-instruct, Alpaca).

Each check returns a reason (the `reason` column of `rejected/`) and a detail, or None.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import regex

from curate.errors import UserError
from curate.instruct.self_instruct.languages import LANGUAGES
from curate.instruct.self_instruct.parsing import Task

# Korean attaches particles to nouns, so a blacklisted word matches a whole eojeol (space-separated
# word) or the eojeol's start followed by one of KOREAN_PARTICLES: 지도를 (the map) is caught,
# 지도자 (leader) is not.
KOREAN_PARTICLES = (
    "", "을", "를", "이", "가", "은", "는", "의", "에", "에서", "으로", "로", "와", "과", "도", "만",
    "이나", "나", "에게", "으로써", "로써", "처럼", "까지", "부터", "들", "들을", "들이", "들의", "입니다", "이다",
    "서", "줘", "주세요", "보세요", "봐",
)  # fmt: skip

_WORD_EDGE = r"(?<![\p{L}\p{N}])"
_EOJEOL_STRIP = "\"'`“”‘’()[]{}<>.,!?;:~…·"


@dataclass(frozen=True)
class TaskChecks:
    lang: str = "en"
    min_words: int = 4
    max_words: int = 150
    blacklist: tuple[str, ...] | None = None  # None: the language's default list

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise UserError(f"self-instruct speaks {', '.join(LANGUAGES)}, not {self.lang!r}")
        if self.min_words > self.max_words:
            raise UserError(f"--min-words {self.min_words} is more than --max-words {self.max_words}")

    def words(self) -> tuple[str, ...]:
        if self.blacklist is not None:
            return self.blacklist
        return LANGUAGES[self.lang].blacklist


def read_blacklist(path: Path) -> tuple[str, ...]:
    """The words of a --blacklist file: one a line; blank lines and # comments skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read the blacklist {path}: {error}") from None
    return tuple(word.strip() for word in lines if word.strip() and not word.startswith("#"))


class TaskFilter:
    def __init__(self, checks: TaskChecks) -> None:
        self.checks = checks
        words = checks.words()
        self._korean = {word for word in words if regex.search(r"\p{Hangul}", word)}
        latin = [word for word in words if word not in self._korean]
        self._latin = (
            regex.compile(
                _WORD_EDGE + "(" + "|".join(regex.escape(word) for word in latin) + r")(?![\p{L}\p{N}])", regex.I
            )
            if latin
            else None
        )

    def problem(self, task: Task) -> tuple[str, str] | None:
        """Why `task` is dropped, as (reason, detail), or None to go on to the novelty check."""
        instruction = task.instruction
        if not instruction:
            return "no_instruction", "the answer has an input or output label without an instruction"
        if not task.output:
            return "no_output", "the task has no output"
        words = len(instruction.split())
        if words < self.checks.min_words:
            return "too_short", f"{words} words (fewer than {self.checks.min_words})"
        if words > self.checks.max_words:
            return "too_long", f"{words} words (more than {self.checks.max_words})"
        found = self.blacklisted(instruction)
        if found:
            return "blacklisted_word", f"mentions {found!r}: a text-only model cannot do it"
        category = unicodedata.category(instruction[0])
        if category[0] in "PS":
            return "starts_with_punctuation", f"starts with {instruction[0]!r}"
        return None

    def blacklisted(self, instruction: str) -> str | None:
        if self._latin is not None:
            match = self._latin.search(instruction)
            if match:
                return match.group(1).lower()
        if self._korean:
            for eojeol in instruction.split():
                eojeol = eojeol.strip(_EOJEOL_STRIP)
                for word in self._korean:
                    if eojeol.startswith(word) and eojeol[len(word) :] in KOREAN_PARTICLES:
                        return word
        return None
