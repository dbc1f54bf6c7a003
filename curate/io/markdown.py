"""Data quoted in report.md and dataset cards, shown as text and never as markup.

A corpus or a model's answer may hold HTML (`<script>`, `<img src=...>`), Markdown image and
link syntax that makes a viewer fetch a remote URL, or a `|` that breaks a table. Every piece
of data a report quotes goes through `text()` (or `cell()` inside a table), which escapes
HTML's special characters as entities and Markdown's with a backslash, so GitHub, VS Code
and mkdocs all show the characters the data holds.
"""

from __future__ import annotations

import html
import re

# Markdown's punctuation that can start markup anywhere in a line (CommonMark's escapable set,
# less the characters that only matter at a line start, which `text()` handles by collapsing
# newlines in cells and escaping the first character of a line).
_INLINE = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_BULLET = re.compile(r"^(\s*)([-=>])", re.MULTILINE)
_NUMBERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


def text(value: object) -> str:
    """`value` as Markdown text that renders as exactly these characters."""
    escaped = html.escape(str(value), quote=False)
    escaped = _INLINE.sub(r"\\\1", escaped)
    escaped = _BULLET.sub(r"\1\\\2", escaped)
    return _NUMBERED.sub(r"\1\\\2", escaped)


def cell(value: object, limit: int | None = None) -> str:
    """`value` for one cell of a Markdown table: one line, escaped, cut to `limit` characters."""
    flat = " ".join(str(value).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return text(flat)


def code(value: object) -> str:
    """`value` as an inline code span on one line: shown verbatim (no escapes to read past),
    fenced by more backticks than any run inside it, so the data cannot close the span. In a
    table cell a `|` still ends the cell (GitHub splits cells first), so it becomes `¦`."""
    flat = " ".join(str(value).split()).replace("|", "¦")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") else flat
    return f"{fence}{padded}{fence}"
