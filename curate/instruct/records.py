"""Read whole input files as canonical rows, failing on the first bad record with its place.

For commands whose inputs are small and must be read whole before work starts (the seeds
of self-instruct, the prompts of prefs): a malformed record there is the user's to fix, so
it is one line naming the file and line, not a quarantined row.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from curate.errors import UserError
from curate.instruct import formats
from curate.instruct.jobs import source_format
from curate.io.readers import ReaderOptions, read_file
from curate.io.sources import InputFile, expand_inputs, fingerprint


def read_canonical(
    inputs: list[str], input_format: str = "auto", from_format: str | None = None, what: str = "input"
) -> tuple[str, list[dict], Iterator[tuple[dict, str]]]:
    """(format, input fingerprints, canonical rows with their place) of `inputs`.

    Rows come lazily; every row a record gives (seed tasks give one per instance)."""
    files = expand_inputs(inputs, input_format)
    reader = ReaderOptions(records=True)
    source = source_format(files, from_format, reader)
    return source, [fingerprint(item.path) for item in files], _rows(files, reader, source, what)


def _rows(files: list[InputFile], reader: ReaderOptions, source: str, what: str) -> Iterator[tuple[dict, str]]:
    for input_file in files:
        for batch in read_file(input_file, reader):
            if batch.rejected is not None and batch.rejected.num_rows:
                bad = batch.rejected.slice(0, 1).to_pylist()[0]
                raise UserError(f"{input_file.path}: {where(bad['meta'])} is not a readable record ({bad['reason']})")
            for row in batch.docs.to_pylist():
                place = f"{input_file.path}: {where(row['meta'])}"
                try:
                    canonical_rows = formats.read_row(orjson.loads(row["text"]), source)
                except formats.Unconvertible as error:
                    raise UserError(f"{place} is not a {source} {what}: {error}") from None
                for canonical in canonical_rows:
                    canonical.setdefault("id", row["id"])
                    yield canonical, place


def where(meta: str) -> str:
    """`line N`, `record N` or `row N` from a reader's meta JSON."""
    found = orjson.loads(meta) if meta else {}
    for key in ("line", "record", "row"):
        if key in found:
            return f"{key} {found[key]}"
    return "a record"
