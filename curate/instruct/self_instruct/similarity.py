"""ROUGE-L novelty index for the self-instruct / Alpaca filter.

Self-instruct and Alpaca drop a generated instruction when its ROUGE-L F1 against any
instruction already in the pool exceeds 0.7. Their code scores the candidate against every
pool item with rouge-score: one full LCS table per pair, so each candidate costs O(pool).
`RougeLIndex.best_match` returns the same maximum, float for float, while computing the LCS
of only a handful of pool items:

1. An inverted index counts, for every pool item, the multiset of tokens it shares with
   the candidate. The LCS of two token lists is at most that overlap, and F1 grows with the
   LCS, so `2 * overlap / (len_a + len_b)` bounds each item's F1 from above.
2. Items are scored exactly in decreasing order of that bound, stopping once the bound can
   no longer reach the best score found.

Why by hand and not with a library: the exact answer must equal rouge-score's, and the
pruning needs the per-item overlap counts, which no off-the-shelf ANN or MinHash index gives
(they are approximate). A multiset overlap is a plain set overlap once each occurrence of a
token gets its own key ("the"#1, "the"#2, ...), so one `np.bincount` over the concatenated
postings of the candidate's keys yields every item's overlap at once.

The exact LCS is the bit-parallel algorithm of Allison & Dix (1986) / Hyyrö (2004) on
Python integers: one bitmask per candidate token, four integer operations per pool-item
token, so a 20 x 20 token pair takes a few microseconds without numba. Measured with
bench/rouge_novelty.py (50,000 real sentences, held-out Alpaca instructions): about 0.45 ms
per candidate, about 3 exact LCS per candidate on average, the time spent in the numpy
counting; so neither numba nor skipping frequent tokens was needed.

Scores reproduce rouge-score's `_score_lcs` + `scoring.fmeasure` arithmetic exactly, with the
candidate as target and the pool item as prediction (Alpaca's order):
precision = lcs / len(item), recall = lcs / len(candidate), f = 2 * precision * recall /
(precision + recall). Mathematically that is 2 * lcs / (len_a + len_b), but the floats
differ in the last bit for about 39% of (lcs, len_a, len_b) up to 150 tokens, and pairs
with equal ratios can round differently (2/3 is 0.6666666666666665 for lcs 3 of 5 and 4
tokens, 0.6666666666666666 for lcs 4 of 5 and 7), so the pruning
keeps a small slack and the maximum is taken over the floats rouge-score would produce.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import regex

__all__ = [
    "RougeLIndex",
    "english_tokens",
    "korean_char_tokens",
    "korean_kiwi_tokens",
    "korean_tokens",
    "rouge_l_f1",
    "tokenizer_for",
]

Tokenizer = Callable[[str], list[str]]

# The pruning compares a float upper bound with the best float score. Both are within a few
# ulps of their exact ratios, so with a slack far above that no item that could reach the
# best float is skipped (a larger slack would only score a few more items).
_SLACK = 1e-9
# How many of the highest bounds are scored first, to find a good score to prune with.
_FIRST_BATCH = 8

_ALNUM_RUN = re.compile(r"[a-z0-9]+")


def english_tokens(text: str) -> list[str]:
    """rouge-score's default tokens without a stemmer.

    Lowercase the text, then every maximal run of ASCII letters and digits is a token and
    everything else separates tokens (so non-Latin scripts, Hangul included, vanish).
    """
    return _ALNUM_RUN.findall(text.lower())


# One token per Hangul, Han or kana character; other letters and digits (with their
# combining marks) as runs, so Latin words inside Korean text stay words; punctuation,
# symbols and spaces are dropped.
_CJK_CHAR = r"\p{Hangul}\p{Han}\p{Hiragana}\p{Katakana}"
_KOREAN_CHAR = regex.compile(rf"[{_CJK_CHAR}]|[[\p{{L}}\p{{M}}\p{{N}}]--[{_CJK_CHAR}]]+", regex.V1)


def korean_char_tokens(text: str) -> list[str]:
    """Korean without a morphological analyser: every Hangul syllable (and Han or kana
    character) is a token, runs of other letters or digits are words; lowercased."""
    return _KOREAN_CHAR.findall(text.lower())


def korean_kiwi_tokens(text: str) -> list[str]:
    """Kiwi morphemes (their surface spans), lowercased, without punctuation-only tokens."""
    from curate.corpus.segment import _Kiwi

    return [token.lower() for token in _Kiwi.words(text) if any(char.isalnum() for char in token)]


def korean_tokens(text: str) -> list[str]:
    """Korean tokens: Kiwi morphemes when kiwipiepy is installed, else characters."""
    from curate.corpus.segment import kiwi_available

    return korean_kiwi_tokens(text) if kiwi_available() else korean_char_tokens(text)


KOREAN_TOKENS = ("auto", "kiwi", "chars")  # how Korean is split for ROUGE-L (see tokenizer_for)


def tokenizer_for(lang: str, korean: str = "auto") -> Tokenizer:
    """The ROUGE-L tokenizer for language `lang` (ISO 639-1).

    "ko" gets Korean tokens: `korean` = "kiwi" (morphemes, needs kiwipiepy), "chars"
    (characters), or "auto" (kiwi when installed). Every other language gets rouge-score's
    English tokens, as self-instruct and Alpaca use them.
    """
    if korean not in KOREAN_TOKENS:
        raise ValueError(f"korean tokenizer must be one of {', '.join(KOREAN_TOKENS)}, not {korean!r}")
    if lang != "ko":
        return english_tokens
    from curate.corpus.segment import kiwi_available

    if korean == "kiwi" and not kiwi_available():
        from curate.errors import UserError

        raise UserError("Korean ROUGE-L with kiwi needs kiwipiepy: pip install 'curate[ko]' (or use chars)")
    if korean == "chars" or (korean == "auto" and not kiwi_available()):
        return korean_char_tokens
    return korean_kiwi_tokens


def rouge_l_f1(lcs: int, candidate_length: int, item_length: int) -> float:
    """ROUGE-L F1 with rouge-score's float arithmetic (candidate = target, item = prediction)."""
    if lcs == 0:
        return 0.0
    precision = lcs / item_length
    recall = lcs / candidate_length
    return 2 * precision * recall / (precision + recall)


