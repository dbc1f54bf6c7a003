"""`curate dedup`: what it rejects, what it keeps, its report, resume and worker independence."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.corpus.dedup import decisions
from curate.corpus.dedup.clusters import jaccard
from curate.corpus.dedup.command import dedup_corpus
from curate.corpus.dedup.hashing import MinHashSettings, character_mode, hash_texts
from curate.corpus.dedup.settings import DedupSettings
from curate.errors import UserError
from curate.io.readers import ReaderOptions
from curate.io.writer import WriterOptions

SHARED_WEB = Path(__file__).resolve().parents[2] / "shared" / "data" / "web"
needs_shared = pytest.mark.skipif(not SHARED_WEB.is_dir(), reason="../shared/data/web is absent (real web text)")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def _run(inputs, output: Path, settings: DedupSettings | None = None, workers: int = 1, **kwargs):
    return dedup_corpus(
        [str(item) for item in (inputs if isinstance(inputs, list) else [inputs])],
        output,
        settings or DedupSettings(),
        options={"test": True},
        command_line="test",
        workers=workers,
        progress=False,
        **kwargs,
    )


def _rows(folder: Path, sub: str) -> list[dict]:
    tables = [pq.read_table(path) for path in sorted((folder / sub).glob("*.parquet"))]
    return pa.concat_tables(tables, promote_options="default").to_pylist() if tables else []


def _shingle_sets(texts: list[str]) -> list[np.ndarray]:
    hashes = hash_texts(texts, character_mode(None, "en", len(texts)), MinHashSettings(), shingles=True)
    return np.split(hashes.shingles, np.cumsum(hashes.shingle_counts)[:-1])


def _clusters_of(output: Path) -> dict[str, str]:
    """Every document id -> the id its cluster kept (following exact copies to their cluster)."""
    duplicate_of = {row["id"]: row["duplicate_of"] for row in _rows(output, "rejected") if row["duplicate_of"]}
    root = {}
    for row in _rows(output, "data") + _rows(output, "rejected"):
        node = row["id"]
        while node in duplicate_of and duplicate_of[node] != node:
            node = duplicate_of[node]
        root[row["id"]] = node
    return root


def _edit(words: list[str], share: float, rng: random.Random, vocabulary: list[str]) -> list[str]:
    """Change, insert or delete about `share` of the words."""
    words = list(words)
    for _ in range(max(1, round(len(words) * share))):
        action, position = rng.choice("cid"), rng.randrange(len(words))
        if action == "c":
            words[position] = rng.choice(vocabulary)
        elif action == "i":
            words.insert(position, rng.choice(vocabulary))
        elif len(words) > 1:
            del words[position]
    return words


def _planted_corpus(texts: list[str], seed: int = 0) -> list[dict]:
    """Each text and a copy of it with 1-10% of its words changed, inserted or deleted, shuffled."""
    rng = random.Random(seed)
    vocabulary = sorted({word for text in texts for word in text.split()})
    rows = []
    for family, text in enumerate(texts):
        rows.append({"id": f"f{family}-0", "text": text})
        edited = _edit(text.split(), rng.uniform(0.01, 0.10), rng, vocabulary)
        rows.append({"id": f"f{family}-1", "text": " ".join(edited)})
    rng.shuffle(rows)
    return rows


def _recall_and_merges(rows: list[dict], root: dict[str, str]) -> tuple[float, float, float, list[float]]:
    """Recall of pairs with Jaccard >= 0.8, precision of merged pairs at >= 0.5, and merged pairs' Jaccards."""
    sets = dict(zip([row["id"] for row in rows], _shingle_sets([row["text"] for row in rows])))
    families: dict[str, list[str]] = {}
    for row in rows:
        families.setdefault(row["id"].split("-")[0], []).append(row["id"])
    similar = found = 0
    for members in families.values():
        for a, b in itertools.combinations(members, 2):
            if jaccard(sets[a], sets[b]) >= 0.8:
                similar += 1
                found += root[a] == root[b]
    merged = [jaccard(sets[doc], sets[kept]) for doc, kept in root.items() if doc != kept]
    precision = float(np.mean([value >= 0.5 for value in merged])) if merged else 1.0
    return found / max(similar, 1), precision, similar, merged


