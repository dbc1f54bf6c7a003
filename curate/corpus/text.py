"""Text normalisation shared by the corpus steps."""

from __future__ import annotations

import re
import unicodedata

UNICODE_FORMS = ("NFC", "NFKC", "none")

# Line breaks Python's splitlines() honours besides \n; web text carries them by accident.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
# Invisible characters that only split words: zero-width space, word joiner, BOM. ZWJ and
# ZWNJ stay: they change meaning in emoji sequences, Persian and Indic scripts.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff]")
# Horizontal spaces: tab, NBSP and the typographic spaces. U+3000 (ideographic space)
# stays, since CJK layout uses it on purpose.
_SPACES = re.compile("[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f]+")
_LINE_EDGES = re.compile(" ?\n ?")
_BLANK_LINES = re.compile("\n{3,}")


def normalize_unicode(text: str, form: str = "NFC") -> str:
    if form == "none" or unicodedata.is_normalized(form, text):
        return text
    return unicodedata.normalize(form, text)


def normalize_whitespace(text: str) -> str:
    """One space between words, no spaces at line ends, at most one blank line, trimmed."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _LINE_EDGES.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()