def _lcs_length(masks: dict[int, int], length: int, tokens: list[int]) -> int:
    """LCS of the candidate (given as per-token position bitmasks, `length` tokens) and
    `tokens`: bit-parallel, the zero bits of V count the LCS."""
    v = (1 << length) - 1
    get = masks.get
    for token in tokens:
        u = v & get(token, 0)
        v = (v + u) | (v - u)
    return length - (v & ((1 << length) - 1)).bit_count()


class _Postings:
    """Item ids per key in numpy arrays that grow by doubling (amortised O(1) appends)."""

    __slots__ = ("arrays", "sizes")

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.sizes: list[int] = []

    def new_key(self) -> int:
        self.arrays.append(np.empty(4, dtype=np.int32))
        self.sizes.append(0)
        return len(self.sizes) - 1

    def append(self, key: int, item: int) -> None:
        array, size = self.arrays[key], self.sizes[key]
        if size == len(array):
            grown = np.empty(2 * size, dtype=np.int32)
            grown[:size] = array
            self.arrays[key] = array = grown
        array[size] = item
        self.sizes[key] = size + 1

    def get(self, key: int) -> np.ndarray:
        return self.arrays[key][: self.sizes[key]]


class RougeLIndex:
    """A growing pool of texts that answers the exact best ROUGE-L F1 of a new text.

    >>> index = RougeLIndex()
    >>> index.add("Give three tips for staying healthy.")
    0
    >>> index.best_match("Give three tips for staying happy.")
    (0.8333333333333334, 0)
    """

    def __init__(self, tokenizer: Tokenizer = english_tokens) -> None:
        self.tokenizer = tokenizer
        self._vocab: dict[str, int] = {}
        # key of the k-th occurrence (k = 0, 1, ...) of a token id -> its postings
        self._keys: dict[tuple[int, int], int] = {}
        self._postings = _Postings()
        # pool items as token-id arrays: one flat int32 array, item i at offsets[i]:offsets[i+1]
        self._tokens = np.empty(1024, dtype=np.int32)
        self._offsets = [0]
        self._lengths = np.empty(1024, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def add(self, text: str) -> int:
        """Add `text` to the pool; returns its index (0, 1, ...)."""
        item = len(self)
        ids = [self._vocab.setdefault(token, len(self._vocab)) for token in self.tokenizer(text)]
        start, end = self._offsets[-1], self._offsets[-1] + len(ids)
        if end > len(self._tokens):
            self._tokens = np.resize(self._tokens, max(end, 2 * len(self._tokens)))
        self._tokens[start:end] = ids
        self._offsets.append(end)
        if item == len(self._lengths):
            self._lengths = np.resize(self._lengths, 2 * item)
        self._lengths[item] = len(ids)
        seen: dict[int, int] = {}
        for token in ids:
            occurrence = seen.get(token, 0)
            seen[token] = occurrence + 1
            key = self._keys.get((token, occurrence))
            if key is None:
                key = self._keys[(token, occurrence)] = self._postings.new_key()
            self._postings.append(key, item)
        return item

    def best_match(self, text: str) -> tuple[float, int | None]:
        """The exact maximum ROUGE-L F1 of `text` against the pool and the lowest index of an
        item reaching it; (0.0, None) when the pool is empty or no item shares a token."""
        return self._search(text, threshold=None)

    def exceeds(self, text: str, threshold: float) -> bool:
        """Whether some pool item scores strictly above `threshold` (0 <= threshold < 1).

        Faster than `best_match(text)[0] > threshold`: items whose bound is at most the
        threshold are never scored, and the search stops at the first item above it.
        """
        score, item = self._search(text, threshold=threshold)
        return item is not None and score > threshold

    def _search(self, text: str, threshold: float | None) -> tuple[float, int | None]:
        ids = [self._vocab.get(token, -1) for token in self.tokenizer(text)]
        length = len(ids)
        items, bounds = self._bounds(ids)
        if items.size == 0:
            return 0.0, None
        masks: dict[int, int] = {}
        for position, token in enumerate(ids):
            if token >= 0:
                masks[token] = masks.get(token, 0) | (1 << position)

        best, best_item = 0.0, None
        # Stop at `floor`: an item whose bound is below it cannot matter. With a threshold the
        # caller only asks whether anything beats it, so the floor starts there.
        floor = -1.0 if threshold is None else threshold

        def score_in_order(order: np.ndarray) -> bool:
            """Score items in decreasing bound order; True when a threshold was beaten."""
            nonlocal best, best_item
            for position in order.tolist():
                if bounds[position] < max(best, floor) - _SLACK:
                    break
                item = int(items[position])
                lcs = _lcs_length(masks, length, self._item_tokens(item))
                score = rouge_l_f1(lcs, length, int(self._lengths[item]))
                if score > best or (score == best and best_item is not None and item < best_item):
                    best, best_item = score, item
                    if threshold is not None and best > threshold:
                        return True
            return False

        # First the few highest bounds, to get a score to prune with ...
        count = items.size
        first = (
            np.arange(count) if count <= _FIRST_BATCH else np.argpartition(bounds, count - _FIRST_BATCH)[-_FIRST_BATCH:]
        )
        first = first[np.lexsort((items[first], -bounds[first]))]
        if score_in_order(first):
            return best, best_item
        # ... then every other item whose bound can still reach the best, highest first.
        rest = np.flatnonzero(bounds >= max(best, floor) - _SLACK)
        rest = rest[~np.isin(rest, first)]
        if rest.size:
            score_in_order(rest[np.lexsort((items[rest], -bounds[rest]))])
        if best_item is None:
            return 0.0, None
        return best, best_item

    def _bounds(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Pool items sharing a token with the candidate, and their F1 upper bounds."""
        seen: dict[int, int] = {}
        postings = []
        for token in ids:
            if token < 0:
                continue
            occurrence = seen.get(token, 0)
            seen[token] = occurrence + 1
            key = self._keys.get((token, occurrence))
            if key is not None:
                postings.append(self._postings.get(key))
        if not postings:
            return np.empty(0, dtype=np.int64), np.empty(0)
        overlap = np.bincount(np.concatenate(postings), minlength=0)
        items = np.flatnonzero(overlap)
        shared = overlap[items]
        bounds = 2.0 * shared / (len(ids) + self._lengths[items])
        return items, bounds

    def _item_tokens(self, item: int) -> list[int]:
        return self._tokens[self._offsets[item] : self._offsets[item + 1]].tolist()
