"""curate.train.data: loss masks, truncation, packing without cross-talk, collation, TRL parity, reading folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from curate.errors import UserError  # noqa: E402
from curate.instruct import formats  # noqa: E402
from curate.instruct.templates import load_template, tokenizer_template  # noqa: E402
from curate.train import data  # noqa: E402

from .conftest import REPO, run_cli, write_jsonl  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

IM_END = "<|im_end|>"

CONVERSATION = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What is the capital of Australia?"},
    {"role": "assistant", "content": "Canberra, not Sydney."},
    {"role": "user", "content": "And how long should I boil an egg?"},
    {"role": "assistant", "content": "Six to seven minutes for a runny yolk."},
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def chatml(model_dir):
    return tokenizer_template(model_dir)


def load_model(model_dir: Path, attn_implementation: str):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation=attn_implementation
    )
    return model.eval()


def trained_runs(tokenizer, example) -> list[str]:
    """The decoded text of each contiguous run of trained tokens."""
    runs, current = [], []
    for token, label in zip(example["input_ids"], example["labels"]):
        if label != data.IGNORE:
            assert label == token
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [tokenizer.decode(run) for run in runs]


# ------------------------------------------------------------------------------ masks


def test_chatml_trains_assistant_contents_with_their_end_marker_and_newline(tokenizer, chatml):
    examples, report = data.tokenize_sft([{"messages": CONVERSATION}], tokenizer, chatml, max_length=512)
    assert report.kept == 1 and report.straddling_tokens == 0
    (example,) = examples
    # Exactly what is trained: each assistant content, <|im_end|> and the newline after it.
    assert trained_runs(tokenizer, example) == [
        "Canberra, not Sydney.<|im_end|>\n",
        "Six to seven minutes for a runny yolk.<|im_end|>\n",
    ]
    # Nothing of the system or user turns, nor the assistant headers, is trained.
    text = chatml.render(CONVERSATION)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert encoded["input_ids"] == example["input_ids"]
    for message in CONVERSATION:
        if message["role"] == "assistant":
            continue
        start = text.index(message["content"])
        end = start + len(message["content"])
        inside = [n for n, (a, b) in enumerate(encoded["offset_mapping"]) if a < end and b > start]
        assert inside and all(example["labels"][n] == data.IGNORE for n in inside)
    header = tokenizer.convert_tokens_to_ids("assistant")
    assert all(label != header for label in example["labels"])
    assert report.trained_tokens == sum(label != data.IGNORE for label in example["labels"])


def test_alpaca_rows_train_the_output_and_eos(tokenizer):
    alpaca = load_template("alpaca", {"eos_token": "</s>"})
    records = [
        {"instruction": "Name a primary colour.", "input": "", "output": "Red."},
        {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour."},
    ]
    rows = [row for record in records for row in formats.read_row(record, "alpaca")]
    examples, report = data.tokenize_sft(rows, tokenizer, alpaca, max_length=512)
    assert report.kept == 2
    assert [trained_runs(tokenizer, example) for example in examples] == [["Red.</s>"], ["Bonjour.</s>"]]
    with_input = tokenizer.decode(examples[1]["input_ids"])
    assert "### Instruction:\nTranslate to French.\n\n### Input:\nGood morning\n\n### Response:\n" in with_input
    assert with_input.startswith("Below is an instruction that describes a task, paired with an input")


def test_text_rows_train_every_token_but_the_first_and_end_with_eos(tokenizer, chatml):
    examples, report = data.tokenize_sft([{"text": "Lower the egg into boiling water."}], tokenizer, chatml, 512)
    (example,) = examples
    ids = tokenizer("Lower the egg into boiling water.", add_special_tokens=True)["input_ids"]
    assert example["input_ids"] == ids + [tokenizer.eos_token_id]
    assert example["labels"] == [data.IGNORE] + example["input_ids"][1:]
    assert report.trained_tokens == len(ids)


def test_truncation_counts_and_drop_reasons(tokenizer, chatml):
    long_user = " ".join(["word"] * 200)
    rows = [
        {"messages": CONVERSATION[1:3]},  # fits
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": long_user}]},  # cut
        {"messages": [{"role": "user", "content": long_user}, {"role": "assistant", "content": "Yes."}]},  # lost
        {"messages": [{"role": "user", "content": "Nobody answers."}]},  # no assistant turn
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": 5}]},  # cannot render
    ]
    examples, report = data.tokenize_sft(rows, tokenizer, chatml, max_length=64)
    assert report.rows == 5 and report.kept == 2 and report.truncated == 1
    assert report.dropped == {
        "all_trained_tokens_truncated": 1,
        "no_assistant_tokens": 1,
        "template_error": 1,
    }
    assert report.template_errors and "could not render" in report.template_errors[0]
    assert [len(example["input_ids"]) for example in examples][1] == 64
    assert all(len(example["input_ids"]) <= 64 for example in examples)
    assert report.tokens == sum(len(example["input_ids"]) for example in examples)
    assert report.trained_tokens == sum(label != -100 for example in examples for label in example["labels"])
    full = len(tokenizer(chatml.render(rows[1]["messages"]), add_special_tokens=False)["input_ids"])
    assert report.tokens_truncated == full - 64
    assert report.as_dict()["dropped"] == report.dropped
    assert report.summary().startswith("5 rows -> 2 kept (1 truncated), dropped: 1 all_trained_tokens_truncated")


# ------------------------------------------------------------------------------ packing


def toy_examples(lengths: list[int]) -> list[dict]:
    examples = []
    for number, length in enumerate(lengths):
        ids = [10 + (number * 7 + i) % 50 for i in range(length)]
        examples.append({"input_ids": ids, "labels": [data.IGNORE] + ids[1:]})
    return examples


def test_pack_is_first_fit_decreasing_and_marks_every_boundary():
    examples = toy_examples([5, 9, 3, 7, 2, 6, 4, 8])  # 44 tokens
    rows = data.pack(examples, max_length=12)
    assert rows == data.pack(examples, max_length=12)  # deterministic
    assert [row["seq_lengths"] for row in rows] == [[9, 3], [8, 4], [7, 5], [6, 2]]
    placed = []
    for row in rows:
        assert len(row["input_ids"]) == len(row["labels"]) == len(row["position_ids"]) == sum(row["seq_lengths"]) <= 12
        start = 0
        for length in row["seq_lengths"]:
            assert row["labels"][start] == data.IGNORE
            assert row["position_ids"][start : start + length] == list(range(length))
            placed.append(row["input_ids"][start : start + length])
            start += length
    assert sorted(placed) == sorted(example["input_ids"] for example in examples)
    with pytest.raises(ValueError, match="packing takes 1 to max_length 12"):
        data.pack(toy_examples([13]), max_length=12)


def test_pack_sets_the_boundary_label_even_when_the_first_token_was_trained():
    examples = [{"input_ids": [5, 6, 7], "labels": [5, 6, 7]}, {"input_ids": [8, 9], "labels": [8, 9]}]
    (row,) = data.pack(examples, max_length=8)
    assert row["labels"] == [data.IGNORE, 6, 7, data.IGNORE, 9]
    assert row["position_ids"] == [0, 1, 2, 0, 1]


def chat_examples(tokenizer, chatml) -> list[dict]:
    rows = [
        {"messages": CONVERSATION},
        {"messages": CONVERSATION[1:3]},
        {"messages": [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi!"}]},
    ]
    examples, _ = data.tokenize_sft(rows, tokenizer, chatml, max_length=512)
    return examples


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_packed_rows_never_cross_contaminate(model_dir, tokenizer, chatml, attn_implementation):
    model = load_model(model_dir, attn_implementation)
    examples = chat_examples(tokenizer, chatml)
    (row,) = data.pack(examples, max_length=512)
    assert len(row["seq_lengths"]) == 3
    batch = data.collate_sft([row], tokenizer.pad_token_id, packed=True, attn_implementation=attn_implementation)
    with torch.no_grad():
        packed = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], attention_mask=batch["attention_mask"]
        ).logits[0]
        alone = {
            tuple(example["input_ids"]): model(input_ids=torch.tensor([example["input_ids"]])).logits[0]
            for example in examples
        }
        # Without the block mask (plain causal attention over the whole row, same positions) the
        # second and third examples see the first: the mask is what keeps them apart.
        width = len(row["input_ids"])
        causal = torch.ones((width, width), dtype=torch.bool).tril()[None, None]
        if attn_implementation == "eager":
            causal = torch.zeros(causal.shape).masked_fill(~causal, torch.finfo(torch.float32).min)
        leaky = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], attention_mask=causal).logits[0]
    start = 0
    for number, length in enumerate(row["seq_lengths"]):
        ids = tuple(row["input_ids"][start : start + length])
        torch.testing.assert_close(packed[start : start + length], alone[ids], atol=1e-5, rtol=0)
        if number > 0:
            assert (leaky[start : start + length] - alone[ids]).abs().max() > 1e-3
        start += length


def test_packed_batch_with_padding_and_loss(model_dir, tokenizer, chatml):
    model = load_model(model_dir, "sdpa")
    examples = chat_examples(tokenizer, chatml)
    longest = max(len(example["input_ids"]) for example in examples)
    rows = data.pack(examples, max_length=longest)  # the longest alone, the two others together
    assert sorted(len(row["seq_lengths"]) for row in rows) == [1, 2]
    batch = data.collate_sft(rows, tokenizer.pad_token_id, packed=True)
    assert batch["attention_mask"].shape == (2, 1, longest, longest)
    assert batch["attention_mask"].dtype == torch.bool
    with torch.no_grad():
        out = model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        )
        assert torch.isfinite(out.logits).all()
        # The mean loss over the packed batch is the token-weighted mean of each example's own loss.
        total, count = 0.0, 0
        for example in examples:
            one = data.collate_sft([example], tokenizer.pad_token_id, packed=False)
            loss = model(**one).loss
            tokens = int((one["labels"][:, 1:] != data.IGNORE).sum())
            total += loss.item() * tokens
            count += tokens
        assert int((batch["labels"][:, 1:] != data.IGNORE).sum()) == count
        assert out.loss.item() == pytest.approx(total / count, abs=1e-5)
        # transformers 5 also finds packed sequences from restarting position_ids when given no mask,
        # but only without a KV cache (use_cache defaults to True, and then it silently does not):
        # hence the explicit mask.
        auto = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        torch.testing.assert_close(auto, out.logits, atol=1e-5, rtol=0)


def test_flash_attention_fields_match_transformers_own_varlen_boundaries(tokenizer, chatml):
    from transformers.modeling_flash_attention_utils import prepare_fa_kwargs_from_position_ids

    examples = chat_examples(tokenizer, chatml)
    rows = data.pack(examples, max_length=max(len(example["input_ids"]) for example in examples))
    batch = data.collate_sft(rows, tokenizer.pad_token_id, packed=True, attn_implementation="flash_attention_2")
    assert "attention_mask" not in batch
    (cu_q, cu_k), (max_q, max_k) = prepare_fa_kwargs_from_position_ids(batch["position_ids"])
    assert batch["cu_seq_lens_q"].dtype == torch.int32
    assert batch["cu_seq_lens_q"].tolist() == cu_q.tolist() == batch["cu_seq_lens_k"].tolist()
    assert batch["max_length_q"] == int(max_q) == batch["max_length_k"]
    assert batch["cu_seq_lens_q"][-1] == batch["input_ids"].numel()


def test_collate_unpacked_pads_right():
    batch = data.collate_sft(toy_examples([3, 5]), pad_id=0, packed=False)
    assert batch["input_ids"].shape == (2, 5)
    assert batch["input_ids"][0, 3:].tolist() == [0, 0]
    assert batch["labels"][0].tolist()[0] == -100 and batch["labels"][0, 3:].tolist() == [-100, -100]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]


# ------------------------------------------------------------------------------ preference


def preference_rows() -> list[dict]:
    records = [json.loads(line) for line in (REPO / "sample_data/preferences/pairs.jsonl").read_text().splitlines()]
    rows = [row for record in records[:6] for row in formats.read_row(record, "preference")]
    rows.append(
        {
            "prompt": CONVERSATION[:4],
            "chosen": [{"role": "assistant", "content": "About six minutes."}],
            "rejected": [{"role": "assistant", "content": "An hour."}],
        }
    )
    return [{key: row[key] for key in ("prompt", "chosen", "rejected")} for row in rows]


def trl_tokenize(rows: list[dict], tokenizer) -> list[dict]:
    """TRL 1.16's own preprocessing: DPOTrainer._prepare_dataset on a conversational dataset."""
    from types import SimpleNamespace

    from datasets import Dataset
    from trl import DPOTrainer

    args = SimpleNamespace(dataset_num_proc=None, max_length=None, truncation_mode="keep_start")
    trainer = SimpleNamespace(_tokenizer=tokenizer)
    prepared = DPOTrainer._prepare_dataset(trainer, Dataset.from_list(rows), tokenizer, args, "train")
    return [{key: item[key] for key in ("prompt_ids", "chosen_ids", "rejected_ids")} for item in prepared]


