"""The `url` step (UT1-style blocklists, banned words in the URL) and `curate filter --steps url,pii`
end to end."""

from __future__ import annotations

import json
import pickle

import pyarrow as pa
import pytest

from curate.corpus.filters.url import UrlFilter, document_url, load_blocklists, load_words
from curate.corpus.registry import FILTERS
from curate.io.schema import CORE_SCHEMA
from tests.conftest import read_rows, run_cli, write_jsonl

BLOCKLIST = """# UT1 blacklists, category "phishing" (a sample)
# domains
casino-royale-bonus.com
ads.tracker.co.uk
203.0.113.9

www.spam-mirror.net
https://scheme-only.example.com
bücher.de
xn--mnchen-casino-wob.de
port-only.example.org:8443
http://[::1
# urls
news.example.org/scam/free-money.html
"""


@pytest.fixture
def blocklist(tmp_path):
    path = tmp_path / "domains"
    path.write_text(BLOCKLIST, encoding="utf-8")
    return path


@pytest.fixture
def step(blocklist) -> UrlFilter:
    # a pickled copy, as a worker gets it
    return pickle.loads(pickle.dumps(UrlFilter(*load_blocklists([blocklist]))))


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://casino-royale-bonus.com/", "blocked_domain"),  # registered domain
        ("http://www.casino-royale-bonus.com/slots?id=3", "blocked_domain"),
        ("https://ads.tracker.co.uk/pixel.gif", "blocked_domain"),  # a listed host
        ("https://eu.ads.tracker.co.uk/pixel.gif", "blocked_domain"),  # below a listed host
        ("https://tracker.co.uk/about", None),  # above it: not listed
        ("http://203.0.113.9:8080/login", "blocked_domain"),
        ("https://spam-mirror.net/a", "blocked_domain"),
        ("https://news.example.org/scam/free-money.html", "blocked_url"),
        ("http://WWW.news.example.org/scam/free-money.html#top", "blocked_url"),
        ("https://news.example.org/scam/other.html", None),
        ("https://news.example.org/", None),
        ("https://www.free-porn-videos.example/watch", "banned_word"),
        ("https://hot-sexy-nude-pics.example/gallery", "soft_banned_words"),
        ("https://sexy-socks.example/shop", None),  # one soft word is not enough
        ("https://myfreepornsite.example/", "banned_subword"),
        ("https://www.essex.ac.uk/courses/sussex-history", None),
        ("https://ko.wikipedia.org/wiki/%ED%95%9C%EA%B5%AD%EC%96%B4", None),
        # list lines with a scheme or a port are domains, not URLs
        ("https://scheme-only.example.com/page", "blocked_domain"),
        ("https://a.port-only.example.org/", "blocked_domain"),
        # a URL that cannot be parsed is rejected, not a crash of the run
        ("http://[::1/page", "invalid_url"),
        ("http://[not-an-ip]/", "invalid_url"),
        # international names match in either spelling; a listed URL covers it with a query
        ("https://xn--bcher-kva.de/buch", "blocked_domain"),
        ("https://shop.münchen-casino.de/", "blocked_domain"),
        ("https://news.example.org/scam/free-money.html?utm=1", "blocked_url"),
    ],
)
def test_url_rules(step, url, rule):
    assert step.decide(url) == rule


def test_word_files_replace_the_built_in_lists(tmp_path):
    words = tmp_path / "banned.txt"
    words.write_text("# mine\nCasino\n도박\n", encoding="utf-8")
    step = UrlFilter(banned_words=tuple(load_words(words, "--url-banned-words")), soft_threshold=0)
    assert step.decide("https://best-casino.example/") == "banned_word"
    assert step.decide("https://example.kr/%EB%8F%84%EB%B0%95/list") == "banned_word"  # 도박, percent-encoded
    assert step.decide("https://sexy-nude.example/") is None  # soft rule off
    assert step.decide("https://pornhub.example/") == "banned_subword"  # subwords kept their default


