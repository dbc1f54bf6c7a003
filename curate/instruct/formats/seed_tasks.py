"""Self-instruct seed tasks (read only): an instruction with one or more instances of input and output."""

from __future__ import annotations

from typing import Any

from curate.instruct.formats.base import SFT, Format, Unconvertible
from curate.instruct.formats.canonical import assistant, compose_user_turn, is_id, require_list, require_str, user


def _read_seed_tasks(fields: dict) -> tuple[list[dict], set[str]]:
    instruction = require_str(fields, "instruction")
    instances = require_list(fields, "instances")
    if not instances:
        raise Unconvertible("missing_field", "instances is empty")
    count = len(instances)
    rows = [_seed_instance_row(fields, instruction, instance, index, count) for index, instance in enumerate(instances)]
    return rows, {"instruction", "instances"}


def _seed_instance_row(fields: dict, instruction: str, instance: Any, index: int, count: int) -> dict:
    where = f"instances[{index}]"
    if not isinstance(instance, dict):
        raise Unconvertible("wrong_type", f"{where} must be an object")
    output = instance.get("output")
    if output is None:
        raise Unconvertible("missing_field", f"{where}.output")
    input_text = instance.get("input", "")
    for key, value in (("input", input_text), ("output", output)):
        if not isinstance(value, str):
            raise Unconvertible("not_a_string", f"{where}.{key}")
    row: dict[str, Any] = {
        "messages": [user(compose_user_turn(instruction, input_text)), assistant(output)],
        "instruction": instruction,
        "input": input_text,
        "output": output,
    }
    meta: dict[str, Any] = {}
    if count > 1:
        meta["instance"] = {"index": index, "count": count}
    extras = {key: value for key, value in instance.items() if key not in ("input", "output")}
    if extras:
        meta["instance_extras"] = extras
    if index > 0 and is_id(fields.get("id")):
        row["id"] = f"{fields['id']}#{index}"
    if meta:
        row["meta"] = meta
    return row


FORMAT = Format(
    name="seed-tasks",
    kind=SFT,
    summary="Self-instruct seed tasks: `instruction` with `instances` of `input` and `output`.",
    detect=lambda record: "instruction" in record and "instances" in record,
    detect_order=70,
    read=_read_seed_tasks,
    columns=(),
    hints=frozenset({"tools_json", "instance", "instance_extras"}),
    alpaca_fields=True,
)
