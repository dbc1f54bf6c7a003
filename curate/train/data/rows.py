"""The rows a trainer reads: any SFT or preference data curate reads, or plain text rows."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from curate.errors import UserError
from curate.instruct.formats import PREFERENCE, SFT


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

    found = read_canonical_rows([str(path)], what="row", text_rows=True, rendered=True)
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
