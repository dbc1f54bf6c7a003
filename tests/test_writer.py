"""Shards are zstd Parquet, bounded by rows and bytes, and the manifest describes them."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from curate.io.schema import CORE_SCHEMA
from curate.io.writer import ShardWriter, WriterOptions
from tests.conftest import manifest, read_rows, run_cli, write_jsonl


def _table(count: int, width: int = 10, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": [str(start + i) for i in range(count)],
            "text": ["x" * width] * count,
            "source": ["s"] * count,
            "meta": ["{}"] * count,
        },
        schema=CORE_SCHEMA,
    )


def test_parts_roll_over_at_the_row_bound(tmp_path):
    writer = ShardWriter(tmp_path, "part-00000", CORE_SCHEMA, WriterOptions(max_rows=10, row_group_rows=4))
    writer.write(_table(7))
    writer.write(_table(18, start=7))
    parts = writer.close()
    assert [part.rows for part in parts] == [10, 10, 5]
    assert sorted(path.name for path in tmp_path.iterdir()) == [part.name for part in parts]  # no .tmp left
    ids = [row["id"] for part in parts for row in pq.read_table(tmp_path / part.name).to_pylist()]
    assert ids == [str(i) for i in range(25)]
    metadata = pq.ParquetFile(tmp_path / parts[0].name).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [4, 4, 2]
    assert metadata.row_group(0).column(1).compression == "ZSTD"


def test_parts_roll_over_at_the_byte_bound(tmp_path):
    rows = 200
    table = _table(rows, width=1000)
    per_row = table.nbytes / rows
    writer = ShardWriter(tmp_path, "p", CORE_SCHEMA, WriterOptions(max_bytes=int(per_row * 50)))
    writer.write(table)
    parts = writer.close()
    assert sum(part.rows for part in parts) == rows
    # never over the bound; filled to within a few rows of it (sizes are estimated per slice)
    assert all(45 <= part.rows <= 50 for part in parts[:-1]) and parts[-1].rows <= 50


def test_manifest_and_report_describe_the_folder(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"doc {i}"} for i in range(25)] + [{"text": "  "}])
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out", "--shard-rows", "10", "--workers", "1")
    data = manifest(tmp_path / "out")
    assert data["command"] == "filter"
    assert data["command_line"].startswith("curate filter --output")
    assert data["options"]["shard_rows"] == 10 and data["options"]["inputs"] == [str(source)]
    assert [shard["rows"] for shard in data["shards"]["data"]] == [10, 10, 5]
    assert [shard["path"] for shard in data["shards"]["data"]] == [f"data/shard-0000{i}.parquet" for i in range(3)]
    for shard in data["shards"]["data"] + data["shards"]["rejected"]:
        assert (tmp_path / "out" / shard["path"]).stat().st_size == shard["bytes"]
    assert data["counts"] == {
        "in": 26,
        "kept": 25,
        "rejected": 1,
        "unreadable": 0,
        "by_reason": {"clean:whitespace_only": 1},
    }
    assert [field["name"] for field in data["schema"]["data"]] == ["id", "text", "source", "meta"]
    assert [field["name"] for field in data["schema"]["rejected"]] == ["id", "text", "source", "meta", "reason", "raw"]
    assert data["inputs"][0]["size"] == source.stat().st_size and data["inputs"][0]["xxh3_128"]
    assert not (tmp_path / "out" / ".curate").exists()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [stage["stage"] for stage in report["stages"]] == ["read", "clean"]
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| clean | 26 | 1 | 25 |" in markdown and "`clean:whitespace_only` | 1 |" in markdown


def test_a_run_that_keeps_nothing_still_has_a_schema(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": ""}, {"text": " \n "}])
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out")
    assert pq.read_table(tmp_path / "out/data/shard-00000.parquet").num_rows == 0
    assert [row["reason"] for row in read_rows(tmp_path / "out", "rejected")] == [
        "clean:empty",
        "clean:whitespace_only",
    ]


def test_output_loads_with_hugging_face_datasets(tmp_path):
    import datasets

    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"doc {i}", "id": str(i)} for i in range(30)] + [{"x": 1}])
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out", "--shard-rows", "7")
    kept = datasets.load_dataset("parquet", data_files=str(tmp_path / "out/data/*.parquet"), split="train")
    assert kept.num_rows == 30 and kept.column_names == ["id", "text", "source", "meta"]
    rejected = datasets.load_dataset("parquet", data_files=str(tmp_path / "out/rejected/*.parquet"), split="train")
    assert rejected["reason"] == ["missing:text"]
