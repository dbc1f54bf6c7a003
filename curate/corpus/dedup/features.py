"""Pass 1 of dedup: hash each input file's documents into a memory-mapped Arrow file.

Per document the file holds its id, a 128-bit exact hash, the token count, the LSH band
keys, the signature cut to 32 bits per value (to check a cluster's members against the
document it keeps), and when asked the value `--keep` ranks by, its line hashes
(`--lines`) and its shingle set (`--verify`). That is 8 x (3 + bands) + 4 x num_perm
bytes plus the id: 608 bytes plus the id at the defaults, whatever the length of the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from curate.corpus.dedup.hashing import character_mode, hash_texts
from curate.corpus.dedup.settings import DedupSettings
from curate.errors import UserError
from curate.io.atomic import atomic_path
from curate.io.input_file import InputFile
from curate.io.readers import ReaderOptions, read_file
from curate.pipeline.pool import report_progress


@dataclass
class FeatureTask:
    index: int
    input: InputFile
    folder: Path  # the dedup state folder
    reader: ReaderOptions
    settings: DedupSettings


def features_path(folder: Path, index: int) -> Path:
    return folder / f"features-{index:05d}.arrow"


def finished(folder: Path, index: int) -> bool:
    """Whether task `index` is hashed: its file gets its name only once it is whole."""
    return features_path(folder, index).is_file()


def _list_array(values: np.ndarray, counts: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values, pa.uint64()))


def _keep_values(docs: pa.Table, settings: DedupSettings, source: str) -> pa.Array | None:
    if settings.keep == "longest":
        return pc.utf8_length(docs.column("text")).cast(pa.float64())
    column = settings.keep_column
    if column is None:
        return None
    if column not in docs.column_names:
        if docs.num_rows == 0:
            return pa.array([], pa.float64())
        raise UserError(f"{source} has no column '{column}' for --keep highest:{column}")
    values = docs.column(column)
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        raise UserError(f"{source}: column '{column}' is {values.type}, not a number; --keep highest needs numbers")
    return values.cast(pa.float64()).fill_null(float("-inf"))


def document_features(docs: pa.Table, settings: DedupSettings, source: str = "input") -> pa.Table:
    """The features of one batch of corpus rows."""
    languages = docs.column("lang").to_pylist() if "lang" in docs.column_names else None
    hashes = hash_texts(
        docs.column("text"),
        character_mode(languages, settings.language, docs.num_rows),
        settings.minhash_settings,
        minhash=settings.minhash,
        signatures=settings.minhash,
        lines=settings.lines,
        shingles=settings.verify and settings.minhash,
    )
    columns = {
        "id": docs.column("id"),
        "exact_a": pa.array(hashes.exact[:, 0]),
        "exact_b": pa.array(hashes.exact[:, 1]),
        "tokens": pa.array(hashes.tokens),
    }
    if settings.minhash:
        columns["bands"] = pa.FixedSizeListArray.from_arrays(pa.array(hashes.bands.reshape(-1)), hashes.bands.shape[1])
        # The top 32 bits of each signature value: enough to estimate similarity within a cluster.
        signature = (hashes.signatures >> np.uint64(32)).astype(np.uint32)
        columns["signature"] = pa.FixedSizeListArray.from_arrays(pa.array(signature.reshape(-1)), signature.shape[1])
    keep_values = _keep_values(docs, settings, source)
    if keep_values is not None:
        columns["keep"] = keep_values
    if settings.lines:
        columns["lines"] = _list_array(hashes.line_hashes, hashes.line_counts)
    if settings.verify and settings.minhash:
        columns["shingles"] = _list_array(hashes.shingles, hashes.shingle_counts)
    return pa.table(columns)


def hash_file(task: FeatureTask) -> dict:
    """Write the features of one input file; return how many documents it holds."""
    writer = None
    rows = 0
    position = 0
    with atomic_path(features_path(task.folder, task.index)) as tmp:
        try:
            for batch in read_file(task.input, task.reader):
                if batch.docs.num_rows:
                    table = document_features(batch.docs, task.settings, task.input.source)
                    if writer is None:
                        writer = ipc.new_file(str(tmp), table.schema)
                    writer.write_table(table)
                    rows += table.num_rows
                report_progress(batch.records, batch.position - position)
                position = batch.position
            if writer is None:  # no readable document: an empty file with the usual columns
                empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
                writer = ipc.new_file(str(tmp), document_features(empty, task.settings).schema)
        finally:
            if writer is not None:
                writer.close()
    return {"index": task.index, "input": task.input.source, "rows": rows}
