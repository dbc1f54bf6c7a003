"""The NumPy n-gram counts equal the plain definitions of Gopher's repetition measures."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from curate.corpus.filters.ngrams import ngram_character_fractions


def top_ngram_chars(words: list[str], n: int) -> int:
    grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def duplicate_ngram_chars(words: list[str], n: int) -> int:
    seen, repeated, position = set(), 0, 0
    while position < len(words) - n + 1:
        gram = tuple(words[position : position + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            position += n
        else:
            seen.add(gram)
            position += 1
    return repeated


@pytest.mark.parametrize("seed", range(40))
def test_matches_the_definitions_on_repetitive_word_sequences(seed):
    rng = random.Random(seed)
    vocabulary = [rng.choice("abcdefg") * rng.randint(1, 4) for _ in range(rng.randint(2, 12))]
    words = [rng.choice(vocabulary) for _ in range(rng.randint(2, 300))]
    if seed % 3 == 0:  # long repeated stretches, as in boilerplate
        words = words[:20] * 5 + words
    length = sum(map(len, words)) + len(words)
    top, dup = ngram_character_fractions(words, length, [2, 3, 4], [5, 6, 7, 8, 9, 10])
    for n in (2, 3, 4):
        if len(words) >= n:
            assert top[n] == pytest.approx(top_ngram_chars(words, n) / length), n
    for n in range(5, 11):
        assert dup[n] == pytest.approx(duplicate_ngram_chars(words, n) / length), n


def test_short_and_empty_inputs():
    assert ngram_character_fractions([], 0, [2], [5]) == ({}, {5: 0.0})
    top, dup = ngram_character_fractions(["a", "b"], 3, [2, 3], [5])
    assert top == {2: 1.0} and dup == {5: 0.0}
