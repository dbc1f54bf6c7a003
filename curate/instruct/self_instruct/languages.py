"""The languages self-instruct works in: the request it sends and the words that reject a task.

A language is one entry here and its request, templates/prompts/self_instruct.<code>.jinja.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curate.instruct.templates import PROMPTS_DIR

# Tasks a text-only model cannot do, as in Alpaca's generate_instruction.py blacklist.
ENGLISH_BLACKLIST = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
    "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip
# The same ideas in Korean (checks.py matches them with the particles Korean attaches).
KOREAN_BLACKLIST = (
    "이미지", "사진", "그림", "그래프", "파일", "지도", "도표", "차트", "동영상", "비디오", "영상",
    "오디오", "음악", "음성", "녹음", "순서도", "다이어그램", "그려", "그리세요", "그리시오", "그리기", "그려라",
)  # fmt: skip


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    blacklist: tuple[str, ...]  # words that reject an instruction unless --blacklist names others

    @property
    def prompt(self) -> Path:
        """The shipped request template."""
        return PROMPTS_DIR / f"self_instruct.{self.code}.jinja"


LANGUAGES: dict[str, Language] = {
    language.code: language for language in (Language("en", ENGLISH_BLACKLIST), Language("ko", KOREAN_BLACKLIST))
}
