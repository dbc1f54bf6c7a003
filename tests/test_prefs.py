"""`curate prefs`: pairing rules, prompts, and whole runs against the fake server and a tiny reward model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.llm.backend import EMPTY, FAILED, LENGTH, OK, Completion
from curate.prefs import candidates as cand
from curate.prefs.pairs import make_pairs
from tests.conftest import REPO, SHARED_DATA
from tests.fake_openai_server import FakeOpenAIServer

PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"
needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="../shared/data is absent (the fake server answers from it)"
)


def rows(folder: Path, sub: str = "data") -> list[dict]:
    return [row for path in sorted((folder / sub).glob("*.parquet")) for row in pq.read_table(path).to_pylist()]


# ------------------------------------------------------------------------------ pairing


def test_best_worst_pairs_the_extremes_and_drops_ties_and_small_margins():
    rng = random.Random(0)
    pairs, drops = make_pairs([3.0, 9.0, None, 5.0], "best-worst", 0.0, rng)
    assert [(pair.chosen, pair.rejected, pair.margin) for pair in pairs] == [(1, 0, 6.0)] and drops == []
    pairs, drops = make_pairs([7.0, 7.0, 7.0], "best-worst", 0.0, rng)
    assert pairs == [] and [drop.reason for drop in drops] == ["tie"]
    pairs, drops = make_pairs([7.0, 6.5], "best-worst", 1.0, rng)
    assert pairs == [] and [drop.reason for drop in drops] == ["below_min_margin"]
    pairs, drops = make_pairs([7.0, None, None], "best-worst", 0.0, rng)
    assert pairs == [] and [drop.reason for drop in drops] == ["fewer_than_two_scored"]


def test_all_pairs_and_best_random():
    pairs, drops = make_pairs([1.0, 2.0, 2.0, 4.0], "all-pairs", 0.0, random.Random(0))
    assert sorted((pair.chosen, pair.rejected) for pair in pairs) == [(1, 0), (2, 0), (3, 0), (3, 1), (3, 2)]
    assert [(drop.reason, drop.first, drop.second) for drop in drops] == [("tie", 1, 2)]
    chosen = {
        make_pairs([1.0, 5.0, 2.0, 3.0], "best-random", 0.0, random.Random(seed))[0][0].rejected for seed in range(30)
    }
    assert chosen == {0, 2, 3}  # the best against each of the others, at random


# ------------------------------------------------------------------------------ prompts and candidates


def test_prompt_is_the_conversation_up_to_the_last_user_turn():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]
    prompt = cand.prompt_from_row({"id": "a", "messages": messages}, "sft")
    assert prompt.messages == messages[:4] and prompt.existing == ["Paris."]
    preference = {"prompt": messages[:2], "chosen": [{"role": "assistant", "content": "Hello!"}],
                  "rejected": [{"role": "assistant", "content": "What."}]}  # fmt: skip
    assert cand.prompt_from_row(preference, "preference").existing == ["Hello!", "What."]
    assert cand.prompt_from_row({"messages": [{"role": "system", "content": "x"}]}, "sft") is None


def test_unusable_and_duplicate_answers_are_dropped_with_a_reason():
    prompt = cand.Prompt("p", [{"role": "user", "content": "q"}], existing=["Same", "Other"])
    completions = [
        Completion("Same", OK), Completion("Same ", OK), Completion("", EMPTY), Completion("cut", LENGTH),
        Completion("", FAILED, error="HTTP 400"),
    ]  # fmt: skip
    groups, dropped = cand.collect([prompt], completions, 5, include_existing=True)
    assert [(candidate.text, candidate.origin) for candidate in groups[0]] == [
        ("Same", "policy"),
        ("Other", "existing"),
    ]
    assert [item.reason for item in dropped] == ["duplicate_answer", "empty_answer", "cut_by_length", "policy_failed"]


# ------------------------------------------------------------------------------ whole runs


def prefs_args(server: FakeOpenAIServer, output: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "prefs", str(PAIRS), "-o", str(output), "--policy-base-url", server.base_url, "--policy-model", "fake-policy",
        "--judge-model", "fake-judge", "--cache", str(cache), "--timeout", "2", "--no-progress", *extra,
    ]  # fmt: skip


@needs_shared
def test_llm_judged_pairs_add_up_and_failures_are_counted(tmp_path):
    with FakeOpenAIServer(judge_failure_rate=0.15, faults={"429": 0.1}) as server:
        result = CliRunner().invoke(
            cli,
            prefs_args(
                server, tmp_path / "out", tmp_path / "cache", "--n", "4", "--best-of-n-out", str(tmp_path / "best")
            ),
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        first_requests = server.requests
        again = CliRunner().invoke(
            cli, prefs_args(server, tmp_path / "out2", tmp_path / "cache", "--n", "4"), catch_exceptions=False
        )
        assert again.exit_code == 0, again.output
        assert server.requests == first_requests  # every answer of both models came from the cache
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    run, counts, reasons = manifest["prefs"], manifest["counts"], manifest["counts"]["by_reason"]
    kept, rejected = rows(tmp_path / "out"), rows(tmp_path / "out", "rejected")
    assert counts["in"] == counts["kept"] + counts["rejected"] == len(kept) + len(rejected)
    assert run["prompts"] == 16 and run["candidates"] <= 16 * 4
    policy_drops = sum(
        count
        for reason, count in reasons.items()
        if reason in ("duplicate_answer", "empty_answer", "cut_by_length", "policy_failed")
    )
    assert run["candidates"] + policy_drops == 16 * 4
    judge_failures = sum(count for reason, count in reasons.items() if reason.startswith("judge:"))
    assert judge_failures > 0 and run["judged"] + judge_failures == run["candidates"]
    assert run["pairs_considered"] == len(kept) + run["ties"] + run["below_min_margin"]
    for row in kept:
        assert (
            row["score_chosen"] > row["score_rejected"] and row["margin"] == row["score_chosen"] - row["score_rejected"]
        )
        assert row["chosen"] != row["rejected"] and row["prompt"][-1]["role"] == "user"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "preference pairs" in report and "Judge failures" in report and (tmp_path / "out" / "scores.png").is_file()
    best = rows(tmp_path / "best")
    assert len(best) + len(rows(tmp_path / "best", "rejected")) == 16
    assert all(row["messages"][-1]["role"] == "assistant" for row in best)


@needs_shared
def test_pairwise_judging_measures_position_bias(tmp_path):
    with FakeOpenAIServer(position_bias=1.0) as server:
        result = CliRunner().invoke(
            cli,
            prefs_args(server, tmp_path / "out", tmp_path / "cache", "--n", "3", "--pairwise"),
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
    judge = json.loads((tmp_path / "out" / "_manifest.json").read_text())["llm"]["judge"]
    assert judge["position_bias"] == pytest.approx(1.0)  # always "A": every verdict follows the position
    assert "Position bias" in (tmp_path / "out" / "report.md").read_text()


def test_local_policy_and_reward_model_judge(tmp_path, one_torch_thread):
    pytest.importorskip("transformers")
    from tests.tiny_chat_model import make_tiny_chat_model

    model = make_tiny_chat_model(tmp_path / "model")
    runner = CliRunner()
    converted = runner.invoke(
        cli, ["convert", str(PAIRS), "-o", str(tmp_path / "pairs"), "--to", "preference", "--no-progress"]
    )
    assert converted.exit_code == 0, converted.output
    trained = runner.invoke(cli, [
        "train-rm", str(tmp_path / "pairs"), "-o", str(tmp_path / "rm"), "--model", str(model), "--max-steps", "30",
        "--lr", "1e-3", "--batch-size", "4", "--max-length", "256", "--eval-fraction", "0", "--no-progress",
    ], catch_exceptions=False)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(cli, [
        "prefs", str(tmp_path / "pairs"), "-o", str(tmp_path / "out"), "--policy", "local", "--policy-model", str(model),
        "--judge", "reward-model", "--judge-model", str(tmp_path / "rm" / "final"), "--n", "2", "--max-tokens", "12",
        "--temperature", "1.0", "--include-existing", "--cache", str(tmp_path / "cache"), "--no-progress",
    ], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    counts, run = manifest["counts"], manifest["prefs"]
    assert counts["in"] == counts["kept"] + counts["rejected"]
    assert run["prompts"] == 16 and run["judged"] == run["candidates"] >= 32  # the two existing answers at least
    kept = rows(tmp_path / "out")
    assert kept and all(row["score_chosen"] > row["score_rejected"] for row in kept)
