"""--dry-run writes a report and no shards; --sample N reads the first N documents only."""

from __future__ import annotations

import json

from tests.conftest import manifest, read_rows, run_cli, write_jsonl


def _docs(count: int, prefix: str = "") -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": "  " if i % 5 == 4 else f"Document {i}. " * (1 + i)} for i in range(count)]


def _with_broken_tail(path):
    """A line no reader can parse at the end: counted as unreadable only if the file is read that far."""
    with open(path, "ab") as handle:
        handle.write(b'{"broken\n')
    return path


def test_dry_run_writes_no_shards_and_a_real_run_then_does_the_work(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", _docs(30))
    out = tmp_path / "out"
    first = run_cli("filter", source, "-o", out, "--steps", "clean", "--workers", "1", "--dry-run")
    assert "30 in -> 24 kept" in first.output
    assert sorted(path.name for path in out.iterdir()) == [
        ".curate-folder",  # the ownership marker and the run lock (pipeline/ownership.py)
        ".curate.lock",
        "_manifest.json",
        "funnel.png",
        "lengths.png",
        "report.json",
        "report.md",
    ]
    dry = manifest(out)
    assert dry["dry_run"] is True and dry["shards"] == {"data": [], "rejected": []}
    assert dry["counts"]["kept"] == 24 and dry["options"]["dry_run"] is True
    assert "**Dry run**" in (out / "report.md").read_text()
    assert "DRY RUN" in run_cli("inspect", out).output
    assert "already complete" in run_cli("filter", source, "-o", out, "--steps", "clean", "--dry-run").output

    # the same options without --dry-run: real work into the same folder, no --overwrite needed
    real = run_cli("filter", source, "-o", out, "--steps", "clean", "--workers", "1")
    assert "already complete" not in real.output
    done = manifest(out)
    assert "dry_run" not in done and done["counts"] == dry["counts"]
    assert len(read_rows(out)) == 24 and len(read_rows(out, "rejected")) == 6
    assert "**Dry run**" not in (out / "report.md").read_text()


def test_a_dry_run_never_replaces_a_dataset_nor_feeds_another_command(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", _docs(10))
    run_cli("filter", source, "-o", tmp_path / "real", "--steps", "clean", "--workers", "1")
    refused = run_cli("filter", source, "-o", tmp_path / "real", "--steps", "clean", "--dry-run", expect=2)
    assert "already holds a finished dataset" in refused.output
    assert len(read_rows(tmp_path / "real")) == 8

    run_cli("filter", source, "-o", tmp_path / "dry", "--steps", "clean", "--workers", "1", "--dry-run")
    as_input = run_cli("filter", tmp_path / "dry", "-o", tmp_path / "next", "--steps", "clean", expect=2)
    assert "is a --dry-run folder" in as_input.output
    assert not (tmp_path / "next").exists()


def test_sample_reads_the_first_n_documents_and_stops(tmp_path):
    source = _with_broken_tail(write_jsonl(tmp_path / "in.jsonl", _docs(50)))
    run_cli("filter", source, "-o", tmp_path / "out", "--steps", "clean", "--sample", "10")
    data = manifest(tmp_path / "out")
    assert data["sample"] == 10 and data["options"]["sample"] == 10
    assert data["counts"] == {
        "in": 10,
        "kept": 8,
        "rejected": 2,
        "unreadable": 0,
        "by_reason": {"clean:whitespace_only": 2},
    }
    assert [row["id"] for row in read_rows(tmp_path / "out")] == ["0", "1", "2", "3", "5", "6", "7", "8"]
    report = json.loads((tmp_path / "out/report.json").read_text())
    assert report["sample"] == 10 and report["counts"]["in"] == 10 and sum(report["lengths"]["read"]) == 10
    assert "Sampled: first 10 documents" in (tmp_path / "out/report.md").read_text()


def test_sample_spans_files_in_input_order_whatever_the_workers(tmp_path):
    for number in range(3):
        _with_broken_tail(write_jsonl(tmp_path / f"in/part-{number}.jsonl", _docs(8, f"{number}-")))
    run_cli("filter", tmp_path / "in", "-o", tmp_path / "out", "--steps", "clean", "--sample", "12", "--workers", "3")
    data = manifest(tmp_path / "out")
    # all of part-0 (8 docs, then its broken line), the first 4 of part-1; part-2 never opened
    assert data["counts"]["in"] == 13 and data["counts"]["unreadable"] == 1
    ids = [row["id"] for row in read_rows(tmp_path / "out")]
    assert ids == ["0-0", "0-1", "0-2", "0-3", "0-5", "0-6", "0-7", "1-0", "1-1", "1-2", "1-3"]
    assert data["timings"]["workers"] == 1


def test_dry_run_with_sample(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", _docs(50))
    run_cli("filter", source, "-o", tmp_path / "out", "--steps", "clean", "--dry-run", "--sample", "10")
    data = manifest(tmp_path / "out")
    assert data["dry_run"] is True and data["sample"] == 10 and data["counts"]["in"] == 10
    assert not (tmp_path / "out/data").exists() and not (tmp_path / "out/rejected").exists()
    markdown = (tmp_path / "out/report.md").read_text()
    assert "Sampled: first 10 documents" in markdown and "**Dry run**" in markdown
    assert "sampled: first 10 documents" in run_cli("inspect", tmp_path / "out").output
