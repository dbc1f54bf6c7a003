"""The `quality` step and its training: a fastText classifier of high- vs low-quality text.

A curate quality model has the labels `__label__hq` (positive: keep) and `__label__lq`.
`quality_text` is the one preprocessing used both to train and to score: whitespace
(newlines included) collapsed to single spaces, then lowercased.

The step adds `quality_score`, the probability of the positive label, and drops
documents scoring below --quality-threshold with reason `quality:low_score`.
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import click
import pyarrow as pa

from curate.corpus import fasttext_models
from curate.corpus.filters.spec import FilterSpec
from curate.errors import UserError
from curate.io.fingerprint import fingerprint
from curate.io.manifest import read_json, write_json_atomic
from curate.io.readers import ReaderOptions, read_file
from curate.io.schema import set_column
from curate.io.sources import expand_inputs, print_skipped
from curate.pipeline.step import Step, StepOutput, split_by_rule

POSITIVE = "hq"
NEGATIVE = "lq"
DEFAULT_THRESHOLD = 0.5


def quality_text(text: str | None) -> str:
    """The text as the quality classifier sees it, in training and in scoring."""
    return fasttext_models.one_line(text or "").lower()


class QualityClassifier(fasttext_models.LazyModel, Step):
    name = "quality"
    added_columns: ClassVar = {"quality_score": pa.float64()}

    def __init__(
        self,
        model_path: str,
        threshold: float = DEFAULT_THRESHOLD,
        label: str = POSITIVE,
        model_source: str | None = None,
    ) -> None:
        super().__init__(model_path, model_source)
        self.threshold = threshold
        self.label = f"__label__{label}"

    def describe(self) -> dict:
        return {"model": self.model_source, "label": self.label, "threshold": self.threshold}

    def scores(self, texts: list[str | None]) -> list[float]:
        """The probability of the positive label for each text."""
        labels, probabilities = self.model.predict(
            [quality_text(text) for text in texts], k=-1, on_unicode_error="replace"
        )
        scores = []
        for names, values in zip(labels, probabilities):
            scores.append(
                next(
                    (fasttext_models.probability(value) for name, value in zip(names, values) if name == self.label),
                    0.0,
                )
            )
        return scores

    def run(self, batch: pa.Table) -> StepOutput:
        scores = self.scores(batch.column("text").to_pylist())
        batch = set_column(batch, "quality_score", pa.array(scores, pa.float64()))
        return split_by_rule(self.name, batch, [None if score >= self.threshold else "low_score" for score in scores])


def build(params: dict) -> QualityClassifier:
    source = params.get("quality_model")
    if not source:
        raise UserError(
            "the quality step needs a model: pass --quality-model PATH_OR_URL (train one with `curate quality train`)"
        )
    path = fasttext_models.resolve_model(source, "--quality-model")
    label = params["quality_label"]
    known = fasttext_models.model_labels(path)
    if label not in known:
        raise UserError(
            f"--quality-model: {source} has no label '{label}' (its labels: {', '.join(known)}); "
            "pass --quality-label with the label of good documents"
        )
    return QualityClassifier(str(path), params["quality_threshold"], label, model_source=source)


SPEC = FilterSpec(
    name="quality",
    summary="fastText quality classifier (--quality-model): adds quality_score, drops low scores.",
    build=build,
    applies=lambda params: bool(params.get("quality_model")),
    options=[
        click.option(
            "--quality-model",
            default=None,
            metavar="PATH_OR_URL",
            help="quality: fastText classifier (from `curate quality train`); giving one turns the step on.",
        ),
        click.option(
            "--quality-threshold",
            type=click.FloatRange(0.0, 1.0),
            default=DEFAULT_THRESHOLD,
            show_default=True,
            help="quality: drop documents whose quality_score is below this (quality:low_score).",
        ),
        click.option(
            "--quality-label",
            default=POSITIVE,
            show_default=True,
            help="quality: the model's label of good documents (without __label__); quality_score is its probability.",
        ),
    ],
)


# ------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 25
    lr: float = 0.5
    word_ngrams: int = 2
    dim: int = 32
    min_count: int = 1
    test_fraction: float = 0.1
    seed: int = 0
    bucket: int = 500_000  # hashed word-bigram rows; the model file is about (words + bucket) * dim * 4 bytes
    threads: int = 1  # more threads train faster, but the model then differs from run to run


def read_texts(arguments: list[str], reader: ReaderOptions, input_format: str = "auto") -> list[str]:
    """The preprocessed, non-empty texts of the documents in these files, folders or globs."""
    texts = []
    inputs = expand_inputs(arguments, input_format)
    print_skipped(inputs.skipped)
    for item in inputs:
        for batch in read_file(item, reader):
            texts += [text for text in map(quality_text, batch.docs.column("text").to_pylist()) if text]
    return texts


def _split(texts: list[str], fraction: float, rng: random.Random) -> tuple[list[str], list[str]]:
    """Shuffled (train, held-out); each side keeps at least one text when there are two."""
    texts = texts[:]
    rng.shuffle(texts)
    held = round(len(texts) * fraction)
    if fraction > 0 and len(texts) > 1:
        held = min(max(held, 1), len(texts) - 1)
    return texts[held:], texts[:held]


def evaluate(scores: list[float], truth: list[bool], threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Precision, recall and F1 of the positive label, accuracy, and the majority-class baseline."""
    predicted = [score >= threshold for score in scores]
    tp = sum(p and t for p, t in zip(predicted, truth))
    fp = sum(p and not t for p, t in zip(predicted, truth))
    fn = sum(t and not p for p, t in zip(predicted, truth))
    n = len(truth)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    positives = sum(truth)
    return {
        "threshold": threshold,
        "accuracy": sum(p == t for p, t in zip(predicted, truth)) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "majority_baseline": max(positives, n - positives) / n if n else 0.0,
    }