def test_preference_tokenisation_equals_trl(tokenizer, chatml):
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    rows = preference_rows()
    pairs, report = data.tokenize_preference(rows, tokenizer, chatml, max_length=1024)
    assert report.kept == len(rows) and report.prompt_mismatch == 0 and report.truncated == 0
    assert pairs == trl_tokenize(rows, tokenizer)
    # The completion is the answer with its end-of-turn marker and newline; the prompt ends with the generation prompt.
    assert tokenizer.decode(pairs[-1]["chosen_ids"]) == "About six minutes.<|im_end|>\n"
    assert tokenizer.decode(pairs[-1]["prompt_ids"]).endswith("<|im_start|>assistant\n")

    from trl.trainer.dpo_trainer import DataCollatorForPreference

    ours = data.collate_preference(pairs[:3], pad_id=tokenizer.pad_token_id)
    theirs = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id)(pairs[:3])
    assert torch.equal(ours["input_ids"], theirs["input_ids"])
    assert torch.equal(ours["attention_mask"], theirs["attention_mask"])
    assert torch.equal((ours["labels"] != data.IGNORE).long(), theirs["completion_mask"])
    assert torch.equal(ours["labels"][ours["labels"] != -100], ours["input_ids"][ours["labels"] != -100])


def test_preference_truncation_keeps_the_prompt_end_then_cuts_completions(tokenizer, chatml):
    rows = preference_rows()
    full, _ = data.tokenize_preference(rows[-1:], tokenizer, chatml, max_length=1024)
    (whole,) = full
    prompt_room = 10
    room = 6
    pairs, report = data.tokenize_preference(rows[-1:], tokenizer, chatml, prompt_room + room, prompt_room)
    (pair,) = pairs
    assert pair["prompt_ids"] == whole["prompt_ids"][-prompt_room:]
    assert pair["chosen_ids"] == whole["chosen_ids"][:room]
    assert pair["rejected_ids"] == whole["rejected_ids"][:room]
    assert report.truncated == 1
    _, report = data.tokenize_preference(rows[-1:], tokenizer, chatml, max_length=len(whole["prompt_ids"]))
    assert report.kept == 0 and report.dropped == {"prompt_fills_max_length": 1}


