"""The `pii` step: replace personal data in the text (e-mail and public IP addresses as
FineWeb does; phone numbers and 주민등록번호 on request). Documents are changed, never dropped.

Which replacement a value gets is a hash of the value, never a running counter as in
datatrove, so the output bytes do not depend on how documents are split across workers,
and one address is replaced by the same text everywhere.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from pathlib import Path

import click
import pyarrow as pa

from curate.corpus.filters.pii_patterns import KINDS, PiiKind, may_match, pattern_check
from curate.corpus.filters.spec import FilterSpec
from curate.errors import UserError
from curate.io import markdown
from curate.io.schema import set_column
from curate.pipeline.step import Step, StepOutput

DEFAULT_KINDS = ("email", "ip")  # FineWeb's


class PiiReplace(Step):
    """Counters: `<kind>` (values replaced) and `docs_changed`."""

    name = "pii"

    def __init__(self, kinds: tuple[str, ...] = DEFAULT_KINDS, replacements: dict[str, tuple[str, ...]] | None = None):
        super().__init__()
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown PII kinds {unknown}; the kinds are {list(KINDS)}")
        self.kinds = tuple(kind for kind in KINDS if kind in kinds)  # always in KINDS' order
        self.replacements = {
            kind: tuple((replacements or {}).get(kind) or KINDS[kind].replacements) for kind in self.kinds
        }

    def describe(self) -> dict:
        return {"kinds": list(self.kinds), "replacements": {kind: list(self.replacements[kind]) for kind in self.kinds}}

    def _replacer(self, kind: PiiKind, pattern: re.Pattern, found: list[int]):
        choices = self.replacements[kind.name]
        check = pattern_check(kind, pattern)

        def replace(match: re.Match) -> str:
            if match.group() in choices or (check is not None and not check(match)):
                return match.group()  # a replacement met again (a second run) stays as it is
            found[0] += 1
            return _pick(kind.name, choices, match.group())

        return replace

    def redact(self, text: str) -> str:
        """`text` with every value of the selected kinds replaced; counts into `counters`."""
        for name in self.kinds:
            kind = KINDS[name]
            found = [0]
            for pattern in kind.patterns:
                if may_match(pattern, text):
                    text = pattern.sub(self._replacer(kind, pattern, found), text)
            self.counters[name] += found[0]
        return text

    def run(self, batch: pa.Table) -> StepOutput:
        texts = batch.column("text").to_pylist()
        redacted = [self.redact(text) for text in texts]
        changed = sum(new != old for new, old in zip(redacted, texts))
        self.counters["docs_changed"] += changed
        if not changed:
            return StepOutput(batch)
        return StepOutput(set_column(batch, "text", pa.array(redacted, pa.string())))

    def task_notes(self) -> dict:
        return {"replaced": {kind: self.counters[kind] for kind in self.kinds}, "docs": self.counters["docs_changed"]}

    def report_section(self, notes: list[dict], folder: Path) -> list[str]:
        totals = {kind: sum(note.get("replaced", {}).get(kind, 0) for note in notes) for kind in self.kinds}
        docs = sum(note.get("docs", 0) for note in notes)
        lines = ["## Personal data replaced (pii)", "", f"{docs:,} documents changed.", ""]
        lines += ["| kind | values replaced | replaced by |", "|---|---:|---|"]
        for kind, count in totals.items():
            shown = ", ".join(markdown.code(choice) for choice in self.replacements[kind])
            lines.append(f"| {kind} | {count:,} | {shown} |")
        return lines


def _pick(kind: str, choices: tuple[str, ...], value: str) -> str:
    if kind == "ip":  # an IPv4 address by an IPv4 one, where the list has some
        family = _ip_version(value)
        same = tuple(choice for choice in choices if _ip_version(choice) == family)
        choices = same or choices
    return choices[zlib.crc32(value.encode("utf-8")) % len(choices)]


def _ip_version(value: str) -> int | None:
    try:
        return ipaddress.ip_address(value).version
    except ValueError:
        return None


def parse_kinds(value: str | None) -> tuple[str, ...]:
    """`--pii email,ip,phone,rrn` (or `all`) as kinds; empty means FineWeb's email and ip."""
    if value is None or not value.strip():
        return DEFAULT_KINDS
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    if "all" in names:
        return tuple(KINDS)
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        raise UserError(f"--pii: unknown kind {', '.join(unknown)}; the kinds are {', '.join(KINDS)} (or all)")
    return tuple(dict.fromkeys(names))


def parse_replacements(values: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """`--pii-replacement KIND=TEXT`, repeatable; several for one kind make a list to pick from."""
    chosen: dict[str, list[str]] = {}
    for value in values:
        kind, equals, text = value.partition("=")
        kind = kind.strip().lower()
        if not equals or kind not in KINDS:
            raise UserError(f"--pii-replacement: {value!r} is not KIND=TEXT with KIND one of {', '.join(KINDS)}")
        if not text:
            raise UserError(f"--pii-replacement: {value!r} gives an empty replacement")
        chosen.setdefault(kind, []).append(text)
    return {kind: tuple(texts) for kind, texts in chosen.items()}


def _build(params: dict) -> PiiReplace:
    return PiiReplace(parse_kinds(params.get("pii")), parse_replacements(tuple(params.get("pii_replacement") or ())))


SPEC = FilterSpec(
    name="pii",
    summary="Replaces personal data (--pii email,ip,phone,rrn or all): changes text, drops nothing.",
    build=_build,
    applies=lambda params: bool(params.get("pii")),
    options=[
        click.option(
            "--pii",
            default=None,
            metavar="KINDS",
            help="pii: replace these kinds: email, ip (public IPv4/IPv6), phone (Korean and +international), "
            "rrn (주민등록번호), or all. Named in --steps without it: email,ip.",
        ),
        click.option(
            "--pii-replacement",
            multiple=True,
            metavar="KIND=TEXT",
            help="pii: what replaces values of KIND (repeat for a list; each value always gets the same one).",
        ),
    ],
)
