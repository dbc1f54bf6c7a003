"""A new format, reader, filter, DPO loss, judge or command is one module and one registry line:
registering one (here, in the test) is all it takes for the rest of curate to use it."""

from __future__ import annotations

import json
import sys
import types

import click
import pyarrow as pa
import pytest

from curate.instruct.formats import registry as format_registry
from curate.instruct.formats.base import SFT, Axolotl, Format, LlamaFactory
from curate.instruct.formats.canonical import assistant, require_str, user
from curate.pipeline.step import Step, split_by_rule

from .conftest import manifest, read_rows, run_cli, write_jsonl


def _read_qa(fields: dict) -> tuple[list[dict], set[str]]:
    return [{"messages": [user(require_str(fields, "question")), assistant(require_str(fields, "answer"))]}], {
        "question",
        "answer",
    }


def _write_qa(row: dict, meta: dict) -> dict:
    return {"question": row["messages"][0]["content"], "answer": row["messages"][1]["content"]}


QA = Format(
    name="qa",
    kind=SFT,
    summary="Question and answer pairs.",
    detect=lambda record: "question" in record and "answer" in record,
    detect_order=65,
    read=_read_qa,
    write=_write_qa,
    columns=(("question", pa.string()), ("answer", pa.string())),
    llamafactory=LlamaFactory(entry={"formatting": "alpaca", "columns": {"prompt": "question", "response": "answer"}}),
    axolotl=Axolotl(cannot="no Axolotl type reads it"),
)


@pytest.fixture
def qa_format(monkeypatch):
    monkeypatch.setitem(format_registry.FORMATS, "qa", QA)
    return QA


def test_a_registered_format_is_detected_converted_and_described(qa_format, tmp_path):
    from curate.instruct.command import convert_dataset
    from curate.io.readers import ReaderOptions
    from curate.io.writer import WriterOptions

    records = [{"question": "Why is the sky blue?", "answer": "Rayleigh scattering."}, {"question": "Hi", "answer": ""}]
    source = write_jsonl(tmp_path / "qa.jsonl", records)
    arguments = {"options": {}, "command_line": "test", "reader": ReaderOptions(), "writer": WriterOptions()}
    convert_dataset([str(source)], tmp_path / "messages", "messages", None, progress=False, **arguments)
    (row,) = read_rows(tmp_path / "messages")
    assert row["messages"][1]["content"] == "Rayleigh scattering."
    assert manifest(tmp_path / "messages")["counts"]["by_reason"] == {"convert:empty_turn": 1}

    convert_dataset([str(tmp_path / "messages")], tmp_path / "back", "qa", None, progress=False, **arguments)
    assert read_rows(tmp_path / "back")[0]["question"] == "Why is the sky blue?"
    assert json.loads((tmp_path / "back" / "dataset_info.json").read_text())["back"]["columns"]["prompt"] == "question"
    assert "no Axolotl type reads it" in (tmp_path / "back" / "README.md").read_text()


def test_a_registered_dpo_loss_trains(monkeypatch):
    torch = pytest.importorskip("torch")
    from curate.train import dpo_losses
    from curate.train.dpo import DPOSettings, check_settings

    monkeypatch.setitem(dpo_losses.LOSSES, "squared", lambda chosen, rejected, beta, *lengths: (chosen - rejected) ** 2)
    chosen, rejected = torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -2.5])
    losses, _, _ = dpo_losses.dpo_loss(chosen, rejected, chosen * 0, rejected * 0, 0.1, "squared")
    assert losses.tolist() == [4.0, 0.25]
    check_settings(DPOSettings(model="m", data=("d",), output=None, loss="squared"))


class NoDigits(Step):
    """A filter step defined here (module level: steps are copied into workers by pickling)."""

    name = "no_digits"

    def run(self, batch):
        texts = batch.column("text").to_pylist()
        return split_by_rule(self.name, batch, ["digits" if any(c.isdigit() for c in t) else None for t in texts])


def test_a_registered_filter_runs_by_name(monkeypatch, tmp_path):
    from curate.corpus import registry
    from curate.corpus.filters.spec import FilterSpec

    spec = FilterSpec("no_digits", "Drops documents with digits.", build=lambda params: NoDigits())
    monkeypatch.setitem(registry.FILTERS, "no_digits", spec)
    source = write_jsonl(tmp_path / "docs.jsonl", [{"text": "no numbers here"}, {"text": "room 101"}])
    steps = registry.build_steps({"steps": "no_digits", "language": "en", "ko_segmenter": "space"})
    from curate.corpus.command import filter_corpus
    from curate.io.readers import ReaderOptions
    from curate.io.writer import WriterOptions

    filter_corpus([str(source)], tmp_path / "out", steps, options={}, command_line="test", reader=ReaderOptions(),
                  writer=WriterOptions(), progress=False)  # fmt: skip
    assert manifest(tmp_path / "out")["counts"]["by_reason"] == {"no_digits:digits": 1}


def test_a_registered_reader_reads_its_suffix(monkeypatch, tmp_path):
    from curate.io.readers import registry
    from curate.io.readers.batch import BatchBuilder

    def read_tsv(input_file, options):
        builder = BatchBuilder(input_file.source, options)
        for line in input_file.path.read_text().splitlines():
            doc_id, text = line.split("\t")
            builder.add(doc_id, text)
        yield from builder.finish(input_file.path.stat().st_size)

    monkeypatch.setitem(registry.READERS, "tsv", registry.InputReader(read_tsv, (".tsv",)))
    (tmp_path / "docs.tsv").write_text("a\tfirst document\nb\tsecond document\n")
    run_cli("filter", tmp_path / "docs.tsv", "-o", tmp_path / "out", "--steps", "clean", "--no-progress")
    assert [row["id"] for row in read_rows(tmp_path / "out")] == ["a", "b"]


def test_a_registered_judge_is_built_by_name_and_judges(monkeypatch):
    from curate.prefs.judges.base import Judgement
    from curate.prefs.judges.registry import JUDGES, JudgeKind, JudgeOptions

    class Longest:
        name = "longest"

        def judge(self, groups):
            return [[Judgement(float(len(answer))) for answer in answers] for _, answers in groups]

        def stats(self):
            return {}

        def close(self):
            pass

    monkeypatch.setitem(JUDGES, "longest", JudgeKind(lambda options: Longest()))
    judge = JUDGES["longest"].build(JudgeOptions(model="none"))
    assert judge.judge([([{"role": "user", "content": "hi"}], ["a", "abc"])]) == [[Judgement(1.0), Judgement(3.0)]]


def test_a_registered_command_runs(monkeypatch):
    from curate import cli as cli_package

    module = types.ModuleType("curate_test_hello")

    @click.command("hello")
    def hello() -> None:
        """Say hello."""
        click.echo("hello from a plugin")

    module.hello = hello
    monkeypatch.setitem(sys.modules, "curate_test_hello", module)
    monkeypatch.setitem(cli_package.COMMANDS, "hello", ("curate_test_hello", "hello", "Say hello."))
    assert "hello from a plugin" in run_cli("hello").output
    assert "Say hello." in run_cli("--help").output
