"""Per-task counts that merge by addition, so finished tasks can be summed on resume."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from curate.io.readers.batch import TOO_LONG

# Document lengths in characters, in fixed log-spaced bins (4 a decade, 1 to 10M) so every
# task counts into the same bins and the histograms of tasks simply add up. Bin i holds
# lengths in [edges[i], edges[i + 1]); longer documents count in the last bin.
LENGTH_EDGES: list[int] = [0] + sorted({round(10 ** (step / 4)) for step in range(0, 29)}) + [10**8]


def text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or "text" not in table.column_names:
        return 0
    return int(pc.sum(pc.binary_length(table.column("text"))).as_py() or 0)


def length_histogram(table: pa.Table) -> list[int]:
    """How many documents of `table` fall in each bin of LENGTH_EDGES (characters)."""
    if table.num_rows == 0 or "text" not in table.column_names:
        return [0] * (len(LENGTH_EDGES) - 1)
    lengths = pc.utf8_length(table.column("text")).to_numpy(zero_copy_only=False)
    lengths = np.minimum(np.nan_to_num(lengths, nan=0), LENGTH_EDGES[-1])
    histogram, _ = np.histogram(lengths, bins=LENGTH_EDGES)
    return [int(count) for count in histogram]


def reason_counts(table: pa.Table | None) -> dict[str, int]:
    if table is None or table.num_rows == 0:
        return {}
    counts = pc.value_counts(table.column("reason")).to_pylist()
    return {item["values"]: item["counts"] for item in counts}


def reason_bytes(table: pa.Table | None, column: str = "text") -> dict[str, int]:
    """Bytes of `column` per reason: the text a rule dropped (or the raw bytes of unreadable input)."""
    if table is None or table.num_rows == 0:
        return {}
    if column not in table.column_names:
        return {reason: 0 for reason in reason_counts(table)}
    sizes = pc.fill_null(pc.binary_length(table.column(column)), 0)
    grouped = (
        pa.table({"reason": table.column("reason"), "size": sizes}).group_by("reason").aggregate([("size", "sum")])
    )
    return {reason: int(size) for reason, size in zip(grouped["reason"].to_pylist(), grouped["size_sum"].to_pylist())}


def too_long_bytes(table: pa.Table | None) -> dict[str, int]:
    """What over-long documents held beyond the start that `raw` keeps (their meta's `bytes`)."""
    if table is None or "raw" not in table.column_names:
        return {}
    long = table.filter(pc.equal(table.column("reason"), TOO_LONG))
    if long.num_rows == 0:
        return {}
    kept = long.column("raw").to_pylist()
    held = sum(
        orjson.loads(meta).get("bytes", len(raw or b"")) - len(raw or b"")
        for meta, raw in zip(long.column("meta").to_pylist(), kept)
    )
    return {TOO_LONG: held}


def merge(total: dict, part: dict) -> dict:
    """Add `part` into `total`: numbers add, dicts merge by key, lists merge by position."""
    for key, value in part.items():
        if key not in total:
            total[key] = _copy(value)
        elif isinstance(value, dict):
            merge(total[key], value)
        elif isinstance(value, list):
            _merge_list(total[key], value)
        elif _is_number(value):
            total[key] += value
    return total


def _merge_list(total: list, part: list) -> None:
    for position, theirs in enumerate(part):
        if position >= len(total):
            total.append(_copy(theirs))
        elif isinstance(theirs, dict):
            merge(total[position], theirs)
        elif _is_number(theirs):
            total[position] += theirs


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
