"""Lookup tables the hashing kernel uses for Basic Multilingual Plane code points."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

from curate.corpus.dedup.kernel import DIGIT, LETTER, MARK, PUNCT, SPACE


@lru_cache(maxsize=1)
def character_tables() -> tuple[np.ndarray, np.ndarray]:
    """(class of each code point, its lower-case code point), as Python's str methods see them."""
    classes = np.empty(65536, np.uint8)
    lower = np.arange(65536, dtype=np.int32)
    for cp in range(65536):
        char = chr(cp)
        if char.isspace():
            classes[cp] = SPACE
            continue
        category = unicodedata.category(char)
        if category == "Nd":
            classes[cp] = DIGIT
        elif category[0] == "L" or category in ("Nl", "No"):
            classes[cp] = LETTER
        elif category[0] == "M":
            classes[cp] = MARK
        else:  # punctuation, symbols, controls, format characters, unassigned
            classes[cp] = PUNCT
        lowered = char.lower()
        if len(lowered) == 1:
            lower[cp] = ord(lowered)
    return classes, lower
