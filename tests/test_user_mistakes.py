"""The mistakes the hostile test found, one test each: one line, exit 2, never a traceback
(the sweep in test_error_sweep.py tries the generic versions on every command)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_jsonl

WEB = Path(__file__).resolve().parents[1] / "sample_data/web"
SEED_TASKS = Path(__file__).resolve().parents[1] / "sample_data/instructions/seed_tasks.en.jsonl"


def one_error_line(result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and sum(line.startswith("Error") for line in lines) == 1, result.output
    return lines[-1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mistakes") / "ds"
    run_cli("filter", "--steps", "clean", WEB, "-o", folder)
    return folder


def _copy(dataset: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    return copy


def test_inspect_a_fake_parquet_file(tmp_path):
    (tmp_path / "fake.parquet").write_text("this is not parquet\n")
    line = one_error_line(run_cli("inspect", tmp_path / "fake.parquet", expect=2))
    assert "not readable Parquet" in line


def test_inspect_a_dataset_with_a_corrupt_shard(dataset, tmp_path):
    copy = _copy(dataset, tmp_path)
    shard = sorted((copy / "data").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:100])
    assert "not readable Parquet" in one_error_line(run_cli("inspect", copy, expect=2))


@pytest.mark.parametrize("manifest", [{"command": "filter"}, [], {"counts": "many", "shards": {}}, "text"])
def test_inspect_a_manifest_curate_did_not_write(dataset, tmp_path, manifest):
    copy = _copy(dataset, tmp_path)
    (copy / "_manifest.json").write_text(json.dumps(manifest))
    assert "_manifest.json" in one_error_line(run_cli("inspect", copy, expect=2))


def test_inspect_a_shard_the_manifest_lists_but_disk_lacks(dataset, tmp_path):
    copy = _copy(dataset, tmp_path)
    sorted((copy / "data").glob("*.parquet"))[0].unlink()
    assert "not on disk" in one_error_line(run_cli("inspect", copy, expect=2))


@pytest.mark.parametrize("rows", ["99999999999999999999", "-1", "abc"])
def test_inspect_with_an_impossible_row_count(dataset, rows):
    assert "--rows" in one_error_line(run_cli("inspect", dataset, "-n", rows, expect=2))


def test_inspect_with_a_huge_but_valid_row_count_shows_every_row(dataset):
    result = run_cli("inspect", dataset, "-n", str(2**63 - 1))
    assert "sample rows" in result.output


@pytest.mark.parametrize("seed", ["-1", str(2**32), "1.5"])
def test_every_seed_option_takes_only_what_every_generator_accepts(seed, tmp_path):
    line = one_error_line(run_cli("dedup", WEB, "-o", tmp_path / "out", "--seed", seed, expect=2))
    assert "--seed" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_threshold_that_is_not_a_number_is_refused(value, tmp_path):
    line = one_error_line(
        run_cli(
            "filter", "--steps", "fineweb", WEB, "-o", tmp_path / "out", "--fineweb-line-punct-thr", value, expect=2
        )
    )
    assert "--fineweb-line-punct-thr" in line and ("finite" in line or "not in the range 0<=x<=1" in line)


def test_a_blacklist_that_is_not_utf8(tmp_path):
    (tmp_path / "words.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    result = run_cli(
        "self-instruct", "--seeds", SEED_TASKS, "-o", tmp_path / "out", "--model", "m",
        "--num", "1", "--base-url", "http://127.0.0.1:9/v1", "--blacklist", tmp_path / "words.txt", expect=2,
    )  # fmt: skip
    assert "blacklist" in one_error_line(result)


def test_dedup_report_shows_quoted_html_and_images_as_text(tmp_path):
    hostile = 'Click <img src="https://evil.example/x.png"> or ![pixel](https://evil.example/p.gif) <script>x</script>'
    rows = [{"id": f"d{i}|`x`", "text": hostile + " the same words again and again"} for i in range(3)]
    out = tmp_path / "out"
    run_cli("dedup", write_jsonl(tmp_path / "in.jsonl", rows), "-o", out)
    report = (out / "report.md").read_text()
    assert "evil.example" in report  # quoted, as text
    assert "<img" not in report and "<script" not in report and "![pixel]" not in report


def test_inspect_a_named_pipe_is_one_line_not_a_hang(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.jsonl")
    assert "not a file or folder" in one_error_line(run_cli("inspect", tmp_path / "pipe.jsonl", expect=2))


def test_a_nul_byte_in_a_path_is_one_line(tmp_path):
    one_error_line(run_cli("filter", "--steps", "clean", WEB, "-o", f"{tmp_path}/o\0x", expect=2))


def test_a_shard_size_beyond_64_bits_is_refused(tmp_path):
    result = run_cli(
        "filter", "--steps", "clean", WEB, "-o", tmp_path / "o", "--shard-size", "9" * 30 + "TiB", expect=2
    )
    assert "--shard-size" in one_error_line(result)


def test_a_file_whose_name_looks_like_a_glob_is_read(tmp_path):
    write_jsonl(tmp_path / "part[1].jsonl", [{"text": "a document with brackets in its file name"}])
    run_cli("filter", "--steps", "clean", tmp_path / "part[1].jsonl", "-o", tmp_path / "o")


def test_an_edited_word_list_or_model_an_option_names_makes_the_folder_stale(tmp_path):
    docs = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello world " * 20}])
    (tmp_path / "words.txt").write_text("hello\nworld\n")
    args = ("filter", "--steps", "badwords", docs, "-o", tmp_path / "o", "--badwords", tmp_path / "words.txt")
    run_cli(*args)
    (tmp_path / "words.txt").write_text("zzzzzz\n")
    result = run_cli(*args, expect=2)  # not "already complete": the list changed, so the folder is stale
    assert "--overwrite" in one_error_line(result)


def test_a_dataset_cards_heading_is_text(tmp_path):
    pairs = Path(__file__).resolve().parents[1] / "sample_data/preferences/pairs.jsonl"
    out = tmp_path / "<img src=x onerror=alert(1)>"
    run_cli("convert", pairs, "-o", out, "--to", "preference")
    body = (out / "README.md").read_text().split("\n---\n", 1)[1]  # after the YAML front matter
    heading = next(line for line in body.splitlines() if line.startswith("# "))
    assert "<img" not in heading and "&lt;img" in heading  # the command line below is in a code block
