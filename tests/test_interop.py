from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate.instruct.formats import output_schema, read_row, to_arrow_row
from curate.instruct.interop import write_interop_files

SFT_RECORDS = [
    {
        "conversations": [
            {"from": "human", "value": f"Question {index}?"},
            {"from": "gpt", "value": f"Answer {index}."},
        ],
        "system": "Be brief.",
    }
    for index in range(3)
]
PREFERENCE_RECORDS = [
    {
        "conversations": [{"from": "human", "value": f"Question {index}?"}],
        "chosen": {"from": "gpt", "value": "A good answer."},
        "rejected": {"from": "gpt", "value": "A bad one."},
    }
    for index in range(3)
]
COUNTS = {"in": 5, "kept": 3, "rejected": 2, "by_reason": {"empty_turn": 1, "roles_out_of_order": 1}}
COMMAND = "curate convert in.jsonl -o out --to {fmt}"


def dataset_folder(tmp_path: Path, records: list[dict], read_as: str, fmt: str) -> Path:
    folder = tmp_path / fmt
    (folder / "data").mkdir(parents=True)
    rows = [to_arrow_row(read_row(record, read_as)[0], fmt, source="in.jsonl") for record in records]
    pq.write_table(pa.Table.from_pylist(rows, schema=output_schema(fmt)), folder / "data" / "shard-00000.parquet")
    return folder


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


@pytest.mark.parametrize(
    ("records", "read_as", "fmt", "formatting", "ranking"),
    [
        (SFT_RECORDS, "sharegpt", "messages", "sharegpt", False),
        (SFT_RECORDS, "sharegpt", "alpaca", "alpaca", False),
        (SFT_RECORDS, "sharegpt", "sharegpt", "sharegpt", False),
        (PREFERENCE_RECORDS, "sharegpt-preference", "preference", None, True),
    ],
)
def test_three_files_for_formats_every_trainer_reads(tmp_path, records, read_as, fmt, formatting, ranking):
    folder = dataset_folder(tmp_path, records, read_as, fmt)
    written = write_interop_files(folder, fmt, "demo", COUNTS, COMMAND.format(fmt=fmt))
    if formatting is None:  # LLaMA-Factory cannot read TRL's message-list answers (see the next test)
        assert sorted(path.name for path in written) == ["README.md", "axolotl.yaml"]
        axolotl = yaml.safe_load((folder / "axolotl.yaml").read_text())
        assert axolotl["rl"] == "dpo" and axolotl["datasets"][0]["field_messages"] == "prompt"
        return
    assert sorted(path.name for path in written) == ["README.md", "axolotl.yaml", "dataset_info.json"]

    entry = json.loads((folder / "dataset_info.json").read_text())["demo"]
    assert (entry["file_name"], entry["formatting"], entry["ranking"]) == ("data", formatting, ranking)
    columns = set(pq.read_schema(next((folder / "data").glob("*.parquet"))).names)
    assert set(entry["columns"].values()) <= columns

    axolotl = yaml.safe_load((folder / "axolotl.yaml").read_text())
    dataset = axolotl["datasets"][0]
    assert Path(dataset["path"]) == (folder / "data").resolve()
    assert dataset["ds_type"] == "parquet"
    assert ("rl" in axolotl) == ranking

    card = (folder / "README.md").read_text()
    matter = front_matter(card)
    data_files = matter["configs"][0]["data_files"][0]
    assert data_files["split"] == "train" and list(folder.glob(data_files["path"]))
    assert "text-generation" in matter["task_categories"]
    for text in ("| kept | 3 |", "`empty_turn`", COMMAND.format(fmt=fmt), 'load_dataset("parquet"'):
        assert text in card


def test_sharegpt_preference_gets_no_axolotl_file(tmp_path):
    # Axolotl 0.19's DPO datasets drop message_property_mappings and roles: no entry reads from/value turns
    folder = dataset_folder(tmp_path, PREFERENCE_RECORDS, "sharegpt-preference", "sharegpt-preference")
    written = write_interop_files(folder, "sharegpt-preference", "demo", COUNTS, "curate convert")
    assert sorted(path.name for path in written) == ["README.md", "dataset_info.json"]
    entry = json.loads((folder / "dataset_info.json").read_text())["demo"]
    assert (entry["formatting"], entry["ranking"]) == ("sharegpt", True)
    assert "No `axolotl.yaml` is written" in (folder / "README.md").read_text()


def test_sharegpt_rows_without_a_system_prompt_get_no_axolotl_file(tmp_path):
    records = [{key: value for key, value in record.items() if key != "system"} for record in SFT_RECORDS]
    folder = dataset_folder(tmp_path, records, "sharegpt", "sharegpt")
    written = write_interop_files(folder, "sharegpt", "demo", COUNTS, "curate convert")
    assert sorted(path.name for path in written) == ["README.md", "dataset_info.json"]
    card = (folder / "README.md").read_text()
    assert "3 rows have no `system`" in card and "--to messages" in card


def test_formats_a_trainer_cannot_read_get_no_file_for_it(tmp_path):
    records = [{"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}]
    folder = dataset_folder(tmp_path, records, "hh-rlhf", "preference")
    (folder / "dataset_info.json").write_text("{}")  # left by an earlier run in another format
    written = write_interop_files(folder, "preference", "demo", {"kept": 1}, "curate convert")
    assert sorted(path.name for path in written) == ["README.md", "axolotl.yaml"]
    assert not (folder / "dataset_info.json").exists()
    assert "No `dataset_info.json` is written" in (folder / "README.md").read_text()
    assert yaml.safe_load((folder / "axolotl.yaml").read_text())["datasets"][0]["type"] == "chat_template.default"

    folder = dataset_folder(tmp_path, records, "hh-rlhf", "hh-rlhf")
    written = write_interop_files(folder, "hh-rlhf", "demo", {"kept": 1}, "curate convert")
    assert [path.name for path in written] == ["README.md"]
    card = (folder / "README.md").read_text()
    assert "No `axolotl.yaml` is written" in card and "implicit prompt" in card


def test_card_loads_with_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = dataset_folder(tmp_path, SFT_RECORDS, "sharegpt", "messages")
    write_interop_files(folder, "messages", "demo", COUNTS, "curate convert")
    dataset = datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))
    assert dataset.num_rows == 3
    assert dataset[0]["messages"][0] == {"role": "system", "content": "Be brief."}
