"""One input file and the reader format it is read with; file names as valid UTF-8 text."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def utf8_text(text: str) -> str:
    """`text` as valid UTF-8: a file name's bytes that are not UTF-8 (which Python keeps as
    surrogate escapes) are written `\\xNN`, so Parquet columns, JSON and Markdown can hold them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name byte stands for
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def path_text(path: Path | str) -> str:
    """A path as curate writes it into columns, manifests, reports and messages."""
    return utf8_text(os.fspath(path))


def utf8_safe(value: object) -> object:
    """`value` (JSON-like) with every string made valid UTF-8 by `utf8_text`."""
    if isinstance(value, str):
        return utf8_text(value)
    if isinstance(value, dict):
        return {utf8_safe(key): utf8_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [utf8_safe(item) for item in value]
    return value


@dataclass(frozen=True)
class InputFile:
    path: Path
    format: str
    url: str = ""  # an object in a store (io/remote.py): `path` is then only its name

    @property
    def source(self) -> str:
        return self.url or path_text(self.path)
