"""User-supplied files run within time and memory limits: templates, fastText models, model
folders and trainer states that would take minutes or gigabytes are refused in one line."""

from __future__ import annotations

import json
import pickle
import resource
import shutil
import struct
import time
import zipfile
from pathlib import Path

import pytest

from curate.corpus.fasttext_header import NotAFastTextModel, check_fasttext_file
from curate.errors import UserError
from curate.instruct.templates import ChatTemplate, TemplateError, load_template, shipped_templates
from tests.conftest import run_cli

SEED_TASKS = Path(__file__).resolve().parents[1] / "sample_data/instructions/seed_tasks.en.jsonl"
MESSAGES = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]

HOSTILE_TEMPLATES = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "string times a billion": "{{ 'a' * 10**9 }}",
    "centre a billion wide": "{{ 'a'|center(10**9) }}",
    "ljust method": "{{ 'a'.ljust(10**9) }}",
    "doubling string": (
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"
    ),
    "doubling list": (
        "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}"
    ),
    "list times a billion": "{{ ([0] * 10**9)|length }}",
    "range of a billion": "{{ range(10**9)|list|length }}",
    "huge power": "{{ 7 ** 100000000 }}",
    "percent width": "{{ '%0999999999d' % 1 }}",
    "format width": "{{ '{:>999999999}'.format(1) }}",
    "replace growth": "{{ ('a' * 10000).replace('a', 'a' * 10000) }}",
    "join of a growing list": "{{ (range(100000)|list * 100)|join(',') }}",
    "indent": "{{ ('a\n' * 1000)|indent(10**8) }}",
    "recursive macro": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
}


@pytest.mark.parametrize("source", HOSTILE_TEMPLATES.values(), ids=HOSTILE_TEMPLATES.keys())
def test_a_hostile_template_is_refused_within_the_budget(source):
    started = time.monotonic()
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(TemplateError) as refused:
        ChatTemplate(source, "evil.jinja").render(MESSAGES)
    assert time.monotonic() - started < 30  # the deadline is 5 s; a loaded CI machine gets slack
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before < 1_000_000  # KiB: under 1 GB
    assert "\n" not in str(refused.value) and "evil.jinja" in str(refused.value)


def test_the_shipped_templates_render_as_before_within_the_budget():
    long_conversation = [
        {"role": "user" if turn % 2 == 0 else "assistant", "content": "word " * 2000} for turn in range(200)
    ]
    for name in shipped_templates():
        text = load_template(name).render(long_conversation)
        assert text.count("word") == 200 * 2000


def test_tojson_and_loops_still_work_like_transformers_templates():
    template = ChatTemplate(
        "{% for m in messages %}{{ m|tojson }}{% if not loop.last %},{% endif %}{% endfor %}"
        "{{ range(3)|list }}{{ '%s-%d'|format('a', 2) }}{{ '{}!'.format('x') }}",
        "plain",
    )
    assert template.render(MESSAGES) == (
        '{"role": "user", "content": "hi"},{"role": "assistant", "content": "hello"}[0, 1, 2]a-2x!'
    )


def test_render_stops_on_a_template_over_budget_in_one_line(tmp_path):
    template = tmp_path / "slow.jinja"
    template.write_text(HOSTILE_TEMPLATES["string times a billion"])
    result = run_cli("render", SEED_TASKS, "-o", tmp_path / "out", "--template", template, expect=2)
    assert "budget" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_an_enormous_template_file_is_refused():
    with pytest.raises(TemplateError, match="at most"):
        ChatTemplate("x" * (2**20 + 1), "big.jinja")


# ---------------------------------------------------------------------------------- fastText


def _fasttext_bytes(entries: int = 1, terminated: bool = True, rows: int = 10**9, columns: int = 16) -> bytes:
    header = struct.pack("<ii", 793712314, 12) + struct.pack("<12id", 16, 5, 5, 1, 5, 1, 1, 3, 0, 0, 0, 100, 1e-4)
    dictionary = struct.pack("<iiiqq", entries, entries, 0, 10, -1)
    dictionary += b"word" + (b"\0" + struct.pack("<qb", 1, 0) if terminated else b"")
    return header + dictionary + struct.pack("<?qq", False, rows, columns)


CRAFTED_FASTTEXT = {
    "a billion-row matrix": _fasttext_bytes(),
    "a word never terminated": _fasttext_bytes(terminated=False)[:-17],
    "ten million entries in 120 bytes": _fasttext_bytes(entries=10**7),
    "random bytes": bytes(range(90)),
    "empty": b"",
}


