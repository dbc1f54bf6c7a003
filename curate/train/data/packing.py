"""Several SFT examples per row, first-fit decreasing, so no row wastes its tail on padding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

from curate.train.data.report import IGNORE


class PackedRow(TypedDict):
    """Several examples laid end to end in one row.

    `labels` is -100 at the first token of every example, so no token is predicted from the
    example before it; `position_ids` restart at 0 with each example; `seq_lengths` are the
    examples' lengths in order (they sum to len(input_ids)).
    """

    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    seq_lengths: list[int]


def pack(examples: Sequence[Mapping], max_length: int) -> list[PackedRow]:
    """Pack examples into rows of at most `max_length` tokens, first-fit decreasing.

    First-fit decreasing (longest example first, each into the first row with room) fills rows
    to within a few percent of optimal where sequential packing (in order, a new row whenever
    the next example does not fit) wastes the tail of most rows once examples are a sizeable
    fraction of `max_length`, as chat examples are. Its cost: rows come out roughly longest
    first and hold examples of different positions in the data, so shuffle the rows (with the
    run's seed) rather than the examples. Ties keep the examples' order; the result depends
    only on the input. O(n log n): the first row with room is found in a max-segment tree.

    Each row: `input_ids`, `labels` (-100 at each example's first token, so no token is
    predicted across a boundary), `position_ids` restarting at 0 per example, `seq_lengths`.
    """
    lengths = [len(example["input_ids"]) for example in examples]
    for number, length in enumerate(lengths):
        if not 0 < length <= max_length:
            raise ValueError(f"example {number} has {length} tokens; packing takes 1 to max_length {max_length}")
    order = sorted(range(len(examples)), key=lambda index: -lengths[index])
    bins = _first_fit([lengths[index] for index in order], max_length)
    positions = list(range(max_length))  # sliced, not rebuilt: one set of int objects for every row
    rows: list[PackedRow] = []
    for members in bins:
        input_ids: list[int] = []
        labels: list[int] = []
        position_ids: list[int] = []
        seq_lengths: list[int] = []
        for member in members:
            example = examples[order[member]]
            length = len(example["input_ids"])
            if len(example["labels"]) != length:
                raise ValueError(f"example {order[member]} has {len(example['labels'])} labels for {length} tokens")
            labels.extend(example["labels"])
            labels[len(input_ids)] = IGNORE  # its first token is not predicted from the example before
            input_ids.extend(example["input_ids"])
            position_ids.extend(positions[:length])
            seq_lengths.append(length)
        rows.append(
            {"input_ids": input_ids, "labels": labels, "position_ids": position_ids, "seq_lengths": seq_lengths}
        )
    return rows


def _first_fit(sizes: list[int], capacity: int) -> list[list[int]]:
    """Indices of `sizes` per bin, each size into the leftmost bin with room."""
    if not sizes:
        return []
    leaves = 1
    while leaves < len(sizes):
        leaves *= 2
    tree = [capacity] * (2 * leaves)  # tree[node] = most room in any bin below node
    bins: list[list[int]] = []
    for index, size in enumerate(sizes):
        node = 1
        while node < leaves:
            node = 2 * node if tree[2 * node] >= size else 2 * node + 1
        slot = node - leaves
        if slot == len(bins):
            bins.append([])
        bins[slot].append(index)
        tree[node] -= size
        node //= 2
        while node:
            tree[node] = max(tree[2 * node], tree[2 * node + 1])
            node //= 2
    return bins
