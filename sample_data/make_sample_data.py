#!/usr/bin/env python3
"""Regenerate every file in sample_data/ from the hand-written pools in _pools.py.

Run from the repository root:  python sample_data/make_sample_data.py

Standard library only, deterministic (``random.Random(1234)``): every run
rewrites the same bytes.  Afterwards the files are re-read and self-checked;
any failed check raises AssertionError.  See README.md for what is planted.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import math
import os
import random
import re
import sys
from itertools import combinations
from urllib.parse import urlsplit

sys.dont_write_bytecode = True  # keep sample_data/ free of __pycache__
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import _pools as P  # noqa: E402
import _warc  # noqa: E402

SEED = 1234
SIZE_LIMIT = 448 * 1024  # bytes, whole sample_data/ folder
MAX_ACCIDENTAL_JACCARD = 0.2  # word 5-grams, any pair that is not planted
NEAR_DUP_BAND = (0.5, 0.97)  # planted near-duplicate vs. its original

EN_WEB = "web/en_web.jsonl"
KO_WEB = "web/ko_web.jsonl.gz"
EN_SEEDS = "instructions/seed_tasks.en.jsonl"
KO_SEEDS = "instructions/seed_tasks.ko.jsonl"
PAIRS = "preferences/pairs.jsonl"
CRAWL = "crawl/pages.warc.gz"
CRAWL_EN, CRAWL_KO = 36, 20  # the first documents of each web file become pages (a WARC gzips each record alone)
URL_BLOCKLIST = "wordlists/url_blocklist.txt"
README = "README.md"

# 1-based line numbers of the two malformed lines in en_web.jsonl.
EN_BAD_LINES = {"truncated": 40, "no_text": 61}

EN_DOMAINS = [
    "www.example.com",
    "blog.example.org",
    "news.example.net",
    "example.org",
    "www.example.net",
    "journal.example.com",
]
KO_DOMAINS = ["blog.example.com", "cafe.example.net", "news.example.org", "ko.example.org", "www.example.net"]
ALLOWED_HOST_SUFFIXES = ("example.com", "example.org", "example.net")

# Lexicons for planted near-duplicates: synonym swaps, optional words that can
# be dropped, intensifiers added before some words, and editor's notes.
_EN_ADJ = {
    "good",
    "easy",
    "important",
    "useful",
    "simple",
    "small",
    "cheap",
    "sharp",
    "hot",
    "cold",
    "quiet",
    "warm",
    "long",
    "short",
    "strong",
    "fresh",
    "busy",
    "soft",
    "tiny",
    "narrow",
    "heavy",
    "bright",
    "slow",
    "dangerous",
    "large",
    "big",
    "old",
    "thin",
    "deep",
    "gentle",
    "common",
    "popular",
    "interesting",
    "pleasant",
    "healthy",
    "careful",
    "quick",
    "difficult",
    "brisk",
    "steady",
    "generous",
    "remote",
}
_EN_DET = {"a", "the", "your", "my", "our", "their", "this", "its", "his", "her"}
EN_EDITS = {
    "synonyms": {
        "small": "little",
        "big": "large",
        "often": "frequently",
        "quickly": "fast",
        "many": "numerous",
        "easy": "simple",
        "usually": "typically",
        "every": "each",
        "whole": "entire",
        "cheap": "inexpensive",
        "buy": "purchase",
        "near": "close to",
        "choose": "pick",
        "perhaps": "maybe",
        "several": "a few",
        "nearly": "almost",
        "almost": "nearly",
        "difficult": "hard",
        "important": "crucial",
        "useful": "handy",
        "children": "kids",
        "rarely": "seldom",
        "immediately": "right away",
        "annual": "yearly",
        "afterward": "later",
        "large": "big",
        "people": "folks",
        "around": "about",
        "begin": "start",
        "but": "yet",
        "quite": "fairly",
        "simply": "just",
        "anyone": "anybody",
        "everyone": "everybody",
        "someone": "somebody",
        "house": "home",
        "amount": "quantity",
        "surprising": "remarkable",
        "huge": "enormous",
        "photographs": "pictures",
        "shop": "store",
        "really": "truly",
    },
    # (previous word, word, next word) -> may the word be dropped?
    "deletable": lambda p, t, n: (
        t
        in {
            "very",
            "really",
            "just",
            "also",
            "quite",
            "often",
            "simply",
            "still",
            "even",
            "only",
            "usually",
            "far",
            "especially",
            "slowly",
            "quietly",
            "gently",
            "briefly",
            "completely",
            "properly",
            "immediately",
            "regularly",
            "actually",
            "nearly",
            "almost",
            "certainly",
            "surprisingly",
            "carefully",
            "quickly",
            "finally",
            "eventually",
            "already",
            "together",
            "again",
            "too",
            "always",
        }
        or (t in _EN_ADJ and p in _EN_DET and not (p == "a" and n[:1].lower() in "aeiou"))
    ),
    # (previous, word, next) -> (word to insert, insert after the word?) or None
    "insertable": lambda p, t, n: (
        ("very", False)
        if t in _EN_ADJ and n != "enough" and p not in _EN_ADJ | {"an", "very", "really", "so", "too"}
        else ("also", True)
        if t in {"can", "will", "should", "may", "might", "must", "would", "could", "is", "are", "was", "were"}
        and n
        not in {
            "not",
            "also",
            "always",
            "never",
            "often",
            "usually",
            "still",
            "just",
            "only",
            "even",
            "a",
            "an",
            "the",
            "to",
        }
        else None
    ),
    "guard": {"very", "really", "so", "too", "how", "as", "much", "far", "quite", "more", "most"},
    "notes": [
        "This article was updated to correct a date.",
        "Share this story with a friend who might find it useful.",
        "Some details have been edited for clarity since this piece first appeared.",
    ],
}
_KO_ADJ = {
    "편합니다.",
    "충분합니다.",
    "중요합니다.",
    "유용합니다.",
    "중요해집니다.",
    "강해집니다.",
    "좋아집니다.",
    "깊어집니다.",
    "좋습니다.",
    "많습니다.",
    "쉽습니다.",
    "낫습니다.",
    "즐겁습니다.",
    "진해집니다.",
    "여유로워집니다.",
    "신기합니다.",
    "든든합니다.",
    "맛있었습니다.",
    "시원했습니다.",
    "흥미로웠습니다.",
    "좋은",
    "쉬운",
    "중요한",
    "편한",
    "맛있는",
    "든든한",
    "유용한",
    "즐거운",
    "반가운",
    "조용한",
}
KO_EDITS = {
    "synonyms": {
        "좋습니다.": "좋아요.",
        "있습니다.": "있어요.",
        "됩니다.": "돼요.",
        "많이": "꽤",
        "훨씬": "한결",
        "바로": "곧바로",
        "조금씩": "천천히",
        "정말": "참",
        "다시": "또",
        "함께": "같이",
        "가장": "제일",
        "모두": "전부",
        "미리": "먼저",
        "그래서": "따라서",
        "특히": "무엇보다",
        "대부분의": "많은",
        "처음에는": "처음엔",
    },
    "deletable": lambda p, t, n: (
        t
        in {
            "정말",
            "아주",
            "훨씬",
            "조금",
            "특히",
            "바로",
            "가장",
            "꼭",
            "다시",
            "미리",
            "함께",
            "더",
            "많이",
            "오히려",
            "꽤",
            "늘",
            "자연스럽게",
            "충분히",
            "조금씩",
            "이제",
            "그냥",
            "따로",
            "먼저",
            "오래",
            "모두",
        }
    ),
    "insertable": lambda p, t, n: (
        ("정말", False)
        if t in _KO_ADJ and p not in {"정말", "아주", "훨씬", "더", "꽤", "가장", "참", "무척", "매우"}
        else None
    ),
    "guard": {"아주", "정말", "훨씬", "더", "꽤", "가장", "참", "무척", "매우", "조금", "한결"},
    "notes": [
        "이 글은 독자 의견을 반영해 일부 내용을 고쳤습니다.",
        "도움이 되셨다면 주변 분들께도 공유해 주세요.",
        "처음 게시한 뒤 일부 표현을 다듬었습니다.",
    ],
}

# Word-level tokenisation shared by every similarity check.
_PUNCT = re.compile(r"[^\w\s]")


def words(text: str) -> list[str]:
    """Lowercase, strip punctuation, split on whitespace."""
    return _PUNCT.sub("", text.lower()).split()


def word_ngrams(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def char_ngrams(text: str, n: int = 5) -> set[str]:
    s = " ".join(words(text))
    return {s[i : i + n] for i in range(len(s) - n + 1)}


def jaccard(a: set, b: set) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def rand_date(rng: random.Random) -> str:
    start, end = dt.date(2019, 1, 1), dt.date(2024, 12, 31)
    return (start + dt.timedelta(days=rng.randrange((end - start).days + 1))).isoformat()


def slugify(text: str, n: int = 3) -> str:
    ascii_words = [w for w in words(text) if w.isascii()]
    return "-".join(ascii_words[:n]) or "post"


# Composition of "good" documents


def take(rng: random.Random, pool: list[str]) -> str:
    """Remove and return a random element, so nothing is ever reused."""
    assert pool, "a text pool ran dry; add more sentences to _pools.py"
    return pool.pop(rng.randrange(len(pool)))


def compose(rng: random.Random, pools: dict, n_units: int, slots: dict) -> str:
    intro = take(rng, pools["intro"]).format_map(slots)
    paras = [take(rng, pools["units"]).format_map(slots) for _ in range(n_units)]
    outro = take(rng, pools["outro"]).format_map(slots)
    if rng.random() < 0.5:
        paras.insert(0, intro)
    else:
        paras[0] = intro + " " + paras[0]
    if rng.random() < 0.5:
        paras.append(outro)
    else:
        paras[-1] = paras[-1] + " " + outro
    return "\n\n".join(paras)


def make_good_docs(rng, topics, slots, plan) -> list[dict]:
    """plan: {topic: [units per doc, ...]}; returns docs in topic order."""
    docs = []
    for topic, unit_counts in plan.items():
        pools = {k: list(v) for k, v in topics[topic].items() if k != "section"}
        for n_units in unit_counts:
            doc_slots = {k: rng.choice(v) for k, v in slots.items()}
            docs.append(
                {
                    "kind": "good",
                    "topic": topic,
                    "section": topics[topic]["section"],
                    "text": compose(rng, pools, n_units, doc_slots),
                }
            )
    return docs


# Planted duplicates


def whitespace_case_variant(text: str) -> str:
    """Same text up to whitespace and letter case (caught by normalised exact dedup)."""
    first, sep, rest = text.partition("\n\n")
    first = first.lower().replace(". ", ".  ")
    return "  " + first + sep.replace("\n\n", "\n\n\n") + rest + " \n"


PARA = "\n\n"


def perturb(rng, text, rate, lex):
    """Edit ~``rate`` of the words and return (new_text, words_edited).

    Larger budgets first drop one sentence and add an editor's note (as a
    re-published copy would); the rest are single-word edits: synonym swaps,
    dropped optional words and added intensifiers.  Paragraphs stay intact.
    """
    toks = []
    for para in text.split(PARA):
        toks += para.split(" ") + [PARA]
    toks.pop()
    n = len(text.split())
    budget = min(max(2, math.ceil(0.01 * n), round(rate * n)), int(0.10 * n))
    edits = 0
    if budget >= 10:
        spans, start = [], 0
        for i, t in enumerate(toks):
            if t == PARA:
                start = i + 1
            elif t[-1:] in ".!?":
                whole_para = (start == 0 or toks[start - 1] == PARA) and (i + 1 == len(toks) or toks[i + 1] == PARA)
                if start > 0 and not whole_para and 5 <= i - start + 1 <= budget - 3:
                    spans.append((start, i))
                start = i + 1
        if spans:
            a, b = rng.choice(spans)
            del toks[a : b + 1]
            edits += b - a + 1
        note = rng.choice(lex["notes"]).split(" ")
        if budget - edits >= len(note) + 2:  # appended as a last paragraph
            toks += [PARA] + note
            edits += len(note)

    syn = lex["synonyms"]

    def ops(i):
        prev, tok = toks[i - 1], toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if prev.lower() in lex["guard"] or nxt == "of":
            return []
        core = tok.rstrip(".,;:!?")
        new = syn.get(tok) or syn.get(core.lower())
        vowel = (new or "x")[0] in "aeiou"
        out = ["sub"] if new and not ((prev == "a" and vowel) or (prev == "an" and not vowel)) else []
        if lex["deletable"](prev, tok, nxt):
            out.append("del")
        if lex["insertable"](prev, tok, nxt):
            out.append("ins")
        return out

    cands = [i for i, t in enumerate(toks) if i > 0 and PARA not in (t, toks[i - 1]) and ops(i)]
    chosen = []  # keep edits at least two words apart so they stay independent
    for i in rng.sample(cands, len(cands)):
        if len(chosen) < budget - edits and all(abs(i - j) > 1 for j in chosen):
            chosen.append(i)
    assert len(chosen) == budget - edits, "not enough editable words"
    plan = {i: rng.choice(ops(i)) for i in chosen}
    for i in sorted(chosen, reverse=True):
        tok, op = toks[i], plan[i]
        if op == "sub":
            core = tok.rstrip(".,;:!?")
            new = syn[tok] if tok in syn else syn[core.lower()] + tok[len(core) :]
            toks[i] = new[:1].upper() + new[1:] if core[:1].isupper() else new
        elif op == "del":
            del toks[i]
        else:
            word, after = lex["insertable"](toks[i - 1], tok, toks[i + 1] if i + 1 < len(toks) else "")
            toks.insert(i + 1 if after else i, word)
    return " ".join(toks).replace(f" {PARA} ", PARA), budget


def plant_duplicates(rng, goods, n_exact, n_near, rates, lex, ngrams, variant_index):
    """Exact copies (one of them a whitespace/case variant) and perturbed copies."""
    originals = rng.sample(range(len(goods)), n_exact + n_near)
    dups = []
    for j, gi in enumerate(originals[:n_exact]):
        text = goods[gi]["text"]
        variant = j == variant_index
        dups.append(
            {
                "kind": "exact",
                "orig": gi,
                "variant": variant,
                "text": whitespace_case_variant(text) if variant else text,
            }
        )
    for rate, gi in zip(rates, originals[n_exact:]):
        text, k = perturb(rng, goods[gi]["text"], rate, lex)
        sim = jaccard(ngrams(text), ngrams(goods[gi]["text"]))
        dups.append({"kind": "near", "orig": gi, "text": text, "edits": k, "rate": rate, "jaccard": sim})
    return dups


def interleave(rng, goods, junk, dups) -> list[dict]:
    """Shuffle good+junk docs, then insert each duplicate after its original."""
    seq = goods + junk
    for i, d in enumerate(goods):
        d["group"] = i
    for d in junk:
        d["group"] = None
    rng.shuffle(seq)
    for d in dups:
        d["group"] = d["orig"]
        pos = next(i for i, x in enumerate(seq) if x is goods[d["orig"]])
        seq.insert(rng.randrange(pos + 1, len(seq) + 1), d)
    return seq


# Builders: each returns {relative_path: bytes} plus metadata for the README


def build_web(rng, lang, topics, slots, junk_pool, docs_per_topic, n_exact, rates, lex, ngrams, domains, variant_index):
    """Compose one web file; returns (list of JSON lines, records in file order)."""
    names = list(topics)
    plan = {t: [3] * docs_per_topic[min(i, len(docs_per_topic) - 1)] for i, t in enumerate(names)}
    goods = make_good_docs(rng, topics, slots, plan)
    junk = [{"kind": "junk", "label": label, "text": text} for label, text in junk_pool]
    dups = plant_duplicates(rng, goods, n_exact, len(rates), rates, lex, ngrams, variant_index)
    lines, records = [], []
    for n, d in enumerate(interleave(rng, goods, junk, dups), 1):
        d["id"], d["date"] = f"{lang}-{n:04d}", rand_date(rng)
        host, num = rng.choice(domains), rng.randrange(10000, 100000)
        if d["kind"] == "good":
            tail = slugify(d["text"]) if lang == "en" else num
            d["url"] = f"https://{host}/{d['section']}/{d['date'][:4]}/{d['date'][5:7]}/{tail}"
        elif d["kind"] == "junk":
            d["url"] = f"https://{host}/{d['label'].replace('_', '-')}/{num}"
        elif d["kind"] == "exact":
            d["url"] = f"https://mirror.example.net/{lang}/copy/{num}.html"
        else:
            d["url"] = f"https://aggregator.example.com/{lang}/story/{num}?ref=feed"
        records.append(d)
        lines.append(dumps({"id": d["id"], "text": d["text"], "url": d["url"], "date": d["date"]}))
    return lines, records


def build_en_web(rng):
    # 13 topics x 4 documents + 1 topic x 3 documents = 55 good documents.
    lines, records = build_web(
        rng,
        "en",
        P.EN_TOPICS,
        P.EN_SLOTS,
        P.EN_JUNK,
        [4] * 13 + [3],
        n_exact=5,
        rates=[0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10],
        lex=EN_EDITS,
        ngrams=word_ngrams,
        domains=EN_DOMAINS,
        variant_index=2,
    )
    # The two deliberately malformed lines.
    bad1 = dumps(
        {
            "id": "en-bad-1",
            "text": P.EN_BAD_TRUNCATED_TEXT,
            "url": "https://news.example.net/garden/plant-sale",
            "date": rand_date(rng),
        }
    )
    cut = bad1.index('"text": "') + len('"text": "') + 97
    assert bad1[cut - 1] not in '\\"'
    bad1 = bad1[:cut] + "\n"  # cut off mid-string: no closing quote or brace
    bad2 = dumps(
        {
            "id": "en-bad-2",
            "url": "https://www.example.org/notices/recycling-hours",
            "date": rand_date(rng),
            "body": P.EN_BAD_NO_TEXT_BODY,
        }
    )
    for line_no, bad in sorted([(EN_BAD_LINES["truncated"], bad1), (EN_BAD_LINES["no_text"], bad2)]):
        lines.insert(line_no - 1, bad)
    return "".join(lines).encode("utf-8"), records


def build_ko_web(rng):
    # 9 topics x 4 documents = 36 good documents.
    lines, records = build_web(
        rng,
        "ko",
        P.KO_TOPICS,
        P.KO_SLOTS,
        P.KO_JUNK,
        [4],
        n_exact=3,
        rates=[0.02, 0.04, 0.06, 0.08, 0.10],
        lex=KO_EDITS,
        ngrams=char_ngrams,
        domains=KO_DOMAINS,
        variant_index=1,
    )
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write("".join(lines).encode("utf-8"))
    return buf.getvalue(), records


def build_seeds(seeds) -> bytes:
    out = []
    for i, (name, instruction, inp, output, is_cls) in enumerate(seeds):
        out.append(
            dumps(
                {
                    "id": f"seed_task_{i}",
                    "name": name,
                    "instruction": instruction,
                    "instances": [{"input": inp, "output": output}],
                    "is_classification": is_cls,
                }
            )
        )
    return "".join(out).encode("utf-8")


def build_pairs() -> bytes:
    out = []
    for prompt, chosen, rejected in P.PREFERENCES:
        out.append(
            dumps(
                {
                    "prompt": [{"role": r, "content": c} for r, c in prompt],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
            )
        )
    return "".join(out).encode("utf-8")


def _dup_lines(records, unit, grams, variant_note):
    by_group = {r["group"]: r["id"] for r in records if r["kind"] == "good"}
    out = []
    for r in records:
        if r["kind"] == "exact":
            note = f" ({variant_note})" if r["variant"] else ""
            out.append(f"- `{r['id']}` = exact copy of `{by_group[r['group']]}`{note}")
        elif r["kind"] == "near":
            out.append(
                f"- `{r['id']}` ~ `{by_group[r['group']]}`: {r['edits']} {unit} edits "
                f"(target {r['rate']:.0%}), {grams} Jaccard {r['jaccard']:.2f}"
            )
    return "\n".join(out)


def _junk_list(records):
    return ", ".join(f"`{r['id']}` {r['label']}" for r in records if r["kind"] == "junk")


def build_readme(en, ko) -> bytes:
    def count(records, kind):
        return sum(r["kind"] == kind for r in records)

    t, nt = EN_BAD_LINES["truncated"], EN_BAD_LINES["no_text"]
    text = f"""# sample_data