@pytest.mark.parametrize(
    ("meta", "url"),
    [
        ({"url": "https://a.example/x"}, "https://a.example/x"),  # WET, extract, FineWeb
        ({"metadata": {"url": "https://b.example/"}, "source": "cc"}, "https://b.example/"),  # Dolma
        ({"meta": {"url": "https://c.example/"}}, "https://c.example/"),  # RedPajama
        ({"warc_target_uri": "https://d.example/"}, "https://d.example/"),
        ({"title": "no address"}, None),
        ({"url": ""}, None),
    ],
)
def test_document_url(meta, url):
    assert document_url(json.dumps(meta)) == url


def test_documents_without_url_are_kept_and_counted(step):
    metas = ["{}", json.dumps({"url": "https://casino-royale-bonus.com/"}), json.dumps({"url": "https://ok.example/"})]
    batch = pa.table(
        {"id": ["a", "b", "c"], "text": ["x", "y", "z"], "source": ["s"] * 3, "meta": metas}, schema=CORE_SCHEMA
    )
    output = step.run(batch)
    assert output.kept.column("id").to_pylist() == ["a", "c"]
    assert output.rejected.column("reason").to_pylist() == ["url:blocked_domain"]
    assert step.counters["no_url"] == 1


def test_filter_command_runs_url_and_pii(tmp_path, blocklist):
    records = [
        {"id": "ok", "url": "https://blog.example.com/2024/01/15/hello", "text": "Write to me at jane@acme.com."},
        {
            "id": "ko",
            "metadata": {"url": "https://cafe.example.kr/board/123"},
            "text": "주민등록번호 900101-1234567, 연락처010-1234-5678로 주세요. 주문번호 2024-0115-1234567.",
        },
        {"id": "no_url", "text": "Server 8.8.8.8, router 192.168.0.1, version 1.2.3.4."},
        {"id": "casino", "url": "https://www.casino-royale-bonus.com/", "text": "Call +1 415 555 2671 now!"},
        {"id": "scam", "url": "http://news.example.org/scam/free-money.html", "text": "Free money."},
        {"id": "porn", "url": "https://free-porn.example/", "text": "Nothing to see."},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out"
    run_cli(
        "filter",
        source,
        "-o",
        out,
        "--steps",
        "url,pii",
        "--url-blocklist",
        blocklist,
        "--pii",
        "all",
        "--pii-replacement",
        "email=user@example.com",
    )
    kept = {row["id"]: row["text"] for row in read_rows(out)}
    assert kept == {
        "ok": "Write to me at user@example.com.",
        "ko": "주민등록번호 <RRN>, 연락처<PHONE>로 주세요. 주문번호 2024-0115-1234567.",
        "no_url": kept["no_url"],
    }
    assert "8.8.8.8" not in kept["no_url"] and "192.168.0.1, version 1.2.3.4." in kept["no_url"]
    rejected = {row["id"]: (row["reason"], row["text"]) for row in read_rows(out, "rejected")}
    assert rejected == {
        "casino": ("url:blocked_domain", "Call +1 415 555 2671 now!"),  # dropped before pii ran
        "scam": ("url:blocked_url", "Free money."),
        "porn": ("url:banned_word", "Nothing to see."),
    }
    report = json.loads((out / "report.json").read_text())
    stages = {stage["stage"]: stage for stage in report["stages"]}
    assert stages["url"]["counters"]["no_url"] == 1
    assert {kind: stages["pii"]["counters"][kind] for kind in ("email", "ip", "phone", "rrn")} == {
        "email": 1,
        "ip": 1,
        "phone": 1,
        "rrn": 1,
    }
    markdown = (out / "report.md").read_text()
    assert "## Personal data replaced (pii)" in markdown and "| rrn | 1 |" in markdown
    assert "| phone (Korean and international) | 1 |" in markdown
    assert "1 documents had no URL" in markdown


def test_pii_and_url_are_off_by_default_and_on_when_asked(tmp_path, blocklist):
    source = write_jsonl(tmp_path / "in.jsonl", [{"url": "https://casino-royale-bonus.com/", "text": "a@b.com"}])
    run_cli("filter", source, "-o", tmp_path / "plain", "--steps", "clean,pii")  # named: the default kinds
    assert read_rows(tmp_path / "plain")[0]["text"] in ("email@example.com", "firstname.lastname@example.org")
    unasked = {"pii": None, "pii_replacement": (), "url_blocklist": (), "url_banned_words": None}
    assert not FILTERS["pii"].applies(unasked) and not FILTERS["url"].applies(unasked)
    # a recipe's `pii: true` / `pii: false` arrive as text
    assert FILTERS["pii"].applies({**unasked, "pii": "true"}) and not FILTERS["pii"].applies(
        {**unasked, "pii": "false"}
    )
    assert FILTERS["pii"].build({**unasked, "pii": "true"}).kinds == ("email", "ip", "rrn", "phone")
    assert FILTERS["pii"].applies({**unasked, "pii_replacement": ("email=<EMAIL>",)})  # it means the step is wanted
    run_cli("filter", source, "-o", tmp_path / "asked", "--url-blocklist", blocklist, "--pii", "email")
    stages = [stage["stage"] for stage in json.loads((tmp_path / "asked" / "report.json").read_text())["stages"]]
    assert "url" in stages and "pii" in stages and stages.index("url") < stages.index("pii")
    assert read_rows(tmp_path / "asked", "rejected")[0]["reason"] == "url:blocked_domain"


def test_user_mistakes_are_one_line(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    result = run_cli("filter", source, "-o", tmp_path / "a", "--steps", "pii", "--pii", "fax", expect=2)
    assert "unknown kind fax" in result.output and "Traceback" not in result.output
    result = run_cli("filter", source, "--pii", source, "-o", tmp_path / "c", expect=2)
    assert "--pii took the input" in result.output and "put --pii after the inputs" in result.output
    result = run_cli(
        "filter", source, "-o", tmp_path / "b", "--url-blocklist", tmp_path / "missing.txt", "--steps", "url", expect=2
    )
    assert "--url-blocklist: cannot read" in result.output


def test_pii_alone_takes_the_default_kinds_and_phone_adds_international_numbers(tmp_path):
    text = "Mail a@b.com, call 010-1234-5678 or +1 415 555 2671; 주민등록번호 900101-1234567."
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": text}])
    run_cli("filter", source, "-o", tmp_path / "default", "--steps", "pii", "--pii")
    run_cli("filter", source, "-o", tmp_path / "phone", "--steps", "pii", "--pii", "phone")
    default, phone = read_rows(tmp_path / "default")[0]["text"], read_rows(tmp_path / "phone")[0]["text"]
    assert "a@b.com" not in default and "010-1234-5678" not in default and "900101-1234567" not in default
    assert "+1 415 555 2671" in default and "+1 415 555 2671" not in phone
    assert "a@b.com" not in phone and "900101-1234567" not in phone  # phone adds to the default kinds


def test_parquet_url_columns_are_read(tmp_path, blocklist):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # FineWeb's releases: a `url` column; Dolma's: a `metadata` struct holding one
    pq.write_table(
        pa.table({"text": ["a", "b", "c"], "url": ["https://casino-royale-bonus.com/x", "https://ok.example/", None]}),
        tmp_path / "fineweb.parquet",
    )
    metadata = pa.array([{"url": "https://free-porn.example/"}, {"url": "https://ok.example/2"}])
    pq.write_table(pa.table({"text": ["d", "e"], "metadata": metadata}), tmp_path / "dolma.parquet")
    out = tmp_path / "out"
    run_cli("filter", tmp_path / "fineweb.parquet", tmp_path / "dolma.parquet", "-o", out, "--steps", "url",
            "--url-blocklist", blocklist)  # fmt: skip
    reasons = sorted(row["reason"] for row in read_rows(out, "rejected"))
    assert reasons == ["url:banned_word", "url:blocked_domain"]
    assert sorted(row["text"] for row in read_rows(out)) == ["b", "c", "e"]
    assert "1 documents had no URL" in (out / "report.md").read_text()
