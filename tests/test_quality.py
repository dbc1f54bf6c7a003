"""`curate quality train` and the `quality` step, measured on human-labelled DCLM pages."""

from __future__ import annotations

import json
import random

import pytest

from curate.corpus.filters import quality
from curate.corpus.filters.quality import QualityClassifier, TrainSettings, evaluate, quality_text, train_quality_model
from curate.errors import UserError
from tests.conftest import SHARED_DATA, manifest, read_rows, run_cli, write_jsonl

# small vectors and few buckets keep the test model at a few MB; accuracy is the same here
SMALL = ("--dim", "16", "--bucket", "100000")


@pytest.fixture(scope="module")
def dclm(tmp_path_factory):
    """An 80/20 split of dclm_quality_labeled.jsonl, and a model trained on the 80% by the CLI."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (the shared test data sits beside the checkout in CI)")
    rows = [json.loads(line) for line in (SHARED_DATA / "web/dclm_quality_labeled.jsonl").open(encoding="utf-8")]
    random.Random(7).shuffle(rows)
    cut = int(len(rows) * 0.8)
    train, held_out = rows[:cut], rows[cut:]
    folder = tmp_path_factory.mktemp("dclm")
    positive = write_jsonl(folder / "hq.jsonl", [{"text": row["text"]} for row in train if row["label"] == 1])
    negative = write_jsonl(folder / "lq.jsonl", [{"text": row["text"]} for row in train if row["label"] == 0])
    model = folder / "quality.bin"
    result = run_cli("quality", "train", "--positive", positive, "--negative", negative, "-o", model, *SMALL)
    return {"model": model, "held_out": held_out, "train": train, "output": result.output, "folder": folder}


def test_trained_classifier_beats_the_majority_class(dclm):
    held_out = dclm["held_out"]
    truth = [row["label"] == 1 for row in held_out]
    metrics = evaluate(QualityClassifier(str(dclm["model"])).scores([row["text"] for row in held_out]), truth)
    positives = sum(truth)
    baseline = max(positives, len(truth) - positives) / len(truth)
    summary = (
        f"dclm held-out ({len(truth)} docs): accuracy {metrics['accuracy']:.3f}, majority baseline {baseline:.3f}, "
        f"precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}, F1 {metrics['f1']:.3f}"
    )
    print("\n" + summary)
    assert metrics["majority_baseline"] == baseline
    assert metrics["accuracy"] >= baseline + 0.1, summary


def test_train_reports_metrics_and_sizes(dclm):
    report = json.loads((dclm["folder"] / "quality.bin.json").read_text())
    train = dclm["train"]
    assert report["labels"] == {"positive": "__label__hq", "negative": "__label__lq"}
    assert report["train"]["hq"] + report["test"]["hq"] == sum(row["label"] == 1 for row in train)
    assert report["train"]["lq"] + report["test"]["lq"] == sum(row["label"] == 0 for row in train)
    assert report["test"]["hq"] == round(0.1 * sum(row["label"] == 1 for row in train))  # --test-fraction 0.1
    assert set(report["metrics"]) >= {"accuracy", "precision", "recall", "f1", "majority_baseline"}
    assert report["settings"]["dim"] == 16 and report["settings"]["seed"] == 0
    assert f"accuracy {report['metrics']['accuracy']:.3f}" in dclm["output"]
    assert "F1" in dclm["output"] and "quality.bin.json" in dclm["output"]


def test_quality_step_scores_and_drops_low_scores(dclm, tmp_path):
    docs = [{"id": str(i), "text": row["text"]} for i, row in enumerate(dclm["held_out"][:30])]
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out"
    run_cli(
        "filter",
        source,
        "-o",
        out,
        "--steps",
        "quality",
        "--quality-model",
        dclm["model"],
        "--quality-threshold",
        "0.5",
        "--workers",
        "1",
    )
    kept, rejected = read_rows(out), read_rows(out, "rejected")
    assert len(kept) + len(rejected) == len(docs) and kept and rejected
    assert all(0.5 <= row["quality_score"] <= 1.0 for row in kept)
    assert all(0.0 <= row["quality_score"] < 0.5 for row in rejected)
    assert {row["reason"] for row in rejected} == {"quality:low_score"}
    # the same scores as the step computes directly
    direct = QualityClassifier(str(dclm["model"])).scores([doc["text"] for doc in docs])
    by_id = {row["id"]: row["quality_score"] for row in kept + rejected}
    assert [by_id[doc["id"]] for doc in docs] == pytest.approx(direct)
    assert manifest(out)["counts"]["by_reason"] == {"quality:low_score": len(rejected)}


def test_quality_applies_by_default_only_with_a_model(dclm, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": row["text"]} for row in dclm["held_out"][:5]])
    run_cli("filter", source, "-o", tmp_path / "with", "--quality-model", dclm["model"], "--workers", "1")
    names = [field["name"] for field in manifest(tmp_path / "with")["schema"]["data"]]
    assert "quality_score" in names
    assert quality.SPEC.applies({"quality_model": None}) is False


def test_quality_step_without_model_is_a_clear_error(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    result = run_cli("filter", source, "-o", tmp_path / "out", "--steps", "quality", expect=2)
    assert "the quality step needs a model: pass --quality-model" in result.output
    result = run_cli("filter", source, "-o", tmp_path / "out", "--quality-model", tmp_path / "q.bin", expect=2)
    assert f"--quality-model: {tmp_path / 'q.bin'} does not exist" in result.output


def test_wrong_positive_label_is_named(dclm, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    result = run_cli(
        "filter", source, "-o", tmp_path / "out", "--quality-model", dclm["model"], "--quality-label", "good", expect=2
    )
    assert "has no label 'good' (its labels: hq, lq)" in result.output


def test_training_is_reproducible_for_a_seed(tmp_path):
    positive = write_jsonl(
        tmp_path / "p.jsonl", [{"text": f"a fine long article number {i} about science"} for i in range(40)]
    )
    negative = write_jsonl(tmp_path / "n.jsonl", [{"text": f"BUY NOW cheap pills {i} click here"} for i in range(40)])
    settings = TrainSettings(dim=8, bucket=10_000, epochs=5)
    reports = [
        train_quality_model([str(positive)], [str(negative)], tmp_path / f"m{i}.bin", settings) for i in range(2)
    ]
    assert (tmp_path / "m0.bin").read_bytes() == (tmp_path / "m1.bin").read_bytes()
    assert reports[0]["metrics"] == reports[1]["metrics"]
    assert reports[0]["metrics"]["accuracy"] == 1.0
    assert reports[0]["test"] == {"hq": 4, "lq": 4}


def test_training_needs_documents_of_both_kinds(tmp_path):
    positive = write_jsonl(tmp_path / "p.jsonl", [{"text": "good"}])
    negative = write_jsonl(tmp_path / "n.jsonl", [{"text": "   \n"}])
    with pytest.raises(UserError, match=r"--negative: no document with text in .*n\.jsonl"):
        train_quality_model([str(positive)], [str(negative)], tmp_path / "m.bin")
    result = run_cli(
        "quality",
        "train",
        "--positive",
        positive,
        "--negative",
        tmp_path / "none.jsonl",
        "-o",
        tmp_path / "m.bin",
        expect=2,
    )
    assert "does not exist" in result.output


def test_one_preprocessing_for_training_and_scoring():
    assert quality_text("Hello\n\nWORLD\t x \r\n") == "hello world x"
    assert quality_text(None) == ""


def test_training_replaces_only_a_model_curate_made(tmp_path):
    docs = [{"text": f"document {i} about {'cats' if i % 2 else 'stock prices'} and more words"} for i in range(40)]
    positive = write_jsonl(tmp_path / "hq.jsonl", docs[::2])
    negative = write_jsonl(tmp_path / "lq.jsonl", docs[1::2])
    train = ("quality", "train", "--positive", positive, "--negative", negative, *SMALL)
    users = tmp_path / "mine.bin"
    users.write_bytes(b"the user's own file")
    result = run_cli(*train, "-o", users, expect=2)
    assert "cannot prove it made it" in result.output and users.read_bytes() == b"the user's own file"

    model = tmp_path / "quality.bin"
    run_cli(*train, "-o", model)
    run_cli(*train, "-o", model)  # curate's own model, proved by the hash in quality.bin.json: replaced
    model.write_bytes(model.read_bytes() + b"edited")  # no longer the bytes curate wrote
    run_cli(*train, "-o", model, expect=2)
    (tmp_path / "other.bin.json").write_text('{"model": "someone else"}')
    run_cli(*train, "-o", tmp_path / "other.bin", expect=2)
