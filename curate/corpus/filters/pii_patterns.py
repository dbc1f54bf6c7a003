"""What the `pii` step finds: one pattern and one check per kind of personal data.

Hand-written regular expressions rather than a library: the phone library (phonenumbers)
scans a page in milliseconds, too slow for a crawl, and none covers 주민등록번호. Each
pattern finds candidates; its check (ipaddress for IPs, the calendar for birth dates)
decides. The boundaries are ASCII-only on purpose: Korean text glues particles to an
address or a number without a space ("hong@naver.com으로", "번호는010-1234-5678입니다"),
where `\\b` would see one word.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

_NOT_BEFORE_NUMBER = r"(?<![0-9A-Za-z_.+\-/])"
_NOT_AFTER_NUMBER = r"(?![0-9A-Za-z_\-/]|\.\d)"

EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
# `logo@2x.png`, `icon@3x.webp`: retina image names, whose "top-level domain" is a file type
_FILE_SUFFIXES = frozenset(
    "png jpg jpeg gif svg webp avif bmp ico tif tiff css js mjs map json pdf mp4 webm woff woff2".split()
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# not followed by `.tar`, `-beta` or a fifth number: a file name or a version
IPV4 = re.compile(rf"(?<![0-9A-Za-z_.])(?:{_OCTET}\.){{3}}{_OCTET}(?![0-9A-Za-z_]|\.[0-9A-Za-z]|-[A-Za-z])")
# candidates only: ipaddress decides what is an address ("12:30:45" is not, "2001:db8::1" is)
IPV6 = re.compile(r"(?<![0-9A-Za-z_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z_:])")
# a dotted number after these is a version or a section, not an address: `version 1.2.3.4`,
# `AssemblyFileVersion("1.2.3.4")`, `versions = ['1.2.3.4']`, `pkg==1.2.3.4`, `foo-1.2.3.4`,
# `Section 4.2.1.3`, `제 4.2.1.3조`; the long words may end an identifier (FileVersion) or take
# a suffix (version_string), the short ones not
_VERSION_CONTEXT = re.compile(
    r"(?i)(?:(?:version|release|build|버전|section|chapter|clause|figure|table|appendix|paragraph)"
    r"(?:s|_?(?:number|num|no|string|str|info|id|code|tag|name))?"
    r"|(?<![a-z])(?:ver|rev|v|sec|fig|art|para|step|rule|tag|oid|§|제)"
    # a product or system whose version follows: iOS 16.4.1.2, firmware 1.2.3.4, 업데이트 1.2.3.4
    r"|(?<![a-z])(?:ios|ipados|macos|android|windows|chrome|firefox|safari|edge|opera|python|node|java|kernel"
    r"|firmware|펌웨어|업데이트|패치))[\W_]{0,6}$"
    r"|(?:[=<>~!]=|[<>]|\(\s*=)\s*['\"]?$"  # pkg==1.2.3.4, pkg>=1.2.3.4, Debian's (= 1.2.3.4)
    r"|[A-Za-z][A-Za-z0-9]*[-_]$"  # foo-1.2.3.4
    r"|\w/$"  # a product token or a path segment: Edg/120.0.2.1, /download/1.2.3.4/
    r"|[\w.-]+:[\w.-]+:$"  # Maven's group:artifact:1.2.3.4
    r"|^\s*#+\s*\[?$"  # a changelog heading: ## [1.2.3.4], ### 1.2.3.4
)
# after the number: 1.2.3.4 버전, 1.2.3.4 version, a changelog's "1.2.3.4 (2023-05-12)" or
# "[1.2.3.4] - 2023-05-12"
_VERSION_AFTER = re.compile(r"(?i)^(?:\s*(?:버전|version\b|릴리스|release\b)|\]?\s*[-–(]\s*\d{4}-\d{2}-\d{2})")
# a changelog list item that starts with the number: "- 1.2.3.4: fixed a crash"
_ITEM_START, _ITEM_AFTER = re.compile(r"^\s*[-*•]\s*$"), re.compile(r"^:\s")

# YYMMDD-SNNNNNN; S (the 7th digit) is sex and century: 1-4 citizens, 5-8 foreigners
RRN = re.compile(
    rf"{_NOT_BEFORE_NUMBER}(\d{{2}})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])"
    rf"(?:\s?[-\u2010-\u2015\u2212]\s?([1-8])(\d{{6}}|\*{{6}})|([1-8])(\d{{6}})){_NOT_AFTER_NUMBER}"
)

_SEP = r"[\-. ]"
KOREAN_PHONE = re.compile(
    _NOT_BEFORE_NUMBER + r"(?:"
    # mobile: 010-1234-5678, 010 1234 5678, 01012345678, (010)1234-5678
    rf"\(?01[016789]\)?{_SEP}?\d{{3,4}}{_SEP}?\d{{4}}"
    # landline, VoIP, toll-free and personal numbers: 02-123-4567, 031-1234-5678, (02) 123-4567,
    # 070-1234-5678, 080-123-4567, 0505-123-4567; a separator is required
    rf"|\(?0(?:2|[3-6][1-5]|70|80|50[2-8])(?:\)\s?|{_SEP})\d{{3,4}}{_SEP}\d{{4}}"
    # the same numbers written from abroad: +82 10-1234-5678, +82 (0)2-123-4567, +82-31-123-4567
    rf"|\+82{_SEP}?(?:\(0\)\s?)?(?:1[016789]{_SEP}?\d{{3,4}}{_SEP}?\d{{4}}"
    rf"|(?:2|[3-6][1-5]|70|80|50[2-8]){_SEP}\d{{3,4}}{_SEP}\d{{4}})"
    r")" + _NOT_AFTER_NUMBER
)
# E.164 with its +: a country code, then groups; the check counts 8 to 15 digits
INTERNATIONAL_PHONE = re.compile(
    r"(?<![0-9A-Za-z_+])\+[1-9]\d{0,2}(?:[ .\-]?(?:\(\d{1,4}\)|\d{1,4})){2,6}(?![0-9A-Za-z_])"
)


def is_public_ip(candidate: str) -> bool:
    """An address on the public internet: not private, loopback, link-local, reserved,
    multicast, shared (100.64/10) or documentation ranges."""
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def _ipv4_check(match: re.Match) -> bool:
    text = match.string
    line_start = text.rfind("\n", 0, match.start()) + 1
    before = text[max(line_start, match.start() - 40) : match.start()]
    after = text[match.end() : match.end() + 24]
    if _VERSION_CONTEXT.search(before) or _VERSION_AFTER.search(after):
        return False
    if _ITEM_START.search(before) and _ITEM_AFTER.search(after):
        return False
    return is_public_ip(match.group())


def _ipv6_check(match: re.Match) -> bool:
    return is_public_ip(match.group())


def _email_check(match: re.Match) -> bool:
    return match.group().rsplit(".", 1)[1].lower() not in _FILE_SUFFIXES


# 13 bare digits are an RRN only after a word that names one: otherwise they are as often
# a barcode (Korean EAN-13 codes begin 880, a valid YYMMDD start), which a checksum cannot tell
_RRN_CONTEXT = re.compile(r"(?i)(?:주민|등록번호|rrn)[^\d\n]{0,12}$")
# after these, YYMMDD-NNNNNNN is an order, invoice, account or company number (법인등록번호
# has the same shape), not a person's
_NOT_RRN_CONTEXT = re.compile(
    r"(?i)(?:주문|송장|운송장|계좌|법인|사업자|고객|회원|접수|예약|승인|결제|거래|상품|모델|제품|품번|코드|일련번호|시리얼|"
    r"order|invoice|tracking|account|ref(?:erence)?|ticket|serial|model|sku|part)[^\d\n]{0,12}$|#\s*$"
)


def _rrn_check(match: re.Match) -> bool:
    """A real birth date for the century the 7th digit gives. The check digit is not asked:
    numbers issued since October 2020 end in random digits."""
    year, month, day, sex, _rest, bare_sex, _bare_rest = match.groups()
    century = 1900 if (sex or bare_sex) in "1256" else 2000
    try:
        datetime.date(century + int(year), int(month), int(day))
    except ValueError:
        return False
    before = match.string[max(0, match.start() - 24) : match.start()]
    if _NOT_RRN_CONTEXT.search(before):
        return False
    return bare_sex is None or bool(_RRN_CONTEXT.search(before))


def _international_check(match: re.Match) -> bool:
    return 8 <= sum(character.isdigit() for character in match.group()) <= 15


@dataclass(frozen=True)
class PiiKind:
    name: str
    patterns: tuple[re.Pattern, ...]
    check: Callable[[re.Match], bool] | None
    replacements: tuple[str, ...]  # the default; one is picked per value, by a hash of it
    summary: str


# in the order they run: an address's digits are taken before the number patterns see them
KINDS: dict[str, PiiKind] = {
    kind.name: kind
    for kind in (
        PiiKind(
            "email", (EMAIL,), _email_check, ("email@example.com", "firstname.lastname@example.org"), "e-mail addresses"
        ),
        # documentation ranges (RFC 5737, RFC 3849): not public, so a second pass leaves them;
        # an address is replaced by one of its own family where the list has one
        PiiKind(
            "ip",
            (IPV4, IPV6),
            _ipv4_check,
            ("192.0.2.1", "198.51.100.23", "203.0.113.77", "2001:db8::1", "2001:db8::7e"),
            "public IPv4 and IPv6 addresses",
        ),
        PiiKind("rrn", (RRN,), _rrn_check, ("<RRN>",), "Korean resident registration numbers (주민등록번호)"),
        PiiKind(
            "phone",
            (INTERNATIONAL_PHONE, KOREAN_PHONE),
            None,
            ("<PHONE>",),
            "phone numbers: Korean mobile and landline (also as +82), and any + number with --pii phone",
        ),
    )
}
_CHECKS = {INTERNATIONAL_PHONE: _international_check, IPV6: _ipv6_check}


# a character every match holds: a text without it is not scanned (most pages have no "@")
_NEEDS = {EMAIL: "@", IPV4: ".", IPV6: ":", INTERNATIONAL_PHONE: "+", RRN: "", KOREAN_PHONE: ""}


def may_match(pattern: re.Pattern, text: str) -> bool:
    return _NEEDS.get(pattern, "") in text


def pattern_check(kind: PiiKind, pattern: re.Pattern) -> Callable[[re.Match], bool] | None:
    """The check of a match of `pattern`: the kind's, or the pattern's own."""
    return _CHECKS.get(pattern, kind.check)
