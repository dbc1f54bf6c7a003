"""`curate tokenize`: token shards that decode back to the exact documents, the same bytes for any
worker count and after a killed run, dtype choice, --shuffle, --max-tokens and one-line mistakes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.corpus.tokenize import command as tokenize_command
from curate.corpus.tokenize import shards
from curate.corpus.tokenize.shards import read_documents, read_megatron_index

from .conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "sample_data" / "web"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Path:
    """init-model's byte-level BPE (eos_token <|im_end|>, document end <|endoftext|>, 8,000 tokens)."""
    folder = tmp_path_factory.mktemp("model") / "tiny"
    run_cli("init-model", "-o", folder, "--corpus", REPO / "sample_data", "--size", "tiny")
    return folder


def source_texts() -> list[str]:
    """The sample web documents in input order, read here without curate: every record with a
    non-empty text (the files hold an unparseable line, a record without text and an empty one)."""
    texts = []
    for path in sorted(WEB.iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("text"), str) and record["text"]:
                    texts.append(record["text"])
    return texts


def decode_all(folder: Path, tokenizer: Path) -> list[str]:
    from tokenizers import Tokenizer

    decoder = Tokenizer.from_file(str(tokenizer / "tokenizer.json"))
    index = json.loads((folder / "tokens" / "index.json").read_text())
    documents = read_documents(folder / "tokens")
    assert all(document[-1] == index["eos_id"] for document in documents)
    return [decoder.decode(document[:-1].tolist(), skip_special_tokens=False) for document in documents]


