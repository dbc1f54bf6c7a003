"""Translations for the fake OpenAI-compatible server (registered by tests/fake_routes.py).

A request is a **translation** (``"translation"``) when its last user message holds the text
between ``<text_to_translate>`` and ``</text_to_translate>`` (the last opening tag to the last
closing one) and the word ``translate`` (any case) or ``번역``. The target language is read from
the prompt outside that text: ``into Korean`` / ``into English`` (or another English language
name), or ``한국어로`` / ``영어로``. Only Korean and English are spoken: into any other language the
text comes back as it was.

The translation keeps the text's layout and copies unchanged every protected part: fenced and
inline code, URLs, e-mail addresses, Markdown link targets, HTML/XML tags (the code-block
masks ``<code-block-N/>`` among them), placeholders ({name}, {{ x }}, {% x %}, %s, %(n)d,
$VAR, ${VAR}), digits, punctuation, one-letter words and all-capital words (as a model keeps
"E, G, B" or "NASA"). Every other run of letters becomes words of the target language chosen by
a hash of the source word: into Korean one real Korean word of about one syllable per 2.2
letters (a Hangul run keeps its syllable count), into English one common English word of about
the same length per alphabetic word and two per Hangul run; a Chinese or Japanese character
(written without spaces) becomes one word. Lengths so run as real translations' do (Korean
about half of English in characters, English about twice Korean) and fastText reads the output
as the target language.

Faults: ``server.translation_faults`` (kind -> probability; absent: none), one kind at most
per request, drawn with ``stable_rng`` from the request's content key and the server seed (so
the same request always gets the same fault): ``"drop_span"`` (one protected span of the
source, chosen by the same draw, removed from the translation; none when it has none),
``"untranslated"`` (the source text returned as it is), ``"truncate"`` (the first third of the
translation's characters). The reply is a pure function of the request.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

OPEN, CLOSE = "<text_to_translate>", "</text_to_translate>"
FAULT_KINDS = ("drop_span", "untranslated", "truncate")
LANGUAGE_NAMES = {
    "korean": "ko", "english": "en", "japanese": "ja", "chinese": "zh", "french": "fr", "german": "de",
    "spanish": "es", "italian": "it", "portuguese": "pt", "russian": "ru", "vietnamese": "vi",
}  # fmt: skip
KOREAN_NAMES = {"한국어": "ko", "영어": "en", "일본어": "ja", "중국어": "zh"}
KOREAN_WORDS = {
    1: ("물", "집", "책", "말", "길", "꽃", "밥", "옷", "눈", "산", "강", "돈", "일", "날", "맛"),
    2: ("사람", "시간", "오늘", "우리", "학교", "생각", "문제", "사회", "나라", "세계", "방법", "회사", "음식", "공부",
        "사랑", "날씨", "문장", "과일", "질문", "대답", "설명", "가족", "친구", "마음", "하늘", "바다", "여름", "겨울",
        "정보", "경우", "결과", "이유", "내용", "주제", "목록", "단어", "예시", "아침", "저녁", "도시"),
    3: ("이야기", "컴퓨터", "프로그램", "대학교", "자동차", "도서관", "선생님", "그리고", "하지만", "그래서",
        "새로운", "중요한", "다양한", "작성하다", "만들다", "알려줘", "할머니", "대한민국", "텔레비전", "운동장"),
    4: ("설명하세요", "작성하세요", "분류하세요", "요약하세요", "번역하세요", "바꾸어주세요", "알려주세요",
        "생각합니다", "있습니다", "중요합니다", "필요합니다", "좋아합니다"),
}  # fmt: skip
ENGLISH_WORDS = (
    "the", "people", "time", "year", "way", "day", "man", "thing", "woman", "life", "child", "world", "school",
    "state", "family", "student", "group", "country", "problem", "hand", "part", "place", "case", "week",
    "company", "system", "program", "question", "work", "government", "number", "night", "point", "home",
    "water", "room", "mother", "area", "money", "story", "fact", "month", "lot", "right", "study", "book",
    "word", "business", "issue", "side", "kind", "head", "house", "service", "friend", "father", "power",
    "hour", "game", "line", "end", "member", "law", "car", "city", "community", "name", "president", "team",
    "minute", "idea", "kid", "body", "information", "back", "parent", "face", "others", "level", "office",
    "door", "health", "person", "art", "war", "history", "party", "result", "change", "morning", "reason",
    "research", "girl", "guy", "moment", "air", "teacher", "force", "education", "write", "make", "give",
    "find", "think", "tell", "become", "leave", "feel", "bring", "begin", "keep", "hold", "with", "about",
    "which", "their", "there", "would", "other", "these", "because", "important", "different", "following",
)  # fmt: skip
# The parts kept as they are, leftmost first: the code-block rules, then what curate's spans.py protects.
_KEPT_PARTS = (
    r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(?:.*?\n)??[ \t]*\1[`~]*[ \t]*$|^[ \t]*(?:`{3,}[^`\n]*|~{3,}[^\n]*)\n.*\Z",
    r"``[^\n]+?``|`[^`\n]+`",
    r"(?:https?|ftp)://[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+|www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/[^\s]*)?",
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9:_.-]*(?:\s+[^<>]*?)?\s*/?>",
    r"\{\{.*?\}\}|\{%.*?%\}",
    r"%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[-+0#]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[sdifFeEgGxXoc](?![A-Za-z])",
    r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*",
)
_FORMAT_FIELD = (
    r"\{(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]{}\s]*\])*|\d*)(?:![rsa])?(?::[^{}\s]*)?\}"
)
PROTECTED = re.compile("|".join((*_KEPT_PARTS, r"\]\(\s*[^\s()]+", r"\{[^{}\s]*\}")), re.M | re.S)
# What a drop_span fault may remove: a span curate protects (a {format field}, not any {...}), or a number.
DROPPABLE = re.compile("|".join((*_KEPT_PARTS, _FORMAT_FIELD, r"\d+(?:,\d{3}(?!\d))*")), re.M | re.S)
LETTERS = re.compile(r"[^\W\d_]+")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
NOT_CJK = re.compile(r"[^\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
INTO = re.compile(r"\binto\s+([A-Za-z]+)")
KOREAN_INTO = re.compile(r"(한국어|영어|일본어|중국어)\s*로")


def _last_user(messages: list[Any]) -> str:
    from tests.fake_openai_server import last_user_text

    return last_user_text(messages)


def source_text(prompt: str) -> str | None:
    """The text to translate: from the last opening tag to the last closing tag, stripped."""
    start, end = prompt.rfind(OPEN), prompt.rfind(CLOSE)
    if start < 0 or end < start:
        return None
    return prompt[start + len(OPEN) : end].strip()


def matches(messages: list[Any]) -> bool:
    prompt = _last_user(messages)
    return source_text(prompt) is not None and ("translate" in prompt.lower() or "번역" in prompt)


def target_language(prompt: str) -> str | None:
    """The language the prompt asks for, read outside the text to translate."""
    asked = prompt[: prompt.rfind(OPEN)] + prompt[prompt.rfind(CLOSE) :]
    for found in INTO.finditer(asked):
        if found.group(1).lower() in LANGUAGE_NAMES:
            return LANGUAGE_NAMES[found.group(1).lower()]
    found = KOREAN_INTO.search(asked)
    return KOREAN_NAMES[found.group(1)] if found else None


def _pick(word: str, salt: str, choices: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{salt}\x1f{word.lower()}".encode()).digest()
    return choices[int.from_bytes(digest[:4], "big") % len(choices)]


def _english_words(length: int) -> tuple[str, ...]:
    """Common English words about `length` letters long (any, for a word longer than them all)."""
    near = tuple(word for word in ENGLISH_WORDS if abs(len(word) - length) <= 1)
    return near or ENGLISH_WORDS


def _cjk_word(char: str, target: str) -> str:
    if target == "ko":
        return _pick(char, "ko", KOREAN_WORDS[1] + KOREAN_WORDS[2])
    return _pick(char, "en", ENGLISH_WORDS)


def translate_word(word: str, target: str, shouting: bool = False) -> str:
    """One word in `target`; a one-letter word, and an acronym in a text that is not all capitals, kept."""
    hangul = bool(HANGUL.search(word))
    if not hangul and (len(word) == 1 or (word.isupper() and word.isascii() and not shouting)):
        return word
    if CJK.search(word):  # no spaces between words: each character says about what a word does
        runs = re.findall(f"{CJK.pattern}|{NOT_CJK.pattern}", word)
        return " ".join(_cjk_word(run, target) if CJK.match(run) else translate_word(run, target) for run in runs)
    if target == "ko":
        syllables = len(word) if hangul else round(len(word) / 2.2)
        return _pick(word, "ko", KOREAN_WORDS[max(1, min(4, syllables))])
    if hangul:  # a Korean word (with its particles) says what two English words do
        words = [_pick(word, "en", ENGLISH_WORDS), _pick(word, "en2", ENGLISH_WORDS)]
    else:
        words = [_pick(word, "en", _english_words(len(word)))]
    if word[0].isupper():
        words[0] = words[0].capitalize()
    return " ".join(words)


def translate(text: str, target: str) -> str:
    """`text` in `target` (ko or en; any other target: `text` as it is), protected parts kept."""
    if target not in ("ko", "en"):
        return text
    letters = [char for char in text if char.isalpha() and char.isascii()]
    shouting = len(letters) > 3 and sum(char.isupper() for char in letters) * 2 > len(letters)

    def words(part: str) -> str:
        return LETTERS.sub(lambda word: translate_word(word.group(), target, shouting), part)

    pieces, at = [], 0
    for found in PROTECTED.finditer(text):
        pieces += [words(text[at : found.start()]), found.group()]
        at = found.end()
    pieces.append(words(text[at:]))
    return "".join(pieces)


def fault(key: str, server: Any) -> tuple[str | None, float]:
    """(the fault drawn for this request or None, a second draw in [0, 1) for choosing within it)."""
    from tests.fake_openai_server import stable_rng

    rates = getattr(server, "translation_faults", None) or {}
    rng = stable_rng("translation-fault", key, server.seed)
    draw, choice = rng.random(), rng.random()
    edge = 0.0
    for kind in FAULT_KINDS:
        edge += float(rates.get(kind, 0.0))
        if draw < edge:
            return kind, choice
    return None, choice


def answer(messages: list[Any], key: str, server: Any, index: int) -> str:
    prompt = _last_user(messages)
    text = source_text(prompt) or ""
    kind, choice = fault(key, server)
    if kind == "untranslated":
        return text
    translation = translate(text, target_language(prompt) or "")
    if kind == "truncate":
        return translation[: len(translation) // 3].rstrip()
    if kind == "drop_span":
        found = [span.group() for span in DROPPABLE.finditer(text)]
        if found:
            span = found[int(choice * len(found))]
            at = translation.find(span)
            if at >= 0:
                translation = translation[:at] + translation[at + len(span) :]
    return translation


@dataclass(frozen=True)
class _Kind:
    """What tests/fake_routes.py's ExtraKind holds, without importing it (it imports this module)."""

    matches: Any
    answer: Any


TRANSLATION_KIND = _Kind(matches, answer)
