"""Hash documents for dedup: exact-match hashes, MinHash signatures, LSH band keys, line hashes.

The work is done by `kernel.hash_documents` on the UTF-8 bytes of an Arrow string array;
this module prepares its inputs (NFC, per-document shingle mode, the hash functions).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curate.corpus.dedup.kernel import hash_documents
from curate.corpus.dedup.tables import character_tables

# Languages written without spaces between words, or whose words vary with spacing and
# inflection: their shingles are character n-grams.
CHARACTER_LANGUAGES = frozenset({"ko", "zh", "ja", "th", "lo", "km", "my"})


@dataclass(frozen=True)
class MinHashSettings:
    """MinHash and LSH settings; the defaults are FineWeb's and datatrove's."""

    ngram: int = 5  # words per shingle
    char_ngram: int = 5  # characters per shingle in character languages
    num_perm: int = 112  # hash functions (signature length)
    bands: int = 14
    rows: int = 8  # signature values per band
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("ngram", "char_ngram", "num_perm", "bands", "rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) exceeds the {self.num_perm} hash functions")

    @property
    def threshold(self) -> float:
        """Jaccard similarity at which a pair becomes a candidate with probability about 1/2."""
        return (1 / self.bands) ** (1 / self.rows)


def hash_functions(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The multipliers (odd) and offsets of the `num_perm` hash functions, from `seed`."""
    rng = np.random.default_rng(seed)
    multipliers = rng.integers(0, np.iinfo(np.uint64).max, num_perm, dtype=np.uint64, endpoint=True) | np.uint64(1)
    offsets = rng.integers(0, np.iinfo(np.uint64).max, num_perm, dtype=np.uint64, endpoint=True)
    return multipliers, offsets


@dataclass
class DocumentHashes:
    exact: np.ndarray  # uint64 (n, 2): 128-bit hash of the normalised text
    bands: np.ndarray  # uint64 (n, bands): LSH band keys (0 where tokens == 0)
    tokens: np.ndarray  # int64 (n): shingle tokens; 0 means no signature
    signatures: np.ndarray | None  # uint64 (n, num_perm) when asked for
    line_hashes: np.ndarray  # uint64: one per line of every document (0 for a blank line)
    line_counts: np.ndarray  # int64 (n): lines per document
    shingles: np.ndarray  # uint64: each document's distinct shingle hashes, sorted
    shingle_counts: np.ndarray  # int64 (n)


def character_mode(languages: Sequence[str | None] | None, default_language: str, count: int) -> np.ndarray:
    """True for documents whose shingles are character n-grams, from their language codes."""
    if languages is None:
        return np.full(count, default_language in CHARACTER_LANGUAGES, dtype=np.bool_)
    return np.array([(lang or default_language) in CHARACTER_LANGUAGES for lang in languages], dtype=np.bool_)


def _nfc_utf8(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> pa.Array:
    """A single-chunk string array of the texts in NFC (nulls as empty text)."""
    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = pa.array(texts, pa.string())
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if texts.type == pa.large_string():
        texts = texts.cast(pa.string())
    if texts.null_count:
        texts = texts.fill_null("")
    values = texts.to_pylist()
    # Most web text is already NFC; the check is much faster than normalising.
    changed = {
        i: unicodedata.normalize("NFC", text)
        for i, text in enumerate(values)
        if not unicodedata.is_normalized("NFC", text)
    }
    if changed:
        texts = pa.array([changed.get(i, text) for i, text in enumerate(values)], pa.string())
    return texts


def hash_texts(
    texts: pa.Array | pa.ChunkedArray | Sequence[str],
    char_mode: np.ndarray,
    settings: MinHashSettings,
    *,
    minhash: bool = True,
    signatures: bool = False,
    lines: bool = False,
    shingles: bool = False,
) -> DocumentHashes:
    """Hash every text; without `minhash`, band keys are left out (an (n, 0) array) and it is faster."""
    array = _nfc_utf8(texts)
    count = len(array)
    if count == 0:
        empty = np.zeros(0, np.uint64)
        return DocumentHashes(
            np.zeros((0, 2), np.uint64),
            np.zeros((0, settings.bands if minhash else 0), np.uint64),
            np.zeros(0, np.int64),
            np.zeros((0, settings.num_perm), np.uint64) if signatures else None,
            empty,
            np.zeros(0, np.int64),
            empty,
            np.zeros(0, np.int64),
        )
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32)[array.offset : array.offset + count + 1].astype(np.int64)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    classes, lower = character_tables()
    multipliers, offsets_b = hash_functions(settings.num_perm if minhash else 0, settings.seed)
    exact = np.empty((count, 2), np.uint64)
    bands = np.empty((count, settings.bands if minhash else 0), np.uint64)
    tokens = np.empty(count, np.int64)
    signature_out = np.empty((count if signatures else 0, len(multipliers)), np.uint64)
    line_hashes, line_counts, shingle_hashes, shingle_counts = hash_documents(
        data,
        offsets,
        np.ascontiguousarray(char_mode, np.bool_),
        settings.ngram,
        settings.char_ngram,
        classes,
        lower,
        multipliers,
        offsets_b,
        settings.rows,
        exact,
        bands,
        signature_out,
        tokens,
        lines,
        shingles,
    )
    return DocumentHashes(
        exact,
        bands,
        tokens,
        signature_out if signatures else None,
        line_hashes,
        line_counts,
        shingle_hashes,
        shingle_counts,
    )
