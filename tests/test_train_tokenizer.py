"""`curate train-tokenizer`: BPE, unigram and WordPiece tokenizers that AutoTokenizer loads, and
the held-out report that compares them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from curate.instruct.templates import load_template

from .conftest import REPO, run_cli, write_jsonl

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

WEB = REPO / "sample_data" / "web"
ENGLISH = "Leaves change color in autumn because trees stop producing chlorophyll as the days shorten."
KOREAN = "무지개는 햇빛이 빗방울 안으로 들어가 꺾이고 반사된 뒤 다시 꺾여 나오면서 생깁니다."
ROUND_TRIP = [
    ENGLISH,
    KOREAN,
    "emoji 😀👍🏽 and a family 👨‍👩‍👧‍👦, 中文字符 日本語 ελληνικά русский العربية",
    "  leading spaces, tabs\t\tand\r\nwindows lines\n\n\nand trailing   ",
    "code: def f(x):\n    return x ** 2  # 12345.678\x00\x07",
    "<|im_start|>user\nmarkers inside text<|im_end|>\n",
    "",
]


def _auto(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def _web_documents() -> list[str]:
    lines = (WEB / "en_web.jsonl").read_text(encoding="utf-8").splitlines()
    lines += gzip.decompress((WEB / "ko_web.jsonl.gz").read_bytes()).decode("utf-8").splitlines()
    texts = []
    for line in lines:
        try:
            texts.append(json.loads(line)["text"])
        except (ValueError, KeyError):
            continue  # the sample's one broken line, as the reader skips it
    return [text for text in texts if text]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """One folder per algorithm, trained on the English and Korean sample with 20% held out."""
    root = tmp_path_factory.mktemp("tokenizers")
    folders = {}
    for algorithm, size in (("bpe", 2000), ("unigram", 2000), ("wordpiece", 3000)):
        folders[algorithm] = root / algorithm
        result = run_cli(
            "train-tokenizer", WEB, "-o", folders[algorithm], "--algorithm", algorithm,
            "--vocab-size", size, "--eval-fraction", 0.2, "--special-tokens", "<think>,</think>",
        )  # fmt: skip
        assert f"train-tokenizer {algorithm}: vocabulary {size:,}" in result.output
    return folders


@pytest.mark.parametrize("algorithm", ["bpe", "unigram"])
@pytest.mark.parametrize("text", ROUND_TRIP)
def test_byte_level_bpe_and_unigram_with_byte_fallback_round_trip_exactly(trained, algorithm, text) -> None:
    tokenizer = _auto(trained[algorithm])
    ids = tokenizer(text).input_ids
    assert tokenizer.decode(ids) == text
    assert all(0 <= token < len(tokenizer) for token in ids)


def test_unigram_spells_unseen_characters_in_bytes_and_bpe_has_no_unknown(trained) -> None:
    unigram, bpe = _auto(trained["unigram"]), _auto(trained["bpe"])
    tokens = unigram.convert_ids_to_tokens(unigram("🧬").input_ids)
    assert tokens == ["<0xF0>", "<0x9F>", "<0xA7>", "<0xAC>"]
    assert unigram.unk_token == "<unk>" and unigram.convert_tokens_to_ids("<unk>") == 4
    assert bpe.unk_token is None and bpe.unk_token_id not in bpe("🧬 ✓").input_ids


def test_wordpiece_keeps_the_words_not_the_spaces(trained) -> None:
    from curate.corpus.tokenize.train import is_held_out

    tokenizer = _auto(trained["wordpiece"])
    trained_on = [text for text in _web_documents() if not is_held_out([text], 0, 0.2)]
    english, korean = trained_on[0], trained_on[-1]
    assert KOREAN[:3] not in english and "\uac00" <= korean[0] <= "\ud7a3"
    for text in (english, korean):  # every character was seen in training: none is unknown
        ids = tokenizer(text).input_ids
        assert tokenizer.unk_token_id not in ids
        assert "".join(tokenizer.decode(ids).split()) == "".join(text.split())
    assert any(token.startswith("##") for token in tokenizer.convert_ids_to_tokens(tokenizer(korean).input_ids))
    # a word with a character never seen is one <unk>
    assert tokenizer.convert_ids_to_tokens(tokenizer("the 🧬gene").input_ids) == ["the", "<unk>"]


@pytest.mark.parametrize("algorithm", ["bpe", "unigram", "wordpiece"])
def test_special_tokens_have_their_ids_and_roles(trained, algorithm) -> None:
    tokenizer = _auto(trained[algorithm])
    expected = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
    expected += ["<think>", "</think>"] if algorithm == "bpe" else ["<unk>", "<think>", "</think>"]
    assert tokenizer.convert_ids_to_tokens(list(range(len(expected)))) == expected
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<|endoftext|>", "<|im_end|>", "<|pad|>")
    ids = tokenizer("<think>reason</think>answer<|im_end|>").input_ids
    assert ids[0] == expected.index("<think>") and expected.index("</think>") in ids and ids[-1] == 2
    assert tokenizer("hello").input_ids == tokenizer("hello", add_special_tokens=False).input_ids
    messages = [{"role": "user", "content": KOREAN}, {"role": "assistant", "content": ENGLISH}]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == load_template("chatml").render(messages)


def test_another_chat_template_makes_its_markers_special_tokens(tmp_path) -> None:
    folder = tmp_path / "llama3"
    run_cli(
        "train-tokenizer", WEB, "-o", folder, "--vocab-size", 1000,
        "--chat-template", "llama3", "--eos-token", "<|eot_id|>",
    )  # fmt: skip
    tokenizer = _auto(folder)
    assert tokenizer.eos_token == "<|eot_id|>"
    for marker in ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"):
        assert len(tokenizer(marker).input_ids) == 1, marker
    messages = [{"role": "user", "content": "Hi"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == load_template("llama3").render(messages, add_generation_prompt=True)


def test_the_report_measures_the_held_out_split_per_language(trained, tmp_path) -> None:
    from curate.corpus.tokenize.train import is_held_out

    folder = tmp_path / "compared"
    compare = [trained["unigram"], trained["wordpiece"]]
    run_cli("train-tokenizer", WEB, "-o", folder, "--vocab-size", 2000, "--eval-fraction", 0.2,
            "--compare", compare[0], "--compare", compare[1])  # fmt: skip
    info = json.loads((folder / "curate_tokenizer.json").read_text())
    entries = {entry["name"]: entry for entry in info["evaluation"]["tokenizers"]}
    assert list(entries) == ["compared", "unigram", "wordpiece"] and entries["compared"]["new"]

    # the figures are the tokenizer's on exactly the documents the seed held out
    held_out = [text for text in _web_documents() if is_held_out([text], 0, 0.2)]
    assert info["corpus"]["held_out_documents"] == len(held_out) > 10
    new = _auto(folder)
    hangul = [text for text in held_out if any("\uac00" <= char <= "\ud7a3" for char in text)]
    latin = [
        text for text in held_out if text not in hangul and any(char.isascii() and char.isalpha() for char in text)
    ]
    for lang, texts in (("en", latin), ("ko", hangul)):
        row = entries["compared"]["languages"][lang]
        assert row["documents"] == len(texts)
        assert row["tokens"] == sum(len(new(text).input_ids) for text in texts)
        assert row["words"] == sum(len(text.split()) for text in texts)
        assert row["tokens_per_word"] == pytest.approx(row["tokens"] / row["words"], abs=1e-4)
    # Korean costs more tokens per character than English; BPE's Korean holds partial-character
    # byte tokens, WordPiece has none but loses unseen characters to <unk>
    for entry in entries.values():
        assert entry["languages"]["ko"]["tokens_per_char"] > entry["languages"]["en"]["tokens_per_char"]
        assert 0 < entry["languages"]["all"]["vocab_used"] <= 1
    assert entries["compared"]["languages"]["ko"]["byte_share"] > 0.01
    assert entries["compared"]["languages"]["ko"]["unknown_share"] == 0
    assert entries["wordpiece"]["languages"]["all"]["byte_share"] == 0
    report = (folder / "report.md").read_text()
    assert "| compared (new) | en |" in report and "| unigram | ko |" in report and "| wordpiece | ko |" in report
    assert (folder / "fertility.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_split_is_deterministic_and_a_lang_field_names_the_language(tmp_path) -> None:
    from curate.corpus.tokenize.fertility import language
    from curate.corpus.tokenize.texts import Document
    from curate.corpus.tokenize.train import is_held_out

    texts = [f"document {index}" for index in range(4000)]
    held = [text for text in texts if is_held_out([text], 7, 0.1)]
    assert 300 < len(held) < 500 and held == [text for text in texts if is_held_out([text], 7, 0.1)]
    assert held != [text for text in texts if is_held_out([text], 8, 0.1)]
    assert language(Document(["오늘은 API 문서를 읽었다"])) == "ko"
    assert language(Document(["plain English"])) == "en" and language(Document(["12345 !!"])) == "other"
    assert language(Document(["plain English"], lang="korean")) == "ko"

    rows = [{"text": f"{ENGLISH} {index}", "meta": {"lang": "ko"}} for index in range(40)]
    write_jsonl(tmp_path / "labelled.jsonl", rows)
    run_cli("train-tokenizer", tmp_path / "labelled.jsonl", "-o", tmp_path / "a", "--vocab-size", 400,
            "--eval-fraction", 0.5)  # fmt: skip
    run_cli("train-tokenizer", tmp_path / "labelled.jsonl", "-o", tmp_path / "b", "--vocab-size", 400,
            "--eval-fraction", 0.5)  # fmt: skip
    info = json.loads((tmp_path / "a" / "curate_tokenizer.json").read_text())
    assert list(info["evaluation"]["tokenizers"][0]["languages"]) == ["ko", "all"]
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()


def test_a_lang_column_of_parquet_names_the_language(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.corpus.tokenize.fertility import language
    from curate.corpus.tokenize.texts import Document

    assert language(Document(["x"], lang="ko-kr")) == language(Document(["x"], lang="kor_hang")) == "ko"
    texts = [f"{ENGLISH} {index}" for index in range(40)]
    labels = ["zh-Hans" if index % 2 else "eng_Latn" for index in range(40)]  # the column wins over the script
    pq.write_table(pa.table({"text": texts, "lang": labels}), tmp_path / "labelled.parquet")
    run_cli("train-tokenizer", tmp_path / "labelled.parquet", "-o", tmp_path / "a", "--vocab-size", 400,
            "--eval-fraction", 0.5)  # fmt: skip
    info = json.loads((tmp_path / "a" / "curate_tokenizer.json").read_text())
    assert list(info["evaluation"]["tokenizers"][0]["languages"]) == ["en", "zh", "all"]


def test_init_model_uses_this_tokenizer(tmp_path) -> None:
    from curate.corpus.tokenize import train
    from curate.train import init_model

    assert init_model.train_bpe_tokenizer is train.train_bpe_tokenizer
    run_cli("init-model", "-o", tmp_path / "model", "--corpus", WEB, "--size", "tiny", "--vocab-size", 1000)
    run_cli("train-tokenizer", WEB, "-o", tmp_path / "tok", "--vocab-size", 1000, "--eval-fraction", 0,
            "--compare", tmp_path / "model")  # fmt: skip
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (tmp_path / "model" / name).read_bytes() == (tmp_path / "tok" / name).read_bytes(), name
    report = (tmp_path / "tok" / "report.md").read_text()
    assert "No document fell in the held-out split" in report


def test_mistakes_are_one_line(tmp_path) -> None:
    from curate.corpus.tokenize.train import is_held_out

    def refused(*args, mention: str) -> None:
        result = run_cli("train-tokenizer", *args, expect=2)
        assert mention in result.output and "Traceback" not in result.output, result.output

    out = tmp_path / "out"
    refused(WEB, "-o", out, "--vocab-size", 259, mention="pass --vocab-size 260 or more")
    refused(WEB, "-o", out, "--vocab-size", 261, "--special-tokens", "<a>,<b>", mention="--vocab-size 262")
    refused(WEB, "-o", out, "--algorithm", "wordpiece", "--vocab-size", 300, mention="keeps every character")
    refused(WEB, "-o", out, "--algorithm", "unigram", "--vocab-size", 300, mention="keeps every character")
    write_jsonl(tmp_path / "numbers.jsonl", [{"a": 1}, {"b": [2, 3]}])
    refused(tmp_path / "numbers.jsonl", "-o", out, mention="no text in the corpus")
    refused(WEB, "-o", out, "--compare", tmp_path / "nothing", mention="--compare")
    refused(WEB, "-o", out, "--compare", tmp_path / "numbers.jsonl", mention="is not a folder")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    refused(WEB, "-o", out, "--compare", tmp_path / "model", mention="holds no tokenizer")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "tokenizer.json").write_text('{"model": ')
    refused(WEB, "-o", out, "--compare", tmp_path / "broken", mention="AutoTokenizer can load")
    refused(WEB, "-o", out, "--chat-template", "no-such-template", mention="no template named")
    write_jsonl(tmp_path / "one.jsonl", [{"text": "the only document"}])
    seed = next(seed for seed in range(100) if is_held_out(["the only document"], seed, 0.5))
    refused(tmp_path / "one.jsonl", "-o", out, "--eval-fraction", 0.5, "--seed", seed, mention="held-out split")
    assert not out.exists()

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    refused(WEB, "-o", tmp_path / "mine", "--overwrite", mention="not written by curate train-tokenizer")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_folder_is_replaced_only_with_overwrite(tmp_path) -> None:
    folder = tmp_path / "tok"
    run_cli("train-tokenizer", WEB, "-o", folder, "--vocab-size", 600)
    result = run_cli("train-tokenizer", WEB, "-o", folder, "--vocab-size", 700, expect=2)
    assert "--overwrite" in result.output and len(_auto(folder)) == 600
    run_cli("train-tokenizer", WEB, "-o", folder, "--vocab-size", 700, "--overwrite")
    assert len(_auto(folder)) == 700 and not list(folder.glob(".train-tokenizer.tmp"))


def test_a_tokenizer_trained_on_korean_text_spends_fewer_tokens_on_it(trained, shared_data, tmp_path) -> None:
    comments = shared_data / "korean" / "news_comments.ko.txt"
    folder = tmp_path / "korean"
    result = run_cli("train-tokenizer", WEB, comments, "-o", folder, "--text-lines", "--max-documents", 5000,
                     "--vocab-size", 4000, "--compare", trained["bpe"])  # fmt: skip
    assert "korean (new): tokens/word en" in result.output
    entries = json.loads((folder / "curate_tokenizer.json").read_text())["evaluation"]["tokenizers"]
    korean, sample = (entry["languages"]["ko"] for entry in entries)
    assert korean["documents"] > 100
    assert korean["tokens_per_word"] < sample["tokens_per_word"] and korean["byte_share"] < sample["byte_share"]


def test_a_crawl_is_extracted_first(tmp_path):
    """A WARC holds HTML, not text to learn tokens from: named alone it is refused with advice,
    met in a folder it is skipped with the reason."""
    crawl = REPO / "sample_data" / "crawl" / "pages.warc.gz"
    result = run_cli("train-tokenizer", crawl, "-o", tmp_path / "tok", "--vocab-size", "600", expect=2)
    assert "curate extract" in result.output and len(result.output.strip().splitlines()) == 1
    run_cli("train-tokenizer", REPO / "sample_data" / "crawl", WEB, "-o", tmp_path / "tok2", "--vocab-size", "600")
    info = json.loads((tmp_path / "tok2" / "curate_tokenizer.json").read_text())
    assert "WARC" in json.dumps(info)


def test_a_compare_tokenizer_that_cannot_encode_is_refused_in_one_line(tmp_path, monkeypatch) -> None:
    import transformers

    from curate.corpus.tokenize.fertility import load_tokenizers
    from curate.errors import UserError

    class Broken:
        def __call__(self, texts, **kwargs):
            raise RuntimeError("remote code exploded\nsecond line")

    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{}")
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *args, **kwargs: Broken())
    with pytest.raises(UserError, match=r"cannot encode text: remote code exploded$"):
        load_tokenizers([str(tmp_path / "tok")])


def test_compare_takes_several_folders_after_one_flag(trained, tmp_path) -> None:
    run_cli("train-tokenizer", WEB, "-o", tmp_path / "spaced", "--vocab-size", 1000,
            "--compare", trained["unigram"], trained["wordpiece"])  # fmt: skip
    run_cli("train-tokenizer", WEB, "-o", tmp_path / "commas", "--vocab-size", 1000,
            "--compare", f"{trained['unigram']},{trained['wordpiece']}")  # fmt: skip
    for name in ("spaced", "commas"):
        info = json.loads((tmp_path / name / "curate_tokenizer.json").read_text())
        assert [entry["name"] for entry in info["evaluation"]["tokenizers"]] == [name, "unigram", "wordpiece"]
        assert info["corpus"]["inputs"] == [str(WEB)]  # the compared folder is not read as text
    result = run_cli("train-tokenizer", WEB, trained["unigram"], "-o", tmp_path / "wrong", expect=2)
    assert "is a tokenizer folder, not a corpus; to measure it beside the new tokenizer pass --compare" in result.output


def test_the_eos_token_is_the_template_s_turn_end_and_its_markers_are_tokens(tmp_path, shared_data) -> None:
    run_cli("train-tokenizer", WEB, "-o", tmp_path / "llama3", "--vocab-size", 1000, "--chat-template", "llama3")
    assert _auto(tmp_path / "llama3").eos_token == "<|eot_id|>"  # what the template writes after an answer
    gemma = shared_data / "chat_templates/gemma.jinja"
    run_cli("train-tokenizer", WEB, "-o", tmp_path / "gemma", "--vocab-size", 1000, "--chat-template", gemma)
    tokenizer = _auto(tmp_path / "gemma")
    assert tokenizer.eos_token == "<end_of_turn>"
    for marker in ("<start_of_turn>", "<end_of_turn>"):
        assert len(tokenizer(marker).input_ids) == 1, marker
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    ids = tokenizer.apply_chat_template(messages, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert tokenizer.eos_token_id in ids  # generation can stop where the answer ends
