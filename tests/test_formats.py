from __future__ import annotations

import functools
import gzip
import json
import pickle
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from curate.instruct.formats import (
    PREFERENCE_FORMATS,
    READ_FORMATS,
    REASONS,
    SFT_FORMATS,
    WRITE_FORMATS,
    Unconvertible,
    detect_format,
    format_kind,
    from_arrow_row,
    output_schema,
    read_row,
    to_arrow_row,
    write_row,
)

# Every file of the shared instructions/ and preferences/ folders, its format, and the rows it
# is known to lose (the figures are facts about the data, checked by hand).
SHARED_FILES = {
    "instructions/alpaca_seed_tasks.jsonl": ("seed-tasks", {}),
    "instructions/alpaca_5000.json": ("alpaca", {"empty_turn": 2}),
    "instructions/user_oriented_instructions.ko.jsonl": ("seed-tasks", {}),
    "instructions/dolly_hhrlhf_small.jsonl": ("prompt-completion", {}),
    "instructions/messages_sft_demo.jsonl": ("messages", {}),
    "instructions/glaive_toolcall_demo.json": ("sharegpt", {}),
    # 4 chosen answers are empty ("...\n\nAssistant: "); 4 transcripts have two Assistant turns
    # in a row where a "Human:" lost its "\n\n" in the source data.
    "preferences/hh_rlhf_harmless_base_test.jsonl.gz": ("hh-rlhf", {"empty_turn": 4, "roles_out_of_order": 4}),
    "preferences/sharegpt_dpo_demo.zh.json": ("sharegpt-preference", {}),
}
MALFORMED = "preferences/ko_harmless_base_test.malformed.txt"


