"""The hashing pass of dedup: normalisation, MinHash estimates, and LSH parity with datasketch."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHashLSH

from curate.corpus.dedup.clusters import candidate_pairs, jaccard
from curate.corpus.dedup.hashing import MinHashSettings, character_mode, hash_texts

SETTINGS = MinHashSettings()
WORDS = [f"w{n}" for n in range(3000)]


def _hashes(texts, language="en", **flags):
    return hash_texts(texts, character_mode(None, language, len(texts)), SETTINGS, **flags)


def test_exact_hash_ignores_case_whitespace_and_unicode_composition():
    texts = [
        "Café  au lait\n\nis   GOOD.",
        "café au lait is good.",  # lower case, one space
        "Cafe\u0301 au lait is good.",  # decomposed é: the same text once NFC
        "  café au lait is good.  \n",  # leading and trailing whitespace
        "café au lait is good!",  # punctuation counts
        "café au laits is good.",
    ]
    exact = [tuple(row) for row in _hashes(texts).exact.tolist()]
    assert exact[0] == exact[1] == exact[2] == exact[3]
    assert len({exact[0], exact[4], exact[5]}) == 3


def test_shingles_are_word_5grams_of_letters_and_digits():
    hashes = _hashes(
        ["One, two; three four five six!", "one two three four five six", "one two three four five seven"],
        shingles=True,
    )
    sets = np.split(hashes.shingles, np.cumsum(hashes.shingle_counts)[:-1])
    assert list(hashes.tokens) == [6, 6, 6]
    assert list(hashes.shingle_counts) == [2, 2, 2]
    assert np.array_equal(sets[0], sets[1])  # punctuation and case do not matter
    assert len(np.intersect1d(sets[1], sets[2])) == 1  # "one two three four five" only


def test_digit_runs_count_as_one_token():
    hashes = _hashes(["Call 555 1234 on 12 May 2024", "Call 999 0000 on 31 May 1999"])
    assert hashes.exact[0].tolist() != hashes.exact[1].tolist()
    assert np.array_equal(hashes.bands[0], hashes.bands[1])


def test_korean_uses_character_ngrams_so_spacing_does_not_matter():
    spaced = "오늘은 날씨가 정말 좋아서 공원에 산책을 하러 갔습니다"
    unspaced = "오늘은날씨가 정말좋아서 공원에산책을 하러갔습니다"
    korean = _hashes([spaced, unspaced], language="ko")
    assert np.array_equal(korean.bands[0], korean.bands[1])
    words = _hashes([spaced, unspaced], language="en")
    assert not np.array_equal(words.bands[0], words.bands[1])
    mixed = hash_texts([spaced, unspaced], character_mode(["ko", None], "en", 2), SETTINGS)
    assert not np.array_equal(mixed.bands[0], mixed.bands[1])  # the lang column picks per document


def test_lines_hash_each_line_and_blank_lines_are_zero():
    hashes = _hashes(["Menu\n\n  Home  \nBody text here", "home\nother"], lines=True)
    assert list(hashes.line_counts) == [4, 2]
    first = hashes.line_hashes[:4]
    assert first[1] == 0
    assert first[2] == hashes.line_hashes[4]  # "  Home  " and "home"
    assert len(set(first.tolist())) == 4


def _random_pair(rng: random.Random, similarity_target: float) -> tuple[str, str]:
    base = [rng.choice(WORDS) for _ in range(300)]
    other = list(base)
    for position in rng.sample(range(len(base)), int(len(base) * (1 - similarity_target) / 5)):
        other[position] = rng.choice(WORDS)
    return " ".join(base), " ".join(other)


def test_signature_agreement_estimates_jaccard_without_bias():
    rng = random.Random(7)
    texts = [text for target in np.linspace(0.2, 0.95, 60) for text in _random_pair(rng, float(target))]
    hashes = _hashes(texts, signatures=True, shingles=True)
    sets = np.split(hashes.shingles, np.cumsum(hashes.shingle_counts)[:-1])
    errors = []
    for left in range(0, len(texts), 2):
        true = jaccard(sets[left], sets[left + 1])
        estimate = float(np.mean(hashes.signatures[left] == hashes.signatures[left + 1]))
        errors.append(estimate - true)
    errors = np.array(errors)
    # 112 hash functions: the standard error of one estimate is at most 0.5 / sqrt(112) = 0.047
    assert abs(errors.mean()) < 0.02
    assert np.sqrt(np.mean(errors**2)) < 0.06


def test_lsh_candidates_and_clusters_match_datasketch_on_the_same_signatures():
    rng = random.Random(3)
    texts = []
    for target in np.linspace(0.3, 1.0, 40):
        texts += _random_pair(rng, float(target))
    hashes = _hashes(texts, signatures=True)
    lsh = MinHashLSH(num_perm=SETTINGS.num_perm, params=(SETTINGS.bands, SETTINGS.rows))
    for number, signature in enumerate(hashes.signatures):
        lsh.insert(number, LeanMinHash(seed=SETTINGS.seed, hashvalues=signature, scheme="affine64"))
    theirs = {
        (max(number, other), min(number, other))
        for number, signature in enumerate(hashes.signatures)
        for other in lsh.query(LeanMinHash(seed=SETTINGS.seed, hashvalues=signature, scheme="affine64"))
        if other != number
    }
    ours_all = {
        (j, i) for i, j in itertools.combinations(range(len(texts)), 2) if np.any(hashes.bands[i] == hashes.bands[j])
    }
    assert theirs == ours_all
    assert len(theirs) > 10

    later, earlier = candidate_pairs(
        lambda band: hashes.bands[:, band], len(texts), np.arange(len(texts)), SETTINGS.bands
    )
    assert {(int(a), int(b)) for a, b in zip(later, earlier)} <= theirs
    assert _components(len(texts), zip(later, earlier)) == _components(len(texts), theirs)


def _components(size: int, pairs) -> set[frozenset[int]]:
    parent = list(range(size))

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in pairs:
        parent[find(int(a))] = find(int(b))
    groups: dict[int, set[int]] = {}
    for node in range(size):
        groups.setdefault(find(node), set()).add(node)
    return {frozenset(group) for group in groups.values() if len(group) > 1}


@pytest.mark.parametrize("text", ["", "   \n ", "!!! ???"])
def test_documents_without_words_have_no_signature(text):
    hashes = _hashes([text, "a real sentence with words"])
    assert hashes.tokens[0] == 0
    assert not hashes.bands[0].any()


def test_threshold_picks_bands_and_rows_with_datasketch_and_defaults_are_finewebs():
    from datasketch.lsh import _optimal_param

    from curate.corpus.dedup.settings import lsh_bands_and_rows
    from curate.errors import UserError

    assert lsh_bands_and_rows(112, None, None, None) == (14, 8)
    assert lsh_bands_and_rows(112, None, None, 0.8) == _optimal_param(0.8, 112, 0.5, 0.5)
    assert lsh_bands_and_rows(128, None, None, None) == (16, 8)
    assert lsh_bands_and_rows(112, 10, None, None) == (10, 11)
    with pytest.raises(UserError, match="needs 160 hash functions"):
        lsh_bands_and_rows(112, 20, 8, None)
    assert abs(MinHashSettings().threshold - 0.719) < 0.001
