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
    word_ids = np.unique(np.fromiter(map(hash, words), np.int64, count), return_inverse=True)[1].astype(np.int64)
    ends = np.zeros(count + 1, np.int64)
    np.cumsum(np.fromiter(map(len, words), np.int64, count), out=ends[1:])
    vocabulary = int(word_ids.max()) + 1
    gram_ids = word_ids
    for n in range(2, max([*top_ns, *dup_ns], default=1) + 1):
        grams = count - n + 1
        if grams <= 0:
            break
        paired = gram_ids[:grams] * vocabulary + word_ids[n - 1 : n - 1 + grams]
        _, first_index, gram_ids, repeats = np.unique(
            paired, return_index=True, return_inverse=True, return_counts=True
        )
        chars = ends[n : n + grams] - ends[:grams]  # characters of each n-gram's words
        if n in top_ns:
            most = int(repeats.max())
            # ties go to the n-gram seen first, as Counter.most_common does
            position = int(first_index[repeats == most].min())
            top[n] = (int(chars[position]) + n - 1) * most / text_length  # joined with spaces
        if n in dup_ns and repeats.max() > 1:
            dup[n] = _greedy_duplicate_chars(gram_ids, first_index, chars, n) / text_length
    return top, dup


def _greedy_duplicate_chars(gram_ids: np.ndarray, first_index: np.ndarray, chars: np.ndarray, n: int) -> int:
    """Characters of n-grams already seen, scanning left to right and skipping n words after each.

    Only positions whose n-gram occurred earlier can be repeats, so the Python loop runs over
    those alone. A repeat's window hides the next n-1 positions from the scan; an n-gram
    counts as seen if its first occurrence was not hidden, or a later visited copy was added.
    """
    first_position = first_index[gram_ids]
    positions = np.arange(len(gram_ids))
    candidates = positions[first_position != positions]
    hidden = np.zeros(len(gram_ids), bool)
    added: set[int] = set()
    repeated = 0
    next_visit = 0
    for position in candidates.tolist():
        if position < next_visit:
            continue
        gram = int(gram_ids[position])
        if not hidden[first_position[position]] or gram in added:
            repeated += int(chars[position])
            hidden[position + 1 : position + n] = True
            next_visit = position + n
        else:
            added.add(gram)
            next_visit = position + 1
    return repeated
