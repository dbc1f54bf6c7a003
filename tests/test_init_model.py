"""`curate init-model`: a tokenizer trained here and a random Llama, loadable offline."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import UserError
from curate.instruct.templates import load_template, tokenizer_special_tokens, tokenizer_template

from .conftest import REPO, run_cli, write_jsonl

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

SAMPLE = REPO / "sample_data"

CONVERSATIONS = [
    [{"role": "user", "content": "Suggest a quick breakfast."}],
    [
        {"role": "system", "content": "You are concise."},
        {"role": "user", "content": "혼자 사는 직장인의 저녁 메뉴를 추천해 주세요."},
        {"role": "assistant", "content": "계란 볶음밥 🍳: 파를 볶다가 밥과 계란을 넣습니다."},
        {"role": "user", "content": "And a dessert?\n\nKeep it short."},
        {"role": "assistant", "content": "Yogurt with honey."},
    ],
    [{"role": "tool", "content": '{"temperature": 21}'}],
]

ROUND_TRIP = [
    "안녕하세요, 세계! 오늘 날씨가 좋네요.",
    "emoji 😀👍🏽 and a family 👨‍👩‍👧‍👦 (zero-width joiners)",
    "中文字符 日本語のテキスト ελληνικά русский العربية עברית",
    "e\u0301 (decomposed é) vs \u00e9, ligature \ufb01, fullwidth ＡＢＣ",
    "  leading spaces, tabs\t\tand\r\nwindows lines\n\n\nand trailing   ",
    "code: def f(x):\n    return x ** 2  # 12345.678\x00\x07",
    "<|im_start|>user\nmarkers inside text<|im_end|>\n",
    "\ue000 private use, \U0001f9ec, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("init-model") / "tiny"
    result = run_cli("init-model", "-o", folder, "--corpus", SAMPLE, "--size", "tiny", "--vocab-size", 1000)
    assert "parameters" in result.output and "vocabulary 1,000" in result.output and str(folder) in result.output
    return folder


@pytest.fixture(scope="module")
def loaded(tiny: Path):
    import os

    from transformers import AutoModelForCausalLM, AutoTokenizer

    saved = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        return AutoTokenizer.from_pretrained(tiny), AutoModelForCausalLM.from_pretrained(tiny)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_the_folder_loads_with_auto_classes_and_runs_a_forward_pass(tiny: Path, loaded) -> None:
    import torch

    tokenizer, model = loaded
    assert type(model).__name__ == "LlamaForCausalLM"
    assert len(tokenizer) == model.config.vocab_size == 1000
    assert model.config.tie_word_embeddings and model.config.hidden_size == 64 and model.config.num_hidden_layers == 2
    ids = tokenizer("A short sentence to score.", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], 1000)
    assert torch.isfinite(logits).all()
    assert (tiny / "model.safetensors").is_file() and not list(tiny.glob("*.bin"))


def test_special_tokens_have_their_roles(loaded) -> None:
    tokenizer, model = loaded
    tokens = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>")
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in tokens}
    assert ids == {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2, "<|pad|>": 3}
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token, tokenizer.unk_token) == (
        "<|endoftext|>",
        "<|im_end|>",
        "<|pad|>",
        None,
    )
    assert (model.config.bos_token_id, model.config.eos_token_id, model.config.pad_token_id) == (0, 2, 3)
    # generation ends at the end of a turn (and of a document, for raw text)
    assert set(model.generation_config.eos_token_id) == {2, 0}
    # the tokenizer adds nothing by itself: the template's text is all the model sees
    assert tokenizer("hello").input_ids == tokenizer("hello", add_special_tokens=False).input_ids
    assert 0 not in tokenizer("hello world").input_ids


def test_chatml_markers_are_single_tokens(loaded) -> None:
    tokenizer, _ = loaded
    for marker in ("<|im_start|>", "<|im_end|>"):
        assert len(tokenizer(marker).input_ids) == 1
    ids = tokenizer("x<|im_start|>assistant\nhi<|im_end|>\ny").input_ids
    assert ids.count(1) == 1 and ids.count(2) == 1
    assert tokenizer.decode(ids[ids.index(1) : ids.index(2) + 1]) == "<|im_start|>assistant\nhi<|im_end|>"


@pytest.mark.parametrize("generation_prompt", [False, True])
def test_apply_chat_template_renders_what_curate_renders(tiny: Path, loaded, generation_prompt: bool) -> None:
    tokenizer, _ = loaded
    ours = load_template("chatml", tokenizer_special_tokens(tiny))
    folder_template = tokenizer_template(tiny)
    for messages in CONVERSATIONS:
        expected = ours.render(messages, add_generation_prompt=generation_prompt)
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
        assert text == expected
        assert folder_template.render(messages, add_generation_prompt=generation_prompt) == expected
        assert tokenizer.decode(tokenizer(text).input_ids) == text


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_any_utf8_text_round_trips(loaded, text: str) -> None:
    tokenizer, _ = loaded
    ids = tokenizer(text).input_ids
    assert tokenizer.decode(ids) == text
    assert all(0 <= token < len(tokenizer) for token in ids)


def test_curate_init_json_says_how_the_model_was_made(tiny: Path, loaded) -> None:
    _, model = loaded
    info = json.loads((tiny / "curate_init.json").read_text())
    assert info["size"] == "tiny" and info["seed"] == 0 and info["vocab_size"] == 1000
    assert info["parameters"] == sum(parameter.numel() for parameter in model.parameters())
    corpus = info["corpus"]
    names = {Path(entry["path"]).name for entry in corpus["files"]}
    assert names >= {"en_web.jsonl", "ko_web.jsonl.gz", "seed_tasks.en.jsonl", "pairs.jsonl"}
    assert all(entry["xxh3_128"] for entry in corpus["files"])
    # the sample's one broken JSON line is counted, not fatal
    assert corpus["unreadable"] == 1 and corpus["records_with_text"] > 150


def test_records_without_a_text_field_give_their_strings(tmp_path: Path) -> None:
    from curate.train.init_model import record_texts

    task = {"id": "t1", "instruction": "Add.", "instances": [{"input": "2+2", "output": "4"}], "flag": False}
    assert record_texts(task) == ["Add.", "2+2", "4"]
    pair = {"prompt": [{"role": "user", "content": "Hi?"}], "chosen": [{"role": "assistant", "content": "Hello."}]}
    assert record_texts(pair) == ["Hi?", "Hello."]
    assert record_texts({"text": "only this", "title": "not this"}) == ["only this"]
    info = _build(tmp_path / "model", [SAMPLE / "instructions", SAMPLE / "preferences"])
    corpus = info["corpus"]
    assert corpus["records"] == corpus["records_with_text"] > 30 and corpus["texts"] > corpus["records"]


def _build(folder: Path, corpus: list, seed: int = 0, **options) -> dict:
    from curate.train.init_model import init_model

    vocab_size = options.pop("vocab_size", 500)
    return init_model(folder, [str(item) for item in corpus], "tiny", vocab_size=vocab_size, seed=seed, **options)


def test_same_corpus_and_seed_give_identical_bytes(tmp_path: Path) -> None:
    corpus = [SAMPLE / "web", SAMPLE / "instructions"]
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    _build(first, corpus)
    _build(second, corpus)
    _build(other, corpus, seed=1)
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "config.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "model.safetensors").read_bytes() != (other / "model.safetensors").read_bytes()
    assert (first / "tokenizer.json").read_bytes() == (other / "tokenizer.json").read_bytes()


def test_parquet_text_field_and_max_documents(tmp_path: Path) -> None:
    table = pa.table({"content": [f"document number {index}: the quick brown fox" for index in range(50)]})
    pq.write_table(table, tmp_path / "docs.parquet")
    info = _build(tmp_path / "model", [tmp_path / "docs.parquet"], text_field="content", max_documents=20)
    corpus = info["corpus"]
    assert corpus["records"] == corpus["records_with_text"] == 20 and corpus["stopped_at_max_documents"]


def test_a_corpus_without_text_is_refused_naming_its_inputs(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    write_jsonl(tmp_path / "numbers.jsonl", [{"a": 1}, {"b": [2, 3]}])
    result = run_cli(
        "init-model",
        "-o",
        tmp_path / "model",
        "--corpus",
        tmp_path / "empty.txt",
        "--corpus",
        tmp_path / "numbers.jsonl",
        "--size",
        "tiny",
        expect=2,
    )
    assert "no text in the corpus" in result.output
    assert "empty.txt" in result.output and "numbers.jsonl" in result.output
    assert not (tmp_path / "model").exists()


def test_a_vocabulary_without_room_for_bytes_and_specials_is_refused(tmp_path: Path) -> None:
    result = run_cli("init-model", "-o", tmp_path / "m", "--corpus", SAMPLE / "web", "--vocab-size", 259, expect=2)
    assert "vocab size 259 is too small" in result.output and "260" in result.output
    from curate.train.init_model import train_bpe_tokenizer

    with pytest.raises(UserError, match="too small"):
        train_bpe_tokenizer(["text"], 262, special_tokens=["<think>", "</think>", "<tool>"])


def test_an_existing_folder_is_replaced_only_with_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    _build(folder, [SAMPLE / "web"])
    before = (folder / "model.safetensors").read_bytes()
    result = run_cli("init-model", "-o", folder, "--corpus", SAMPLE / "web", "--size", "tiny", "--seed", 3, expect=2)
    assert "--overwrite" in result.output
    assert (folder / "model.safetensors").read_bytes() == before
    run_cli("init-model", "-o", folder, "--corpus", SAMPLE / "web", "--size", "tiny", "--seed", 3, "--overwrite")
    assert (folder / "model.safetensors").read_bytes() != before
    assert json.loads((folder / "curate_init.json").read_text())["seed"] == 3
    assert [path.name for path in tmp_path.iterdir()] == ["model"]  # no staging folder left


def test_a_folder_it_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = run_cli("init-model", "-o", folder, "--corpus", SAMPLE / "web", "--size", "tiny", "--overwrite", expect=2)
    assert "not written by curate init-model" in result.output
    assert (folder / "notes.txt").read_text() == "keep me"


def test_extra_special_tokens_are_single_tokens() -> None:
    from curate.train.init_model import train_bpe_tokenizer

    texts = [json.dumps(row) for row in ({"text": "think about it"}, {"text": "then answer"})] * 20
    tokenizer = train_bpe_tokenizer(texts, 400, special_tokens=["<think>", "</think>"])
    assert tokenizer.convert_tokens_to_ids(["<think>", "</think>"]) == [4, 5]
    ids = tokenizer("<think>reason</think>answer").input_ids
    assert ids[0] == 4 and 5 in ids
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.chat_template == load_template("chatml").source
