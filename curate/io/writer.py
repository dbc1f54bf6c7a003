"""Write Arrow tables as zstd Parquet parts bounded by rows and bytes, atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.io.atomic import atomic_path
from curate.io.schema import conform


@dataclass(frozen=True)
class WriterOptions:
    max_rows: int = 100_000  # rows per shard
    max_bytes: int = 256 << 20  # uncompressed Arrow bytes per shard (files come out smaller)
    row_group_rows: int = 10_000
    row_group_bytes: int = 64 << 20
    compression_level: int = 3


@dataclass(frozen=True)
class Part:
    name: str  # file name inside its folder
    rows: int
    bytes: int  # size on disk


class ShardWriter:
    """Append tables; parts roll over at the row/byte bounds.

    Each part is written as `NAME.tmp` and renamed when complete, so a part file that
    exists under its final name is always whole. Row groups are cut at fixed row and
    byte counts of the data alone, so the bytes do not depend on how input was batched
    across worker processes.
    """

    def __init__(self, folder: Path, prefix: str, schema: pa.Schema, options: WriterOptions) -> None:
        self.folder = folder
        self.prefix = prefix
        self.schema = schema
        self.options = options
        self.parts: list[Part] = []
        self._writer: pq.ParquetWriter | None = None
        self._part_rows = 0
        self._part_bytes = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0

    def write(self, table: pa.Table) -> None:
        table = conform(table, self.schema)
        while table.num_rows:
            row_bytes = max(table.nbytes // table.num_rows, 1)
            room_rows = min(
                self.options.max_rows - self._part_rows,
                (self.options.max_bytes - self._part_bytes) // row_bytes,
            )
            if room_rows <= 0:
                if self._part_rows:
                    self._close_part()
                    continue
                room_rows = 1  # a single row larger than the byte bound gets a part of its own
            take = min(table.num_rows, room_rows)
            piece, table = table.slice(0, take), table.slice(take)
            self._part_rows += piece.num_rows
            self._part_bytes += piece.nbytes
            self._buffer(piece)

    def _buffer(self, piece: pa.Table) -> None:
        self._pending.append(piece)
        self._pending_rows += piece.num_rows
        self._pending_bytes += piece.nbytes
        while self._pending_rows >= self.options.row_group_rows or self._pending_bytes >= self.options.row_group_bytes:
            pending = pa.concat_tables(self._pending)
            row_bytes = max(pending.nbytes // pending.num_rows, 1)
            size = min(self.options.row_group_rows, max(self.options.row_group_bytes // row_bytes, 1), pending.num_rows)
            self._write_row_group(pending.slice(0, size))
            rest = pending.slice(size)
            self._pending = [rest] if rest.num_rows else []
            self._pending_rows = rest.num_rows
            self._pending_bytes = rest.nbytes

    def _write_row_group(self, table: pa.Table) -> None:
        if self._writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(
                self._tmp_path(),
                self.schema,
                compression="zstd",
                compression_level=self.options.compression_level,
            )
        self._writer.write_table(table.combine_chunks(), row_group_size=table.num_rows)

    def _part_name(self) -> str:
        return f"{self.prefix}-{len(self.parts):04d}.parquet"

    def _tmp_path(self) -> Path:
        return self.folder / (self._part_name() + ".tmp")

    def _close_part(self) -> None:
        if self._pending_rows:
            self._write_row_group(pa.concat_tables(self._pending))
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            final = self.folder / self._part_name()
            os.replace(self._tmp_path(), final)
            self.parts.append(Part(final.name, self._part_rows, final.stat().st_size))
        self._part_rows = self._part_bytes = 0

    def close(self) -> list[Part]:
        self._close_part()
        return self.parts


def write_empty(path: Path, schema: pa.Schema) -> None:
    """A zero-row file that still carries the schema, for a dataset that kept nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pq.write_table(schema.empty_table(), tmp, compression="zstd")
