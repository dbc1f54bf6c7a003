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


if __name__ == "__main__":
    main()