# ------------------------------------------------------------------------------ reading


def test_read_rows_of_folders_made_by_convert(tmp_path):
    run_cli("convert", REPO / "sample_data/preferences/pairs.jsonl", "-o", tmp_path / "prefs", "--to", "preference")
    run_cli(
        "convert", REPO / "sample_data/instructions/seed_tasks.en.jsonl", "-o", tmp_path / "sft", "--to", "messages"
    )
    prefs = data.read_rows(tmp_path / "prefs", kind="preference")
    source = [json.loads(line) for line in (REPO / "sample_data/preferences/pairs.jsonl").read_text().splitlines()]
    assert data.rows_kind(prefs) == "preference" and len(prefs) == len(source)
    assert [row["chosen"] for row in prefs] == [record["chosen"] for record in source]
    assert [row["prompt"] for row in prefs] == [record["prompt"] for record in source]

    sft = data.read_rows(tmp_path / "sft")
    assert data.rows_kind(sft) == "sft"
    assert all(row["messages"][-1]["role"] == "assistant" for row in sft)
    assert all(row["messages"][-1]["content"] == row["output"] for row in sft)  # Alpaca-origin columns kept
    with pytest.raises(UserError, match="holds sft rows, but preference rows are needed"):
        data.read_rows(tmp_path / "sft", kind="preference")

    (tmp_path / "sft" / "_manifest.json").unlink()
    with pytest.raises(UserError, match="not a finished dataset folder"):
        data.read_rows(tmp_path / "sft")


def test_read_rows_of_files(tmp_path):
    alpaca = write_jsonl(tmp_path / "a.jsonl.gz", [{"instruction": "Say hi.", "output": "Hi!"}], compress="gzip")
    (row,) = data.read_rows(alpaca)
    assert row["messages"] == [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi!"}]
    assert row["output"] == "Hi!"

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one doc", "two doc"]}), tmp_path / "corpus.parquet")
    assert data.read_rows(tmp_path / "corpus.parquet") == [
        {"text": "one doc", "id": "a"},
        {"text": "two doc", "id": "b"},
    ]

    odd = write_jsonl(tmp_path / "odd.jsonl", [{"question": "?", "answer": "!"}])
    with pytest.raises(UserError, match=r"columns: question, answer"):
        data.read_rows(odd)
    with pytest.raises(UserError, match="does not exist"):
        data.read_rows(tmp_path / "missing")
