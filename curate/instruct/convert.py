"""The `convert` step: records in one format, written in another through the canonical form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from curate.instruct import formats
from curate.instruct.record_step import RecordStep


class ConvertStep(RecordStep):
    """Read records in one format and write them in another, through the canonical form."""

    name: ClassVar[str] = "convert"

    def __init__(self, source_format: str, target_format: str) -> None:
        self.alpaca_columns = formats.get_format(source_format).alpaca_fields
        super().__init__(formats.output_schema(target_format, alpaca_columns=self.alpaca_columns), source_format)
        self.target_format = target_format

    def rows_of(self, canonical: dict, source: str) -> Iterator[dict]:
        self.counters["rows"] += 1
        yield formats.to_arrow_row(
            canonical, self.target_format, source=source, alpaca_columns=self.alpaca_columns, validated=True
        )

    def describe(self) -> dict:
        return {"from": self.source_format, "to": self.target_format}
