"""One input file and the reader format it is read with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InputFile:
    path: Path
    format: str

    @property
    def source(self) -> str:
        return str(self.path)
