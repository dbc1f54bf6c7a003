"""Per-task counts that merge by addition, so finished tasks can be summed on resume."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or "text" not in table.column_names:
        return 0
    return int(pc.sum(pc.binary_length(table.column("text"))).as_py() or 0)


def reason_counts(table: pa.Table | None) -> dict[str, int]:
    if table is None or table.num_rows == 0:
        return {}
    counts = pc.value_counts(table.column("reason")).to_pylist()
    return {item["values"]: item["counts"] for item in counts}


def merge(total: dict, part: dict) -> dict:
    """Add `part` into `total`: numbers add, dicts merge by key, lists merge by position."""
    for key, value in part.items():
        if key not in total:
            total[key] = _copy(value)
        elif isinstance(value, dict):
            merge(total[key], value)
        elif isinstance(value, list):
            for mine, theirs in zip(total[key], value):
                merge(mine, theirs)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            total[key] += value
    return total


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
