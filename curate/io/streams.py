"""Byte streams over plain, gzip and zstd files, split into lines, that report truncation.

Python's line iteration over `gzip.GzipFile` is slow and hides where a file broke, and
`zstandard`'s stream reader returns a short read without error on a truncated file, so
lines are split here from large decompressed chunks and a broken tail is reported with
the bytes that were read. A UTF-8 byte order mark at the start of the content (Windows
editors write one) is dropped here, for every reader.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

CHUNK_BYTES = 1 << 22
BOM = b"\xef\xbb\xbf"


class TruncatedInput(Exception):
    """The compressed stream ended early or is corrupt."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def compression_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return "gzip"
    if suffix in (".zst", ".zstd"):
        return "zstd"
    return None


class _ZstdChunks:
    """Decompress a zstd file chunk by chunk, across frames, noticing a missing frame end."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor().decompressobj()

    def read(self, size: int) -> bytes:
        while True:
            chunk = self._raw.read(size)
            if not chunk:
                if not self._decompressor.eof:
                    raise TruncatedInput("unparseable:truncated")
                return b""
            try:
                out = self._decompressor.decompress(chunk)
                while self._decompressor.eof and self._decompressor.unused_data:
                    rest = self._decompressor.unused_data
                    self._decompressor = zstandard.ZstdDecompressor().decompressobj()
                    out += self._decompressor.decompress(rest)
            except zstandard.ZstdError as error:
                raise TruncatedInput("unparseable:zstd") from error
            if out:
                return out


class _GzipChunks:
    def __init__(self, raw: BinaryIO) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")

    def read(self, size: int) -> bytes:
        # read1, not read: read() loops over raw reads and drops what it had gathered
        # when a later one raises, losing the complete lines before a truncation.
        try:
            return self._gzip.read1(size)
        except EOFError as error:
            raise TruncatedInput("unparseable:truncated") from error
        except (gzip.BadGzipFile, zlib.error, OSError) as error:
            raise TruncatedInput("unparseable:gzip") from error


@dataclass
class Line:
    number: int  # 1-based line number in the decompressed file
    data: bytes  # without the line ending
    broken: str | None = None  # reason, when this is the unreadable tail of a broken file


def open_chunks(raw: BinaryIO, compression: str | None):
    if compression == "gzip":
        return _GzipChunks(raw)
    if compression == "zstd":
        return _ZstdChunks(raw)
    return raw


def without_bom(data: bytes) -> bytes:
    return data[len(BOM) :] if data.startswith(BOM) else data


def peek(path: Path, size: int = 4096, keep_bom: bool = False) -> bytes:
    """The first bytes of the decompressed content (fewer if the file is short or broken)."""
    with open(path, "rb") as raw:
        try:
            data = open_chunks(raw, compression_of(path)).read(size + len(BOM))
        except TruncatedInput:
            return b""
    return (data if keep_bom else without_bom(data))[:size]


def read_all(path: Path) -> bytes:
    """The whole decompressed content; raises TruncatedInput if the file is broken."""
    with open(path, "rb") as raw:
        chunks = open_chunks(raw, compression_of(path))
        parts = []
        while chunk := chunks.read(CHUNK_BYTES):
            parts.append(chunk)
        return without_bom(b"".join(parts))


class DecompressedStream(io.RawIOBase):
    """The decompressed content of a file without its byte order mark, as a file object for
    parsers that take one (warcio). Raises TruncatedInput where the file breaks."""

    def __init__(self, raw: BinaryIO, compression: str | None) -> None:
        self._raw = raw
        self._chunks = open_chunks(raw, compression)
        self._pending = b""
        self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._pending:
            self._pending = self._chunks.read(CHUNK_BYTES)
            if not self._started:
                while 0 < len(self._pending) < len(BOM) and (more := self._chunks.read(CHUNK_BYTES)):
                    self._pending += more
                self._pending, self._started = without_bom(self._pending), True
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def position(self) -> int:
        """Bytes of the file on disk consumed so far, for progress."""
        return self._raw.tell()


def _line(number: int, data: bytes, broken: str | None = None) -> Line:
    if number == 1:
        data = without_bom(data)
    if broken is None and data.endswith(b"\r"):
        data = data[:-1]
    return Line(number, data, broken)


def iter_lines(raw: BinaryIO, compression: str | None) -> Iterator[Line]:
    """Yield the lines of a file; a broken compressed tail is yielded last, with its reason."""
    chunks = open_chunks(raw, compression)
    # the unfinished line, in pieces: joined once when it ends, so a line of gigabytes costs
    # one copy, not one per chunk
    pending: list[bytes] = []
    number = 0
    while True:
        try:
            chunk = chunks.read(CHUNK_BYTES)
        except TruncatedInput as error:
            yield _line(number + 1, b"".join(pending), broken=error.reason)
            return
        if not chunk:
            break
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        pieces = chunk.split(b"\n")
        pieces[0] = b"".join([*pending, pieces[0]])
        pending = [pieces.pop()] if pieces[-1] else []
        for piece in pieces:
            number += 1
            yield _line(number, piece)
    if pending:
        yield _line(number + 1, b"".join(pending))
