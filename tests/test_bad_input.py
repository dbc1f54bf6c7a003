"""Bad input never kills a run and never disappears: it is counted and kept in rejected/."""

from __future__ import annotations

import gzip
import json

import zstandard

from tests.conftest import manifest, read_rows, run_cli, write_jsonl

GOOD = [json.dumps({"id": f"g{i}", "text": f"Good document number {i}."}).encode() for i in range(300)]


def test_every_kind_of_bad_line_is_rejected_with_its_bytes(tmp_path):
    bad = {
        b'{"id": "x1", "text": "cut off': "unparseable:json",
        b'{"id": "x2", "text": "caf\xe9 latin-1"}': "unparseable:utf8",
        b'{"id": "x3", "body": "no text field"}': "missing:text",
        b'{"id": "x4", "text": null}': "missing:text",
        b'{"id": "x5", "text": 42}': "invalid:text_not_a_string",
        b'["not", "an", "object"]': "invalid:not_an_object",
    }
    lines = GOOD[:2] + list(bad) + [b"", b"   "] + GOOD[2:4]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = run_cli("filter", "--steps", "clean", path, "-o", tmp_path / "out")

    assert [row["id"] for row in read_rows(tmp_path / "out")] == ["g0", "g1", "g2", "g3"]
    rejected = read_rows(tmp_path / "out", "rejected")
    assert [(row["raw"], row["reason"]) for row in rejected] == list(bad.items())
    assert [json.loads(row["meta"])["line"] for row in rejected] == [3, 4, 5, 6, 7, 8]
    assert all(row["source"] == str(path) for row in rejected)
    counts = manifest(tmp_path / "out")["counts"]
    assert counts["in"] == 10 == counts["kept"] + counts["rejected"]
    assert counts["unreadable"] == 6
    assert "6 unreadable input records kept verbatim" in result.output
    assert "unparseable:json 1" in result.output


def test_empty_file_is_recorded(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    write_jsonl(tmp_path / "ok.jsonl", [{"text": "fine"}])
    run_cli("filter", "--steps", "clean", tmp_path / "empty.jsonl", tmp_path / "ok.jsonl", "-o", tmp_path / "out")
    rejected = read_rows(tmp_path / "out", "rejected")
    assert [(row["reason"], row["source"]) for row in rejected] == [("empty:file", str(tmp_path / "empty.jsonl"))]
    assert manifest(tmp_path / "out")["counts"]["in"] == 2


def _truncated(data: bytes, compress) -> bytes:
    blob = compress(data)
    return blob[: len(blob) * 2 // 3]


def test_truncated_gzip_keeps_the_complete_lines_and_rejects_the_tail(tmp_path):
    data = b"\n".join(GOOD * 40) + b"\n"  # large enough to be cut mid-stream
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(_truncated(data, lambda raw: gzip.compress(raw, mtime=0)))
    run_cli("filter", "--steps", "clean", path, "-o", tmp_path / "out")
    kept = read_rows(tmp_path / "out")
    rejected = read_rows(tmp_path / "out", "rejected")
    assert len(kept) > 1000
    assert [row["reason"] for row in rejected] == ["unparseable:truncated"]
    # the complete lines read before the break are kept in order; the partial one is in raw
    assert [row["id"] for row in kept] == [f"g{i % 300}" for i in range(len(kept))]
    assert data.split(b"\n")[len(kept)].startswith(rejected[0]["raw"])
    assert json.loads(rejected[0]["meta"]) == {"line": len(kept) + 1}


def test_truncated_zstd_is_noticed(tmp_path):
    # zstandard's stream reader ends quietly on a cut file; curate must not
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(_truncated(b"\n".join(GOOD * 40) + b"\n", zstandard.ZstdCompressor().compress))
    run_cli("filter", "--steps", "clean", path, "-o", tmp_path / "out")
    assert [row["reason"] for row in read_rows(tmp_path / "out", "rejected")] == ["unparseable:truncated"]


def test_corrupt_gzip_is_rejected_not_fatal(tmp_path):
    (tmp_path / "bad.jsonl.gz").write_bytes(b"this is not gzip at all")
    write_jsonl(tmp_path / "ok.jsonl", [{"text": "fine"}])
    run_cli("filter", "--steps", "clean", tmp_path / "bad.jsonl.gz", tmp_path / "ok.jsonl", "-o", tmp_path / "out")
    assert [row["reason"] for row in read_rows(tmp_path / "out", "rejected")] == ["unparseable:gzip"]
    assert [row["text"] for row in read_rows(tmp_path / "out")] == ["fine"]


def test_missing_input_is_one_line_and_exit_2(tmp_path):
    result = run_cli("filter", "--steps", "clean", tmp_path / "nope.jsonl", "-o", tmp_path / "out", expect=2)
    assert result.output.strip() == f"Error: input '{tmp_path / 'nope.jsonl'}' does not exist"
    assert not (tmp_path / "out").exists()


def test_glob_matching_nothing_is_exit_2(tmp_path):
    result = run_cli("filter", "--steps", "clean", str(tmp_path / "*.jsonl"), "-o", tmp_path / "out", expect=2)
    assert "matches no file" in result.output and "Traceback" not in result.output


def test_unwritable_output_is_one_line_and_exit_2(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    (tmp_path / "a_file").write_text("")
    result = run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "a_file" / "out", expect=2)
    assert result.output.startswith("Error: cannot write to output folder") and result.output.count("\n") == 1
    result = run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "a_file", expect=2)
    assert "exists and is not a folder" in result.output


def test_foreign_folder_is_never_overwritten(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    for extra in ([], ["--overwrite"]):
        result = run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "mine", *extra, expect=2)
        assert "is not empty and is not a curate dataset folder" in result.output
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_malformed_korean_file_every_line_accounted_for(tmp_path, shared_data):
    path = shared_data / "preferences/ko_harmless_base_test.malformed.txt"
    copy = tmp_path / "ko.jsonl"
    copy.write_bytes(path.read_bytes())
    run_cli("filter", "--steps", "clean", copy, "--text-field", "chosen", "-o", tmp_path / "out")
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    counts = manifest(tmp_path / "out")["counts"]
    assert counts["in"] == len(lines) == counts["kept"] + counts["rejected"]
    assert counts["by_reason"].get("unparseable:json", 0) > 1000
    assert 300 < counts["kept"] < 500


def test_bad_text_field_leaves_no_folder_behind(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "in.parquet")
    run_cli("filter", "--steps", "clean", tmp_path / "in.parquet", "-o", tmp_path / "out", expect=2)
    assert not (tmp_path / "out").exists()
    run_cli(
        "filter", "--steps", "clean", tmp_path / "in.parquet", "-o", tmp_path / "out", "--text-field", "body"
    )  # no --overwrite needed
