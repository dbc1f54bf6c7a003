"""Language-aware words and sentences for the quality rules.

- English and other space-separated languages: `english.tokenize_chunk`, spaCy-compatible
  splits memoised per whitespace chunk.
- Korean: the Kiwi morphological analyser when kiwipiepy is installed (what datatrove
  uses), else the documented rule: words are the space-separated eojeol, split from
  punctuation like English. `KOREAN_SEGMENTERS` names both.
- Chinese and Japanese: no spaces between words, so every Han, kana or Hangul character
  is a word of its own and runs of other letters or digits are words.

Sentences: a sentence ends after a terminal punctuation mark (Unicode Sentence_Terminal:
. ! ? 。 ！ ？ ...) that is followed by a word, as spaCy's sentencizer decides.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from itertools import chain

import regex

from curate.corpus.segment.english import tokenize_chunk

KOREAN_SEGMENTERS = ("auto", "kiwi", "space")
CJK_LANGUAGES = frozenset({"zh", "ja", "yue", "wuu"})

# Characters that make a token a "symbol" for Gopher's word counts (datatrove's set:
# ASCII and CJK punctuation, control characters and the terminal marks).
_SYMBOL_CHARS = frozenset(
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
    + "".join(chr(code) for low, high in ((0, 9), (11, 32), (127, 160)) for code in range(low, high))
)
_TERMINAL = regex.compile(r"[\p{Sentence_Terminal}៖៙៚]")

_CHUNK_CACHE_LIMIT = 500_000
_chunk_cache: dict[str, tuple[str, ...]] = {}


@lru_cache(maxsize=65536)
def is_terminal(char: str) -> bool:
    """A sentence-ending punctuation mark, in any script."""
    return _TERMINAL.fullmatch(char) is not None


@lru_cache(maxsize=1 << 16)
def is_symbol(word: str) -> bool:
    return all(char in _SYMBOL_CHARS for char in word)


def english_words(text: str) -> list[str]:
    chunks = text.split()
    found = list(map(_chunk_cache.get, chunks))  # in C: most chunks were seen before
    if None in found:
        if len(_chunk_cache) >= _CHUNK_CACHE_LIMIT:
            _chunk_cache.clear()
        for position, tokens in enumerate(found):
            if tokens is None:
                chunk = chunks[position]
                found[position] = _chunk_cache[chunk] = tokenize_chunk(chunk)
    return list(chain.from_iterable(found))


# a CJK character alone; a run of other letters, marks or digits (which stops at a CJK one:
# "Python编程" is "Python", "编", "程"); any other character but space alone
_CJK_WORD = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー]"
    r"|(?:(?![\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー])[\p{L}\p{M}\p{N}])+"
    r"|[^\s\p{L}\p{M}\p{N}]"
)


def cjk_words(text: str) -> list[str]:
    return _CJK_WORD.findall(text)


class _Kiwi:
    """One lazily created Kiwi analyser per process (loading its model takes a second)."""

    analyser = None

    @classmethod
    def words(cls, text: str) -> list[str]:
        if cls.analyser is None:
            from kiwipiepy import Kiwi

            cls.analyser = Kiwi()
        return [text[token.start : token.end] for token in cls.analyser.tokenize(text)]


def kiwi_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("kiwipiepy") is not None


def resolve_korean_segmenter(choice: str) -> str:
    if choice == "auto":
        return "kiwi" if kiwi_available() else "space"
    if choice == "kiwi" and not kiwi_available():
        from curate.errors import UserError

        raise UserError("--ko-segmenter kiwi needs kiwipiepy: pip install 'curate[ko]' (or use --ko-segmenter space)")
    return choice


def words(text: str, lang: str, korean: str = "space") -> list[str]:
    """The words of `text` in language `lang` (ISO 639-1), punctuation tokens included."""
    if lang == "ko" and korean == "kiwi":
        return _Kiwi.words(text)
    if lang in CJK_LANGUAGES:
        return cjk_words(text)
    return english_words(text)


def sentence_count(line: str, lang: str) -> int:
    """Sentences in one line: 1 + the terminal marks followed, after punctuation, by a word."""
    tokens = words(line, lang)
    count = 1
    seen_terminal = False
    for token in tokens:
        terminal = len(token) == 1 and is_terminal(token)
        if terminal:
            seen_terminal = True
        elif seen_terminal and not _is_punct(token):
            count += 1
            seen_terminal = False
    return count


@lru_cache(maxsize=65536)
def _is_punct(token: str) -> bool:
    return all(unicodedata.category(char).startswith("P") for char in token)
