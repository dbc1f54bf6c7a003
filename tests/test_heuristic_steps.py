"""The gopher_*, c4 and fineweb steps through `curate filter`: reasons, options, rewrites."""

from __future__ import annotations

import pyarrow as pa

from curate.corpus.filters.gopher import GopherQuality
from tests.conftest import manifest, read_rows, run_cli, write_jsonl

SENTENCE = "The committee met on Tuesday and agreed that the new library should open with longer hours."
GOOD = "\n".join(
    [
        SENTENCE,
        "Residents had asked for evening access because many of them work during the day.",
        "The budget for the extra staff will come from a grant that the city won last spring.",
        "Volunteers from the local school offered to help with the reading programme for children.",
        "A small cafe near the entrance is planned, although its opening date is still unknown.",
        "Several members worried about noise, so the quiet study rooms will move to the second floor.",
        "The architect presented drawings that show wider windows and a garden behind the building.",
        "Construction should begin in March and finish before the end of the year, weather permitting.",
    ]
)
STEPS = "gopher_repetition,gopher_quality,c4,fineweb"


def _run(tmp_path, records, *options):
    write_jsonl(tmp_path / "in.jsonl", records)
    run_cli(
        "filter",
        tmp_path / "in.jsonl",
        "-o",
        tmp_path / "out",
        "--steps",
        STEPS,
        "--no-progress",
        "--overwrite",
        *options,
    )
    kept = {row["id"]: row for row in read_rows(tmp_path / "out")}
    rejected = {row["id"]: row["reason"] for row in read_rows(tmp_path / "out", "rejected")}
    return kept, rejected


def test_each_family_names_its_step_and_rule(tmp_path):
    records = [
        {"id": "good", "text": GOOD},
        {"id": "short", "text": " ".join(GOOD.split("\n")[:3])},
        {"id": "repeated", "text": "\n".join([SENTENCE] * 10)},
        {"id": "lorem", "text": GOOD + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit."},
        {"id": "list", "text": "\n".join(f"- item {n} of the list" for n in range(80))},
    ]
    kept, rejected = _run(tmp_path, records)
    assert set(kept) == {"good"}
    assert rejected == {
        "short": "gopher_quality:short_doc",
        "repeated": "gopher_repetition:dup_line_frac",
        "lorem": "c4:lorem_ipsum",
        "list": rejected["list"],
    }
    assert rejected["list"].startswith(("gopher_", "c4:", "fineweb:"))
    assert manifest(tmp_path / "out")["counts"]["by_reason"]["c4:lorem_ipsum"] == 1


def test_thresholds_are_options_and_zero_turns_a_rule_off(tmp_path):
    records = [{"id": "short", "text": "Too short to be a document. It has two sentences."}]
    _, rejected = _run(tmp_path, records, "--steps", "gopher_quality")
    assert rejected == {"short": "gopher_quality:short_doc"}
    kept, _ = _run(tmp_path, records, "--steps", "gopher_quality", "--gopher-min-doc-words", "0")
    assert set(kept) == {"short"}


def test_c4_keeps_a_document_without_its_boilerplate_lines(tmp_path):
    text = (
        GOOD
        + "\nPlease enable Javascript to view this page.\nWe use cookies. See our privacy policy for details.\nMenu"
    )
    kept, _ = _run(tmp_path, [{"id": "page", "text": text}], "--steps", "c4")
    assert kept["page"]["text"] == GOOD
    report = (tmp_path / "out" / "report.json").read_text()
    assert "lines_removed" in report


def test_steps_option_is_checked(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"text": GOOD}])
    result = run_cli("filter", tmp_path / "in.jsonl", "-o", tmp_path / "out", "--steps", "gopher,c4", expect=2)
    assert "unknown step gopher" in result.output and "gopher_quality" in result.output
    assert not (tmp_path / "out").exists()


def test_word_length_and_stop_word_rules_follow_the_language():
    korean = " ".join(["한국어 문서는 짧은 어절로 이루어져 있고 조사가 붙어 있습니다."] * 8)
    step = GopherQuality(korean_segmenter="space")
    stats = step.stats(korean, "ko")
    assert stats["mean_word_length"] < 3  # would fail the English 3-10 rule...
    assert step.decide(stats) is None  # ...which is off for Korean, as is the stop-word rule without Kiwi
    assert step.decide(step.stats(korean, "en")) == "below_avg_threshold"


def test_the_lang_column_picks_the_rules(tmp_path):
    table = pa.table({"id": ["a", "b"], "text": [" ".join(["짧은 말"] * 40)] * 2, "lang": ["ko", "en"]})
    output = GopherQuality(korean_segmenter="space").run(table)
    assert output.kept.column("id").to_pylist() == ["a"]
    assert output.rejected.column("reason").to_pylist() == ["gopher_quality:below_avg_threshold"]


def test_badwords_drops_documents_above_the_share(tmp_path, shared_data):
    word_list = shared_data / "web" / "wordlists" / "ldnoobw_en.txt"
    listed = [line.strip() for line in word_list.read_text().splitlines() if line.strip() and " " not in line][5]
    records = [
        {"id": "clean", "text": GOOD},
        {"id": "once", "text": GOOD + f" {listed}."},
        {"id": "many", "text": GOOD + (f" {listed}" * 10) + "."},
    ]
    kept, rejected = _run(tmp_path, records, "--steps", "badwords", "--badwords", word_list)
    assert set(kept) == {"clean", "once"} and rejected == {"many": "badwords:too_many_badwords"}
    kept, rejected = _run(
        tmp_path, records, "--steps", "badwords", "--badwords", word_list, "--badwords-max-ratio", "0"
    )
    assert set(kept) == {"clean"}


def test_badwords_without_a_list_is_a_clear_error(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"text": GOOD}])
    result = run_cli("filter", tmp_path / "in.jsonl", "-o", tmp_path / "out", "--steps", "badwords", expect=2)
    assert "--badwords FILE" in result.output
