"""Check a fastText model file's structure before fastText's own loader reads it.

fastText's C++ loader trusts every count in the file: a dictionary entry without its closing
zero byte makes it read past the end of the file forever, growing one string, and a matrix
header may declare billions of rows, which it allocates before finding the data missing.
A 90-byte file crafted either way costs half a minute and gigabytes before failing. This
walks the same layout (args, dictionary, prune index, input and output matrices, dense or
quantized) and checks that every declared size fits in the bytes that are really there, so
the loader only ever allocates what the file holds. The format is fastText's own, version
12 (and 11, laid out the same); no library reads it without loading it.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

MAGIC = 793712314
VERSIONS = (11, 12)
MAX_VOCAB_SIZE = 30_000_000  # fastText's own dictionary limit
MAX_DIM = 1 << 16
_ARGS = struct.Struct(
    "<12id"
)  # dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate; t
_KSUB = 256  # centroids per product-quantizer subspace


class NotAFastTextModel(ValueError):
    """The file is not a fastText model, or one whose declared sizes its bytes do not hold."""


class _Reader:
    def __init__(self, data: mmap.mmap | bytes) -> None:
        self.data, self.at = data, 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise NotAFastTextModel(f"it ends inside its {what}")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))

    def skip(self, size: int, what: str) -> None:
        if size < 0 or self.at + size > len(self.data):
            raise NotAFastTextModel(f"its {what} declares {size:,} bytes; the file holds {len(self.data) - self.at:,}")
        self.at += size


def check_fasttext_file(path: Path) -> None:
    """Raise NotAFastTextModel (its message says why) unless `path` is a well-formed fastText model."""
    with open(path, "rb") as handle:
        if handle.seek(0, 2) == 0:
            raise NotAFastTextModel("it is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            _check(_Reader(data))


def _check(reader: _Reader) -> None:
    magic, version = reader.unpack("<ii", "header")
    if magic != MAGIC:
        raise NotAFastTextModel("it does not start with fastText's magic number")
    if version not in VERSIONS:
        raise NotAFastTextModel(f"its format version is {version}; fastText writes {VERSIONS[-1]}")
    args = _ARGS.unpack(reader.take(_ARGS.size, "arguments"))
    dim = args[0]
    if not 0 < dim <= MAX_DIM:
        raise NotAFastTextModel(f"its vector dimension is {dim:,}")
    words, labels, pruned = _check_dictionary(reader)
    (quantized,) = reader.unpack("<?", "matrix flag")
    # the loader indexes rows by these counts without a bounds check: a mismatch reads past the
    # matrix (a crash, or silent garbage), so each matrix must have the shape the header implies
    input_rows = words + args[8] if pruned < 0 else None  # a pruned dictionary keeps fewer rows
    _check_matrix(reader, quantized, "input matrix", input_rows, dim)
    (quantized_output,) = reader.unpack("<?", "output flag")
    supervised = args[7] == 3  # fastText's model_name::sup
    _check_matrix(reader, quantized and quantized_output, "output matrix", labels if supervised else words, dim)
    if reader.at != len(reader.data):
        raise NotAFastTextModel(f"{len(reader.data) - reader.at:,} bytes follow the model")


def _check_dictionary(reader: _Reader) -> tuple[int, int, int]:
    size, words, labels, _tokens = reader.unpack("<iiiq", "dictionary header")
    if not 0 <= size <= MAX_VOCAB_SIZE or words < 0 or labels < 0 or words + labels != size:
        raise NotAFastTextModel(
            f"its dictionary counts do not add up ({words:,} words + {labels:,} labels != {size:,})"
        )
    (pruned,) = reader.unpack("<q", "dictionary header")
    # each entry is a zero-terminated word, an int64 count and an int8 type: at least 10 bytes
    if size * 10 > len(reader.data) - reader.at:
        raise NotAFastTextModel(f"its dictionary declares {size:,} entries; the file is too short to hold them")
    find, at = reader.data.find, reader.at
    for _ in range(size):
        end = find(b"\0", at)
        if end < 0 or end + 10 > len(reader.data):
            raise NotAFastTextModel("a dictionary word is not terminated before the end of the file")
        if reader.data[end + 9] > 1:  # entry type: 0 word, 1 label
            raise NotAFastTextModel("a dictionary entry has an unknown type")
        at = end + 10
    reader.at = at
    if pruned < -1:  # -1: never pruned
        raise NotAFastTextModel("its prune index has a negative size")
    reader.skip(max(pruned, 0) * 8, "prune index")
    return words, labels, pruned


def _check_matrix(reader: _Reader, quantized: bool, what: str, rows_expected: int | None, dim: int) -> None:
    if not quantized:
        rows, columns = reader.unpack("<qq", what)
        _check_shape(rows, columns, what, rows_expected, dim)
        reader.skip(rows * columns * 4, what)
        return
    with_norms, rows, columns, codes = reader.unpack("<?qqi", what)
    _check_shape(rows, columns, what, rows_expected, dim)
    reader.skip(codes, f"{what} codes")
    _check_quantizer(reader, what)
    if with_norms:
        reader.skip(rows, f"{what} norms")
        _check_quantizer(reader, f"{what} norm")


def _check_quantizer(reader: _Reader, what: str) -> None:
    dim, subspaces, _sub_dim, _last_sub_dim = reader.unpack("<iiii", f"{what} quantizer")
    if not 0 < dim <= MAX_DIM or not 0 < subspaces <= dim:
        raise NotAFastTextModel(f"its {what} quantizer has dimension {dim:,} and {subspaces:,} subspaces")
    reader.skip(dim * _KSUB * 4, f"{what} centroids")


def _check_shape(rows: int, columns: int, what: str, rows_expected: int | None, dim: int) -> None:
    if rows < 0 or not 0 <= columns <= MAX_DIM:
        raise NotAFastTextModel(f"its {what} is {rows:,} x {columns:,}")
    if columns != dim or (rows_expected is not None and rows != rows_expected):
        expected = f"{rows_expected:,}" if rows_expected is not None else "?"
        raise NotAFastTextModel(f"its {what} is {rows:,} x {columns:,}, where its header implies {expected} x {dim:,}")
