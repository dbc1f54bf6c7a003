"""RougeLIndex: the exact best ROUGE-L F1 against a pool, equal to rouge-score's, float for float."""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import pytest

from curate.instruct.self_instruct.similarity import (
    RougeLIndex,
    _lcs_length,
    english_tokens,
    korean_char_tokens,
    korean_kiwi_tokens,
    korean_tokens,
    rouge_l_f1,
    tokenizer_for,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data folder {SHARED} is absent")


class _Tokenizer:
    """Our tokenizer in the shape rouge-score's RougeScorer(tokenizer=...) expects (memoised:
    rouge-score tokenizes both texts of every pair again, and Kiwi is slow)."""

    def __init__(self, function):
        self.tokenize = functools.lru_cache(maxsize=None)(function)


def _rouge_scores(candidate: str, pool: list[str], tokenizer=None) -> list[float]:
    """rouge-score's F1 of `candidate` against every pool item, as self-instruct calls it."""
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=tokenizer)
    return [scorer.score(candidate, item)["rougeL"].fmeasure for item in pool]


def _assert_same_best(index: RougeLIndex, candidate: str, pool: list[str], tokenizer=None) -> float:
    expected = _rouge_scores(candidate, pool, tokenizer)
    score, item = index.best_match(candidate)
    best = max(expected)
    assert score == best, (candidate, score, best)  # the same float, not approximately
    if best == 0.0:
        assert item is None
    else:
        assert item == expected.index(best)  # the lowest index reaching the maximum
    assert index.exceeds(candidate, 0.7) == (best > 0.7)
    return score


def _near_duplicates(texts: list[str], rng: random.Random) -> list[str]:
    """One word dropped or two adjacent words swapped."""
    out = []
    for position, text in enumerate(texts):
        words = text.split()
        if len(words) < 3:
            continue
        i = rng.randrange(len(words) - 1)
        if position % 2:
            del words[i]
        else:
            words[i], words[i + 1] = words[i + 1], words[i]
        out.append(" ".join(words))
    return out


@pytest.fixture(scope="module")
def alpaca() -> list[dict]:
    if not SHARED.is_dir():
        pytest.skip(f"real data folder {SHARED} is absent")
    return json.loads((SHARED / "instructions" / "alpaca_5000.json").read_text())


@pytest.fixture(scope="module")
def korean_instructions() -> list[str]:
    if not SHARED.is_dir():
        pytest.skip(f"real data folder {SHARED} is absent")
    path = SHARED / "instructions" / "user_oriented_instructions.ko.jsonl"
    return [json.loads(line)["instruction"] for line in path.open(encoding="utf-8")]


def test_english_tokens_equal_rouge_score_tokenizer(alpaca):
    tokenize = pytest.importorskip("rouge_score.tokenize")
    texts = [record[field] for record in alpaca[:1500] for field in ("instruction", "input", "output")]
    texts += ["İstanbul naïve café", "Kelvin \u212a and \ufb01ne", "don't-stop 3.14 x_y", "  ", "", "한국어 text"]
    for text in texts:
        assert english_tokens(text) == tokenize.tokenize(text, None), text


def test_best_match_equals_rouge_score_on_alpaca(alpaca):
    instructions = [record["instruction"] for record in alpaca]
    pool = instructions[:1000]
    index = RougeLIndex()
    assert [index.add(text) for text in pool] == list(range(1000))
    assert len(index) == 1000
    rng = random.Random(7)
    exact = rng.sample(pool, 15)
    candidates = instructions[1000:1140] + exact + _near_duplicates(rng.sample(pool, 30), rng)
    scores = [_assert_same_best(index, candidate, pool) for candidate in candidates]
    assert all(score == 1.0 for score in scores[140:155])
    assert sum(score > 0.7 for score in scores[155:]) >= 25  # near duplicates are caught
    assert any(0.0 < score < 0.7 for score in scores[:140])


def test_pruning_keeps_the_exact_float_among_equal_ratios():
    # Against a 5-token candidate, 2*lcs/(len_a+len_b) is 2/3 for lcs 3 of a 4-token item and
    # for lcs 4 of a 7-token item, but rouge-score's arithmetic rounds them differently.
    assert rouge_l_f1(3, 5, 4) == 0.6666666666666665
    assert rouge_l_f1(4, 5, 7) == 0.6666666666666666
    pool = ["a b c x", "a b c d p q r", "v w x y z"]
    index = RougeLIndex()
    for text in pool:
        index.add(text)
    assert _assert_same_best(index, "a b c d e", pool) == 0.6666666666666666
    assert index.best_match("a b c d e") == (0.6666666666666666, 1)


