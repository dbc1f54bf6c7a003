"""Bench the `pii` and `url` steps against datatrove's PIIFormatter on real web text.

python bench/pii_url.py  (from the project root, ../shared/data present)
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pyarrow as pa

from curate.corpus.filters.pii import PiiReplace
from curate.corpus.filters.url import UrlFilter
from curate.io.schema import CORE_SCHEMA

DATA = Path("../shared/data")


def documents() -> tuple[list[str], list[str]]:
    texts, metas = [], []
    for path in sorted((DATA / "web/cc_en_head").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                texts.append(record["text"])
                metas.append(json.dumps({"metadata": record["metadata"]}))
    for line in (DATA / "web/dclm_quality_labeled.jsonl").open(encoding="utf-8"):
        texts.append(json.loads(line)["text"])
        metas.append("{}")
    korean = (DATA / "korean/news_comments.ko.txt").read_text(encoding="utf-8").splitlines()
    for start in range(0, len(korean), 50):  # 50 comments a document
        texts.append("\n".join(korean[start : start + 50]))
        metas.append("{}")
    return texts, metas


def timed(label: str, function, texts: list[str], repeat: int = 3) -> None:
    best = min(_once(function) for _ in range(repeat))
    size = sum(len(text.encode()) for text in texts)
    print(f"{label:<40} {len(texts) / best:>10,.0f} docs/s {size / best / 1e6:>7.1f} MB/s")


def _once(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    texts, metas = documents()
    batch = pa.table(
        {"id": [str(i) for i in range(len(texts))], "text": texts, "source": ["s"] * len(texts), "meta": metas},
        schema=CORE_SCHEMA,
    )
    print(f"{len(texts)} documents, {sum(len(t.encode()) for t in texts) / 1e6:.1f} MB")
    for kinds, international in ((("email", "ip"), False), (("email", "ip", "rrn", "phone"), True)):
        step = PiiReplace(kinds, international_phones=international)
        timed(f"curate pii {','.join(kinds)}", lambda step=step: step.run(batch), texts)
        once = PiiReplace(kinds, international_phones=international)
        once.run(batch)
        print("   replaced in one pass:", dict(once.counters))
    from datatrove.pipeline.formatters.pii import PIIFormatter

    formatter = PIIFormatter()
    timed("datatrove PIIFormatter (email, ip)", lambda: [formatter.format(text) for text in texts], texts)
    urls = [json.loads(meta)["metadata"]["url"] for meta in metas if meta != "{}"]
    blocked = {f"blocked{i}.example.com" for i in range(100_000)}
    step = UrlFilter(blocked_domains=blocked)
    step.decide("http://warm.up/")  # tldextract's tables, built once per worker
    started = time.perf_counter()
    for _ in range(200):
        for url in urls:
            step.decide(url)
    elapsed = time.perf_counter() - started
    print(f"{'curate url (100k domains, default words)':<40} {200 * len(urls) / elapsed:>10,.0f} URLs/s")
    url_lists_bench(urls)


def url_lists_bench(base_urls: list[str], count: int = 20_000) -> None:
    """curate's url step and datatrove's URLFilter with the same lists: the UT1 blocklists and
    word lists datatrove ships (FineWeb's), on URLs of which about one in ten has a listed host."""
    import random
    import tarfile
    import tempfile

    from datatrove.data import Document
    from datatrove.pipeline.filters.url_filter import URLFilter
    from datatrove.utils._import_utils import ASSETS_PATH
    from tldextract import TLDExtract

    from curate.corpus.filters.url import load_blocklists, load_words

    folder = Path(tempfile.mkdtemp(prefix="url-lists-"))
    with tarfile.open(Path(ASSETS_PATH) / "url_filterblacklistsv0_3_0.tar.gz") as tar:
        tar.extractall(folder, filter="data")
    assets = Path(ASSETS_PATH)
    started = time.perf_counter()
    domains, exact = load_blocklists([folder / "domains", folder / "urls"])
    step = UrlFilter(
        domains,
        exact,
        banned_words=tuple(load_words(assets / "banned_words.txt", "words")),
        soft_banned_words=tuple(load_words(assets / "soft_banned_words.txt", "words")),
        banned_subwords=tuple(load_words(assets / "banned_subwords.txt", "words")),
    )
    curate_load = time.perf_counter() - started
    started = time.perf_counter()
    peer = URLFilter()
    peer.tldextractor = TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)  # offline
    peer.download_data()
    peer_load = time.perf_counter() - started

    rng = random.Random(0)
    listed = sorted(domains)[:: max(1, len(domains) // 2000)]
    urls = []
    for index in range(count):
        url = rng.choice(base_urls)
        if index % 10 == 0:
            host = url.split("/")[2]
            url = url.replace(host, rng.choice(listed), 1)
        urls.append(f"{url}?page={index}" if index % 3 else url)
    documents = [Document(text="", id=str(index), metadata={"url": url}) for index, url in enumerate(urls)]
    step.decide(urls[0])
    peer.filter(documents[0])
    mine = _best(lambda: [step.decide(url) for url in urls])
    theirs = _best(lambda: [peer.filter(document) for document in documents])
    curate_kept = [step.decide(url) is None for url in urls]
    peer_kept = [peer.filter(document) is True for document in documents]
    agree = sum(a == b for a, b in zip(curate_kept, peer_kept)) / len(urls)
    print(f"UT1 lists (datatrove's asset): {len(domains):,} domains, {len(exact):,} URLs")
    print(f"{'curate url, UT1 lists':<40} {len(urls) / mine:>10,.0f} URLs/s   lists loaded in {curate_load:.1f} s")
    print(
        f"{'datatrove URLFilter, same lists':<40} {len(urls) / theirs:>10,.0f} URLs/s   lists loaded in {peer_load:.1f} s"
    )
    print(
        f"   curate / datatrove: {theirs / mine:.2f}x; rejected: curate {curate_kept.count(False):,}, "
        f"datatrove {peer_kept.count(False):,} of {len(urls):,}; same decision for {agree:.1%}"
    )


def _best(function, repeat: int = 3) -> float:
    return min(_once(function) for _ in range(repeat))


if __name__ == "__main__":
    main()
