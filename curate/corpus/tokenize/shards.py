"""Token shards: flat `.bin` files of token ids with Megatron's `.idx` document index beside each.

`shard-NNNNN.bin` is the tokens and nothing else, little-endian uint16 or uint32, so
`np.memmap(path, dtype=np.uint16, mode="r")` reads it as nanoGPT's `train.bin`. Every shard
holds exactly `shard_tokens` tokens but the last; a document that does not fit goes on in the
next shard (`index.json` marks a shard whose first sequence continues one).

`shard-NNNNN.idx` is Megatron-LM's `MMIDIDX` index, version 1 (megatron/core/datasets/
indexed_dataset.py `_IndexWriter`; unchanged since Megatron-DeepSpeed's MMapIndexedDataset):

    b"MMIDIDX\\x00\\x00"           9 bytes
    version                      uint64 = 1
    dtype code                   uint8: 8 = uint16, 4 = int32 (Megatron has no uint32 code;
                                 ids below 2**31 are the same bytes)
    sequence count               uint64
    document count + 1           uint64
    sequence lengths             int32[sequences], in tokens
    sequence pointers            int64[sequences], byte offsets into the .bin
    document indices             int64[documents + 1] = 0, 1, ..., sequences

Each sequence is one document (or the part of it in this shard) with its EOS, so the pair
`shard-NNNNN` is a prefix Megatron's `IndexedDataset` (and `--data-path`) opens as is.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curate.io.atomic import atomic_path

MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
MEGATRON_CODES = {"uint16": 8, "uint32": 4}
CODE_DTYPES = {8: np.dtype("<u2"), 4: np.dtype("<i4")}
DTYPES = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}


def shard_name(number: int) -> str:
    return f"shard-{number:05d}"


def write_megatron_index(path: Path, dtype: str, lengths: np.ndarray) -> None:
    """The `.idx` of a shard whose sequences have `lengths` tokens, one document each."""
    lengths = np.asarray(lengths, dtype="<i4")
    pointers = np.zeros(len(lengths), dtype="<i8")
    if len(lengths) > 1:
        np.cumsum(lengths[:-1].astype("<i8") * DTYPES[dtype].itemsize, out=pointers[1:])
    documents = np.arange(len(lengths) + 1, dtype="<i8")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(MEGATRON_HEADER)
        handle.write(struct.pack("<Q", MEGATRON_VERSION))
        handle.write(struct.pack("<B", MEGATRON_CODES[dtype]))
        handle.write(struct.pack("<Q", len(lengths)))
        handle.write(struct.pack("<Q", len(documents)))
        handle.write(lengths.tobytes())
        handle.write(pointers.tobytes())
        handle.write(documents.tobytes())


@dataclass
class MegatronIndex:
    dtype: np.dtype
    lengths: np.ndarray
    pointers: np.ndarray
    documents: np.ndarray


def read_megatron_index(path: Path) -> MegatronIndex:
    """Read an `.idx` written by `write_megatron_index` (or by Megatron itself)."""
    data = Path(path).read_bytes()
    if data[:9] != MEGATRON_HEADER:
        raise ValueError(f"{path} is not a Megatron MMIDIDX index")
    version, code = struct.unpack_from("<QB", data, 9)
    if version != MEGATRON_VERSION or code not in CODE_DTYPES:
        raise ValueError(f"{path}: index version {version} with dtype code {code} is not one curate reads")
    sequences, documents = struct.unpack_from("<QQ", data, 18)
    offset = 34
    lengths = np.frombuffer(data, "<i4", sequences, offset)
    offset += lengths.nbytes
    pointers = np.frombuffer(data, "<i8", sequences, offset)
    offset += pointers.nbytes
    return MegatronIndex(CODE_DTYPES[code], lengths, pointers, np.frombuffer(data, "<i8", documents, offset))


@dataclass
class ShardWriter:
    """Cut a stream of documents (their tokens, each ending with its EOS) into shards of exactly
    `shard_tokens` tokens, and stop at exactly `budget` tokens when one is given.

    Documents arrive as a flat token array and their lengths, many at a time, so that the cost
    per document is numpy's, not Python's. Shards are written under temporary names in `folder`
    and renamed when whole; `close` returns what `index.json` lists of each.
    """

    folder: Path
    dtype: str
    shard_tokens: int
    budget: int | None = None
    written: int = 0  # tokens written so far, over all shards
    truncated: bool = False  # the budget cut a document short
    shards: list[dict] = field(default_factory=list)
    _handle: object = None
    _lengths: list[np.ndarray] = field(default_factory=list)
    _filled: int = 0
    _continues: bool = False  # the current shard starts with the rest of a document

    @property
    def full(self) -> bool:
        return self.budget is not None and self.written >= self.budget

    def write(self, tokens: np.ndarray, lengths: np.ndarray) -> None:
        """Append documents: `tokens` is their ids one after the other, `lengths[i]` the i-th's count."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if self.budget is not None:
            left = self.budget - self.written
            if left <= 0:
                return
            if len(tokens) > left:
                tokens, lengths = tokens[:left], _cut(lengths, left)
                self.truncated = True
        tokens = tokens.astype(DTYPES[self.dtype], copy=False)
        while len(tokens):
            room = self.shard_tokens - self._filled
            if len(tokens) < room:
                self._append(tokens, lengths)
                break
            head = _cut(lengths, room)
            self._append(tokens[:room], head)
            carried = lengths[len(head) - 1] - head[-1]  # what of the document cut at the boundary goes on
            rest = lengths[len(head) :] if carried == 0 else np.concatenate([[carried], lengths[len(head) :]])
            self._finish_shard(continued=bool(carried > 0))
            tokens, lengths = tokens[room:], rest

    def _append(self, tokens: np.ndarray, lengths: np.ndarray) -> None:
        if not len(tokens):
            return
        if self._handle is None:
            self._handle = open(self._path(".bin.tmp"), "wb")  # noqa: SIM115 - open across many writes, closed per shard
        self._handle.write(tokens.tobytes())
        self._lengths.append(lengths)
        self._filled += len(tokens)
        self.written += len(tokens)

    def _path(self, suffix: str) -> Path:
        return self.folder / f"{shard_name(len(self.shards))}{suffix}"

    def _finish_shard(self, continued: bool) -> None:
        """Seal the current shard; `continued`: the next one starts inside a document."""
        if self._handle is None:
            return
        self._handle.close()
        lengths = np.concatenate(self._lengths)
        name = shard_name(len(self.shards))
        write_megatron_index(self.folder / f"{name}.idx", self.dtype, lengths)
        self._path(".bin.tmp").replace(self.folder / f"{name}.bin")
        self.shards.append(
            {
                "bin": f"{name}.bin",
                "idx": f"{name}.idx",
                "tokens": self._filled,
                "sequences": len(lengths),
                "first_continues_previous": self._continues,
            }
        )
        self._handle, self._lengths, self._filled, self._continues = None, [], 0, continued

    def close(self) -> list[dict]:
        self._finish_shard(continued=False)
        return self.shards