def load_records(path: Path) -> list[dict]:
    if path.suffix == ".gz":
        return [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@functools.cache
def canonical(path: Path, fmt: str) -> tuple[list[tuple[dict, list[dict]]], Counter]:
    """(record, rows) for every readable record, and the rejections by reason."""
    read, rejected = [], Counter()
    for record in load_records(path):
        try:
            read.append((record, read_row(record, fmt)))
        except Unconvertible as error:
            rejected[error.reason] += 1
    return read, rejected


def targets_of(fmt: str) -> list[str]:
    return [name for name in WRITE_FORMATS if format_kind(name) == format_kind(fmt)]


def expected_back(row: dict, target: str) -> dict:
    """The row read back from `target`: the same row, except that rows read from alpaca always
    carry the Alpaca fields, derived from the last exchange when the row had none."""
    if target != "alpaca" or "instruction" in row:
        return row
    user, answer = row["messages"][-2]["content"], row["messages"][-1]["content"]
    return {**row, "instruction": user, "input": "", "output": answer}


def test_shared_file_list_is_complete(shared_data):
    found = {
        str(path.relative_to(shared_data))
        for folder in ("instructions", "preferences")
        for path in (shared_data / folder).iterdir()
    }
    assert found - {MALFORMED} == set(SHARED_FILES)


@pytest.mark.parametrize("name", SHARED_FILES)
def test_detect_format_on_first_record(shared_data, name):
    fmt, _ = SHARED_FILES[name]
    assert detect_format(load_records(shared_data / name)[0]) == fmt


@pytest.mark.parametrize("name", SHARED_FILES)
def test_native_round_trip_is_exact(shared_data, name):
    fmt, expected_rejections = SHARED_FILES[name]
    read, rejected = canonical(shared_data / name, fmt)
    print(f"{name}: {len(read)} records read, rejected {dict(rejected)}")
    assert dict(rejected) == expected_rejections
    if fmt not in WRITE_FORMATS:
        return
    for record, rows in read:
        assert len(rows) == 1
        assert write_row(rows[0], fmt) == record


@pytest.mark.parametrize("name", SHARED_FILES)
def test_every_target_reads_back_the_same_row(shared_data, name):
    fmt, _ = SHARED_FILES[name]
    read, _ = canonical(shared_data / name, fmt)
    outcomes = Counter()
    for _, rows in read:
        for row in rows:
            for target in targets_of(fmt):
                try:
                    written = write_row(row, target)
                except Unconvertible as error:
                    outcomes[target, error.reason] += 1
                    continue
                assert read_row(written, target) == [expected_back(row, target)]
                assert detect_format(written) == target
                outcomes[target, "ok"] += 1
    print(f"{name}: {dict(outcomes)}")
    rows_read = sum(len(rows) for _, rows in read)
    # The two most general formats hold every canonical row of their kind.
    general = "messages" if format_kind(fmt) == "sft" else "preference"
    assert outcomes[general, "ok"] == rows_read
    assert {reason for _, reason in outcomes} <= {"ok", "not_representable"}


@pytest.mark.parametrize("name", SHARED_FILES)
def test_parquet_rows_give_back_the_canonical_row(shared_data, name):
    fmt, _ = SHARED_FILES[name]
    rows = [row for _, rows in canonical(shared_data / name, fmt)[0] for row in rows]
    for target in targets_of(fmt):
        alpaca_columns = format_kind(target) == "sft"
        kept = []
        for row in rows:
            try:
                kept.append((row, to_arrow_row(row, target, source=name, alpaca_columns=alpaca_columns)))
            except Unconvertible:
                continue
        schema = output_schema(target, alpaca_columns)
        table = pa.Table.from_pylist([arrow for _, arrow in kept], schema=schema)
        for (row, _), arrow in zip(kept, table.to_pylist()):
            assert from_arrow_row(arrow, target) == [{"source": name, **expected_back(row, target)}]


def test_malformed_korean_hh_rlhf(shared_data):
    lines = (shared_data / MALFORMED).read_text(encoding="utf-8").splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    converted, reasons = 0, Counter()
    for record in records:
        try:
            read_row(record, "hh-rlhf")
            converted += 1
        except Unconvertible as error:
            reasons[error.reason] += 1
    print(f"{len(lines)} lines, {len(records)} parse as JSON: {converted} converted, rejected {dict(reasons)}")
    assert converted + sum(reasons.values()) == len(records)
    assert len(records) < len(lines)
    # Most JSON lines call `rejected` "거부됨", "거부", ...; the rest were translated turn by turn,
    # so chosen and rejected rarely keep a common prompt.
    assert reasons["missing_field"] > converted
    assert set(reasons) <= set(REASONS)


# ---------------------------------------------------------------------------------------------
# One tiny record for each reason


def hh(*turns: str) -> str:
    return "".join(f"\n\n{turn}" for turn in turns)


REJECTIONS = [
    ({"instruction": "Say hi.", "input": ""}, "alpaca", "missing_field", "output"),
    ({"prompt": "Hi", "response": None}, "prompt-completion", "missing_field", "completion"),
    ({"chosen": hh("Human: hi", "Assistant: a")}, "hh-rlhf", "missing_field", "rejected"),
    ({"instruction": ["Say hi."], "output": "hi"}, "alpaca", "not_a_string", "instruction"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages", "not_a_string", "messages[0].content"),
    ({"messages": {"role": "user"}}, "messages", "wrong_type", "messages"),
    ({"instruction": "a", "output": "b", "history": "x"}, "alpaca", "wrong_type", "history"),
    ({"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": "9"}, "preference", "not_a_number", "score"),
    ({"instruction": "Say hi.", "input": "", "output": "  "}, "alpaca", "empty_turn", "messages[1]"),
    (
        {
            "conversations": [
                {"from": "human", "value": "a"},
                {"from": "human", "value": "b"},
                {"from": "gpt", "value": "c"},
            ]
        },
        "sharegpt",
        "roles_out_of_order",
        "user turn after a user turn",
    ),
    ({"messages": [{"role": "assistant", "content": "hello"}]}, "messages", "roles_out_of_order", "after the start"),
    (
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "system", "content": "s"},
                {"role": "assistant", "content": "b"},
            ]
        },
        "messages",
        "roles_out_of_order",
        "system",
    ),
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages", "no_assistant_turn", "user"),
    ({"chosen": hh("Human: hi"), "rejected": hh("Human: hello")}, "hh-rlhf", "no_assistant_turn", "chosen"),
    (
        {
            "conversations": [
                {"from": "human", "value": "a"},
                {"from": "function_call", "value": "{}"},
                {"from": "observation", "value": "{}"},
            ]
        },
        "sharegpt",
        "no_assistant_turn",
        "tool",
    ),
    (
        {"chosen": hh("Human: hi", "Assistant: a"), "rejected": hh("Human: hi", "Assistant: a")},
        "hh-rlhf",
        "chosen_equals_rejected",
        "",
    ),
    ({"prompt": "q", "chosen": "same", "rejected": "same"}, "preference", "chosen_equals_rejected", ""),
    ({"conversations": [{"from": "bot", "value": "a"}]}, "sharegpt", "unknown_role", "bot"),
    ({"conversations": [{"from": ["human"], "value": "a"}]}, "sharegpt", "unknown_role", "['human']"),
    ({"messages": [{"role": "developer", "content": "a"}]}, "messages", "unknown_role", "developer"),
    (
        {
            "messages": [
                {"role": "user", "content": [{"type": "image", "image": "x.png"}]},
                {"role": "assistant", "content": "a"},
            ]
        },
        "messages",
        "non_text_content",
        "image",
    ),
    ({"chosen": "Human: hi\n\nAssistant: a", "rejected": "b"}, "hh-rlhf", "not_a_transcript", "chosen"),
    (
        {"chosen": hh("Human: 안녕", "Assistant: a"), "rejected": hh("Human: 안녕하세요", "Assistant: b")},
        "hh-rlhf",
        "prompts_differ",
        "",
    ),
    # "Human:x" has no space after the colon, so it would come back as "Human: x".
    (
        {"chosen": hh("Human:x", "Assistant: a"), "rejected": hh("Human:x", "Assistant: b")},
        "hh-rlhf",
        "irregular_transcript",
        "",
    ),
    ({"instruction": "a", "output": "b", "tools_json": True}, "alpaca", "reserved_key", "tools_json"),
    (
        {
            "chosen": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "assistant", "content": "more"},
            ],
            "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}],
        },
        "preference",
        "not_representable",
        "last message",
    ),
]


