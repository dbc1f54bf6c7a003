"""WARC extraction: the WARC reader (records, content types, charsets), the extract step and its
child process (deadline, memory limit, no orphans), `curate extract` and `filter` on WARC."""

from __future__ import annotations

import gzip
import io
import os
import time
from pathlib import Path

import pytest

from curate.corpus.extract.command import extract_corpus
from curate.corpus.extract.extractors import EXTRACTORS, Extractor
from curate.corpus.extract.step import ExtractStep, reads_warc
from curate.corpus.registry import FILTERS
from curate.io.readers import ReaderOptions
from curate.io.writer import WriterOptions
from tests.conftest import folder_bytes, manifest, processes_where, read_rows, run_cli

ARTICLE = (
    "<p>The river rose three metres overnight and the council opened two shelters near the old "
    "bridge, where volunteers handed out blankets and soup until the morning.</p>"
)
KOREAN = "<p>대한민국의 모든 국민은 법 앞에 평등하다. 누구든지 성별이나 종교에 의하여 차별을 받지 아니한다.</p>"
FRENCH = "<p>Le café était très agréable, à côté de la rivière. Où êtes-vous allés ce week-end ?</p>" * 3


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body><article>{body}</article></body></html>"


def write_warc(path: Path, records: list[tuple], gzip_it: bool = True) -> Path:
    """records: ("response", url, content type or None, body bytes[, HTTP status line]) or ("request", url)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzip_it)
    for number, (kind, url, *rest) in enumerate(records):
        date = {"WARC-Date": f"2024-03-01T08:00:{number:02d}Z"}
        if kind == "request":
            http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.com")], is_http_request=True)
            record = writer.create_warc_record(url, "request", http_headers=http, warc_headers_dict=date)
        else:
            content_type, body, status = (*rest, "200 OK") if len(rest) == 2 else rest
            headers = [("Content-Type", content_type)] if content_type else []
            http = StatusAndHeaders(status, headers + [("Content-Length", str(len(body)))], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict=date
            )
        writer.write_record(record)
    path.write_bytes(buffer.getvalue())
    return path


def crawl(tmp_path: Path) -> Path:
    return write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("request", "https://news.example/flood"),
            ("response", "https://news.example/flood", "text/html; charset=utf-8", page(ARTICLE).encode()),
            # the charset only in <meta>, and only in <meta http-equiv>
            (
                "response",
                "https://ko.example/meta",
                "text/html",
                page(KOREAN, '<meta charset="euc-kr">').encode("euc-kr"),
            ),
            (
                "response",
                "https://ko.example/equiv",
                "text/html",
                page(KOREAN, '<meta http-equiv="Content-Type" content="text/html; charset=EUC-KR">').encode("euc-kr"),
            ),
            # no charset anywhere: detected
            ("response", "https://ko.example/bare", "text/html", page(KOREAN * 3).encode("euc-kr")),
            ("response", "https://fr.example/bare", "text/html", page(FRENCH).encode("latin-1")),
            ("response", "https://example.org/report.pdf", "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" * 20),
            ("response", "https://example.org/blank", "text/html", page("").encode()),
            ("response", "https://example.org/binary", "text/html", bytes(range(256)) * 40),
            ("response", "https://example.org/xhtml", "application/xhtml+xml", page(ARTICLE).encode()),
        ],
    )


def by_url(rows: list[dict]) -> dict[str, dict]:
    import json

    return {json.loads(row["meta"])["url"]: {**row, "meta": json.loads(row["meta"])} for row in rows}


def test_every_record_ends_kept_or_rejected_with_its_charset_and_reason(tmp_path):
    run_cli("extract", crawl(tmp_path), "-o", tmp_path / "out", "--workers", "1")
    kept, rejected = by_url(read_rows(tmp_path / "out")), read_rows(tmp_path / "out", "rejected")
    reasons = sorted(row["reason"] for row in rejected)
    assert reasons == ["extract:empty", "extract:not_html", "extract:not_response", "extract:undecodable"]
    assert manifest(tmp_path / "out")["counts"]["in"] == 10 == len(kept) + len(rejected)

    flood = kept["https://news.example/flood"]
    assert "three metres overnight" in flood["text"] and "<p>" not in flood["text"]
    assert flood["meta"]["date"] == "2024-03-01T08:00:01Z"
    assert flood["meta"]["content_type"] == "text/html" and flood["meta"]["extractor"] == "resiliparse"
    assert (flood["meta"]["charset"], flood["meta"]["charset_from"]) == ("utf-8", "http")
    for url in ("https://ko.example/meta", "https://ko.example/equiv"):
        assert "법 앞에 평등하다" in kept[url]["text"]
        assert (kept[url]["meta"]["charset"], kept[url]["meta"]["charset_from"]) == ("cp949", "meta")
    assert "법 앞에 평등하다" in kept["https://ko.example/bare"]["text"]
    assert kept["https://ko.example/bare"]["meta"]["charset_from"] == "detected"
    assert "Le café était très agréable" in kept["https://fr.example/bare"]["text"]
    assert kept["https://fr.example/bare"]["meta"]["charset_from"] == "detected"
    assert kept["https://example.org/xhtml"]["meta"]["content_type"] == "application/xhtml+xml"

    report = (tmp_path / "out/report.md").read_text()
    assert "## Text extraction (extract)" in report
    assert "| `resiliparse` | 7 | 6 | 85.7% | 1 |" in report  # 7 decoded pages, the blank one empty


def test_trafilatura_extracts_the_same_pages(tmp_path):
    run_cli("extract", crawl(tmp_path), "-o", tmp_path / "out", "--extractor", "trafilatura", "--workers", "1")
    kept = by_url(read_rows(tmp_path / "out"))
    assert "three metres overnight" in kept["https://news.example/flood"]["text"]
    assert {row["meta"]["extractor"] for row in kept.values()} == {"trafilatura"}
    assert "| `trafilatura` |" in (tmp_path / "out/report.md").read_text()


def test_an_uncompressed_warc_and_a_truncated_one(tmp_path):
    records = [("response", f"https://example.com/{n}", "text/html", page(ARTICLE).encode()) for n in range(6)]
    run_cli("extract", write_warc(tmp_path / "plain.warc", records, gzip_it=False), "-o", tmp_path / "plain")
    assert len(read_rows(tmp_path / "plain")) == 6
    whole = write_warc(tmp_path / "whole.warc.gz", records).read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut/cut.warc.gz").write_bytes(whole[: len(whole) * 2 // 3 + 50])  # inside a record's gzip member
    run_cli("extract", tmp_path / "cut/cut.warc.gz", "-o", tmp_path / "cut-out")
    kept, rejected = read_rows(tmp_path / "cut-out"), read_rows(tmp_path / "cut-out", "rejected")
    assert 0 < len(kept) < 6 and [row["reason"] for row in rejected] == ["unparseable:truncated"]


def _test_extractor(html: str) -> str:
    """Stands in for an extractor that meets a pathological page: it hangs, spins or eats memory."""
    Path(os.environ["CURATE_TEST_PIDS"], str(os.getpid())).touch()
    if "HANG" in html:
        time.sleep(600)
    if "SPIN" in html:
        while True:
            pass
    if "HOG" in html:
        hog = bytearray(4 << 30)
        return str(len(hog))
    if "FAIL" in html:
        raise ValueError("a bug on this page")
    if "CRASH" in html:
        os._exit(9)  # dies at once, as a segfault in an extractor's C code would
    return "text of " + html[-40:]


def _children() -> list[int]:
    """Processes whose parent is this one (reaped children are gone from /proc)."""
    return processes_where("stat", lambda stat: int(stat.rsplit(b")", 1)[1].split()[1]) == os.getpid())


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process lists from /proc (Linux)")
def test_pathological_pages_are_killed_and_the_run_goes_on(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("CURATE_TEST_PIDS", str(pids))
    monkeypatch.setitem(EXTRACTORS, "test", Extractor(f"{__name__}:_test_extractor", "for tests"))
    bodies = ["first", "HANG", "after hang", "SPIN", "after spin", "HOG", "after hog", "FAIL", "CRASH", "last"]
    records = [
        ("response", f"https://slow.example/{n}", "text/html", page(body).encode()) for n, body in enumerate(bodies)
    ]
    step = ExtractStep("test", timeout=0.3, memory_bytes=512 << 20)
    before = set(_children())
    started = time.monotonic()
    extract_corpus(
        [str(write_warc(tmp_path / "slow.warc.gz", records))],
        tmp_path / "out",
        step,
        options={"extractor": "test"},
        command_line="curate extract (test)",
        reader=ReaderOptions(),
        writer=WriterOptions(),
        workers=1,
        progress=False,
    )
    assert time.monotonic() - started < 30  # the hang cost 5 deadlines, not 600 s
    kept, rejected = by_url(read_rows(tmp_path / "out")), by_url(read_rows(tmp_path / "out", "rejected"))
    assert {url: row["reason"] for url, row in rejected.items()} == {
        "https://slow.example/1": "extract:timeout",
        "https://slow.example/3": "extract:timeout",
        "https://slow.example/5": "extract:out_of_memory",
        "https://slow.example/7": "extract:failed",
        "https://slow.example/8": "extract:crashed",  # never mistaken for a timeout, however fast it dies
    }
    assert sorted(kept) == [f"https://slow.example/{n}" for n in (0, 2, 4, 6, 9)]
    assert "after spin" in kept["https://slow.example/4"]["text"]
    # the three killed children and the crashed one were replaced: five in all, every one gone now
    children = sorted(int(name) for name in os.listdir(pids))
    assert len(children) == 5
    assert set(_children()) <= before
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}"), f"extractor child {pid} outlived the run"
    assert "| `test` | 10 | 5 | 50.0% | 0 | 2 | 1 | 1 | 1 | 4 |" in (tmp_path / "out/report.md").read_text()


def test_filter_runs_extract_first_only_on_warc_inputs(tmp_path):
    warc = crawl(tmp_path)
    (tmp_path / "docs.jsonl").write_text('{"text": "hello"}\n')
    assert next(iter(FILTERS)) == "extract"
    assert reads_warc({"inputs": (str(warc),), "input_format": "auto"})
    assert reads_warc({"inputs": (str(tmp_path),), "input_format": "auto"})  # a folder holding one
    assert reads_warc({"inputs": (str(tmp_path / "*.warc.gz"),), "input_format": "auto"})
    assert not reads_warc({"inputs": (str(tmp_path / "docs.jsonl"),), "input_format": "auto"})
    run_cli("filter", warc, tmp_path / "docs.jsonl", "-o", tmp_path / "out", "--steps", "extract,clean")
    texts = {row["text"] for row in read_rows(tmp_path / "out")}
    assert "hello" in texts  # a row that is no HTML page passes through extract untouched
    assert any("three metres overnight" in text and "<" not in text for text in texts)


def test_the_shared_real_warc_files(shared_data, tmp_path):
    folder = shared_data / "web/warc"
    warcs = sorted(str(path) for path in folder.glob("*.warc.gz") if not path.name.endswith(".wet.gz"))
    records = sum(gzip.decompress(Path(path).read_bytes()).count(b"\r\nWARC-Type: ") for path in warcs)
    run_cli("extract", *warcs, "-o", tmp_path / "one", "--workers", "1")
    counts = manifest(tmp_path / "one")["counts"]
    assert counts["in"] == records == counts["kept"] + counts["rejected"]
    kept = by_url(read_rows(tmp_path / "one"))
    assert len(kept) >= 30  # the dolma samples' and whirlwind's HTML responses
    escopete = kept["https://an.wikipedia.org/wiki/Escopete"]
    assert "escopete" in escopete["text"].lower() and escopete["meta"]["date"].startswith("2024-")
    assert all(set(row["meta"]) >= {"url", "date", "content_type", "charset", "extractor"} for row in kept.values())
    run_cli("extract", *warcs, "-o", tmp_path / "two", "--workers", "2")
    assert folder_bytes(tmp_path / "one") == folder_bytes(tmp_path / "two")


def test_a_warc_in_a_folder_is_read_now(tmp_path):
    (tmp_path / "raw").mkdir()
    crawl(tmp_path / "raw")
    run_cli("filter", tmp_path / "raw", "-o", tmp_path / "out", "--steps", "extract")
    assert manifest(tmp_path / "out")["counts"]["in"] == 10
    assert "skipped_inputs" not in manifest(tmp_path / "out") or not manifest(tmp_path / "out")["skipped_inputs"]


def test_extract_and_filter_refuse_html_rows_without_extraction(tmp_path):
    warc = crawl(tmp_path)
    (tmp_path / "docs.jsonl").write_text('{"text": "hello"}\n')
    result = run_cli("filter", warc, "-o", tmp_path / "raw", "--steps", "clean,pii", expect=2)
    assert "start with extract (--steps extract,clean,pii)" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "raw").exists()
    result = run_cli("extract", tmp_path / "docs.jsonl", "-o", tmp_path / "text", expect=2)
    assert "none of the inputs is one" in result.output and len(result.output.strip().splitlines()) == 1
    run_cli("filter", warc, "-o", tmp_path / "ok", "--steps", "extract,pii")


def test_error_pages_are_rejected_and_a_default_latin1_header_yields_to_meta(tmp_path):
    korean = page(KOREAN, '<meta charset="euc-kr">').encode("euc-kr")
    records = [
        (
            "response",
            "https://example.com/missing",
            "text/html",
            page("Page not found. " * 5).encode(),
            "404 Not Found",
        ),
        ("response", "https://example.com/old", "text/html", page("Moved here.").encode(), "301 Moved Permanently"),
        ("response", "https://example.com/down", "text/html", page(ARTICLE).encode(), "503 Service Unavailable"),
        ("response", "https://ko.example/latin1", "text/html; charset=ISO-8859-1", korean),
        ("response", "https://fr.example/latin1", "text/html; charset=ISO-8859-1", page(FRENCH).encode("latin-1")),
    ]
    run_cli("extract", write_warc(tmp_path / "status.warc.gz", records), "-o", tmp_path / "out", "--workers", "1")
    kept, rejected = by_url(read_rows(tmp_path / "out")), by_url(read_rows(tmp_path / "out", "rejected"))
    assert {url: row["reason"] for url, row in rejected.items()} == {
        "https://example.com/missing": "extract:http_status",
        "https://example.com/old": "extract:http_status",
        "https://example.com/down": "extract:http_status",
    }
    assert "법 앞에 평등하다" in kept["https://ko.example/latin1"]["text"]
    assert kept["https://ko.example/latin1"]["meta"]["charset_from"] == "meta"
    assert "Le café était très agréable" in kept["https://fr.example/latin1"]["text"]
    assert kept["https://fr.example/latin1"]["meta"]["charset_from"] == "http"


@pytest.mark.parametrize("command", ["tokenize", "dedup"])
def test_commands_that_do_not_extract_refuse_a_warc(tmp_path, command):
    from tokenizers import Tokenizer, models

    warc = crawl(tmp_path)
    (tmp_path / "tok").mkdir()
    Tokenizer(models.WordLevel({"<eos>": 0, "<unk>": 1}, unk_token="<unk>")).save(str(tmp_path / "tok/tokenizer.json"))
    extra = {"tokenize": ["--tokenizer", tmp_path / "tok", "--eos-token", "<eos>"], "dedup": []}[command]
    result = run_cli(command, warc, "-o", tmp_path / "out", *extra, expect=2)
    assert "is a WARC of HTML pages: extract its text first" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_resiliparse_out_of_memory_is_a_memory_error(monkeypatch):
    from resiliparse.extract import html2text
    from resiliparse.parse.html import HTMLParserException

    from curate.corpus.extract.extractors import resiliparse_text

    def fails(*args, **kwargs):
        raise HTMLParserException("Failed to parse document (Error 2).")

    monkeypatch.setattr(html2text, "extract_plain_text", fails)
    with pytest.raises(MemoryError):  # the child answers out_of_memory and is restarted
        resiliparse_text("<p>x</p>")


def test_an_extract_memory_too_small_for_the_extractor_is_refused(tmp_path):
    result = run_cli("extract", crawl(tmp_path), "-o", tmp_path / "out", "--extract-memory", "1", expect=2)
    assert "cannot hold the extractor itself" in result.output and not (tmp_path / "out").exists()


def test_a_page_of_long_markup_is_extracted_not_refused_as_too_long(tmp_path):
    script = "<script>" + "var x = 1;" * 150_000 + "</script>"  # 1.5 M characters of script
    records = [("response", "https://big.example/", "text/html", page(ARTICLE, script).encode())]
    run_cli("extract", write_warc(tmp_path / "big.warc.gz", records), "-o", tmp_path / "out")
    kept = read_rows(tmp_path / "out")
    assert len(kept) == 1 and "three metres overnight" in kept[0]["text"]