def _cut(lengths: np.ndarray, tokens: int) -> np.ndarray:
    """The lengths of the documents that the first `tokens` tokens hold, the last one cut short."""
    ends = np.cumsum(lengths)
    count = int(np.searchsorted(ends, tokens, side="left")) + 1
    head = lengths[:count].copy()
    head[-1] -= ends[count - 1] - tokens
    return head


def with_eos(values: np.ndarray, lengths: np.ndarray, eos: int) -> tuple[np.ndarray, np.ndarray]:
    """`values` (documents one after another, `lengths` each) with `eos` after every document."""
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.empty(len(values) + len(lengths), dtype=values.dtype)
    ends = np.cumsum(lengths + 1) - 1
    mask = np.ones(len(out), dtype=bool)
    mask[ends] = False
    out[mask] = values
    out[ends] = eos
    return out, lengths + 1


def read_documents(folder: Path) -> list[np.ndarray]:
    """Every sequence of the shards listed in `folder/index.json`, in order, a document cut by a
    shard boundary joined again: the documents as written, each ending with its EOS."""
    import json

    index = json.loads((Path(folder) / "index.json").read_text(encoding="utf-8"))
    documents: list[np.ndarray] = []
    for shard in index["shards"]:
        tokens = np.memmap(Path(folder) / shard["bin"], dtype=DTYPES[index["dtype"]], mode="r")
        meta = read_megatron_index(Path(folder) / shard["idx"])
        starts = meta.pointers // DTYPES[index["dtype"]].itemsize
        for number, (start, length) in enumerate(zip(starts, meta.lengths)):
            sequence = np.array(tokens[start : start + length])
            if number == 0 and shard["first_continues_previous"]:
                documents[-1] = np.concatenate([documents[-1], sequence])
            else:
                documents.append(sequence)
    return documents
