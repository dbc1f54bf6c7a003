"""The `clean` step: Unicode and whitespace normalisation, empty texts dropped."""

from __future__ import annotations

import unicodedata

import pyarrow as pa

from curate.corpus.filters.clean import CleanText
from curate.corpus.text import normalize_whitespace
from curate.io.schema import CORE_SCHEMA


def test_whitespace_rules():
    assert (
        normalize_whitespace("  a \t b\u00a0c  \r\nnext line  \n\n\n\n\nlast\u200b word ")
        == "a b c\nnext line\n\nlast word"
    )
    assert normalize_whitespace("line\u2028other\x0cthird") == "line\nother\nthird"
    # ideographic space and joiners that carry meaning are left alone
    assert normalize_whitespace("日本\u3000語 👩\u200d💻") == "日本\u3000語 👩\u200d💻"


def _batch(texts):
    n = len(texts)
    return pa.table(
        {"id": [str(i) for i in range(n)], "text": texts, "source": ["s"] * n, "meta": ["{}"] * n}, schema=CORE_SCHEMA
    )


def test_clean_normalises_and_drops_with_reasons():
    decomposed = unicodedata.normalize("NFD", "한국어 café")
    step = CleanText()
    output = step.run(_batch([decomposed, "", " \n\t\u200b ", "ok  text"]))
    assert output.kept.column("text").to_pylist() == ["한국어 café", "ok text"]
    assert output.rejected.column("reason").to_pylist() == ["clean:empty", "clean:whitespace_only"]
    assert output.rejected.column("text").to_pylist() == ["", " \n\t\u200b "]  # as they arrived
    assert step.counters["changed"] == 3


def test_clean_can_leave_text_alone():
    text = "Ｆｕｌｌ  width"
    assert CleanText("NFKC", whitespace=False).run(_batch([text])).kept.column("text").to_pylist() == ["Full  width"]
    assert CleanText("none", whitespace=False).run(_batch([text])).kept.column("text").to_pylist() == [text]
