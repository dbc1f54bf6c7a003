"""Every file in an input folder is read or listed as skipped with its reason; nobody else's
files (a nested dataset, the command's own output) are read as data."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
from pathlib import Path

import pyarrow as pa
import pytest

from curate.corpus.filters.clean import CleanText
from curate.errors import RunFailed
from curate.io import sources
from curate.io.sources import expand_inputs
from curate.pipeline.executor import run_job
from curate.pipeline.job import Job
from curate.pipeline.step import Step, StepOutput
from tests.conftest import manifest, read_rows, run_cli, write_jsonl


def _skipped(folder: Path) -> dict[str, str]:
    return {entry["path"]: entry["reason"] for entry in manifest(folder)["skipped_inputs"]}


def _mixed_folder(root: Path) -> dict[str, str]:
    """A folder of every kind of file; returns the skipped ones (relative) and their reasons."""
    line = b'{"text": "A document that is read."}\n'
    write_jsonl(root / "a.jsonl", [{"text": "Plain JSON Lines."}])
    write_jsonl(root / "sub/b.jsonl.gz", [{"text": "Gzip JSON Lines."}], "gzip")
    (root / "_draft.jsonl").write_bytes(line)
    (root / ".hidden.jsonl").write_bytes(line)
    (root / ".git").mkdir()
    (root / ".git/HEAD").write_text("ref")
    (root / ".git/config.json").write_text("{}")
    (root / "c.jsonl.bz2").write_bytes(bz2.compress(line))
    (root / "d.json.xz").write_bytes(lzma.compress(line))
    (root / "e.txt.lz4").write_bytes(b"\x04\x22\x4d\x18lz4")
    (root / "f.zip").write_bytes(b"PK\x03\x04zip")
    (root / "g.tar.gz").write_bytes(gzip.compress(b"tar"))
    (root / "table.csv").write_text("a,b\n1,2\n")
    (root / "README").write_text("about the data")
    (root / "sub/pages.warc.gz").write_bytes(gzip.compress(b"WARC/1.0\r\n"))
    (root / "sneaky.jsonl").write_bytes(lzma.compress(line))  # xz, though its name says JSON Lines
    return {
        "_draft.jsonl": "hidden",
        ".hidden.jsonl": "hidden",
        ".git/": "hidden",
        "c.jsonl.bz2": "unsupported compression",
        "d.json.xz": "unsupported compression",
        "e.txt.lz4": "unsupported compression",
        "sneaky.jsonl": "unsupported compression",
        "f.zip": "archive",
        "g.tar.gz": "archive",
        "table.csv": "unknown format",
        "README": "unknown format",
    }  # sub/pages.warc.gz is read: a WARC's records go through the extract step


def test_every_file_of_a_folder_is_read_or_skipped_with_its_reason(tmp_path):
    expected = _mixed_folder(tmp_path / "raw")
    result = run_cli("filter", "--steps", "extract,clean", tmp_path / "raw", "-o", tmp_path / "out")

    skipped = _skipped(tmp_path / "out")
    assert skipped == {str(tmp_path / "raw" / name).rstrip("/") + ("/" if name.endswith("/") else ""): reason
                       for name, reason in expected.items()}  # fmt: skip
    assert sorted(row["text"] for row in read_rows(tmp_path / "out")) == ["Gzip JSON Lines.", "Plain JSON Lines."]
    git = next(entry for entry in manifest(tmp_path / "out")["skipped_inputs"] if entry["path"].endswith(".git/"))
    assert git["files"] == 2
    # every file under the folder is either an input or inside a skipped entry
    files = {str(path) for path in (tmp_path / "raw").rglob("*") if path.is_file()}
    read = {item["path"] for item in manifest(tmp_path / "out")["inputs"]}
    covered = {path for path in files if any(path == s or (s.endswith("/") and path.startswith(s)) for s in skipped)}
    assert read | covered == files and not read & covered

    report = json.loads((tmp_path / "out/report.json").read_text())
    assert report["skipped_inputs"] == manifest(tmp_path / "out")["skipped_inputs"]
    markdown = (tmp_path / "out/report.md").read_text()
    assert "## Skipped inputs" in markdown and "table.csv" in markdown
    note = next(line for line in result.output.splitlines() if line.startswith("skipped "))
    assert note.startswith(f"skipped 12 files in {tmp_path / 'raw'}/: ")
    assert "4 unsupported compression" in note and "report.md" in note


def test_a_warc_is_read_unless_another_input_format_is_named(tmp_path):
    write_jsonl(tmp_path / "raw/a.jsonl", [{"text": "fine"}])
    (tmp_path / "raw/pages.warc.gz").write_bytes(gzip.compress(b"WARC/1.0\r\n"))
    run_cli("filter", "--steps", "extract,clean", tmp_path / "raw", "-o", tmp_path / "out")
    assert _skipped(tmp_path / "out") == {}
    counts = manifest(tmp_path / "out")["counts"]
    assert counts["in"] == counts["kept"] + counts["rejected"] == 2 and counts["kept"] == 1
    run_cli("filter", "--steps", "clean", tmp_path / "raw", "-o", tmp_path / "o2", "--input-format", "jsonl")
    assert list(_skipped(tmp_path / "o2").values()) == ["WARC"]


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("a.jsonl.bz2", bz2.compress(b'{"text": "x"}\n'), "bzip2"),
        ("a.jsonl.xz", lzma.compress(b'{"text": "x"}\n'), "xz"),
        ("a.jsonl", lzma.compress(b'{"text": "x"}\n'), "xz-compressed, by its first bytes"),
        ("a.zip", b"PK\x03\x04", "zip archive"),
    ],
    ids=["bz2", "xz", "xz-by-bytes", "zip"],
)
def test_a_named_file_in_a_compression_curate_cannot_read_is_one_line(tmp_path, name, data, words):
    (tmp_path / name).write_bytes(data)
    for forced in ((), ("--input-format", "jsonl")):
        result = run_cli("filter", "--steps", "clean", *forced, tmp_path / name, "-o", tmp_path / "out", expect=2)
        assert words in result.output and len(result.output.strip().splitlines()) == 1


def test_an_empty_folder_of_unreadable_things_is_one_line_with_the_count(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw/a.csv").write_text("a")
    (tmp_path / "raw/_b.jsonl").write_text("{}")
    result = run_cli("filter", tmp_path / "raw", "-o", tmp_path / "out", expect=2)
    assert "holds no file of a known format" in result.output and "2 files: 1 hidden, 1 unknown format" in result.output


def test_output_inside_the_input_folder_is_skipped_so_re_runs_work(tmp_path):
    write_jsonl(tmp_path / "corpus/a.jsonl", [{"text": "x"}])
    run_cli("filter", "--steps", "clean", tmp_path / "corpus", "-o", tmp_path / "corpus/out")
    again = run_cli("filter", "--steps", "clean", tmp_path / "corpus", "-o", tmp_path / "corpus/out")
    assert "already complete" in again.output
    write_jsonl(tmp_path / "corpus/b.jsonl", [{"text": "y"}])
    run_cli("filter", "--steps", "clean", tmp_path / "corpus", "-o", tmp_path / "corpus/out", "--overwrite")
    assert [row["text"] for row in read_rows(tmp_path / "corpus/out")] == ["x", "y"]
    assert _skipped(tmp_path / "corpus/out") == {f"{tmp_path / 'corpus/out'}/": "output folder"}
    # a glob over the folder too: the output folder it matches was made from the same glob
    pattern = str(tmp_path / "corpus" / "*")
    run_cli("filter", "--steps", "clean", pattern, "-o", tmp_path / "corpus/by_glob")
    again = run_cli("filter", "--steps", "clean", pattern, "-o", tmp_path / "corpus/by_glob")
    assert "already complete" in again.output


class FailOnB(Step):
    """Stops the run at the second input file, as a kill would."""

    name = "fail_on_b"

    def run(self, batch: pa.Table) -> StepOutput:
        if any(source.endswith("b.jsonl") for source in batch.column("source").to_pylist()):
            raise RuntimeError("killed")
        return StepOutput(batch)


def test_an_unfinished_output_inside_the_input_folder_resumes(tmp_path):
    write_jsonl(tmp_path / "corpus/a.jsonl", [{"text": "x"}])
    write_jsonl(tmp_path / "corpus/b.jsonl", [{"text": "y"}])

    def job(step: Step) -> Job:
        inputs = expand_inputs([str(tmp_path / "corpus")])
        return Job("filter", tmp_path / "corpus/out", inputs, [step], {"inputs": ["corpus"]}, "test")

    with pytest.raises(RunFailed):
        run_job(job(FailOnB()), workers=1, progress=False)
    assert (tmp_path / "corpus/out/.curate").is_dir()
    result = run_job(job(CleanText()), workers=1, progress=False)  # steps are not the job's identity
    assert result.manifest["timings"]["resumed_tasks"] == 1
    assert [row["text"] for row in read_rows(tmp_path / "corpus/out")] == ["x", "y"]
    assert [entry["reason"] for entry in result.manifest["skipped_inputs"]] == ["output folder"]


def test_a_dataset_folder_inside_an_input_folder_is_not_read_as_data(tmp_path):
    write_jsonl(tmp_path / "corpus/a.jsonl", [{"text": "one document"}, {"text": "one document"}])
    run_cli("dedup", tmp_path / "corpus", "-o", tmp_path / "corpus/unique")
    write_jsonl(tmp_path / "corpus/b.jsonl", [{"text": "another document"}])
    run_cli("dedup", tmp_path / "corpus", "-o", tmp_path / "second")
    # report.json, dataset shards, rejected rows: none of them read as documents
    assert {row["source"] for row in read_rows(tmp_path / "second")} == {
        str(tmp_path / "corpus/a.jsonl"),
        str(tmp_path / "corpus/b.jsonl"),
    }
    assert manifest(tmp_path / "second")["counts"]["in"] == 3
    assert _skipped(tmp_path / "second") == {f"{tmp_path / 'corpus/unique'}/": "curate folder"}
    # named, it is its kept rows
    run_cli("filter", "--steps", "clean", tmp_path / "corpus/unique", "-o", tmp_path / "kept")
    assert [row["text"] for row in read_rows(tmp_path / "kept")] == ["one document"]


def test_skipped_files_do_not_change_the_job(tmp_path):
    write_jsonl(tmp_path / "raw/a.jsonl", [{"text": "x"}])
    run_cli("filter", "--steps", "clean", tmp_path / "raw", "-o", tmp_path / "out")
    (tmp_path / "raw/notes.csv").write_text("a,b")
    (tmp_path / "raw/_scratch.jsonl").write_text("{}")
    assert "already complete" in run_cli("filter", "--steps", "clean", tmp_path / "raw", "-o", tmp_path / "out").output


def test_links_and_broken_links_in_a_folder_are_listed(tmp_path):
    write_jsonl(tmp_path / "elsewhere/a.jsonl", [{"text": "x"}])
    write_jsonl(tmp_path / "raw/b.jsonl", [{"text": "y"}])
    os.symlink(tmp_path / "elsewhere", tmp_path / "raw/linked")
    os.symlink(tmp_path / "nowhere.jsonl", tmp_path / "raw/broken.jsonl")
    found = expand_inputs([str(tmp_path / "raw")])
    assert [item.path.name for item in found] == ["b.jsonl"]
    assert {entry.path.name: (entry.reason, entry.detail) for entry in found.skipped} == {
        "broken.jsonl": ("not a file", "a broken link"),
        "linked": ("not a file", "a link to a folder, not followed; name it to read it"),
    }


def _refuse_opening(monkeypatch, name: str) -> None:
    """Make files called `name` unopenable, as chmod 000 does for anyone but root."""
    real = open

    def guarded(path, *args, **kwargs):
        if Path(path).name == name:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sources, "open", guarded, raising=False)


def test_an_unreadable_file_in_a_folder_is_skipped_and_a_named_one_is_one_line(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "raw/a.jsonl", [{"text": "x"}])
    write_jsonl(tmp_path / "raw/locked.jsonl", [{"text": "secret"}])
    _refuse_opening(monkeypatch, "locked.jsonl")
    run_cli("filter", "--steps", "clean", tmp_path / "raw", "-o", tmp_path / "out")
    entry = manifest(tmp_path / "out")["skipped_inputs"][0]
    assert (entry["reason"], entry["detail"]) == ("unreadable", "Permission denied")
    result = run_cli("filter", "--steps", "clean", tmp_path / "raw/locked.jsonl", "-o", tmp_path / "o2", expect=2)
    assert result.output.strip().splitlines() == [
        f"Error: cannot read {tmp_path / 'raw/locked.jsonl'}: Permission denied"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_chmod_000(tmp_path):
    write_jsonl(tmp_path / "raw/a.jsonl", [{"text": "x"}])
    locked = write_jsonl(tmp_path / "raw/locked.jsonl", [{"text": "x"}])
    locked.chmod(0)
    try:
        run_cli("filter", "--steps", "clean", tmp_path / "raw", "-o", tmp_path / "out")
        assert list(_skipped(tmp_path / "out").values()) == ["unreadable"]
        run_cli("filter", "--steps", "clean", locked, "-o", tmp_path / "o2", expect=2)
    finally:
        locked.chmod(0o644)


def test_file_names_that_are_not_utf8_are_written_as_valid_text(tmp_path):
    raw = os.fsencode(tmp_path / "raw")
    os.makedirs(raw)
    with open(raw + b"/bad\xff.jsonl", "wb") as handle:
        handle.write(b'{"text": "odd name"}\n')
    with open(raw + b"/skip\xfe.csv", "wb") as handle:
        handle.write(b"a,b\n")
    run_cli("filter", "--steps", "clean", tmp_path / "raw", "-o", tmp_path / "out")
    assert [row["source"] for row in read_rows(tmp_path / "out")] == [f"{tmp_path / 'raw'}/bad\\xff.jsonl"]
    assert manifest(tmp_path / "out")["inputs"][0]["path"] == f"{tmp_path / 'raw'}/bad\\xff.jsonl"
    assert _skipped(tmp_path / "out") == {f"{tmp_path / 'raw'}/skip\\xfe.csv": "unknown format"}
    assert "skip\\\\xfe.csv" in (tmp_path / "out/report.md").read_text(encoding="utf-8")
    # named on the command line, it is read too, and the command line is recorded as valid text
    named = os.fsdecode(raw + b"/bad\xff.jsonl")
    run_cli("filter", "--steps", "clean", named, "-o", tmp_path / "named")
    assert "bad\\xff.jsonl" in manifest(tmp_path / "named")["command_line"]
    (tmp_path / "named/report.md").read_text(encoding="utf-8")


def test_paths_in_report_md_are_text_not_markup(tmp_path):
    write_jsonl(tmp_path / "raw/a.jsonl", [{"text": "x"}])
    (tmp_path / "raw/<img src=x onerror=alert(1)>|pipe.csv").write_text("a")
    run_cli("filter", "--steps", "clean", tmp_path / "raw", "-o", tmp_path / "out")
    markdown = (tmp_path / "out/report.md").read_text()
    assert "<img" not in markdown and "&lt;img src=x onerror=alert\\(1\\)&gt;\\|pipe.csv" in markdown


def test_a_dataset_folder_input_is_exactly_the_shards_its_manifest_lists(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "kept by the first run"}])
    run_cli("filter", "--steps", "clean", tmp_path / "a.jsonl", "-o", tmp_path / "ds")
    # a shard dropped in later, by hand or by another program: not the dataset's
    write_jsonl(tmp_path / "ds/data/extra.jsonl", [{"text": "not part of the dataset"}])
    run_cli("filter", "--steps", "clean", tmp_path / "ds", "-o", tmp_path / "next")
    assert [row["text"] for row in read_rows(tmp_path / "next")] == ["kept by the first run"]
    assert _skipped(tmp_path / "next") == {str(tmp_path / "ds/data/extra.jsonl"): "not in the manifest"}
    # a listed shard gone: the folder is not the dataset its manifest describes
    next(iter((tmp_path / "ds/data").glob("shard-*.parquet"))).unlink()
    result = run_cli("filter", "--steps", "clean", tmp_path / "ds", "-o", tmp_path / "third", expect=2)
    assert "listed in its manifest but not there" in result.output
