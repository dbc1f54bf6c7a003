"""Per-language thresholds (`--thresholds`): the shipped table, a user's overrides, mistakes, decisions."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from curate.corpus.filters import thresholds
from curate.corpus.filters.c4 import C4Quality
from curate.corpus.filters.fineweb import FineWebQuality
from curate.corpus.filters.gopher import GopherQuality, GopherRepetition
from tests.conftest import read_rows, run_cli, write_jsonl

STEPS = "gopher_repetition,gopher_quality,c4,fineweb"
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "web"
# Korean news-style prose: Kiwi splits it into morphemes of one or two characters
KOREAN = "\n".join(
    [
        "서울시는 내년부터 지하철 막차 시간을 평일 기준으로 30분 늦추기로 했다고 밝혔다.",
        "시는 야간에 일하는 시민들이 늘어나면서 늦은 시간의 교통 수요가 꾸준히 증가했다고 설명했다.",
        "이번 조치로 하루 평균 2만 명의 승객이 추가로 지하철을 이용할 수 있을 것으로 보인다.",
        "다만 심야 운행에 필요한 인력과 예산을 어떻게 마련할지는 아직 정해지지 않았다.",
        "노조는 근무 환경이 나빠질 수 있다며 충분한 협의가 먼저 이루어져야 한다고 주장했다.",
        "시는 다음 달까지 관계 기관과 논의해 구체적인 운영 방안을 발표할 계획이다.",
    ]
)


def _decisions(tmp_path: Path, name: str, source: Path, *options: str) -> dict[str, str | None]:
    out = tmp_path / name
    run_cli("filter", source, "-o", out, "--steps", STEPS, "--workers", "1", "--no-progress", *options)
    decisions: dict[str, str | None] = {row["id"]: None for row in read_rows(out)}
    decisions.update({row["id"]: row["reason"] for row in read_rows(out, "rejected")})
    return decisions


def test_the_shipped_table_loads_and_leaves_english_to_datatrove_defaults():
    table = thresholds.load_table(None)
    assert {"ko", "zh", "ja"} <= set(table) and "en" not in table
    korean = table["ko"]["gopher_quality"]
    assert 1 < korean["min_avg_word_length"] < korean["max_avg_word_length"] < 3  # morphemes, not English words
    assert "는" in korean["stop_words"]
    assert table["ja"]["gopher_quality"]["min_avg_word_length"] is None  # not fitted: rule off
    assert thresholds.load_table("none") == {}


def test_a_user_file_overrides_per_language_and_per_key(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "ko:\n  gopher_quality:\n    min_avg_word_length: 1.0\n"
        "fr:\n  gopher_quality:\n    stop_words: [le, la, de, et]\n"
        "  fineweb:\n    line_punct_thr: null\n"
    )
    shipped = thresholds.load_table(None)
    table = thresholds.load_table(path)
    assert table["ko"]["gopher_quality"]["min_avg_word_length"] == 1.0
    # the other Korean keys and languages keep the shipped values
    assert (
        table["ko"]["gopher_quality"]["max_avg_word_length"] == shipped["ko"]["gopher_quality"]["max_avg_word_length"]
    )
    assert table["ko"]["gopher_repetition"] == shipped["ko"]["gopher_repetition"]
    assert table["zh"] == shipped["zh"]
    assert table["fr"] == {
        "gopher_quality": {"stop_words": ("le", "la", "de", "et")},
        "fineweb": {"line_punct_thr": None},
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kr:\n  gopher_quality:\n    min_doc_words: 10\n", "unknown language 'kr'"),
        ("ko:\n  gopher:\n    min_doc_words: 10\n", "unknown step 'gopher'"),
        ("ko:\n  gopher_quality:\n    min_words: 10\n", "unknown key 'min_words'"),
        ("ko:\n  gopher_quality:\n    min_doc_words: -3\n", "whole number >= 0"),
        ("ko:\n  fineweb:\n    line_punct_thr: lots\n", "number >= 0"),
        ("ko:\n  gopher_repetition:\n    top_n_grams: [0.2]\n", "mapping like"),
        ("ko:\n  gopher_quality:\n    stop_words: 이\n", "list of words"),
        ("ko:\n  gopher_quality:\n    stop_words: []\n", "null turns the rule off"),
        ("no:\n  gopher_quality:\n    min_doc_words: 10\n", "quote it, as 'no':"),
        ("ko:\n  c4: {min_num_sentences: 2}\nko-KR:\n  c4: {min_num_sentences: 3}\n", "has a row already"),
        ("ko:\n  gopher_quality: {min_avg_word_length: 5, max_avg_word_length: 2}\n", "is above max_avg_word_length"),
        ("ko:\n  fineweb: {line_punct_thr: 7}\n", "a share from 0 to 1"),
        ("ko:\n  gopher_repetition:\n    top_n_grams: {2: 1.5}\n", "a share from 0 to 1"),
        ("ko:\n  c4: {min_num_sentences: 2}\nzh:\n  c4: {}\nko:\n  c4: {min_num_sentences: 3}\n", "appears twice"),
        ("- ko\n", "maps languages"),
        ("ko: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_table_is_one_line_and_exit_2(tmp_path, content, message):
    write_jsonl(tmp_path / "in.jsonl", [{"text": KOREAN}])
    (tmp_path / "bad.yaml").write_text(content, encoding="utf-8")
    result = run_cli(
        "filter",
        tmp_path / "in.jsonl",
        "-o",
        tmp_path / "out",
        "--steps",
        STEPS,
        "--thresholds",
        tmp_path / "bad.yaml",
        expect=2,
    )
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_missing_table_file_is_one_line(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"text": KOREAN}])
    result = run_cli(
        "filter", tmp_path / "in.jsonl", "-o", tmp_path / "out", "--thresholds", tmp_path / "no.yaml", expect=2
    )
    assert "cannot read thresholds table" in result.output


def test_korean_rejected_by_english_defaults_is_kept_with_the_korean_row(tmp_path):
    pytest.importorskip("kiwipiepy", reason="the Korean row is fitted on Kiwi's words (the ko extra)")
    write_jsonl(tmp_path / "in.jsonl", [{"id": "ko-news", "text": KOREAN}])
    options = ("--language", "ko", "--ko-segmenter", "kiwi")
    english = _decisions(tmp_path, "english", tmp_path / "in.jsonl", *options, "--thresholds", "none")
    assert english == {"ko-news": "gopher_quality:below_avg_threshold"}
    assert _decisions(tmp_path, "korean", tmp_path / "in.jsonl", *options) == {"ko-news": None}
    # and a user's row is what judges it: a Korean minimum word length of 2 rejects it again
    (tmp_path / "strict.yaml").write_text("ko:\n  gopher_quality:\n    min_avg_word_length: 2\n")
    strict = _decisions(tmp_path, "strict", tmp_path / "in.jsonl", *options, "--thresholds", tmp_path / "strict.yaml")
    assert strict == {"ko-news": "gopher_quality:below_avg_threshold"}


def test_the_korean_stop_word_rule_uses_particles():
    pytest.importorskip("kiwipiepy", reason="Kiwi splits the particles off")
    step = GopherQuality(korean_segmenter="kiwi")
    assert step.decide(step.stats(KOREAN, "ko")) is None
    no_particles = " ".join(["서울 지하철 막차 시간 연장 발표 시민 교통 수요 증가 예산 인력 협의 계획"] * 6)
    stats = step.stats(no_particles, "ko")
    assert stats["stop_words"] == 0 and step.decide(stats) == "above_avg_threshold"  # nouns only: long morphemes
    row = {**thresholds.step_rows(None, "gopher_quality")["ko"], "max_avg_word_length": None}
    lenient = GopherQuality(korean_segmenter="kiwi", thresholds={"ko": row})
    assert lenient.decide(lenient.stats(no_particles, "ko")) == "enough_stop_words"


def test_english_decisions_do_not_change_with_the_table(tmp_path):
    source = SAMPLE / "en_web.jsonl"
    if not source.exists():
        pytest.skip("sample_data/web/en_web.jsonl is written by the project's sample data script")
    with_table = _decisions(tmp_path, "table", source)
    assert with_table == _decisions(tmp_path, "none", source, "--thresholds", "none")
    assert any(reason is None for reason in with_table.values()) and any(with_table.values())


def test_steps_built_directly_take_the_shipped_rows_and_english_is_untouched():
    for step_class in (GopherQuality, GopherRepetition, C4Quality, FineWebQuality):
        step = step_class()
        assert "en" not in step.thresholds
        english = step.limits("en")
        assert all(english[key] == getattr(step, key) for key in thresholds.STEP_KEYS[step.name] if hasattr(step, key))
    assert C4Quality().limits("zh")["min_words_per_line"] < 3  # a line of Chinese is one whitespace "word"


def test_chinese_lines_survive_c4_with_the_table():
    chinese = "\n".join(
        [
            "北京市政府今天宣布，明年起地铁末班车将在工作日延后三十分钟。",
            "官员表示，夜间工作的市民越来越多，晚间出行需求持续增长。",
            "预计这一措施每天可为约两万名乘客提供方便。",
            "不过，延长运营所需的人员和预算尚未确定。",
            "工会认为工作环境可能变差，要求先进行充分协商。",
            "市政府计划下个月与有关部门讨论后公布具体方案。",
        ]
    )
    assert C4Quality(thresholds={}).decide(C4Quality(thresholds={}).stats(chinese, "zh")) == "too_few_sentences"
    step = C4Quality()
    assert step.decide(step.stats(chinese, "zh")) is None


def test_sample_korean_web_keeps_more_with_the_table(tmp_path):
    pytest.importorskip("kiwipiepy", reason="the Korean row is fitted on Kiwi's words (the ko extra)")
    source = SAMPLE / "ko_web.jsonl.gz"
    if not source.exists():
        pytest.skip("sample_data/web/ko_web.jsonl.gz is written by the project's sample data script")
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        count = sum(1 for line in handle if line.strip() and json.loads(line))
    options = ("--language", "ko", "--ko-segmenter", "kiwi")
    with_table = _decisions(tmp_path, "table", source, *options)
    without = _decisions(tmp_path, "none", source, *options, "--thresholds", "none")
    assert len(with_table) == len(without) == count
    kept_with = sum(reason is None for reason in with_table.values())
    assert kept_with > sum(reason is None for reason in without.values())
    # what the English word-length rule rejected is the only change
    changed = {key for key in with_table if with_table[key] != without[key]}
    assert changed and all(without[key] == "gopher_quality:below_avg_threshold" for key in changed)


def test_n_gram_limits_merge_per_size_and_a_null_size_is_dropped(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "ko:\n  gopher_repetition:\n    dup_n_grams: {5: 0.3, 10: null}\n"
        "en:\n  gopher_repetition:\n    top_n_grams: {2: 0.25}\n"
    )
    table = thresholds.load_table(path)
    shipped = dict(thresholds.load_table(None)["ko"]["gopher_repetition"]["dup_n_grams"])
    step = GopherRepetition(thresholds=thresholds.step_rows(table, "gopher_repetition"))
    korean = dict(step.limits("ko")["dup_n_grams"])
    assert korean == {**{n: limit for n, limit in shipped.items() if n != 10}, 5: 0.3}
    # English has no shipped row: the step's own sizes, with the user's size over them
    assert step.limits("en")["top_n_grams"] == ((2, 0.25), (3, 0.18), (4, 0.16))
    assert step.limits("en")["dup_n_grams"] == GopherRepetition().dup_n_grams


@pytest.mark.parametrize("label", ["ko", "ko-KR", "KO", "kor", "kor_Hang", "__label__ko"])
def test_language_labels_are_normalised_to_the_table_s_codes(label):
    from curate.corpus.languages import language_code

    assert language_code(label) == "ko"
    assert language_code("zh-Hans") == language_code("cmn") == language_code("zho_Hans") == "zh"


def test_a_lang_column_spelt_otherwise_finds_its_row(tmp_path):
    pytest.importorskip("kiwipiepy", reason="the Korean row is fitted on Kiwi's words (the ko extra)")
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = ["ko", "ko-KR", "kor_Hang"]  # as langid, a BCP 47 tagger and GlotLID write them
    pq.write_table(pa.table({"id": labels, "text": [KOREAN] * 3, "lang": labels}), tmp_path / "in.parquet")
    decisions = _decisions(tmp_path, "out", tmp_path / "in.parquet", "--ko-segmenter", "kiwi")
    assert decisions == {"ko": None, "ko-KR": None, "kor_Hang": None}


def test_english_words_in_korean_prose_do_not_move_its_word_length():
    pytest.importorskip("kiwipiepy", reason="the Korean row is fitted on Kiwi's words (the ko extra)")
    quoting = KOREAN.replace("지하철", "Subway Metropolitan Transportation Authority 지하철")
    step = GopherQuality(korean_segmenter="kiwi")
    plain, mixed = step.stats(KOREAN, "ko"), step.stats(quoting, "ko")
    assert mixed["mean_word_length"] == pytest.approx(plain["mean_word_length"])
    assert step.decide(mixed) is None