Small, original sample files for trying out and testing `curate`. Every text in
this folder was written by this project: hand-authored sentence and paragraph
pools in `_pools.py` are composed into documents by `make_sample_data.py`
(standard library only, `random.Random({SEED})`; the crawl is written with warcio,
a curate dependency). Nothing is copied from any
dataset, and all URLs use the reserved `example.com` / `example.org` /
`example.net` domains.

Regenerate (byte-identical every time) from the repository root:

    python sample_data/make_sample_data.py

The script rewrites every file listed below, including this README, then
re-reads them and runs self-checks: valid JSON except the two planted bad
lines, unique ids, pairwise word-5-gram Jaccard < {MAX_ACCIDENTAL_JACCARD} for every pair
that is not a planted duplicate, planted near-duplicates between
{NEAR_DUP_BAND[0]} and {NEAR_DUP_BAND[1]} Jaccard with their original (word 5-grams for
English, character 5-grams for Korean; Korean documents must also stay below
{MAX_ACCIDENTAL_JACCARD} on character 5-grams), and a folder size under {SIZE_LIMIT // 1024} KiB, both in file
bytes and as 4 KiB blocks on disk (bytecode caches excluded).
Do not edit the data files by hand; change the pools or the script and rerun.

## Files

| file | rows | what it is |
|---|---|---|
| `{EN_WEB}` | {len(en) + 2} lines | English web-like documents `{{id, text, url, date}}` |
| `{KO_WEB}` | {len(ko)} lines | Korean web-like documents, same fields, gzip (mtime 0) |
| `{EN_SEEDS}` | {len(P.EN_SEEDS)} | English seed tasks, Stanford Alpaca seed-task format |
| `{KO_SEEDS}` | {len(P.KO_SEEDS)} | Korean seed tasks, same format |
| `{PAIRS}` | {len(P.PREFERENCES)} | preference pairs `{{prompt, chosen, rejected}}` as chat messages |
| `{CRAWL}` | {CRAWL_EN + CRAWL_KO + 5} responses | the first {CRAWL_EN} English and {CRAWL_KO} Korean web documents as HTML pages in one WARC |
| `{URL_BLOCKLIST}` | 1 | a URL blocklist in UT1's format, naming the crawl's spam host |
| `_pools.py` | - | the hand-written text pools |
| `_warc.py` | - | the crawl's pages and records |
| `make_sample_data.py` | - | the generator and self-checks |

### `{EN_WEB}` ({len(en) + 2} lines)

- {count(en, "good")} good documents: multi-paragraph articles, blog posts, how-tos and
  news pieces over {len(P.EN_TOPICS)} topics ({", ".join(P.EN_TOPICS)}), 120-400 words,
  paragraphs separated by a blank line.
- {count(en, "junk")} junk documents: navigation menus, footers, cookie/privacy notices, SEO
  keyword spam, link lists, repeated lines, price-only product listings, lorem
  ipsum, 3-8 word fragments, symbol/number soup, ALL CAPS shouting, one
  whitespace-only text and one empty string.
- {count(en, "exact")} exact duplicates and {count(en, "near")} near duplicates of good documents
  (new id and url, placed after their original). Near duplicates have 1-10% of
  their words substituted, inserted or deleted.
- 2 deliberately malformed lines, kept to demonstrate quarantine of unreadable
  records into `rejected/`:
  - line {t}: a valid record (`en-bad-1`) truncated mid-string, with no closing
    quote or brace (the line still ends with a newline);
  - line {nt}: valid JSON (`en-bad-2`) that has no `text` field (its content is under `body`).

  Ids `en-0001` ... `en-{len(en):04d}` number the {len(en)} regular records in file order, so
  from line {t} on the line number and the id number no longer match.

Junk ids: {_junk_list(en)}.

Planted duplicates:
{_dup_lines(en, "word", "word 5-gram", "differs only in whitespace and case")}

### `{KO_WEB}` ({len(ko)} lines, no bad lines)

- {count(ko, "good")} good documents in natural Korean over {len(P.KO_TOPICS)} everyday topics
  ({", ".join(P.KO_TOPICS)}), 80-250 eojeol each.
- {count(ko, "junk")} junk documents: 메뉴/푸터 boilerplate, 쿠키 notice, 광고 spam, repeated
  lines, 'ㅋㅋㅋㅋ' noise, a whitespace-only text, a short fragment, symbols and
  numbers, a price list and a login wall.
- {count(ko, "exact")} exact duplicates and {count(ko, "near")} near duplicates (1-10% of eojeol edited;
  similarity to the original measured on character 5-grams), placed after
  their original.

Junk ids: {_junk_list(ko)}.

Planted duplicates:
{_dup_lines(ko, "eojeol", "character 5-gram", "differs only in whitespace")}

### `{CRAWL}`

What `curate extract` starts from (`make demo`). Each page wraps its document in a site's
boilerplate (cookie banner, menu, sidebar, a footer with an e-mail address and phone
numbers), so the extracted text should be the document's paragraphs; every third page ends with its author's e-mail address and phone number, for the PII step.
Half the Korean pages are EUC-KR with the charset named only by `<meta http-equiv>`. Also:
request records (every tenth page), two spam pages on `{_warc.BLOCKED_HOST}` (in
`{URL_BLOCKLIST}`), a robots.txt (`text/plain`), a PDF and a page with no text. Record ids
(UUID 5 of the URL) and dates are fixed, so the bytes are the same on every run.

### Seed tasks

`{{"id": "seed_task_N", "name", "instruction", "instances": [{{"input", "output"}}], "is_classification"}}`.
English: {len(P.EN_SEEDS)} tasks, {sum(s[4] for s in P.EN_SEEDS)} classification, {sum(not s[2] for s in P.EN_SEEDS)} with empty input.
Korean: {len(P.KO_SEEDS)} tasks, {sum(s[4] for s in P.KO_SEEDS)} classification, {sum(not s[2] for s in P.KO_SEEDS)} with empty input.

### Preference pairs

{len(P.PREFERENCES)} pairs ({sum(not _has_hangul(p[0][0][1]) for p in P.PREFERENCES)} English, {sum(_has_hangul(p[0][0][1]) for p in P.PREFERENCES)} Korean), {sum(len(p[0]) > 1 for p in P.PREFERENCES)} of them with a
multi-turn prompt (user / assistant / user). `chosen` is helpful, correct and
polite; `rejected` is wrong, rude, unhelpful or evasive.
"""
    return text.encode("utf-8")


def _has_hangul(s: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in s)


def build_all():
    rng = random.Random(SEED)
    en_bytes, en_records = build_en_web(rng)
    ko_bytes, ko_records = build_ko_web(rng)
    files = {
        EN_WEB: en_bytes,
        KO_WEB: ko_bytes,
        EN_SEEDS: build_seeds(P.EN_SEEDS),
        KO_SEEDS: build_seeds(P.KO_SEEDS),
        PAIRS: build_pairs(),
        CRAWL: _warc.build_warc(en_records[:CRAWL_EN], ko_records[:CRAWL_KO], [text for _, text in P.EN_JUNK[:2]]),
        URL_BLOCKLIST: f"# one domain, host or URL a line (UT1 lists' format)\n{_warc.BLOCKED_HOST}\n".encode(),
    }
    files[README] = build_readme(en_records, ko_records)
    return files, en_records, ko_records


# Self-checks (run against the files as written on disk)


def check_records(lines, records, lang, bad_lines=None):
    bad_lines = bad_lines or {}
    assert len(lines) == len(records) + len(bad_lines), (len(lines), len(records))
    parsed = []
    for no, line in enumerate(lines, 1):
        if bad_lines.get("truncated") == no:
            try:
                json.loads(line)
            except json.JSONDecodeError:
                continue
            raise AssertionError(f"line {no} should be truncated JSON")
        obj = json.loads(line)  # every other line must be valid JSON
        if bad_lines.get("no_text") == no:
            assert isinstance(obj, dict) and "text" not in obj, f"line {no} must lack 'text'"
            continue
        assert set(obj) == {"id", "text", "url", "date"}, obj.keys()
        assert isinstance(obj["text"], str)
        dt.date.fromisoformat(obj["date"])
        host = urlsplit(obj["url"]).hostname or ""
        assert host.endswith(ALLOWED_HOST_SUFFIXES), obj["url"]
        parsed.append(obj)
    ids = [o["id"] for o in parsed] + [f"{lang}-bad-{i}" for i in range(1, len(bad_lines) + 1)]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert len({o["url"] for o in parsed}) == len(parsed), "duplicate urls"
    for obj, rec in zip(parsed, records):
        assert obj["id"] == rec["id"] and obj["text"] == rec["text"]
    return parsed


def check_web(records, length_range, near_ngrams, extra_ngrams=None):
    by_group = {r["group"]: r for r in records if r["kind"] == "good"}
    for r in records:
        if r["kind"] == "good":
            n = len(r["text"].split())
            assert length_range[0] <= n <= length_range[1], (r["id"], n)
            paras = r["text"].split("\n\n")
            assert len(paras) >= 2, r["id"]
            assert all(p.rstrip()[-1:] in ".!?" for p in paras), r["id"]
        elif r["kind"] == "exact":
            orig = by_group[r["group"]]["text"]
            if r["variant"]:
                assert r["text"] != orig
                assert " ".join(r["text"].lower().split()) == " ".join(orig.lower().split())
            else:
                assert r["text"] == orig
        elif r["kind"] == "near":
            sim = jaccard(near_ngrams(r["text"]), near_ngrams(by_group[r["group"]]["text"]))
            assert NEAR_DUP_BAND[0] <= sim <= NEAR_DUP_BAND[1], (r["id"], sim)
            n = len(by_group[r["group"]]["text"].split())
            assert 0.01 <= r["edits"] / n <= 0.10, (r["id"], r["edits"], n)
    grams = [word_ngrams(r["text"]) for r in records]
    worst = 0.0
    for (i, a), (j, b) in combinations(enumerate(records), 2):
        if a["group"] is not None and a["group"] == b["group"]:
            continue  # planted pair
        sim = jaccard(grams[i], grams[j])
        assert sim < MAX_ACCIDENTAL_JACCARD, (a["id"], b["id"], sim)
        worst = max(worst, sim)
    worst_extra = 0.0
    if extra_ngrams is not None:  # Korean: the same bound on character 5-grams
        grams = [extra_ngrams(r["text"]) for r in records]
        for (i, a), (j, b) in combinations(enumerate(records), 2):
            if a["group"] is None or a["group"] != b["group"]:
                sim = jaccard(grams[i], grams[j])
                assert sim < MAX_ACCIDENTAL_JACCARD, (a["id"], b["id"], sim)
                worst_extra = max(worst_extra, sim)
    return worst, worst_extra


def check_seeds(data: bytes, expected, n_cls):
    rows = [json.loads(l) for l in data.decode("utf-8").splitlines()]
    assert len(rows) == expected
    for i, r in enumerate(rows):
        assert list(r) == ["id", "name", "instruction", "instances", "is_classification"]
        assert r["id"] == f"seed_task_{i}" and r["instruction"] and r["instances"]
        assert all(set(x) == {"input", "output"} and x["output"] for x in r["instances"])
    assert sum(r["is_classification"] for r in rows) == n_cls
    assert any(r["instances"][0]["input"] == "" for r in rows)
    return rows


def check_pairs(data: bytes):
    rows = [json.loads(l) for l in data.decode("utf-8").splitlines()]
    assert len(rows) == 16
    ko = sum(_has_hangul(r["prompt"][0]["content"]) for r in rows)
    assert (len(rows) - ko, ko) == (10, 6)
    assert sum(len(r["prompt"]) == 3 for r in rows) == 3
    for r in rows:
        roles = [m["role"] for m in r["prompt"]]
        assert roles in (["user"], ["user", "assistant", "user"]), roles
        assert [m["role"] for m in r["chosen"]] == ["assistant"] == [m["role"] for m in r["rejected"]]
        assert r["chosen"][0]["content"] != r["rejected"][0]["content"]
    return rows


def folder_size(root: str) -> tuple[int, int]:
    """(bytes, estimated bytes on disk with 4 KiB blocks) of sample_data/.

    Bytecode caches are not part of the data and are skipped.
    """
    size, disk = 0, 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        disk += 4096
        for f in filenames:
            if not f.endswith(".pyc"):
                n = os.path.getsize(os.path.join(dirpath, f))
                size, disk = size + n, disk + -(-n // 4096) * 4096
    return size, disk


def main() -> int:
    files, en_records, ko_records = build_all()
    again, _, _ = build_all()
    assert files == again, "generation is not deterministic"

    for rel, data in files.items():
        path = os.path.join(HERE, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)

    def read(rel):
        with open(os.path.join(HERE, rel), "rb") as fh:
            return fh.read()

    # English web
    en_raw = read(EN_WEB)
    assert en_raw.endswith(b"\n")
    en_lines = en_raw.decode("utf-8").splitlines()
    check_records(en_lines, en_records, "en", EN_BAD_LINES)
    assert len(en_lines) // 4 < min(EN_BAD_LINES.values()) < max(EN_BAD_LINES.values()) < 3 * len(en_lines) // 4
    en_worst, _ = check_web(en_records, (120, 400), word_ngrams)

    # Korean web
    ko_gz = read(KO_WEB)
    assert ko_gz[4:8] == b"\0\0\0\0", "gzip mtime must be 0"
    ko_lines = gzip.decompress(ko_gz).decode("utf-8").splitlines()
    check_records(ko_lines, ko_records, "ko")
    ko_worst, ko_worst_char = check_web(ko_records, (80, 250), char_ngrams, extra_ngrams=char_ngrams)

    en_seeds = check_seeds(read(EN_SEEDS), 12, 3)
    ko_seeds = check_seeds(read(KO_SEEDS), 10, 3)
    pairs = check_pairs(read(PAIRS))

    size, disk = folder_size(HERE)
    assert size < SIZE_LIMIT and disk < SIZE_LIMIT, (size, disk, SIZE_LIMIT)

    def kinds(records):
        return ", ".join(f"{sum(r['kind'] == k for r in records)} {k}" for k in ("good", "junk", "exact", "near"))

    def line(rel, desc):
        print(f"{rel:38s} {len(files[rel]):7d} B  {desc}")

    line(
        EN_WEB,
        f"{len(en_lines)} lines: {kinds(en_records)}, 2 bad (lines "
        f"{EN_BAD_LINES['truncated']}, {EN_BAD_LINES['no_text']}); max accidental 5-gram J {en_worst:.3f}",
    )
    line(
        KO_WEB,
        f"{len(ko_lines)} lines: {kinds(ko_records)}; max accidental J word {ko_worst:.3f} / char {ko_worst_char:.3f}",
    )
    line(EN_SEEDS, f"{len(en_seeds)} seed tasks, {sum(r['is_classification'] for r in en_seeds)} classification")
    line(KO_SEEDS, f"{len(ko_seeds)} seed tasks, {sum(r['is_classification'] for r in ko_seeds)} classification")
    line(PAIRS, f"{len(pairs)} pairs, {sum(len(r['prompt']) > 1 for r in pairs)} multi-turn")
    line(README, "documentation")
    print(
        f"all self-checks passed; sample_data/ holds {size} bytes, ~{disk // 1024} KiB on disk "
        f"(limit {SIZE_LIMIT // 1024} KiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
