"""curate writes, resumes and clears only folders it made, one run at a time (pipeline/ownership.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, manifest, read_rows, run_cli, write_jsonl

DOCS = [{"id": str(i), "text": f"Document number {i} says something. " * 3} for i in range(40)]


def _filter(source, out, *extra, expect=0):
    return run_cli("filter", "--steps", "clean", "--workers", "1", source, "-o", out, *extra, expect=expect)


def _one_line(result) -> str:
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    return result.output


PLANTED = {
    "empty manifest": {"_manifest.json": "{}"},
    "dry-run manifest": {"_manifest.json": '{"dry_run": true}'},
    "list manifest": {"_manifest.json": "[]"},
    "job state": {".curate/job.json": '{"job_fingerprint": "x", "dry_run": true}'},
    "empty state folder": {".curate/": None},
    "marker without id": {".curate-folder": "{}"},
}


@pytest.mark.parametrize("planted", PLANTED, ids=list(PLANTED))
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_planted_manifest_or_state_never_makes_a_folder_curates(tmp_path, planted, overwrite):
    source = write_jsonl(tmp_path / "in.jsonl", DOCS)
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "thesis.tex").write_text("precious")
    (out / "sub" / "data.csv").write_text("1,2")
    for name, text in PLANTED[planted].items():
        if text is None:
            (out / name).mkdir(parents=True)
        else:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(text)
    before = sorted(str(path.relative_to(out)) for path in out.rglob("*"))
    _one_line(_filter(source, out, *(["--overwrite"] if overwrite else []), expect=2))
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*")) == before
    assert (out / "thesis.tex").read_text() == "precious"


def test_overwrite_removes_only_what_curate_wrote(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", DOCS)
    out = tmp_path / "out"
    _filter(source, out)
    made = manifest(out)
    assert made["folder_id"] == json.loads((out / ".curate-folder").read_text())["folder_id"]
    assert "data" in made["files"] and "report.md" in made["files"]
    (out / "notes.txt").write_text("my notes")
    (out / "mine").mkdir()
    (out / "mine" / "keep.jsonl").write_text("{}\n")

    _filter(source, out, "--unicode", "NFKC", "--overwrite")
    assert (out / "notes.txt").read_text() == "my notes" and (out / "mine" / "keep.jsonl").is_file()
    rebuilt = manifest(out)
    assert rebuilt["options"]["unicode_form"] == "NFKC" and "notes.txt" not in rebuilt["files"]
    assert rebuilt["folder_id"] == made["folder_id"]
    assert len(read_rows(out)) == rebuilt["counts"]["kept"]

    _filter(source, out, "--overwrite")  # and again: the user's files are still not curate's
    assert (out / "notes.txt").read_text() == "my notes"


def test_a_manifest_copied_from_another_folder_is_refused(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", DOCS)
    _filter(source, tmp_path / "a")
    _filter(source, tmp_path / "b", "--unicode", "NFKC")
    (tmp_path / "b" / "_manifest.json").write_bytes((tmp_path / "a" / "_manifest.json").read_bytes())
    output = _one_line(_filter(source, tmp_path / "b", "--overwrite", expect=2))
    assert "was not written by curate into this folder" in output
    assert (tmp_path / "b" / "data").is_dir()


def test_a_symlinked_output_is_resumed_and_replaced_through_the_link(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", DOCS)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    _filter(source, tmp_path / "link")
    assert "already complete" in _filter(source, tmp_path / "link").output
    _filter(source, tmp_path / "link", "--unicode", "NFKC", "--overwrite")
    assert (tmp_path / "link").is_symlink() and manifest(tmp_path / "real")["options"]["unicode_form"] == "NFKC"


def test_a_file_in_data_that_curate_did_not_write_stops_the_seal(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", DOCS)
    out = tmp_path / "out"
    _filter(source, out)
    (out / "data" / "extra.parquet").write_bytes((out / "data" / "shard-00000.parquet").read_bytes())
    output = _one_line(_filter(source, out, "--unicode", "NFKC", "--overwrite", expect=2))
    assert "extra.parquet" in output and "did not write" in output
    assert (out / "data" / "extra.parquet").is_file() and not (out / "_manifest.json").exists()


def _slow_job(inputs, output) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(REPO / "tests/resumable_job.py"), str(inputs), str(output), "0.05", "1"]
    return subprocess.Popen(command, env=env, start_new_session=True)


def test_a_second_writer_stops_at_once_and_a_killed_writer_leaves_no_lock(tmp_path):
    for number in range(6):
        write_jsonl(tmp_path / "in" / f"{number}.jsonl", DOCS * 5)
    out = tmp_path / "out"
    holder = _slow_job(tmp_path / "in", out)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((out / ".curate" / "done").glob("*.json")):
            time.sleep(0.02)
        started = time.monotonic()
        output = _one_line(_filter(tmp_path / "in", out, "--overwrite", expect=2))
        assert f"being written by another curate run (PID {holder.pid})" in output
        assert time.monotonic() - started < 30  # at once: it does not wait for the holder
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    # the kernel dropped the killed run's lock: the same job resumes, another replaces it
    _filter(tmp_path / "in", out, "--overwrite")
    assert len(read_rows(out)) == manifest(out)["counts"]["kept"]


def _cli(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "curate", *map(str, args)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("round_", range(3))
def test_two_runs_started_together_leave_exactly_the_manifests_shards(tmp_path, round_):
    for number in range(4):
        write_jsonl(tmp_path / "in" / f"{number}.jsonl", DOCS * 10)
    out = tmp_path / "out"
    runs = [
        _cli("filter", "--steps", "clean", "--workers", "1", tmp_path / "in", "-o", out, "--overwrite", *unicode)
        for unicode in ([], ["--unicode", "NFKC"])
    ]
    outputs = [(run.wait(timeout=120), run.stdout.read()) for run in runs]
    assert {code for code, _ in outputs} <= {0, 2} and 0 in {code for code, _ in outputs}, outputs
    for code, text in outputs:
        assert "Traceback" not in text
        if code == 2:
            assert "being written by another curate run" in text
    sealed = manifest(out)
    for sub in ("data", "rejected"):
        listed = sorted(shard["path"].split("/")[1] for shard in sealed["shards"][sub])
        present = sorted(path.name for path in (out / sub).iterdir()) if (out / sub).exists() else []
        assert present == listed
    assert len(read_rows(out)) == sealed["counts"]["kept"]


def test_an_input_edited_in_place_with_its_size_and_mtime_restored_is_seen(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", DOCS)
    out = tmp_path / "out"
    _filter(source, out)
    stat = source.stat()
    data = bytearray(source.read_bytes())
    middle = data.index(b"number 20")
    data[middle : middle + 9] = b"NUMBER 20"  # the same size, in the middle of the file
    source.write_bytes(bytes(data))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size and source.stat().st_mtime_ns == stat.st_mtime_ns
    output = _one_line(_filter(source, out, expect=2))
    assert "made from other inputs or options" in output
    _filter(source, out, "--overwrite")
    assert any("NUMBER 20" in row["text"] for row in read_rows(out))


def test_a_file_added_to_an_unfinished_run_is_never_taken_for_curates(tmp_path):
    from curate.pipeline import folder

    out = tmp_path / "out"
    assert folder.prepare(out, "job-a", overwrite=False) is folder.FolderState.FRESH
    (out / "data").mkdir()
    (out / "data" / "mine.tmp").write_text("a user's file in data/")
    (out / "NOTES.txt").write_text("added while the run was stopped")
    folder.ownership.release(out)
    # resumed and sealed: the note is not listed among curate's files
    assert folder.prepare(out, "job-a", overwrite=False) is folder.FolderState.RESUME
    folder.finish(out, {"counts": {}})
    assert "NOTES.txt" not in manifest(out)["files"]
    # killed again, then replaced with --overwrite: the user's files stay
    assert folder.prepare(out, "job-b", overwrite=True) is folder.FolderState.FRESH
    folder.ownership.release(out)
    assert folder.prepare(out, "job-c", overwrite=True) is folder.FolderState.FRESH
    assert (out / "NOTES.txt").is_file() and (out / "data" / "mine.tmp").is_file()