@pytest.mark.parametrize(("record", "fmt", "reason", "detail"), REJECTIONS)
def test_rejection_reasons(record, fmt, reason, detail):
    with pytest.raises(Unconvertible) as caught:
        read_row(record, fmt)
    assert caught.value.reason == reason
    assert detail in caught.value.detail
    assert reason in REASONS


def one_exchange(user: str = "q", answer: str = "a", system: str | None = None) -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def two_exchanges() -> dict:
    row = one_exchange("q1", "a1")
    row["messages"] += [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]
    return row


@pytest.mark.parametrize(
    ("row", "fmt", "detail"),
    [
        (two_exchanges(), "prompt-completion", "one exchange"),
        (one_exchange(system="Be brief."), "prompt-completion", "system prompt"),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "function_call", "content": "{}"},
                    {"role": "tool", "content": "{}"},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "alpaca",
            "tool calls",
        ),
        ({**one_exchange(), "meta": {"prompt": "clash"}}, "prompt-completion", "clashes"),
    ],
)
def test_not_representable(row, fmt, detail):
    with pytest.raises(Unconvertible) as caught:
        write_row(row, fmt)
    assert caught.value.reason == "not_representable"
    assert detail in caught.value.detail


def test_hh_rlhf_writer_refuses_text_that_would_read_back_as_other_turns():
    row = {
        "prompt": [{"role": "user", "content": "q\n\nAssistant: sneaky"}],
        "chosen": [{"role": "assistant", "content": "a"}],
        "rejected": [{"role": "assistant", "content": "b"}],
    }
    with pytest.raises(Unconvertible) as caught:
        write_row(row, "hh-rlhf")
    assert caught.value.reason == "not_representable"


def test_canonical_rows_are_validated_strictly():
    with pytest.raises(Unconvertible, match="empty_turn"):
        write_row(one_exchange(answer=" \n"), "messages")
    with pytest.raises(Unconvertible, match="roles_out_of_order"):
        write_row(
            {
                "prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                "chosen": [{"role": "assistant", "content": "x"}],
                "rejected": [{"role": "assistant", "content": "y"}],
            },
            "preference",
        )
    with pytest.raises(Unconvertible, match="unknown_key"):
        write_row({**one_exchange(), "text": "x"}, "messages")
    with pytest.raises(Unconvertible, match="alpaca_fields_mismatch"):
        write_row({**one_exchange(), "instruction": "other", "output": "a"}, "alpaca")


# ---------------------------------------------------------------------------------------------
# Behaviour worth pinning down