@pytest.mark.parametrize("data", CRAFTED_FASTTEXT.values(), ids=CRAFTED_FASTTEXT.keys())
def test_a_crafted_fasttext_file_is_refused_before_fasttext_reads_it(data, tmp_path):
    from curate.corpus.fasttext_models import load_model

    path = tmp_path / "model.bin"
    path.write_bytes(data)
    started = time.monotonic()
    with pytest.raises(UserError, match="is not a fastText model file"):
        load_model(path)
    assert time.monotonic() - started < 5


def test_real_fasttext_models_pass_the_check(tmp_path):
    pytest.importorskip("fasttext")
    from curate.corpus.fasttext_models import packaged_lid_model, train_supervised

    lid = packaged_lid_model()
    if lid is not None:
        check_fasttext_file(lid)  # quantized, pruned
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    lines = [
        f"__label__{i % 2} " + " ".join(f"{words[(i * j) % 5]}{(i + j) % 300}" for j in range(20)) for i in range(2000)
    ]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    # in a fresh process, as curate trains (fastText in a process that freed memory may diverge)
    train_supervised(tmp_path / "train.txt", tmp_path / "dense.bin", epoch=1, dim=16, minn=2, maxn=4, bucket=50000)
    check_fasttext_file(tmp_path / "dense.bin")
    with pytest.raises(NotAFastTextModel, match="follow the model"):
        (tmp_path / "longer.bin").write_bytes((tmp_path / "dense.bin").read_bytes() + b"extra")
        check_fasttext_file(tmp_path / "longer.bin")


# ------------------------------------------------------------------------------ model folders


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("limits") / "tiny"
    run_cli("init-model", "-o", folder, "--corpus", SEED_TASKS, "--size", "tiny")
    return folder


def _copy_with(tiny_model: Path, tmp_path: Path, weights: bytes | None = None, config: dict | None = None) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder, ignore=shutil.ignore_patterns(".curate*"))
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def _weights_variants(tiny_model: Path) -> dict[str, bytes]:
    data = (tiny_model / "model.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    name = next(key for key in header if key != "__metadata__")
    header[name]["data_offsets"] = [0, 10**12]
    moved = json.dumps(header).encode()
    return {
        "header length of a terabyte": struct.pack("<Q", 2**40) + data[8:],
        "cut in half": data[: len(data) // 2],
        "offsets past the end": struct.pack("<Q", len(moved)) + moved + data[8 + length :],
    }


@pytest.mark.parametrize("variant", ["header length of a terabyte", "cut in half", "offsets past the end"])
def test_a_corrupt_safetensors_file_is_refused_in_one_line(variant, tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    from curate.llm.model_files import check_model_folder

    folder = _copy_with(tiny_model, tmp_path, weights=_weights_variants(tiny_model)[variant])
    with pytest.raises(UserError, match="not a readable safetensors file"):
        check_model_folder(str(folder), AutoModelForCausalLM)


def test_a_config_larger_than_its_weights_is_refused_before_loading(tiny_model, tmp_path):
    config = json.loads((tiny_model / "config.json").read_text())
    folder = _copy_with(tiny_model, tmp_path, config={**config, "num_hidden_layers": 40, "intermediate_size": 10**5})
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_cli("train-sft", SEED_TASKS, "--model", folder, "-o", tmp_path / "run", expect=2)
    assert "describes a model of" in result.output and "Traceback" not in result.output
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before < 500_000  # KiB


def test_the_real_model_folder_passes_the_check(tiny_model):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from curate.llm.model_files import check_model_folder

    check_model_folder(str(tiny_model), AutoModelForCausalLM)
    check_model_folder(str(tiny_model), AutoModelForSequenceClassification)  # a new one-label head is allowed


# ------------------------------------------------------------------------------ trainer state


class _Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def _state_variants(tmp_path: Path) -> dict[str, Path]:
    import torch

    variants = {}
    folder = tmp_path / "pickled"
    folder.mkdir()
    torch.save({"progress": {"step": 1}, "evil": _Payload()}, folder / "trainer_state.pt")
    variants["code in the pickle"] = folder
    folder = tmp_path / "compressed"
    folder.mkdir()
    with zipfile.ZipFile(folder / "trainer_state.pt", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 0}) * 1000)
    variants["compressed records"] = folder
    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / "trainer_state.pt").write_bytes(b"\x80\x04not a zip at all")
    variants["not a zip"] = folder
    return variants


