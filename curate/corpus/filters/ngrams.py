"""Repeated n-grams of a word sequence, counted with NumPy instead of joined strings.

Gopher's repetition rules measure (a) the characters covered by the most frequent n-gram
and (b) the characters of n-grams that repeat an earlier one, scanning left to right and
jumping past each repeat. datatrove builds a joined string per n-gram; here each word
becomes an integer id, and each n-gram the dense id of the pair ((n-1)-gram, next word),
so all n from 2 to 10 cost a few vectorised passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def ngram_character_fractions(
    words: Sequence[str], text_length: int, top_ns: Sequence[int], dup_ns: Sequence[int]
) -> tuple[dict[int, float], dict[int, float]]:
    """({n: top n-gram chars / text length}, {n: duplicate n-gram chars / text length})."""
    top: dict[int, float] = {}
    dup: dict[int, float] = {n: 0.0 for n in dup_ns}
    count = len(words)
    if count < 2 or text_length == 0:
        return top, dup
    _, word_ids, word_repeats = np.unique(
        np.fromiter(map(hash, words), np.int64, count), return_inverse=True, return_counts=True
    )
    word_ids = word_ids.astype(np.int64)
    ends = np.zeros(count + 1, np.int64)
    np.cumsum(np.fromiter(map(len, words), np.int64, count), out=ends[1:])
    vocabulary = len(word_repeats)
    # An n-gram can only repeat where the (n-1)-grams at i and at i+1 both repeat, so each
    # level looks at those positions alone: few, past the first levels, on natural text.
    repeating = word_repeats[word_ids] > 1  # per position: does its (n-1)-gram repeat?
    gram_ids = word_ids
    for n in range(2, max([*top_ns, *dup_ns], default=1) + 1):
        grams = count - n + 1
        if grams <= 0:
            break
        positions = np.flatnonzero(repeating[:grams] & repeating[1 : grams + 1])
        repeating = np.zeros(grams, bool)
        if len(positions) == 0:
            if n in top_ns:  # every n-gram is unique: the "top" one is the first
                top[n] = (int(ends[n]) + n - 1) / text_length
            gram_ids = np.zeros(0, np.int64)
            continue
        keys = gram_ids[positions] * vocabulary + word_ids[positions + n - 1]
        _, first, inverse, repeats = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        repeated = repeats[inverse] > 1
        repeating[positions[repeated]] = True
        ids = np.zeros(grams, np.int64)
        ids[positions] = inverse
        gram_ids = ids
        chars = ends[n : n + grams] - ends[:grams]  # characters of each n-gram's words
        most = int(repeats.max())
        if n in top_ns:
            # ties go to the n-gram seen first, as Counter.most_common does
            position = int(positions[first[repeats == most]].min()) if most > 1 else 0
            top[n] = (int(chars[position]) + n - 1) * most / text_length  # joined with spaces
        if n in dup_ns and most > 1:
            first_position = positions[first[inverse]]
            dup[n] = _greedy_duplicate_chars(positions, inverse, first_position, chars, grams, n) / text_length
    return top, dup


def _greedy_duplicate_chars(
    positions: np.ndarray, grams: np.ndarray, first_position: np.ndarray, chars: np.ndarray, size: int, n: int
) -> int:
    """Characters of n-grams already seen, scanning left to right and skipping n words after each.

    Only positions whose n-gram occurred earlier can be repeats, so the Python loop runs over
    those alone. A repeat's window hides the next n-1 positions from the scan; an n-gram
    counts as seen if its first occurrence was not hidden, or a later visited copy was added.
    """
    later = first_position != positions
    hidden = np.zeros(size, bool)
    added: set[int] = set()
    repeated = 0
    next_visit = 0
    for position, gram, first in zip(positions[later].tolist(), grams[later].tolist(), first_position[later].tolist()):
        if position < next_visit:
            continue
        if not hidden[first] or gram in added:
            repeated += int(chars[position])
            hidden[position + 1 : position + n] = True
            next_visit = position + n
        else:
            added.add(gram)
            next_visit = position + 1
    return repeated
