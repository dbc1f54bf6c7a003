"""`curate inspect` on folders and files."""

from __future__ import annotations

import shutil

from tests.conftest import run_cli, write_jsonl


def test_inspect_dataset_folder_and_files(tmp_path):
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"text": f"document {i}", "id": str(i)} for i in range(5)] + [{"x": 1}]
    )
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out")
    folder = run_cli("inspect", tmp_path / "out", "-n", "2").output
    assert "curate dataset folder, finished" in folder
    assert "rows: 6 in, 5 kept in 1 shard(s), 1 rejected in 1 shard(s) (1 unreadable)" in folder
    assert "missing:text: 1" in folder and "text: string" in folder and "sample rows (2 of 5)" in folder
    assert "text: document 0" in folder

    shard = run_cli("inspect", tmp_path / "out/rejected/shard-00000.parquet").output
    assert "1 rows in 1 file(s)" in shard and "reason: missing:text" in shard and 'raw: {"x": 1}' in shard

    raw = run_cli("inspect", source).output
    assert "jsonl, 6 records, 5 readable documents" in raw and "missing:text: 1" in raw


def test_inspect_unfinished_and_missing(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out")
    shutil.copytree(tmp_path / "out", tmp_path / "half")
    (tmp_path / "half/_manifest.json").unlink()
    (tmp_path / "half/.curate/done").mkdir(parents=True)
    (tmp_path / "half/.curate/job.json").write_text('{"command": "curate filter x", "tasks": 3}')
    assert "UNFINISHED (0 of 3 input tasks done)" in run_cli("inspect", tmp_path / "half").output
    assert (
        run_cli("inspect", tmp_path / "nothing", expect=2).output.strip()
        == f"Error: {tmp_path / 'nothing'} does not exist"
    )
    (tmp_path / "pages.warc.gz").write_bytes(b"WARC/1.0")  # named .gz, not gzip
    assert "unparseable:gzip: 1" in run_cli("inspect", tmp_path / "pages.warc.gz").output
    (tmp_path / "table.csv").write_text("a,b\n")
    assert "cannot tell the format" in run_cli("inspect", tmp_path / "table.csv", expect=2).output