@needs_shared
def test_planted_near_duplicates_are_found_and_dissimilar_pairs_never_merged(tmp_path):
    texts = [json.loads(line)["text"] for line in (SHARED_WEB / "dclm_quality_labeled.jsonl").open(encoding="utf-8")]
    texts = [text for text in texts if len(text.split()) >= 80]
    rows = _planted_corpus(texts)
    _run(_write_jsonl(tmp_path / "planted.jsonl", rows), tmp_path / "out")
    recall, precision, similar, merged = _recall_and_merges(rows, _clusters_of(tmp_path / "out"))
    print(
        f"planted: {len(rows)} docs, {similar} pairs with Jaccard >= 0.8: recall {recall:.3f}; "
        f"{len(merged)} merged pairs, precision (Jaccard >= 0.5) {precision:.3f}, lowest Jaccard {min(merged):.3f}"
    )
    assert similar > 60
    assert recall >= 0.95
    assert min(merged) >= 0.5


@needs_shared
def test_chains_of_copies_never_make_a_document_stand_for_an_unlike_one(tmp_path):
    """Copies of copies: A like B and B like C must not reject C in favour of an unlike A."""
    texts = [json.loads(line)["text"] for line in (SHARED_WEB / "dclm_quality_labeled.jsonl").open(encoding="utf-8")]
    rng = random.Random(11)
    rows = []
    for family, text in enumerate(text for text in texts if len(text.split()) >= 80):
        words = text.split()
        for copy in range(4):  # each copy edits the one before by 2-5%
            rows.append({"id": f"f{family}-{copy}", "text": " ".join(words)})
            words = _edit(words, rng.uniform(0.02, 0.05), rng, words)
    rng.shuffle(rows)
    _run(_write_jsonl(tmp_path / "chains.jsonl", rows), tmp_path / "out")
    _, precision, _, merged = _recall_and_merges(rows, _clusters_of(tmp_path / "out"))
    print(f"chains: {len(rows)} docs, {len(merged)} rejected, lowest Jaccard to the kept document {min(merged):.3f}")
    assert len(merged) > len(rows) // 4
    assert min(merged) >= 0.5


@needs_shared
def test_near_duplicates_demo(tmp_path):
    source = SHARED_WEB / "duplicates" / "near_duplicates_demo.jsonl"
    texts = [json.loads(line)["text"] for line in source.open(encoding="utf-8")]
    result = _run(source, tmp_path / "out")
    assert result.manifest["counts"]["in"] == 14
    rejected = _rows(tmp_path / "out", "rejected")
    by_reason = {
        reason: sum(row["reason"] == reason for row in rejected) for reason in ("exact_duplicate", "near_duplicate")
    }
    # the two copies of the LLM sentence are exact; the Smithfield and the Chinese texts are near copies
    assert by_reason == {"exact_duplicate": 1, "near_duplicate": 3}
    sets = _shingle_sets(texts)
    root = _clusters_of(tmp_path / "out")
    ids = [row["id"] for row in _rows(tmp_path / "out", "data") + rejected]
    order = {doc: position for position, doc in enumerate(ids)}
    # every pair at Jaccard >= 0.8 ends in one cluster, no pair under 0.5 does
    kept_text = {row["id"]: row["text"] for row in _rows(tmp_path / "out", "data") + rejected}
    by_text = {text: n for n, text in enumerate(texts)}
    for doc, kept in root.items():
        if doc != kept:
            assert jaccard(sets[by_text[kept_text[doc]]], sets[by_text[kept_text[kept]]]) >= 0.5
    for a, b in itertools.combinations(range(len(texts)), 2):
        if jaccard(sets[a], sets[b]) >= 0.8:
            ids_a = [doc for doc in order if kept_text[doc] == texts[a]]
            ids_b = [doc for doc in order if kept_text[doc] == texts[b]]
            assert root[ids_a[0]] == root[ids_b[0]]


