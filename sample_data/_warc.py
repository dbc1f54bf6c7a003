"""The sample crawl: the sample web documents as HTML pages in one WARC file, as a crawler
would have fetched them (written with warcio, a curate dependency).

Each page wraps a document's paragraphs in the boilerplate a real site adds (a menu, a
cookie line, a footer with a contact address and phone number), so extraction has something
to strip; every third page ends with the author's e-mail address and phone number, for
the PII step. A few records exercise the extractor's
other paths: Korean pages in EUC-KR whose charset only the <meta> tag names, a page with no
text, a robots.txt (not HTML), a PDF, the crawler's request records, and two spam pages on a
host the sample URL blocklist names. Record ids and dates are fixed: the bytes are the same
on every run.
"""

from __future__ import annotations

import html
import io
import uuid

BLOCKED_HOST = "casino-bonus.example.net"  # listed in wordlists/url_blocklist.txt
_NAMESPACE = uuid.UUID("5b7d3a0e-6c1f-4b52-9a57-3f0e8c1d2b44")

_EN_CHROME = {
    "menu": "Home | News | Science | Travel | About us | Contact",
    "cookies": "We use cookies to improve your experience. Accept all | Settings",
    "footer": "Questions or corrections? Write to editor.desk@example.com or call +1 415 555 0134.",
    "rights": "Copyright 2024 Example Media. All rights reserved.",
}
_KO_CHROME = {
    "menu": "홈 | 뉴스 | 생활 | 여행 | 회사 소개 | 문의하기",
    "cookies": "이 사이트는 더 나은 서비스를 위해 쿠키를 사용합니다. 모두 허용 | 설정",
    "footer": "제보 및 문의: newsroom@example.com, 전화 02-3141-5926, 휴대폰 010-2718-2818",
    "rights": "Copyright 2024 예시 미디어. 무단 전재 및 재배포 금지.",
}


_EN_BYLINE = "Readers can reach the author at jamie.park@example.com or on +1 415 555 0188."
_KO_BYLINE = "기사에 대한 의견은 기자 이메일 minsu.kim@example.com 또는 010-2718-2818로 보내 주세요."


def _page(text: str, lang: str, meta_charset: str, byline: bool = False) -> str:
    chrome = _KO_CHROME if lang == "ko" else _EN_CHROME
    paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
    if byline and paragraphs:  # contact details inside the article, where extraction keeps them
        paragraphs.append(_KO_BYLINE if lang == "ko" else _EN_BYLINE)
    title = paragraphs[0].split(". ")[0][:70] if paragraphs else ""
    body = "\n".join(f"<p>{html.escape(part)}</p>" for part in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n{meta_charset}\n<title>{html.escape(title)}</title>\n'
        "<script>window.dataLayer = window.dataLayer || [];</script>\n</head>\n<body>\n"
        f'<div class="cookie-banner">{html.escape(chrome["cookies"])}</div>\n'
        f"<header><nav>{html.escape(chrome['menu'])}</nav></header>\n"
        f"<main><article>\n{body}\n</article></main>\n"
        f"<aside><ul><li>{html.escape(chrome['menu'].split(' | ')[1])}</li></ul></aside>\n"
        f"<footer><p>{html.escape(chrome['footer'])}</p><p>{html.escape(chrome['rights'])}</p></footer>\n"
        "</body>\n</html>\n"
    )


def _warc_date(date: str) -> str:
    return f"{date}T08:00:00Z"


def build_warc(en_records: list[dict], ko_records: list[dict], spam: list[str]) -> bytes:
    """One gzipped WARC of every sample web document as a page, plus the odd records above."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)

    def write(kind: str, url: str, date: str, payload: bytes, content_type: str | None, status: str = "200 OK"):
        headers = {
            "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(_NAMESPACE, kind + url)}>",
            "WARC-Date": _warc_date(date),
        }
        http = None
        if kind == "response":
            fields = [("Content-Type", content_type)] if content_type else []
            http = StatusAndHeaders(status, [*fields, ("Content-Length", str(len(payload)))], protocol="HTTP/1.1")
        elif kind == "request":
            host, _, path = url.split("://", 1)[1].partition("/")
            fields = [("Host", host), ("User-Agent", "curate-sample-crawler/1.0")]
            http = StatusAndHeaders(f"GET /{path} HTTP/1.1", fields, is_http_request=True)
        record = writer.create_warc_record(
            url, kind, payload=io.BytesIO(payload), http_headers=http, warc_headers_dict=headers
        )
        writer.write_record(record)

    for number, record in enumerate([*en_records, *ko_records]):
        lang = "ko" if record["id"].startswith("ko") else "en"
        euc_kr = lang == "ko" and number % 2 == 0  # half the Korean pages: charset in <meta> only
        if euc_kr:
            meta = '<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">'
            page = _page(record["text"], lang, meta, byline=number % 3 == 0)
            payload, content_type = page.encode("euc-kr", "replace"), "text/html"
        else:
            meta = '<meta charset="utf-8">'
            page = _page(record["text"], lang, meta, byline=number % 3 == 0)
            payload, content_type = page.encode(), "text/html; charset=UTF-8"
        if number % 10 == 0:
            write("request", record["url"], record["date"], b"", None)
        write("response", record["url"], record["date"], payload, content_type)

    for number, text in enumerate(spam):
        url = f"https://{BLOCKED_HOST}/win/{number + 1}"
        write("response", url, "2024-03-01", _page(text, "en", '<meta charset="utf-8">').encode(), "text/html")
    write("response", "https://www.example.com/robots.txt", "2024-03-01", b"User-agent: *\nDisallow:\n", "text/plain")
    write("response", "https://www.example.org/report.pdf", "2024-03-01", b"%PDF-1.4\n%\xe2\xe3\n", "application/pdf")
    empty = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title></title></head><body></body></html>'
    write("response", "https://www.example.net/blank", "2024-03-01", empty, "text/html; charset=utf-8")
    return out.getvalue()