def test_alpaca_to_messages_and_back():
    record = {
        "instruction": "Translate.",
        "input": "Bonjour",
        "output": "Hello",
        "system": "Be exact.",
        "history": [["Hi", "Hello!"]],
    }
    row = read_row(record, "alpaca")[0]
    assert row["messages"] == [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Translate.\n\nBonjour"},
        {"role": "assistant", "content": "Hello"},
    ]
    assert (row["instruction"], row["input"], row["output"]) == ("Translate.", "Bonjour", "Hello")
    assert write_row(row, "alpaca") == record
    # Without the original fields, the last user turn becomes the instruction.
    plain = {"messages": row["messages"]}
    assert write_row(plain, "alpaca") == {**record, "instruction": "Translate.\n\nBonjour", "input": ""}


def test_alpaca_origin_rows_keep_their_fields_through_other_formats():
    row = read_row({"instruction": "a", "input": "", "output": "b"}, "alpaca")[0]
    assert (row["instruction"], row["input"], row["output"]) == ("a", "", "b")
    as_messages = write_row(row, "messages")
    assert as_messages["instruction"] == "a"  # beside the messages, so alpaca can be written exactly
    assert read_row(as_messages, "messages") == [row]
    assert "input" not in read_row({"instruction": "a", "output": "b"}, "alpaca")[0]


def test_seed_tasks_give_one_row_per_instance():
    record = {
        "id": "seed_task_7",
        "name": "pairs",
        "instruction": "Pair them.",
        "is_classification": False,
        "instances": [{"input": "", "output": "x"}, {"input": "a, b", "output": "y"}],
    }
    first, second = read_row(record, "seed-tasks")
    assert first["id"] == "seed_task_7" and second["id"] == "seed_task_7#1"
    assert first["meta"] == {"name": "pairs", "is_classification": False, "instance": {"index": 0, "count": 2}}
    assert second["messages"][0]["content"] == "Pair them.\n\na, b"
    assert write_row(second, "alpaca") == {
        "id": "seed_task_7#1",
        "instruction": "Pair them.",
        "input": "a, b",
        "output": "y",
        "name": "pairs",
        "is_classification": False,
        "instance": {"index": 1, "count": 2},
    }
    with pytest.raises(ValueError):
        write_row(first, "seed-tasks")


def test_messages_content_parts_and_extras_come_back():
    record = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
                "loss_weight": 0.0,
            },
            {"role": "assistant", "content": "Hello", "name": "bot"},
        ]
    }
    row = read_row(record, "messages")[0]
    assert row["messages"][0]["content"] == "Hi there"
    assert row["meta"]["message_extras"] == [{"loss_weight": 0.0}, {"name": "bot"}]
    assert write_row(row, "messages") == record
    as_sharegpt = write_row(row, "sharegpt")
    assert as_sharegpt["conversations"][0] == {"from": "human", "value": "Hi there", "loss_weight": 0.0}
    assert write_row(read_row(as_sharegpt, "sharegpt")[0], "messages") == record


def test_sharegpt_system_stays_where_it_was():
    top = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "system": "S"}
    inside = {"conversations": [{"from": "system", "value": "S"}, *top["conversations"]]}
    for record in (top, inside):
        row = read_row(record, "sharegpt")[0]
        assert row["messages"][0] == {"role": "system", "content": "S"}
        assert write_row(row, "sharegpt") == record
    with pytest.raises(Unconvertible, match="roles_out_of_order"):
        read_row({**inside, "system": "T"}, "sharegpt")


def test_prompt_completion_remembers_response_key():
    record = {"prompt": "q", "response": "a"}
    row = read_row(record, "prompt-completion")[0]
    assert row == {**one_exchange(), "meta": {"completion_key": "response"}}
    assert write_row(row, "prompt-completion") == record
    assert write_row(one_exchange(), "prompt-completion") == {"prompt": "q", "completion": "a"}


def test_nulls_empty_strings_and_unknown_keys_pass_through():
    record = {
        "id": 12,
        "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
        "system": "",
        "tools": None,
        "category": "chat",
    }
    row = read_row(record, "sharegpt")[0]
    assert row["id"] == 12
    assert row["meta"] == {"system": "", "tools": None, "category": "chat"}
    assert write_row(row, "sharegpt") == record