def train_quality_model(
    positive: list[str],
    negative: list[str],
    output: Path,
    settings: TrainSettings | None = None,
    reader: ReaderOptions | None = None,
    input_format: str = "auto",
) -> dict:
    """Train a classifier into `output`, write `<output>.json`, and return that report."""
    settings, reader = settings or TrainSettings(), reader or ReaderOptions()
    if output.is_dir():
        raise UserError(f"-o: {output} is a folder; give the model file to write, e.g. {output / 'quality.bin'}")
    _check_replaceable(output)
    texts = {POSITIVE: read_texts(positive, reader, input_format), NEGATIVE: read_texts(negative, reader, input_format)}
    for label, option in ((POSITIVE, "--positive"), (NEGATIVE, "--negative")):
        if not texts[label]:
            raise UserError(
                f"{option}: no document with text in {', '.join(positive if label == POSITIVE else negative)}"
            )
    rng = random.Random(settings.seed)
    train, test = {}, {}
    for label in (POSITIVE, NEGATIVE):
        train[label], test[label] = _split(texts[label], settings.test_fraction, rng)
    lines = [f"__label__{label} {text}\n" for label in (POSITIVE, NEGATIVE) for text in train[label]]
    rng.shuffle(lines)  # fastText reads its file in order; mixed labels learn better than two blocks

    output.parent.mkdir(parents=True, exist_ok=True)
    handle, train_file = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".train.txt", dir=output.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.writelines(lines)
        fasttext_models.train_supervised(
            Path(train_file),
            output,
            epoch=settings.epochs,
            lr=settings.lr,
            wordNgrams=settings.word_ngrams,
            dim=settings.dim,
            minCount=settings.min_count,
            bucket=settings.bucket,
            thread=settings.threads,
            seed=settings.seed,
        )
    finally:
        os.unlink(train_file)

    report = {
        "model": str(output),
        "labels": {"positive": f"__label__{POSITIVE}", "negative": f"__label__{NEGATIVE}"},
        "preprocessing": "whitespace runs (newlines too) -> one space, stripped, lowercased",
        "settings": asdict(settings),
        "inputs": {"positive": list(positive), "negative": list(negative)},
        "train": {label: len(train[label]) for label in (POSITIVE, NEGATIVE)},
        "test": {label: len(test[label]) for label in (POSITIVE, NEGATIVE)},
        "metrics": None,
    }
    held_out = [(text, True) for text in test[POSITIVE]] + [(text, False) for text in test[NEGATIVE]]
    if held_out:
        step = QualityClassifier(str(output))
        report["metrics"] = evaluate(step.scores([text for text, _ in held_out]), [truth for _, truth in held_out])
    report["model_xxh3_128"] = fingerprint(output)["xxh3_128"]  # proves the file is curate's, to replace it
    write_json_atomic(Path(f"{output}.json"), report)
    return report


def _check_replaceable(output: Path) -> None:
    """Refuse to replace a model file, or its `.json` report, unless the report proves curate
    wrote them: it names the file and holds the hash of the bytes now there."""
    report_path = Path(f"{output}.json")
    if not output.exists() and not report_path.exists():
        return
    report = read_json(report_path) if report_path.is_file() else None
    made = (
        isinstance(report, dict)
        and report.get("model") == str(output)
        and isinstance(report.get("model_xxh3_128"), str)
        and (not output.exists() or (output.is_file() and fingerprint(output)["xxh3_128"] == report["model_xxh3_128"]))
    )
    if not made:
        existing = output if output.exists() else report_path
        raise UserError(
            f"-o: {existing} exists and curate cannot prove it made it (its report {report_path.name} must name the "
            "model and hold its hash); curate replaces only what it made: choose another path or remove it"
        )
