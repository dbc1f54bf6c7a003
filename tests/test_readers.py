"""Every reader round-trips into a dataset folder: ids, texts, sources and meta survive."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash

from tests.conftest import manifest, read_rows, run_cli, write_jsonl

RECORDS = [
    {"id": "a", "text": "First document.\nIt has two lines.", "url": "https://example.com/a", "n": 1},
    {"id": "b", "text": "Второй документ.", "tags": ["x", "y"]},
    {"id": "c", "text": "세 번째 문서입니다.", "nested": {"k": [1, 2]}},
]


@pytest.mark.parametrize("compress, suffix", [(None, ".jsonl"), ("gzip", ".jsonl.gz"), ("zstd", ".jsonl.zst")])
def test_jsonl_round_trip(tmp_path, compress, suffix):
    source = write_jsonl(tmp_path / f"in{suffix}", RECORDS, compress)
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out", "--workers", "1")
    rows = read_rows(tmp_path / "out")
    assert [row["id"] for row in rows] == ["a", "b", "c"]
    assert [row["text"] for row in rows] == [record["text"] for record in RECORDS]
    assert {row["source"] for row in rows} == {str(source)}
    # every field other than text and id is kept, unchanged, as a JSON object in `meta`
    for row, record in zip(rows, RECORDS):
        assert json.loads(row["meta"]) == {k: v for k, v in record.items() if k not in ("id", "text")}


def test_text_and_id_field_options(tmp_path):
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"url": "u1", "content": "Hello there."}, {"url": 7, "content": "Bye."}]
    )
    run_cli(
        "filter", "--steps", "clean", source, "-o", tmp_path / "out", "--text-field", "content", "--id-field", "url"
    )
    rows = read_rows(tmp_path / "out")
    assert [(row["id"], row["text"]) for row in rows] == [("u1", "Hello there."), ("7", "Bye.")]
    assert [json.loads(row["meta"]) for row in rows] == [{}, {}]


def test_missing_ids_are_stable_hashes_of_the_text(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "Same text."}, {"text": "Other text."}])
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "one")
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "two")
    ids = [row["id"] for row in read_rows(tmp_path / "one")]
    assert ids == [row["id"] for row in read_rows(tmp_path / "two")]
    assert ids == [xxhash.xxh3_64_hexdigest(b"Same text."), xxhash.xxh3_64_hexdigest(b"Other text.")]


def test_json_array_file(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps([{"text": "one", "x": 1}, {"text": "two"}, {"no_text": 3}]))
    run_cli("filter", "--steps", "clean", path, "-o", tmp_path / "out")
    assert [row["text"] for row in read_rows(tmp_path / "out")] == ["one", "two"]
    rejected = read_rows(tmp_path / "out", "rejected")
    assert [(row["reason"], json.loads(row["raw"]), json.loads(row["meta"])) for row in rejected] == [
        ("missing:text", {"no_text": 3}, {"record": 3})
    ]


def test_parquet_round_trip_keeps_extra_columns(tmp_path):
    table = pa.table(
        {
            "content": ["alpha text", None, "gamma text"],
            "score": [0.5, 0.1, 0.9],
            "lang": ["en", "en", "ko"],
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    run_cli("filter", "--steps", "clean", tmp_path / "in.parquet", "--text-field", "content", "-o", tmp_path / "out")
    rows = read_rows(tmp_path / "out")
    assert [(row["text"], row["score"], row["lang"]) for row in rows] == [
        ("alpha text", 0.5, "en"),
        ("gamma text", 0.9, "ko"),
    ]
    assert rows[0]["id"] == xxhash.xxh3_64_hexdigest(b"alpha text")
    assert [row["reason"] for row in read_rows(tmp_path / "out", "rejected")] == ["missing:text"]
    assert manifest(tmp_path / "out")["counts"] == {
        "in": 3,
        "kept": 2,
        "rejected": 1,
        "unreadable": 1,
        "by_reason": {"missing:text": 1},
    }


def test_parquet_without_the_text_column_is_a_usage_error(tmp_path):
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "in.parquet")
    result = run_cli("filter", "--steps", "clean", tmp_path / "in.parquet", "-o", tmp_path / "out", expect=2)
    assert "has no column 'text' (columns: body); pass --text-field" in result.output


def test_text_files_one_document_per_file_or_per_line(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Line one.\nLine two.\n")
    (folder / "b.txt").write_text("Only line.\n\n\n")
    run_cli("filter", "--steps", "clean", folder, "-o", tmp_path / "files")
    assert [row["text"] for row in read_rows(tmp_path / "files")] == ["Line one.\nLine two.", "Only line."]
    run_cli("filter", "--steps", "clean", folder, "--text-lines", "-o", tmp_path / "lines")
    rows = read_rows(tmp_path / "lines")
    assert [row["text"] for row in rows] == ["Line one.", "Line two.", "Only line."]
    assert [json.loads(row["meta"])["line"] for row in rows] == [1, 2, 1]


def _wet_bytes(records: list[tuple[str, str, str]]) -> bytes:
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    writer.write_record(writer.create_warcinfo_record("test.warc.wet.gz", {"software": "curate tests"}))
    for url, date, text in records:
        writer.write_record(
            writer.create_warc_record(
                url, "conversion", payload=io.BytesIO(text.encode()), warc_headers_dict={"WARC-Date": date}
            )
        )
    return buffer.getvalue()


def test_wet_reader_takes_conversion_records_with_url_and_date(tmp_path):
    path = tmp_path / "crawl.warc.wet.gz"
    path.write_bytes(
        _wet_bytes(
            [
                ("https://example.com/one", "2024-05-18T01:58:10Z", "Page one text.\nMore text."),
                ("https://example.org/two", "2024-05-19T02:00:00Z", "페이지 둘."),
            ]
        )
    )
    run_cli("filter", "--steps", "clean", path, "-o", tmp_path / "out")
    rows = read_rows(tmp_path / "out")
    assert [row["text"] for row in rows] == ["Page one text.\nMore text.", "페이지 둘."]
    assert [json.loads(row["meta"]) for row in rows] == [
        {"url": "https://example.com/one", "date": "2024-05-18T01:58:10Z"},
        {"url": "https://example.org/two", "date": "2024-05-19T02:00:00Z"},
    ]
    assert all(row["id"].startswith("urn:uuid:") for row in rows)


def test_real_common_crawl_wet_file(tmp_path, shared_data):
    run_cli("filter", "--steps", "clean", shared_data / "web/warc/whirlwind.warc.wet.gz", "-o", tmp_path / "out")
    rows = read_rows(tmp_path / "out")
    assert rows and all(json.loads(row["meta"])["url"].startswith("http") for row in rows)
    assert json.loads(rows[0]["meta"])["url"] == "https://an.wikipedia.org/wiki/Escopete"


def test_real_dolma_jsonl_gz_folder(tmp_path, shared_data):
    folder = shared_data / "web/cc_en_head"
    run_cli("filter", "--steps", "clean", folder, "-o", tmp_path / "out", "--workers", "2")
    expected = sum(sum(1 for line in gzip.open(path) if line.strip()) for path in sorted(folder.glob("*.jsonl.gz")))
    summary = manifest(tmp_path / "out")["counts"]
    assert summary["in"] == expected == summary["kept"] + summary["rejected"]
    assert json.loads(read_rows(tmp_path / "out")[0]["meta"])["metadata"]["url"].startswith("http")


def test_globs_folders_and_dataset_folders_as_input(tmp_path):
    write_jsonl(tmp_path / "raw/a.jsonl", [{"text": "a1"}, {"text": "a2"}])
    write_jsonl(tmp_path / "raw/sub/b.jsonl.gz", [{"text": "b1"}], "gzip")
    (tmp_path / "raw/notes.md").write_text("not a corpus file")  # unknown formats in folders are skipped
    run_cli("filter", "--steps", "clean", str(tmp_path / "raw" / "**" / "*.jsonl*"), "-o", tmp_path / "by_glob")
    run_cli("filter", "--steps", "clean", tmp_path / "raw", "-o", tmp_path / "by_folder")
    texts = [row["text"] for row in read_rows(tmp_path / "by_folder")]
    assert texts == [row["text"] for row in read_rows(tmp_path / "by_glob")] == ["a1", "a2", "b1"]
    # a finished dataset folder as input means its kept rows, not its rejected ones
    run_cli("filter", "--steps", "clean", tmp_path / "by_folder", "-o", tmp_path / "again")
    assert [row["text"] for row in read_rows(tmp_path / "again")] == texts


def test_an_empty_warc_is_one_rejected_row(tmp_path):
    (tmp_path / "pages.warc.gz").write_bytes(b"")
    run_cli("filter", "--steps", "extract", tmp_path / "pages.warc.gz", "-o", tmp_path / "out")
    assert [row["reason"] for row in read_rows(tmp_path / "out", "rejected")] == ["empty:file"]


def test_gzipped_json_array(tmp_path):
    path = tmp_path / "records.json.gz"
    path.write_bytes(gzip.compress(json.dumps([{"text": "one"}, {"text": "two"}]).encode()))
    run_cli("filter", "--steps", "clean", path, "-o", tmp_path / "out")
    assert [row["text"] for row in read_rows(tmp_path / "out")] == ["one", "two"]