def test_tools_as_json_values_come_back_as_values():
    tools = [{"name": "f", "parameters": {"type": "object"}}]
    record = {**one_exchange(), "tools": tools}
    row = read_row(record, "messages")[0]
    assert json.loads(row["tools"]) == tools
    assert write_row(row, "messages") == record


def test_hh_rlhf_prompt_is_parsed_into_turns():
    chosen = hh("Human: hi", "Assistant: hello", "Human: how are you?", "Assistant:  fine")
    rejected = hh("Human: hi", "Assistant: hello", "Human: how are you?", "Assistant: bad")
    row = read_row({"chosen": chosen, "rejected": rejected}, "hh-rlhf")[0]
    assert row["prompt"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "how are you?"},
    ]
    # Only the one space after "Assistant:" goes; a second one is part of the answer.
    assert row["chosen"] == [{"role": "assistant", "content": " fine"}]
    assert write_row(row, "hh-rlhf") == {"chosen": chosen, "rejected": rejected}


def test_trl_preference_styles():
    standard = {"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": 8, "score_rejected": 2.5}
    row = read_row(standard, "preference")[0]
    assert row["prompt"] == [{"role": "user", "content": "q"}] and row["score_chosen"] == 8
    assert write_row(row, "preference") == standard
    implicit = {
        "chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}],
    }
    row = read_row(implicit, "preference")[0]
    assert row["chosen"] == [{"role": "assistant", "content": "a"}]
    assert write_row(row, "preference") == implicit
    assert write_row({key: row[key] for key in ("prompt", "chosen", "rejected")}, "preference") == {
        "prompt": [{"role": "user", "content": "q"}],
        "chosen": [{"role": "assistant", "content": "a"}],
        "rejected": [{"role": "assistant", "content": "b"}],
    }


def test_output_schemas_use_trainer_column_names():
    assert output_schema("messages").names == ["id", "messages", "tools", "source", "meta"]
    assert output_schema("messages", alpaca_columns=True).names == [
        "id",
        "messages",
        "tools",
        "instruction",
        "input",
        "output",
        "source",
        "meta",
    ]
    assert output_schema("prompt-completion").names[:3] == ["id", "prompt", "completion"]
    assert output_schema("preference").names == [
        "id",
        "prompt",
        "chosen",
        "rejected",
        "score_chosen",
        "score_rejected",
        "source",
        "meta",
    ]
    assert output_schema("sharegpt").field("conversations").type == pa.list_(
        pa.struct([("from", pa.string()), ("value", pa.string())])
    )
    for fmt in WRITE_FORMATS:
        assert output_schema(fmt).field("meta").type == pa.string()


def test_arrow_row_keeps_what_has_no_column_in_meta():
    row = {**read_row({"id": 5, "instruction": "a", "input": "x", "output": "b"}, "alpaca")[0], "meta": {"lang": "en"}}
    arrow = to_arrow_row(row, "messages")
    assert arrow["id"] == "5"
    assert json.loads(arrow["meta"]) == {
        "lang": "en",
        "_row": {"id": 5, "instruction": "a", "input": "x", "output": "b"},
    }
    assert from_arrow_row(arrow, "messages") == [row]
    assert to_arrow_row(one_exchange(), "messages")["meta"] == "{}"


def test_format_names_and_kinds():
    assert set(READ_FORMATS) == set(SFT_FORMATS) | set(PREFERENCE_FORMATS)
    assert "seed-tasks" not in WRITE_FORMATS
    assert {format_kind(name) for name in PREFERENCE_FORMATS} == {"preference"}
    with pytest.raises(ValueError):
        format_kind("jsonl")
    assert detect_format({"text": "x"}) is None


def test_unconvertible_pickles_for_worker_processes():
    error = pickle.loads(pickle.dumps(Unconvertible("missing_field", "output")))
    assert (error.reason, error.detail, str(error)) == ("missing_field", "output", "missing_field: output")


def test_foreign_meta_columns():
    arrow = {"id": "1", "messages": one_exchange()["messages"], "meta": "not json"}
    with pytest.raises(Unconvertible, match="wrong_type"):
        from_arrow_row(arrow, "messages")
    assert from_arrow_row({**arrow, "meta": {"lang": "en"}}, "messages")[0]["meta"] == {"lang": "en"}
