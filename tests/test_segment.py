"""Words and sentences per language."""

from __future__ import annotations

import gzip
import json

import pytest

from curate.corpus import segment
from curate.corpus.segment.english import tokenize_chunk


@pytest.mark.parametrize(
    ("chunk", "tokens"),
    [
        ("don't", ("do", "n't")),
        ("Can't", ("Ca", "n't")),
        ("here's", ("here", "'s")),
        ("is", ("is",)),
        ("U.S.A.", ("U.S.A.",)),
        ("(e.g.", ("(", "e.g.")),
        ("Mr.", ("Mr.",)),
        ("end.", ("end", ".")),
        ("USA.", ("USA", ".")),
        ("well-known", ("well", "-", "known")),
        ("1990-1995", ("1990", "-", "1995")),
        ("$5.99", ("$", "5.99")),
        ("10%", ("10", "%")),
        ("right):", ("right", "):")),
        ("https://example.com/a?b=c.", ("https://example.com/a?b=c", ".")),
        ("...and", ("...", "and")),
        ("28°C", ("28", "°", "C")),
    ],
)
def test_english_chunks_split_as_spacy_does(chunk, tokens):
    assert tokenize_chunk(chunk) == tokens


def test_english_words_agree_with_spacy_on_real_text(shared_data):
    spacy = pytest.importorskip("spacy", reason="spaCy is the reference (dev extra)")
    tokenizer = spacy.blank("en").tokenizer
    with gzip.open(sorted((shared_data / "web" / "cc_en_head").glob("*.jsonl.gz"))[0], "rt") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    ours = [word for text in texts for word in segment.english_words(text)]
    theirs = [token.text.strip() for text in texts for token in tokenizer(text) if token.text.strip()]
    assert len(ours) > 1000
    assert ours == theirs


def test_korean_words_with_kiwi_and_by_eojeol():
    text = "오늘 날씨가 정말 좋네요. 산책하러 갈까요?"
    assert segment.words(text, "ko", "space") == ["오늘", "날씨가", "정말", "좋네요", ".", "산책하러", "갈까요", "?"]
    if segment.kiwi_available():
        morphemes = segment.words(text, "ko", "kiwi")
        assert "날씨" in morphemes and "가" in morphemes  # the particle is its own word


def test_chinese_and_japanese_are_not_split_on_spaces():
    assert segment.words("我爱北京。Hello world", "zh") == ["我", "爱", "北", "京", "。", "Hello", "world"]
    assert segment.words("東京に行きます", "ja") == ["東", "京", "に", "行", "き", "ま", "す"]


@pytest.mark.parametrize(
    ("line", "lang", "count"),
    [
        ("One. Two! Three? Four", "en", 4),
        ("Mr. Smith went to Washington.", "en", 1),
        ('He said "hi." Then he left.', "en", 2),
        ("Wait... what", "en", 1),
        ("첫 문장입니다. 두 번째 문장!", "ko", 2),
        ("今天很好。我们走吧！", "zh", 2),
    ],
)
def test_sentence_count(line, lang, count):
    assert segment.sentence_count(line, lang) == count
