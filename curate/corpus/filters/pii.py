"""The `pii` step: replace personal data in the text: e-mail and public IP addresses as FineWeb
does, and Korean phone numbers and 주민등록번호; international (+) phone numbers with
`--pii phone`. Documents are changed, never dropped.

`--pii` adds to that default set (`phone`: international numbers too; `all`: everything) or
takes from it (`no-rrn`, `no-phone`...), so `--pii phone` keeps e-mail, IP and RRN replacement.

Which replacement a value gets is a hash of the value, never a running counter as in
datatrove, so the output bytes do not depend on how documents are split across workers,
and one address is replaced by the same text everywhere.
"""

from __future__ import annotations

import ipaddress
import os
import re
import zlib
from pathlib import Path

import click
import pyarrow as pa

from curate.corpus.filters.pii_patterns import INTERNATIONAL_PHONE, KINDS, PiiKind, may_match, pattern_check
from curate.corpus.filters.spec import FilterSpec
from curate.errors import UserError
from curate.io import markdown
from curate.io.schema import set_column
from curate.pipeline.step import Step, StepOutput

DEFAULT_KINDS = ("email", "ip", "rrn", "phone")  # FineWeb's two, and Korea's; phone: Korean numbers only


class PiiReplace(Step):
    """Counters: `<kind>` (values replaced) and `docs_changed`."""

    name = "pii"

    def __init__(
        self,
        kinds: tuple[str, ...] = DEFAULT_KINDS,
        replacements: dict[str, tuple[str, ...]] | None = None,
        international_phones: bool = False,
    ):
        super().__init__()
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown PII kinds {unknown}; the kinds are {list(KINDS)}")
        self.kinds = tuple(kind for kind in KINDS if kind in kinds)  # always in KINDS' order
        self.international_phones = international_phones and "phone" in self.kinds
        # each kind's patterns as this step runs them: + numbers only when asked for
        self._patterns = {
            name: tuple(
                pattern
                for pattern in KINDS[name].patterns
                if pattern is not INTERNATIONAL_PHONE or self.international_phones
            )
            for name in self.kinds
        }
        self.replacements = {
            kind: tuple((replacements or {}).get(kind) or KINDS[kind].replacements) for kind in self.kinds
        }

    def describe(self) -> dict:
        return {
            "kinds": list(self.kinds),
            "international_phones": self.international_phones,
            "replacements": {kind: list(self.replacements[kind]) for kind in self.kinds},
        }

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
            for pattern in self._patterns[name]:
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
            label = kind
            if kind == "phone":
                label = "phone (Korean and international)" if self.international_phones else "phone (Korean)"
            lines.append(f"| {label} | {count:,} | {shown} |")
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


def parse_kinds(value: str | None) -> tuple[tuple[str, ...], bool]:
    """`--pii` as (kinds, international phones): names add to the default set (email, ip, rrn,
    Korean phones), `phone` adds international numbers, `no-KIND` takes a kind away, `all` is
    everything. Empty: the default set."""
    kinds, international = list(DEFAULT_KINDS), False
    for name in (part.strip().lower() for part in (value or "").split(",")):
        if not name:
            continue
        if name in ("default", "true", "yes", "on"):  # `--pii` alone, or `pii: true` in a recipe
            continue
        removed = name.removeprefix("no-")
        if name == "all":
            kinds, international = list(KINDS), True
        elif removed not in KINDS and os.path.exists(value):
            raise UserError(
                f"--pii took the input {value} for its kinds; put --pii after the inputs, or give kinds (--pii default)"
            )
        elif removed not in KINDS:
            raise UserError(
                f"--pii: unknown kind {name}; the kinds are {', '.join(KINDS)}, all, or no-KIND to leave one out"
            )
        elif removed != name:
            kinds = [kind for kind in kinds if kind != removed]
        else:
            kinds = [*kinds, name] if name not in kinds else kinds
            international = international or name == "phone"
    if not kinds:
        raise UserError(f"--pii {value}: leaves no kind to replace; drop the pii step instead")
    return tuple(kind for kind in KINDS if kind in kinds), international


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
    kinds, international = parse_kinds(params.get("pii"))
    return PiiReplace(kinds, parse_replacements(tuple(params.get("pii_replacement") or ())), international)


SPEC = FilterSpec(
    name="pii",
    summary="Replaces personal data (e-mail, IP, 주민등록번호, Korean phones; --pii phone adds + numbers): "
    "changes text, drops nothing.",
    build=_build,
    # --pii, or a --pii-replacement (which means the step is wanted), unless a recipe says pii: false
    applies=lambda params: (
        str(params.get("pii") or "").strip().lower() not in ("", "false", "no", "off")
        or (bool(params.get("pii_replacement")) and params.get("pii") is None)
    ),
    options=[
        click.option(
            "--pii",
            default=None,
            is_flag=False,
            flag_value="default",  # `--pii` alone: the default kinds
            metavar="[KINDS]",
            help="pii: turns the step on. Replaced by default: email, ip (public IPv4/IPv6), rrn (주민등록번호) and "
            "Korean phone numbers; 'phone' adds international (+) numbers, 'all' is everything, 'no-KIND' leaves "
            "one out (--pii phone,no-ip).",
        ),
        click.option(
            "--pii-replacement",
            multiple=True,
            metavar="KIND=TEXT",
            help="pii: what replaces values of KIND (repeat for a list; each value always gets the same one).",
        ),
    ],
)