def test_lcs_bit_parallel_equals_dynamic_programming():
    rng = random.Random(3)
    for _ in range(300):
        a = [rng.randrange(5) for _ in range(rng.randrange(1, 80))]
        b = [rng.randrange(5) for _ in range(rng.randrange(0, 80))]
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
        masks: dict[int, int] = {}
        for position, token in enumerate(a):
            masks[token] = masks.get(token, 0) | (1 << position)
        assert _lcs_length(masks, len(a), b) == table[-1][-1]


@pytest.mark.parametrize("mode", ["kiwi", "chars"])
def test_korean_equals_rouge_score_with_the_same_tokenizer(korean_instructions, mode):
    if mode == "kiwi":
        pytest.importorskip("kiwipiepy")
    tokenize = tokenizer_for("ko", mode)
    assert tokenize is (korean_kiwi_tokens if mode == "kiwi" else korean_char_tokens)
    pool = korean_instructions[:120]
    index = RougeLIndex(tokenize)
    for text in pool:
        index.add(text)
    rng = random.Random(11)
    candidates = korean_instructions[120:160] + rng.sample(pool, 3) + _near_duplicates(rng.sample(pool, 6), rng)
    reference_tokenizer = _Tokenizer(tokenize)
    scores = [_assert_same_best(index, candidate, pool, reference_tokenizer) for candidate in candidates]
    assert scores[40:43] == [1.0, 1.0, 1.0]
    assert all(score > 0.7 for score in scores[43:])


def test_rouge_score_default_tokenizer_misses_korean_near_duplicates(korean_instructions):
    original = korean_instructions[0]
    near = " ".join(original.split()[:-1])  # the last word dropped
    assert _rouge_scores(near, [original]) == [0.0]  # Hangul is not [a-z0-9]: no tokens at all
    index = RougeLIndex(tokenizer_for("ko"))
    index.add(original)
    score, item = index.best_match(near)
    assert item == 0 and score > 0.8
    assert RougeLIndex().best_match(near) == (0.0, None)  # English tokens see nothing either


def test_edge_cases():
    index = RougeLIndex()
    assert len(index) == 0
    assert index.best_match("anything at all") == (0.0, None)
    assert not index.exceeds("anything at all", 0.7)

    assert index.add("Write a poem about the sea.") == 0
    assert index.add("!!! ...") == 1  # no tokens: kept, never matches
    assert index.add("Write a poem about the sea.") == 2  # duplicate pool item
    assert index.add("") == 3
    assert len(index) == 4
    assert index.best_match("") == (0.0, None)
    assert index.best_match("?!, --") == (0.0, None)
    assert index.best_match("completely unrelated words") == (0.0, None)
    assert index.best_match("write a poem about the sea") == (1.0, 0)  # the lowest of the duplicates
    assert index.exceeds("Write a poem about the sea!", 0.7)
    assert not index.exceeds("Write a poem", 0.7)
    score, item = index.best_match("Write a poem")
    assert item == 0 and score == rouge_l_f1(3, 3, 6)
    for threshold in (0.0, 0.5, score - 1e-12):
        assert index.exceeds("Write a poem", threshold)
    assert not index.exceeds("Write a poem", score)


def test_many_candidate_repeats_count_as_a_multiset():
    pool = ["the cat and the dog and the bird", "the the the the", "a cat"]
    index = RougeLIndex()
    for text in pool:
        index.add(text)
    for candidate in ["the the the cat", "the the the the the the", "cat the the dog bird and"]:
        score, item = index.best_match(candidate)
        expected = [
            rouge_l_f1(lcs, len(candidate.split()), len(text.split()))
            for text, lcs in zip(pool, [_dp(candidate.split(), text.split()) for text in pool])
        ]
        assert score == max(expected) and item == expected.index(score)


def _dp(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b):
            diagonal, row[j + 1] = row[j + 1], diagonal + 1 if x == y else max(row[j + 1], row[j])
    return row[-1]


def test_tokenizer_choice():
    assert tokenizer_for("en") is english_tokens
    assert tokenizer_for("de", korean="chars") is english_tokens
    assert tokenizer_for("ko", "chars") is korean_char_tokens
    with pytest.raises(ValueError):
        tokenizer_for("ko", "space")
    assert korean_char_tokens("주어진 문장, ABC-def 12!") == ["주", "어", "진", "문", "장", "abc", "def", "12"]
    assert english_tokens("주어진 문장, ABC-def 12!") == ["abc", "def", "12"]
    tokens = korean_tokens("문장을 다시 작성하세요.")
    assert tokens and all(any(char.isalnum() for char in token) for token in tokens)
