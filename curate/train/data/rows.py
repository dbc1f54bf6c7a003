"""The rows a trainer reads: any SFT or preference data curate reads, or plain text rows."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from curate.errors import UserError

SFT = "sft"
PREFERENCE = "preference"


def read_rows(path: str | os.PathLike, kind: str | None = None) -> list[dict]:
    """The canonical rows of a dataset folder or file, read by curate's one row reader
    (instruct/rows.py): any format `curate convert` reads, or plain `{"text": ...}` rows.

    SFT rows have `messages` (and `instruction`/`input`/`output` for Alpaca-origin rows),
    preference rows `prompt`/`chosen`/`rejected` message lists. A folder `curate render` made
    without the conversation (--columns prompt-completion or text) gives its rendered text as it
    is: `{"text", "assistant_spans"}` rows, trained on the spans, no template applied again.
    `kind` ("sft" or "preference"), when given, is checked against what the data holds (text
    rows are SFT rows).
    """
    from curate.instruct.rows import read_rows as read_canonical_rows

    rows = rendered_rows(Path(path))
    if rows is None:
        found = read_canonical_rows([str(path)], what="row", text_rows=True)
        rows = [row for row, _ in found.rows]
    if kind is not None and rows:
        held = rows_kind(rows)
        if held != kind:
            raise UserError(f"{path} holds {held} rows, but {kind} rows are needed here")
    return rows


def rows_kind(rows: Sequence[Mapping]) -> str:
    """The rows' kind: "preference" for prompt/chosen/rejected rows, "sft" for messages or text rows."""
    if not rows:
        raise ValueError("no rows")
    return PREFERENCE if "chosen" in rows[0] else SFT


def rendered_rows(folder: Path) -> list[dict] | None:
    """The rows of a `curate render` folder whose rendering is the only way to read it (no
    `messages`), as text with assistant spans: every turn's span when the folder has them, else
    the completion after the prompt. None for any other input."""
    from curate.io.manifest import read_manifest

    manifest = read_manifest(folder) if folder.is_dir() else None
    if not manifest or manifest.get("command") != "render" or manifest.get("dry_run"):
        return None
    import pyarrow.parquet as pq

    shards = [folder / item["path"] for item in manifest["shards"]["data"]]
    if any("messages" in pq.read_schema(shard).names for shard in shards):
        return None  # --columns all: the conversation, rendered again with the trainer's template
    rows = []
    for shard in shards:
        for row in pq.read_table(shard).to_pylist():
            if row.get("assistant_spans"):
                spans = [(span["start"], span["end"]) for span in row["assistant_spans"]]
                rendered = {"text": row["text"], "assistant_spans": spans}
            else:
                text = row["prompt"] + row["completion"]
                rendered = {"text": text, "assistant_spans": [(len(row["prompt"]), len(text))]}
            if row.get("id") is not None:
                rendered["id"] = row["id"]
            rows.append(rendered)
    return rows
