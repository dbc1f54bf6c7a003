"""Keep/drop decisions of the four heuristic steps against datatrove 0.10 on real web documents.

Needs the dev extra (datatrove, and spaCy for its English words) and ../shared/data/web.
"""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import read_rows, run_cli, write_jsonl

STEPS = "gopher_repetition,gopher_quality,c4,fineweb"


def real_documents(web) -> list[dict]:
    sources = [web / "dclm_quality_labeled.jsonl", *sorted((web / "cc_en_head").glob("*.jsonl.gz"))]
    sources += sorted(web.glob("redpajama-*.jsonl")) + [
        web / "arxiv.jsonl",
        web / "duplicates" / "near_duplicates_demo.jsonl",
    ]
    texts = []
    for path in sources:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle if line.strip()]
    return [{"id": f"doc-{number}", "text": text} for number, text in enumerate(texts)]


def datatrove_reasons(documents: list[dict]) -> dict[str, str | None]:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    filters = [
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
    ]
    reasons = {}
    for record in documents:
        document = Document(text=record["text"], id=record["id"])
        reasons[record["id"]] = None
        for step, peer in zip(STEPS.split(","), filters):
            verdict = peer.filter(document)
            if verdict is not True:
                rule = verdict[1] if isinstance(verdict, tuple) else "dropped"
                reasons[record["id"]] = f"{step}:{rule.removeprefix('gopher_')}"
                break
    return reasons


def test_decisions_agree_with_datatrove_on_real_web_documents(shared_data, tmp_path):
    pytest.importorskip("datatrove", reason="the dev extra installs datatrove, the parity peer")
    pytest.importorskip("spacy", reason="datatrove's English words come from spaCy (dev extra)")
    documents = real_documents(shared_data / "web")
    assert len(documents) >= 500
    write_jsonl(tmp_path / "web.jsonl", documents)
    run_cli(
        "filter", tmp_path / "web.jsonl", "-o", tmp_path / "out", "--steps", STEPS, "--workers", "1", "--no-progress"
    )

    ours = {row["id"]: None for row in read_rows(tmp_path / "out")}
    ours.update({row["id"]: row["reason"] for row in read_rows(tmp_path / "out", "rejected")})
    theirs = datatrove_reasons(documents)
    differ = sorted(key for key in theirs if (theirs[key] is None) != (ours[key] is None))
    agreement = 1 - len(differ) / len(documents)
    print(f"\nkeep/drop agreement with datatrove 0.10 on {len(documents)} documents: {agreement:.2%}")
    assert agreement >= 0.995, (
        f"{len(differ)} decisions differ: {[(key, ours[key], theirs[key]) for key in differ[:10]]}"
    )
    same_rule = sum(ours[key] == theirs[key] for key in theirs)
    assert same_rule / len(documents) >= 0.99, "a dropped document should mostly be dropped for the same rule"
