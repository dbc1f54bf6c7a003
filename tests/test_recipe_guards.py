"""A recipe is read within limits, means what it says, and rebuilds only the folders it made."""

from __future__ import annotations

import time

import pytest

from tests.conftest import manifest, run_cli, write_jsonl

DOCS = [{"id": str(i), "text": f"Document number {i} says something. " * 3} for i in range(20)]


def _recipe(path, body: str | bytes):
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body, encoding="utf-8")
    return path


def _one_line_error(tmp_path, body, name="r.yaml") -> str:
    result = run_cli("run", _recipe(tmp_path / name, body), expect=2)
    last = result.output.splitlines()[-1]
    assert last.startswith("Error: ") and "Traceback" not in result.output, result.output
    return last


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "a.jsonl", DOCS)
    return tmp_path


STEP = "  - filter: {inputs: [a.jsonl], output: OUT, steps: clean, workers: 1}\n"


@pytest.mark.parametrize("value", ['"no"', '"false"', "0", "1", '"yes"', "[true]"])
def test_a_flag_is_true_or_false_only(data, value):
    body = f"steps:\n  - filter: {{inputs: [a.jsonl], output: o, dry_run: {value}}}\n"
    assert "is a flag: write true or false" in _one_line_error(data, body)
    assert not (data / "o").exists()


def test_a_list_for_an_option_of_one_value_is_refused(data):
    body = "steps:\n  - filter: {inputs: [a.jsonl], output: [o, p]}\n"
    assert "takes one value" in _one_line_error(data, body)


@pytest.mark.parametrize("second", ["o", "o/", "./o", "o/inner"])
def test_two_steps_writing_one_folder_are_refused_before_either_runs(data, second):
    body = "steps:\n" + STEP.replace("OUT", "o") + STEP.replace("OUT", second)
    assert "both write" in _one_line_error(data, body)
    assert not (data / "o").exists()


def test_an_unknown_top_level_key_is_refused(data):
    assert "unknown top-level key 'step'" in _one_line_error(data, "step:\n" + STEP.replace("OUT", "o"))
    run_cli("run", _recipe(data / "ok.yaml", "description: two words\nsteps:\n" + STEP.replace("OUT", "o")))


def test_a_recipe_that_is_not_utf8_is_one_line(data):
    assert "not UTF-8" in _one_line_error(data, b"steps:\n  - filter: {inputs: [\xff.jsonl], output: o}\n")


def test_a_billion_laughs_recipe_is_refused_quickly(data):
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    started = time.monotonic()
    output = _one_line_error(data, "\n".join(lines) + "\nsteps: *a9\n")
    assert "expands to more than" in output or "aliases" in output
    assert time.monotonic() - started < 10


def test_many_aliases_are_refused(data):
    body = "x: &x 1\nsteps:\n" + "".join("  - *x\n" for _ in range(200))
    assert "aliases" in _one_line_error(data, body)


def test_an_oversized_recipe_is_refused(data):
    body = "steps:\n" + STEP.replace("OUT", "o") + "# " + "x" * (2 << 20) + "\n"
    assert "larger than" in _one_line_error(data, body)


def test_a_recipe_rebuilds_only_folders_it_made(data):
    run_cli("filter", "a.jsonl", "-o", "by_hand", "--steps", "clean", "--workers", "1")
    stale = "steps:\n  - filter: {inputs: [a.jsonl], output: by_hand, steps: clean, workers: 1, unicode: NFKC}\n"
    output = _one_line_error(data, stale, "hand.yaml")
    assert "pass --overwrite" in output and "the recipe did not make" in output
    assert manifest(data / "by_hand")["options"]["unicode_form"] == "NFC"

    # a folder the recipe made is rebuilt when its options change
    recipe = _recipe(data / "own.yaml", "steps:\n" + STEP.replace("OUT", "mine"))
    run_cli("run", recipe)
    _recipe(recipe, "steps:\n  - filter: {inputs: [a.jsonl], output: mine, steps: clean, workers: 1, unicode: NFKC}\n")
    run_cli("run", recipe)
    assert manifest(data / "mine")["options"]["unicode_form"] == "NFKC"
    # ... but not by another recipe
    other = _recipe(data / "other.yaml", "steps:\n" + STEP.replace("OUT", "mine"))
    assert "pass --overwrite" in _one_line_error(data, other.read_text(), "other.yaml")


def test_a_recipe_nested_too_deeply_is_one_line(tmp_path):
    from tests.conftest import run_cli

    (tmp_path / "deep.yaml").write_text("steps: " + "[" * 20000 + "]" * 20000 + "\n")
    result = run_cli("run", tmp_path / "deep.yaml", expect=2)
    assert "nested too deeply" in result.output and "Traceback" not in result.output
