"""Every record survives odd bytes (a byte order mark), and an over-long document is rejected
cheaply as it is read, keeping only its start."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.input_file import InputFile
from curate.io.readers import ReaderOptions, read_file
from curate.io.readers.batch import RAW_PREFIX_BYTES
from tests.conftest import manifest, read_rows, run_cli

BOM = b"\xef\xbb\xbf"


def _wet(text: str) -> bytes:
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=False)
    writer.write_record(
        writer.create_warc_record("https://example.com/", "conversion", payload=io.BytesIO(text.encode()))
    )
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.jsonl", BOM + b'{"text": "first"}\n{"text": "second"}\n'),
        ("a.jsonl.gz", gzip.compress(BOM + b'{"text": "first"}\n{"text": "second"}\n')),
        ("a.json", BOM + b'[{"text": "first"}, {"text": "second"}]'),
        ("a.json.gz", gzip.compress(BOM + b'  [{"text": "first"}, {"text": "second"}]')),
        ("a.jsonl", b'{"text": "first"}\n' + BOM + b'{"text": "second"}\n'),  # two files concatenated
    ],
    ids=["jsonl", "jsonl.gz", "json", "json.gz", "jsonl-concatenated"],
)
def test_a_byte_order_mark_is_dropped(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    run_cli("filter", "--steps", "clean", tmp_path / name, "-o", tmp_path / "out")
    assert [row["text"] for row in read_rows(tmp_path / "out")] == ["first", "second"]
    assert manifest(tmp_path / "out")["counts"]["rejected"] == 0


def test_a_byte_order_mark_is_not_part_of_a_text_or_wet_document(tmp_path):
    (tmp_path / "a.txt").write_bytes(BOM + "Première ligne.".encode())
    (tmp_path / "lines.txt").write_bytes(BOM + b"one\ntwo\n")
    (tmp_path / "crawl.wet").write_bytes(BOM + _wet("Page text."))
    (tmp_path / "crawl2.wet.gz").write_bytes(gzip.compress(BOM + _wet("Zipped page.")))
    texts = []
    for name, options in [("a.txt", {}), ("lines.txt", {"text_lines": True}), ("crawl.wet", {}), ("crawl2.wet.gz", {})]:
        fmt = "text" if name.endswith(".txt") else "wet"
        for batch in read_file(InputFile(tmp_path / name, fmt), ReaderOptions(**options)):
            assert batch.rejected is None
            texts += batch.docs.column("text").to_pylist()
    assert texts == ["Première ligne.", "one", "two", "Page text.", "Zipped page."]


def _long_text(chars: int) -> str:
    return ("word " * (chars // 5 + 1))[:chars]


def test_an_over_long_document_is_rejected_as_read_with_only_its_start(tmp_path):
    long_text = _long_text(200_000)
    records = [{"id": "short", "text": "A short document."}, {"id": "long", "text": long_text, "url": "u"}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    result = run_cli("filter", tmp_path / "a.jsonl", "-o", tmp_path / "out", "--max-doc-chars", "100000")

    rejected = read_rows(tmp_path / "out", "rejected")
    long_row = next(row for row in rejected if row["reason"] == "too_long:chars")
    assert long_row["id"] == "long" and long_row["text"] is None
    assert len(long_row["raw"]) == RAW_PREFIX_BYTES
    assert json.dumps(records[1]).encode().startswith(long_row["raw"])
    assert json.loads(long_row["meta"]) == {"line": 2, "chars": 200_000, "bytes": len(json.dumps(records[1]))}
    report = json.loads((tmp_path / "out/report.json").read_text())
    read, first_step = report["stages"][0], report["stages"][1]
    assert read["rejected"] == {"too_long:chars": 1} and first_step["docs_in"] == 1  # no step saw it
    assert read["rejected_bytes"]["too_long:chars"] == len(json.dumps(records[1]))
    counts = manifest(tmp_path / "out")["counts"]
    assert counts["in"] == 2 == counts["kept"] + counts["rejected"] and counts["unreadable"] == 0
    assert "unreadable" not in result.output
    # 0 turns the limit off; the default (a million characters) keeps it
    for limit in (("--max-doc-chars", "0"), ()):
        run_cli("filter", "--steps", "clean", tmp_path / "a.jsonl", "-o", tmp_path / f"out{len(limit)}", *limit)
        assert len(read_rows(tmp_path / f"out{len(limit)}")) == 2


def test_the_limit_applies_to_every_reader_and_to_dedup(tmp_path):
    long_text = _long_text(5_000)
    (tmp_path / "a.txt").write_text(long_text)
    (tmp_path / "b.json").write_text(json.dumps([{"text": long_text}, {"text": "short"}]))
    pq.write_table(pa.table({"text": [long_text, "short", None], "n": [1, 2, 3]}), tmp_path / "c.parquet")
    run_cli("dedup", tmp_path / "a.txt", tmp_path / "b.json", tmp_path / "c.parquet",
            "-o", tmp_path / "out", "--max-doc-chars", "1000")  # fmt: skip
    reasons = sorted(row["reason"] for row in read_rows(tmp_path / "out", "rejected"))
    assert reasons == ["exact_duplicate", "missing:text"] + ["too_long:chars"] * 3
    assert [row["text"] for row in read_rows(tmp_path / "out")] == ["short"]
    parquet_row = next(
        row for row in read_rows(tmp_path / "out", "rejected") if row["reason"] == "too_long:chars" and row["n"] == 1
    )
    assert parquet_row["text"] == long_text[:RAW_PREFIX_BYTES]


def test_a_line_of_many_chunks_is_read_whole(tmp_path):
    # a line longer than the reader's 4 MiB chunks, gzip-compressed: read in one piece, once
    text = _long_text(9 << 20)
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(json.dumps({"text": text}).encode() + b"\n{}\n"))
    batches = list(read_file(InputFile(tmp_path / "a.jsonl.gz", "jsonl"), ReaderOptions()))
    assert [doc for batch in batches for doc in batch.docs.column("text").to_pylist()] == [text]
