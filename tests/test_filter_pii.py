"""The `pii` step: e-mail and public IP addresses, phone numbers and 주민등록번호 replaced in
English and Korean text; versions, private addresses, dates, order numbers left alone."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curate.corpus.filters.pii import PiiReplace, parse_kinds, parse_replacements
from curate.errors import UserError
from curate.io.schema import CORE_SCHEMA

ALL = ("email", "ip", "rrn", "phone")  # KINDS order

ENGLISH = """Thanks for reaching out! Email jane.doe@acme-corp.com or support@mail.example.io if the
deploy fails. Our edge Server 93.184.216.34 and the backup at 2606:4700:4700::1111.
Internal hosts 192.168.0.1, 10.0.0.1, 172.16.4.2, 127.0.0.1, 169.254.1.1, ::1 and fe80::1 stay.
Call +1 415 555 2671 (US) or +44 20 7946 0958 (London).

```python
__version__ = "1.2.3.4"
install_requires = ["requests==2.31.0.1"]
```
Release 1.2.3.4 fixed the 12:30:45 timestamp bug; MAC 00:1A:2B:3C:4D:5E; ISBN 978-0-306-40615-7.
Order 2024-0115-1234567 shipped 2024-01-15 for $1,299.99 (SKU 8801234567890).
"""

KOREAN = """안녕하세요. 문의사항은 hong.gildong@naver.com으로 보내주시거나 담당자메일kim_01@company.co.kr로 연락주세요.
제 주민등록번호는 900101-1234567이고, 외국인 등록번호는 850315-5234567입니다. 인증 화면에는 900101-1******로 보입니다.
휴대폰010-9876-5432, 또는 01012345678로 문자 주세요. 서울 사무실은 02-123-4567, 경기 지사는 031-123-4567, (02) 3456-7890입니다.
해외에서는 +82 10-1234-5678로 걸어 주세요.
주문번호 2024-0115-1234567 (2024-01-15 주문, 240115 발송), 가격 12,900원, ISBN 978-89-01-12345-6, 버전 1.2.3.4.
"""


def _batch(texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table(
        {"id": [str(i) for i in range(n)], "text": texts, "source": ["s"] * n, "meta": ["{}"] * n}, schema=CORE_SCHEMA
    )


def _redact(text: str, kinds=ALL, international_phones=True, **kwargs) -> tuple[str, PiiReplace]:
    step = PiiReplace(kinds, international_phones=international_phones, **kwargs)
    return step.redact(text), step


def test_english_text_replaces_only_personal_data():
    out, step = _redact(ENGLISH)
    for gone in ("jane.doe@acme-corp.com", "support@mail.example.io", "93.184.216.34", "2606:4700:4700::1111"):
        assert gone not in out
    assert "+1 415 555 2671" not in out and "+44 20 7946 0958" not in out
    assert out.count("<PHONE>") == 2
    for kept in (
        "192.168.0.1",
        "10.0.0.1",
        "172.16.4.2",
        "127.0.0.1",
        "169.254.1.1",
        " ::1 ",
        "fe80::1",
        '__version__ = "1.2.3.4"',
        "requests==2.31.0.1",
        "Release 1.2.3.4",
        "12:30:45",
        "00:1A:2B:3C:4D:5E",
        "978-0-306-40615-7",
        "Order 2024-0115-1234567 shipped 2024-01-15 for $1,299.99 (SKU 8801234567890)",
    ):
        assert kept in out, kept
    assert step.counters["email"] == 2 and step.counters["ip"] == 2 and step.counters["phone"] == 2
    assert step.counters["rrn"] == 0


def test_korean_text_with_glued_particles():
    out, step = _redact(KOREAN)
    assert "hong.gildong@naver.com" not in out and "kim_01@company.co.kr" not in out
    assert "@example.com으로" in out or "@example.org으로" in out  # the particle stays glued
    assert "주민등록번호는 <RRN>이고, 외국인 등록번호는 <RRN>입니다" in out
    assert "화면에는 <RRN>로" in out  # the masked form still gives birth date and sex
    assert "휴대폰<PHONE>, 또는 <PHONE>로" in out
    assert "서울 사무실은 <PHONE>, 경기 지사는 <PHONE>, <PHONE>입니다" in out
    assert "해외에서는 <PHONE>로" in out
    # the last line has nothing personal
    assert out.splitlines()[-1] == KOREAN.splitlines()[-1]
    assert dict(step.counters) == {"email": 2, "ip": 0, "rrn": 3, "phone": 6}


@pytest.mark.parametrize(
    "text",
    [
        "991301-1234567",  # month 13
        "990230-1234567",  # 30 February
        "900101-9234567",  # 7th digit 9
        "SKU 9001011234567",  # 13 bare digits, with no word naming an RRN before them
        "생년월일 900101 입니다",
        "2024-01-15",
        "240115",
        "주문번호 2024-0115-1234567",
        "₩12,900",
        "ISBN 9788901123456",
        "1588-1234",  # a business's public number
        "+5 points, +1,000,000",
        # versions and section numbers that are public IPv4 addresses by their digits
        '[assembly: AssemblyFileVersion("1.2.3.4")]',
        "versions = ['1.2.3.4']",
        "buildNumber=9.8.7.6",
        "wget https://example.org/dist/foo-1.2.3.4.tar.gz",
        "pip install foo==8.8.8.8",
        "See Section 4.2.1.3 and § 5.1.2.9 of the standard.",
        "제 4.2.1.3 항을 따른다",
        "libfoo 1.2.3.4-beta",
        # order, invoice and company numbers shaped like 주민등록번호
        "주문번호: 950101-1234567",
        "Order no. 950101-1234567",
        "invoice #950101-1234567",
        "법인등록번호 110111-1234567",
        "모델명 SM-G991N 제품코드 900101-1234567",
        # versions in code, changelogs, user agents and Korean release notes
        "implementation 'com.example:lib:1.2.3.4'",
        "Depends: libbar (= 2.3.4.5)",
        "git tag 1.2.3.4",
        "## [1.2.3.4] - 2023-05-12",
        "### 1.2.3.4 (2023-05-12)",
        "- 1.2.3.4: fixed a crash",
        "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2.1",
        "iOS 16.4.1.2 업데이트",
        "1.2.3.4 버전으로 업데이트하세요",
        "업데이트 1.2.3.4 배포 완료",
        "https://example.org/download/1.2.3.4/file.tar.gz",
        "OID 2.5.4.3",
        # retina image names are no addresses; documentation placeholders stay
        "<img src=logo@2x.png> icon@3x.webp",
        "email@example.com and firstname.lastname@example.org",
    ],
)
def test_look_alikes_are_left_alone(text):
    out, step = _redact(text)
    assert out == text
    assert sum(step.counters.values()) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("주민등록번호 950101\u20131234567", "주민등록번호 <RRN>"),  # an en dash, as word processors type it
        ("수신거부 080-123-4567", "수신거부 <PHONE>"),  # toll-free
        ("안심번호 0505-123-4567", "안심번호 <PHONE>"),  # a personal forwarding number
        ("the building's router 93.184.216.34.", "the building's router 198.51.100.23."),
        ("IP 93.184.216.34로 접속", "IP 198.51.100.23로 접속"),
        # addresses in the places versions are not
        ("connect to 93.184.216.34: port closed", "connect to 198.51.100.23: port closed"),
        ("http://93.184.216.34/admin", "http://198.51.100.23/admin"),
        ("93.184.216.34 - - [10/Oct/2000:13:55:36] GET /", "198.51.100.23 - - [10/Oct/2000:13:55:36] GET /"),
        ("# my server is 93.184.216.34", "# my server is 198.51.100.23"),
    ],
)
def test_variants_that_are_replaced(text, expected):
    assert _redact(text)[0] == expected


def test_rrn_rules():
    assert _redact("000229-3123456")[0] == "<RRN>"  # 29 Feb 2000, born in the 2000s (3)
    assert _redact("010229-3123456")[0] == "010229-3123456"  # 2001 was no leap year
    assert _redact("주민번호: 8503151234566 확인")[0] == "주민번호: <RRN> 확인"  # bare, named as one
    assert _redact("바코드 8801234567890")[0] == "바코드 8801234567890"  # bare, not named: an EAN-13
    assert _redact("850315-7234567")[0] == "<RRN>"  # a foreigner born in the 2000s


def test_the_default_set_is_fineweb_s_and_korea_s_and_phone_adds_international_numbers():
    kinds, international = parse_kinds(None)
    out, step = _redact(KOREAN + ENGLISH, kinds=kinds, international_phones=international)
    assert "hong.gildong@naver.com" not in out and "93.184.216.34" not in out  # FineWeb's e-mail and IP
    assert "900101-1234567" not in out and "010-9876-5432" not in out and "02-123-4567" not in out
    assert "+82 10-1234-5678" not in out  # a Korean number written from abroad is a Korean number
    assert "+1 415 555 2671" in out and "+44 20 7946 0958" in out  # other + numbers: with --pii phone
    assert parse_kinds("phone") == (ALL, True)  # adds international numbers, keeps the rest
    assert parse_kinds("all") == (ALL, True)
    assert parse_kinds("email,ip") == (ALL, False)  # already in the default set
    assert parse_kinds("no-phone,no-rrn") == (("email", "ip"), False)  # FineWeb's two alone
    assert parse_kinds("phone,no-ip") == (("email", "rrn", "phone"), True)
    for bad in ("fax", "no-fax", "no-email,no-ip,no-rrn,no-phone"):
        with pytest.raises(UserError):
            parse_kinds(bad)


def test_replacements_are_deterministic_idempotent_and_configurable():
    text = "a 8.8.8.8 b 8.8.4.4 c 8.8.8.8 d 2001:4860:4860::8888"
    first, _ = _redact(text)
    again, step = _redact(first)
    assert again == first and sum(step.counters.values()) == 0  # replacements are not public addresses
    parts = first.split()
    assert parts[1] == parts[5]  # one address, one replacement
    assert ":" not in parts[1] and parts[7].startswith("2001:db8:")  # each by its own family
    custom, _ = _redact(
        "mail me at a@b.com or 010-1111-2222",
        replacements=parse_replacements(("email=[EMAIL]", "phone=[TEL]")),
    )
    assert custom == "mail me at [EMAIL] or [TEL]"


def test_step_changes_text_and_drops_nothing():
    step = PiiReplace(ALL, international_phones=True)
    output = step.run(_batch([KOREAN, "nothing here", ENGLISH]))
    assert output.rejected is None and output.kept.num_rows == 3
    texts = output.kept.column("text").to_pylist()
    assert texts[1] == "nothing here" and "<RRN>" in texts[0] and "<PHONE>" in texts[2]
    assert step.counters["docs_changed"] == 2
    notes = [step.task_notes(), step.task_notes()]
    section = "\n".join(step.report_section(notes, None))
    assert "| rrn | 6 |" in section and "4 documents changed" in section


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_kinds("email,fax"), "unknown kind fax"),
        (lambda: parse_replacements(("phone",)), "not KIND=TEXT"),
        (lambda: parse_replacements(("zip=00000",)), "not KIND=TEXT"),
        (lambda: parse_replacements(("email=",)), "empty replacement"),
    ],
)
def test_user_mistakes(call, message):
    with pytest.raises(UserError, match=message):
        call()


def test_all_means_every_kind():
    assert parse_kinds("all") == (ALL, True)
    assert parse_kinds(" phone , rrn ") == (ALL, True)