def test_a_malicious_trainer_state_is_refused_in_one_line(tmp_path, capsys):
    from curate.train.checkpoint import load_state

    for name, folder in _state_variants(tmp_path).items():
        with pytest.raises(UserError, match="cannot be resumed from") as refused:
            load_state(folder)
        assert "\n" not in str(refused.value), name
    assert "this ran" not in capsys.readouterr().out


def test_a_real_trainer_state_loads(tmp_path):
    import torch

    from curate.train.checkpoint import load_state

    torch.save({"progress": {"step": 3}, "rng": {"torch": torch.get_rng_state()}}, tmp_path / "trainer_state.pt")
    assert load_state(tmp_path)["progress"]["step"] == 3


def test_every_measured_filter_names_what_it_works_on():
    # a jinja2 upgrade renaming a filter's parameters must fail here, not in a user's template
    from jinja2.filters import FILTERS

    from curate.instruct.template_limits import _FILTER_ESTIMATES, _filter_signature

    for name in _FILTER_ESTIMATES:
        parameters = _filter_signature(FILTERS[name]).parameters
        assert {"value", "s", "d"} & set(parameters), name


def test_prompt_templates_and_rubrics_render_within_the_same_budget(tmp_path):
    from curate.instruct.templates import PromptTemplate

    for name, source in {
        "loop": HOSTILE_TEMPLATES["nested loops"],
        "centre": HOSTILE_TEMPLATES["centre a billion wide"],
        "deep": "{% if 1 %}" * 200 + "x" + "{% endif %}" * 200,
    }.items():
        (tmp_path / f"{name}.jinja").write_text(source)
        started = time.monotonic()
        with pytest.raises(UserError) as refused:
            PromptTemplate(tmp_path / f"{name}.jinja", "prompt template").render()
        assert time.monotonic() - started < 30 and "\n" not in str(refused.value)


def test_a_template_nested_past_pythons_limit_is_one_line():
    with pytest.raises(TemplateError, match="nested too deeply"):
        ChatTemplate("{% for x in y %}" * 120 + "{% endfor %}" * 120, "deep.jinja")


@pytest.mark.parametrize(
    "change",
    [{"num_key_value_heads": 0}, {"num_attention_heads": 0}, {"vocab_size": -5}, {"num_hidden_layers": "2"}],
    ids=["no kv heads", "no heads", "negative vocabulary", "layers as text"],
)
def test_a_broken_config_is_one_line(change, tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    from curate.llm.model_files import check_model_folder

    config = json.loads((tiny_model / "config.json").read_text())
    folder = _copy_with(tiny_model, tmp_path, config={**config, **change})
    with pytest.raises(UserError, match="cannot build the model"):
        check_model_folder(str(folder), AutoModelForCausalLM)


def test_a_trainer_state_of_the_wrong_shape_is_one_line(tiny_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from curate.train.checkpoint import restore

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    optimizer = torch.optim.AdamW(model.parameters())
    for number, state in enumerate([{}, [1, 2], {"progress": {"step": "abc"}}, {"progress": {"step": 9}}]):
        folder = tmp_path / f"checkpoint-{number + 1}"
        shutil.copytree(tiny_model, folder, ignore=shutil.ignore_patterns(".curate*"))
        torch.save(state, folder / "trainer_state.pt")
        with pytest.raises(UserError, match="does not fit this run"):
            restore(folder, model, optimizer, None)


@pytest.mark.parametrize(("field", "value"), [(8, 2_000_000_000), (0, 65536)], ids=["bucket", "dimension"])
def test_a_fasttext_header_that_does_not_fit_its_matrices_is_refused(field, value, tmp_path):
    pytest.importorskip("fasttext")
    from curate.corpus.fasttext_models import train_supervised

    lines = [f"__label__{i % 2} " + " ".join(f"w{(i * j) % 97}" for j in range(12)) for i in range(400)]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    train_supervised(tmp_path / "train.txt", tmp_path / "m.bin", epoch=1, dim=8, minn=2, maxn=3, bucket=5000)
    data = bytearray((tmp_path / "m.bin").read_bytes())
    args = list(struct.unpack_from("<12id", data, 8))
    args[field] = value  # the header no longer says what the matrices hold: fastText would read past them
    struct.pack_into("<12id", data, 8, *args)
    (tmp_path / "m.bin").write_bytes(bytes(data))
    with pytest.raises(NotAFastTextModel, match="header implies"):
        check_fasttext_file(tmp_path / "m.bin")