def token_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of tokens/ (index.json without the job's identity, which names the output folder)."""
    found = {path.name: path.read_bytes() for path in sorted((folder / "tokens").iterdir())}
    index = json.loads(found["index.json"])
    del index["job_fingerprint"]
    return found | {"index.json": json.dumps(index).encode()}


def tokenize(tokenizer: Path, output: Path, *extra, expect: int = 0):
    return run_cli("tokenize", WEB, "-o", output, "--tokenizer", tokenizer, "--no-progress", *extra, expect=expect)


def test_every_shard_decodes_back_to_the_exact_documents(tokenizer, tmp_path):
    out = tmp_path / "out"
    result = tokenize(tokenizer, out, "--shard-tokens", "4000", "--workers", "1")
    texts = source_texts()
    assert len(texts) > 100 and any("한" in text for text in texts)  # English and Korean
    assert decode_all(out, tokenizer) == texts

    index = json.loads((out / "tokens" / "index.json").read_text())
    # the chat eos <|im_end|> closes a turn: documents are separated by <|endoftext|>, as Qwen2 pretrains
    assert index["dtype"] == "uint16" and index["eos_token"] == "<|endoftext|>" and index["eos_id"] == 0
    assert [shard["tokens"] for shard in index["shards"][:-1]] == [4000] * (len(index["shards"]) - 1)
    assert index["tokens_written"] == index["tokens"] + len(texts) == sum(s["tokens"] for s in index["shards"])
    # nanoGPT's read: the flat .bin files are every document and its EOS, one after another
    flat = np.concatenate([np.memmap(out / "tokens" / s["bin"], dtype=np.uint16, mode="r") for s in index["shards"]])
    assert np.array_equal(flat, np.concatenate(read_documents(out / "tokens")))
    # Megatron's index: one sequence per document part, byte pointers, document indices 0..n
    for shard in index["shards"]:
        meta = read_megatron_index(out / "tokens" / shard["idx"])
        assert meta.dtype == np.dtype("<u2") and int(meta.lengths.sum()) == shard["tokens"]
        assert np.array_equal(meta.pointers[1:], np.cumsum(meta.lengths[:-1]) * 2)
        assert np.array_equal(meta.documents, np.arange(len(meta.lengths) + 1))
    assert any(shard["first_continues_previous"] for shard in index["shards"])

    # data/: each document's ids without the EOS; the manifest counts tokens per input file
    ids = [
        row
        for shard in sorted((out / "data").glob("*.parquet"))
        for row in pq.read_table(shard)["input_ids"].to_pylist()
    ]
    assert [len(row) + 1 for row in ids] == [len(document) for document in read_documents(out / "tokens")]
    manifest = json.loads((out / "_manifest.json").read_text())
    by_source = manifest["tokens"]["by_source"]
    assert [Path(item["input"]).name for item in by_source] == ["en_web.jsonl", "ko_web.jsonl.gz"]
    assert sum(item["tokens"] for item in by_source) == index["tokens"]
    assert manifest["counts"]["by_reason"]["tokenize:empty"] == 1  # the empty document, with its reason
    assert "tokens" in manifest["files"]
    assert "## Token shards" in (out / "report.md").read_text()
    assert "tokens:" in result.output


def test_same_bytes_for_one_or_two_workers_and_after_killed_runs(tokenizer, tmp_path, monkeypatch):
    one, two, killed = tmp_path / "one", tmp_path / "two", tmp_path / "killed"
    tokenize(tokenizer, one, "--shard-tokens", "3000", "--workers", "1")
    tokenize(tokenizer, two, "--shard-tokens", "3000", "--workers", "2")
    assert token_bytes(one) == token_bytes(two)

    # killed on the second input file: the first file's task is done and is kept
    original_run = tokenize_command.TokenizeStep.run

    def dies_on_korean(self, batch):
        if "ko_web" in batch.column("source")[0].as_py():
            raise KeyboardInterrupt
        return original_run(self, batch)

    monkeypatch.setattr(tokenize_command.TokenizeStep, "run", dies_on_korean)
    tokenize(tokenizer, killed, "--shard-tokens", "3000", "--workers", "1", expect=130)  # as on Ctrl-C
    monkeypatch.undo()
    assert not (killed / "_manifest.json").exists()

    # killed again while writing the shards, after the first one
    original_finish = shards.ShardWriter._finish_shard

    def dies_after_one_shard(self, continued):
        if self.shards:
            raise KeyboardInterrupt
        original_finish(self, continued)

    monkeypatch.setattr(shards.ShardWriter, "_finish_shard", dies_after_one_shard)
    tokenize(tokenizer, killed, "--shard-tokens", "3000", "--workers", "1", expect=130)
    monkeypatch.undo()
    assert (killed / "tokens").exists() is False  # shards are built aside and moved in whole

    result = tokenize(tokenizer, killed, "--shard-tokens", "3000", "--workers", "2")
    assert "resumed" in result.output
    assert token_bytes(killed) == token_bytes(one)
    assert json.loads((killed / "_manifest.json").read_text())["timings"]["resumed_tasks"] == 2
    # the same job again is already complete; other options are refused without --overwrite
    assert "already complete" in tokenize(tokenizer, killed, "--shard-tokens", "3000").output
    refused = tokenize(tokenizer, killed, "--shard-tokens", "2000", expect=2)
    assert "--overwrite" in refused.output


def test_shuffle_is_a_seeded_permutation_of_the_documents(tokenizer, tmp_path, monkeypatch):
    from curate.corpus.tokenize import command

    runs = {}
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        if name == "b":  # gathering a few hundred tokens at a time changes nothing
            monkeypatch.setattr(command, "SHUFFLE_CHUNK_TOKENS", 300)
        tokenize(tokenizer, tmp_path / name, "--shuffle", "--seed", seed, "--shard-tokens", "5000")
        runs[name] = decode_all(tmp_path / name, tokenizer)
    texts = source_texts()
    assert token_bytes(tmp_path / "a") == token_bytes(tmp_path / "b")
    assert runs["a"] != texts and runs["a"] != runs["c"]
    assert sorted(runs["a"]) == sorted(runs["c"]) == sorted(texts)


@pytest.mark.parametrize("shuffle", [False, True])
def test_max_tokens_writes_exactly_that_many(tokenizer, tmp_path, shuffle):
    out = tmp_path / "out"
    tokenize(tokenizer, out, "--max-tokens", "7777", "--shard-tokens", "3000", *(["--shuffle"] if shuffle else []))
    index = json.loads((out / "tokens" / "index.json").read_text())
    assert index["tokens_written"] == 7777 and [s["tokens"] for s in index["shards"]] == [3000, 3000, 1777]
    assert sum((out / "tokens" / s["bin"]).stat().st_size for s in index["shards"]) == 7777 * 2
    manifest = json.loads((out / "_manifest.json").read_text())
    assert sum(item["tokens_written"] for item in manifest["tokens"]["by_source"]) == 7777
    documents = read_documents(out / "tokens")
    full = {json.dumps(d.tolist()) for d in read_documents(_full_run(tokenizer, tmp_path, shuffle))}
    # every document but the last is whole; the last is the start of one, cut by the budget
    assert all(json.dumps(d.tolist()) in full for d in documents[:-1])
    assert index["budget_cut_a_document"] and json.dumps(documents[-1].tolist()) not in full


def _full_run(tokenizer: Path, tmp_path: Path, shuffle: bool) -> Path:
    out = tmp_path / "full"
    tokenize(tokenizer, out, *(["--shuffle"] if shuffle else []))
    return out / "tokens"


def test_dtype_follows_the_vocabulary(tokenizer, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    out = tmp_path / "wide"
    tokenize(tokenizer, out, "--dtype", "uint32", "--shard-tokens", "100000")
    index = json.loads((out / "tokens" / "index.json").read_text())
    shard = index["shards"][0]
    assert index["dtype"] == "uint32" and (out / "tokens" / shard["bin"]).stat().st_size == 4 * shard["tokens"]
    assert read_megatron_index(out / "tokens" / shard["idx"]).dtype == np.dtype("<i4")  # Megatron's int32 code
    assert decode_all(out, tokenizer) == source_texts()

    # a vocabulary past 65,536 ids needs uint32: auto picks it, --dtype uint16 is one line
    big = Tokenizer(models.WordLevel({f"w{i}": i for i in range(70_000)}, unk_token="w0"))
    big.pre_tokenizer = pre_tokenizers.Whitespace()
    big.save(str(tmp_path / "big.json"))
    auto = tmp_path / "auto"
    tokenize(tmp_path / "big.json", auto, "--eos-token", "w69999")
    assert json.loads((auto / "tokens" / "index.json").read_text())["dtype"] == "uint32"
    refused = tokenize(tmp_path / "big.json", tmp_path / "narrow", "--eos-token", "w1", "--dtype", "uint16", expect=2)
    assert "uint32" in refused.output and "Traceback" not in refused.output


def test_mistakes_are_one_line(tokenizer, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "tokenizer.json").write_bytes((tokenizer / "tokenizer.json").read_bytes())  # no tokenizer_config.json
    cases = [
        (bare, [], "--eos-token"),
        (tokenizer, ["--eos-token", "<|no such token|>"], "not in the vocabulary"),
        (tmp_path / "missing", [], "no tokenizer.json"),
    ]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    cases.append((broken, [], "not a tokenizer"))
    for folder, extra, expected in cases:
        result = tokenize(folder, tmp_path / "never", *extra, expect=2)
        message = result.output.strip()
        assert expected in message and "\n" not in message and "Traceback" not in message
        assert not (tmp_path / "never").exists()  # a bad tokenizer leaves no folder behind
    assert tokenize(tokenizer, tmp_path / "zero", "--max-tokens", "0", expect=2).exit_code == 2
    # with its EOS given, a bare tokenizer.json works
    tokenize(bare, tmp_path / "given", "--eos-token", "<|endoftext|>")
    assert json.loads((tmp_path / "given" / "tokens" / "index.json").read_text())["eos_id"] == 0
    # an EOS asked for is the one written, even a chat turn's end
    tokenize(tokenizer, tmp_path / "turns", "--eos-token", "<|im_end|>")
    assert json.loads((tmp_path / "turns" / "tokens" / "index.json").read_text())["eos_token"] == "<|im_end|>"


def test_special_token_text_in_a_document_is_text_not_a_separator(tokenizer, tmp_path):
    import numpy as np

    texts = ["literal <|endoftext|> inside text and <|im_end|> too", "a second document"]
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    run_cli("tokenize", source, "-o", tmp_path / "out", "--tokenizer", tokenizer, "--no-progress")
    index = json.loads((tmp_path / "out" / "tokens" / "index.json").read_text())
    flat = np.concatenate(
        [np.memmap(tmp_path / "out" / "tokens" / shard["bin"], dtype=np.uint16, mode="r") for shard in index["shards"]]
    )
    # nanoGPT's reading: split the flat tokens at EOS, decode each piece
    pieces = np.split(flat, np.flatnonzero(flat == index["eos_id"]) + 1)[:-1]
    assert len(pieces) == 2
    assert decode_all(tmp_path / "out", tokenizer) == texts