def test_exact_duplicates_point_to_the_first_copy(tmp_path):
    rows = [
        {"id": "a", "text": "The cat sat on the mat today."},
        {"id": "b", "text": "Something else entirely, with other words in it."},
        {"id": "c", "text": "the CAT sat   on the mat today."},
        {"id": "d", "text": "The cat sat on the mat today. "},
    ]
    result = _run(_write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out")
    assert [row["id"] for row in _rows(tmp_path / "out", "data")] == ["a", "b"]
    rejected = _rows(tmp_path / "out", "rejected")
    assert [(row["id"], row["reason"], row["duplicate_of"], row["cluster_size"]) for row in rejected] == [
        ("c", "exact_duplicate", "a", 3),
        ("d", "exact_duplicate", "a", 3),
    ]
    assert rejected[0]["text"] == "the CAT sat   on the mat today."  # rejected rows keep their text as it was
    assert result.manifest["counts"]["by_reason"] == {"exact_duplicate": 2}


def _family(base: str, copies: int) -> list[str]:
    words = base.split()
    return [" ".join(words[:position] + ["changed"] + words[position + 1 :]) for position in range(1, copies + 1)]


BASE = " ".join(
    "".join(random.Random(n).choices("abcdefghij", k=6)) for n in range(200)
)  # no digits: a digit run counts as 0


def test_keep_longest_and_highest_column(tmp_path):
    texts = _family(BASE, 3)
    texts[1] += " and a longer ending here"
    rows = [
        {"id": f"d{n}", "text": text, "score": score} for n, (text, score) in enumerate(zip(texts, [0.1, 0.2, 0.9]))
    ]
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    for keep, expected in (("first", "d0"), ("longest", "d1"), ("highest:score", "d2")):
        _run(source, tmp_path / keep.replace(":", "_"), DedupSettings(keep=keep))
        assert [row["id"] for row in _rows(tmp_path / keep.replace(":", "_"), "data")] == [expected]
        rejected = _rows(tmp_path / keep.replace(":", "_"), "rejected")
        assert {row["duplicate_of"] for row in rejected} == {expected}
        assert {row["cluster_size"] for row in rejected} == {3}
    with pytest.raises(UserError, match="no column 'missing'"):
        _run(source, tmp_path / "bad", DedupSettings(keep="highest:missing"))
    with pytest.raises(UserError, match="first, longest or highest"):
        DedupSettings(keep="best")
    with pytest.raises(UserError, match="one language code"):
        DedupSettings(language="en,ko")


def test_verify_drops_candidate_pairs_below_the_threshold(tmp_path):
    texts = _family(BASE, 4)
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": f"d{n}", "text": text} for n, text in enumerate(texts)])
    _run(source, tmp_path / "plain")
    assert len(_rows(tmp_path / "plain", "data")) == 1
    strict = DedupSettings(verify=True, threshold=0.999)
    result = _run(source, tmp_path / "strict", strict)
    assert len(_rows(tmp_path / "strict", "data")) == 4
    assert result.manifest["counts"]["rejected"] == 0
    report = json.loads((tmp_path / "strict" / "report.json").read_text())
    assert report["stages"][1]["settings"]["result"]["pairs_below_threshold"] > 0


def test_lines_seen_more_than_k_times_are_cut(tmp_path):
    boilerplate = "Subscribe to our newsletter"
    rows = [
        {"id": f"d{n}", "text": f"Unique story number {n} about topic {n * 7}.\n{boilerplate}\nMore on item {n}."}
        for n in range(5)
    ]
    rows.append({"id": "only", "text": f"{boilerplate}\n\n{boilerplate.upper()}  "})
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    result = _run(source, tmp_path / "out", DedupSettings(exact=False, minhash=False, lines=True, line_threshold=3))
    kept = _rows(tmp_path / "out", "data")
    assert [row["id"] for row in kept] == [f"d{n}" for n in range(5)]
    assert all(boilerplate not in row["text"] for row in kept)
    assert kept[0]["text"] == "Unique story number 0 about topic 0.\nMore on item 0."
    rejected = _rows(tmp_path / "out", "rejected")
    assert [(row["id"], row["reason"], row["text"]) for row in rejected] == [
        ("only", "line_duplicate", rows[-1]["text"])
    ]
    counters = json.loads((tmp_path / "out" / "report.json").read_text())["stages"][1]["counters"]
    assert counters["lines_removed"] == 7 and counters["docs_with_lines_removed"] == 6
    assert "frequent lines cut: 7 (" in (tmp_path / "out" / "report.md").read_text()
    assert result.manifest["counts"]["kept"] == 5


def test_copies_removed_by_exact_dedup_do_not_make_their_lines_frequent(tmp_path):
    rows = [{"id": f"c{n}", "text": "The same short comment"} for n in range(6)]
    rows += [{"id": "other", "text": "Something else\nThe same short comment"}]
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    _run(source, tmp_path / "out", DedupSettings(minhash=False, lines=True, line_threshold=2))
    # Among the documents exact dedup keeps, the line is seen twice, not more than 2: it
    # stays. Counted over all seven it would have emptied c0, the one copy kept.
    kept = _rows(tmp_path / "out", "data")
    assert [(row["id"], row["text"]) for row in kept] == [("c0", rows[0]["text"]), ("other", rows[-1]["text"])]
    assert {row["reason"] for row in _rows(tmp_path / "out", "rejected")} == {"exact_duplicate"}


def _corpus_files(tmp_path: Path) -> list[Path]:
    rng = random.Random(5)
    families = [
        " ".join(
            rng.choice(["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]) + str(rng.randrange(500))
            for _ in range(120)
        )
        for _ in range(30)
    ]
    rows = [
        {"id": f"r{n}", "text": text}
        for n, text in enumerate(t for base in families for t in [base, *_family(base, 2)])
    ]
    rng.shuffle(rows)
    return [_write_jsonl(tmp_path / "in" / f"part-{part}.jsonl", rows[part::4]) for part in range(4)]


def _shard_bytes(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.glob("*/*.parquet"))}


def test_output_bytes_do_not_depend_on_workers(tmp_path):
    files = _corpus_files(tmp_path)
    one = _run([tmp_path / "in"], tmp_path / "one", workers=1, writer=WriterOptions(max_rows=25))
    two = _run([tmp_path / "in"], tmp_path / "two", workers=2, writer=WriterOptions(max_rows=25))
    assert len(files) == 4
    assert one.manifest["counts"] == two.manifest["counts"]
    assert one.manifest["counts"]["by_reason"]["near_duplicate"] == 60
    assert _shard_bytes(tmp_path / "one") == _shard_bytes(tmp_path / "two")


def test_a_run_killed_in_any_pass_resumes_to_the_same_bytes(tmp_path, monkeypatch):
    _corpus_files(tmp_path)
    clean = _run([tmp_path / "in"], tmp_path / "clean", reader=ReaderOptions(batch_rows=10))

    # killed while clustering: the hashed files are kept and not hashed again
    calls = []
    original_decide = decisions.decide
    monkeypatch.setattr(decisions, "decide", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _run([tmp_path / "in"], tmp_path / "out", reader=ReaderOptions(batch_rows=10))
    monkeypatch.setattr(decisions, "decide", original_decide)
    import curate.corpus.dedup.features as features

    original_hash = features.hash_file
    monkeypatch.setattr(
        "curate.corpus.dedup.command.hash_file", lambda task: calls.append(task.index) or original_hash(task)
    )

    # killed while writing the third input's rows
    from curate.corpus.dedup.removal import DuplicateRemoval

    original_start = DuplicateRemoval.start_task

    def failing_start(self, index):
        if index == 2:
            raise KeyboardInterrupt()
        original_start(self, index)

    monkeypatch.setattr(DuplicateRemoval, "start_task", failing_start)
    with pytest.raises(KeyboardInterrupt):
        _run([tmp_path / "in"], tmp_path / "out", reader=ReaderOptions(batch_rows=10))
    monkeypatch.setattr(DuplicateRemoval, "start_task", original_start)
    resumed = _run([tmp_path / "in"], tmp_path / "out", reader=ReaderOptions(batch_rows=10))
    assert calls == []
    assert resumed.manifest["timings"]["resumed_tasks"] == 2
    assert _shard_bytes(tmp_path / "out") == _shard_bytes(tmp_path / "clean")
    assert not (tmp_path / "out" / ".curate").exists()
    assert clean.manifest["counts"] == resumed.manifest["counts"]


def test_cli_report_and_errors(tmp_path):
    files = _corpus_files(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["dedup", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "near_duplicate 60" in result.output
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Duplicates" in report and "largest clusters" in report and "| `r" in report
    assert (tmp_path / "out" / "cluster_sizes.png").is_file()
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["counts"]["in"] == manifest["counts"]["kept"] + manifest["counts"]["rejected"] == 90

    bad = runner.invoke(cli, ["dedup", str(files[0]), "-o", str(tmp_path / "bad"), "--bands", "20", "--rows", "8"])
    assert bad.exit_code == 2 and "needs 160 hash functions" in bad.output
    bad = runner.invoke(cli, ["dedup", str(files[0]), "-o", str(tmp_path / "bad"), "--keep", "highest:score"])
    assert bad.exit_code == 2 and "no column 'score'" in bad.output
    help_text = runner.invoke(cli, ["dedup", "--help"]).output
    assert "Examples:" in help_text and "--verify" in help_text
