"""train-grpo and train-ppo on the tiny model: they learn a verifiable reward with the KL under
--max-kl, a killed run resumes to the same curve, the reward-hacking guard stops a run, and
rewards come from functions (with the data's columns) and from reward models (same or other
tokenizer)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from curate.train.rl.grpo import group_advantages  # noqa: E402
from curate.train.run_folder import read_metrics  # noqa: E402

from .conftest import REPO, run_cli  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

SEEDS = REPO / "sample_data" / "instructions" / "seed_tasks.en.jsonl"
PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
LOW_IDS = "tests.rl_rewards:low_ids"
QUICK = ("--device", "cpu", "--no-progress", "--eval-fraction", "0", "--max-new-tokens", "12")
TIMINGS = {"rollout_tokens_per_s", "tokens_per_s"}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("rl") / "model")


@pytest.fixture(autouse=True)
def at_the_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)  # `--reward tests.rl_rewards:...` is imported from the working directory


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def without_timings(records: list[dict]) -> list[dict]:
    return [{key: value for key, value in record.items() if key not in TIMINGS} for record in records]


def test_group_advantages_handle_equal_rewards_and_rloo():
    rewards = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 2.0])
    advantages = group_advantages(rewards, 3)
    assert torch.equal(advantages[:3], torch.zeros(3))  # a group with one reward: no signal, no NaN
    assert torch.allclose(advantages[3:], torch.tensor([-1.0, 0.0, 1.0]) / (1.0 + 1e-4))
    rloo = group_advantages(rewards, 3, "rloo")
    assert torch.allclose(rloo[3:], torch.tensor([0 - 1.5, 1 - 1.0, 2 - 0.5]))


@pytest.mark.parametrize("command", ["train-grpo", "train-ppo"])
def test_a_verifiable_reward_is_learned_with_the_kl_under_max_kl(command, tiny_model, tmp_path):
    run = tmp_path / "run"
    options = ("--num-generations", "4", "--batch-size", "4", "--beta", "0.04") if command == "train-grpo" else (
        "--batch-size", "8", "--temperature", "1.0")  # fmt: skip
    result = run_cli(
        command, SEEDS, "-o", run, "--model", tiny_model, "--reward", LOW_IDS, "--max-steps", "150",
        "--lr", "3e-3", "--max-kl", "80", *options, *QUICK,
    )  # fmt: skip
    records = read_metrics(run / "metrics.jsonl")
    assert len(records) == 150
    start, end = mean(r["reward"] for r in records[:10]), mean(r["reward"] for r in records[-10:])
    assert start < 0.2 and end > start + 0.3, (start, end)
    assert all(record["kl"] < 80 for record in records)
    for name in ("reward_std", "entropy", "clip_fraction", "completion_length", "eos_share"):
        assert name in records[-1], name
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 150 and {"prompt", "completion", "reward", "step"} <= set(samples[0])
    assert (run / "loss.png").is_file() and "samples.jsonl" in result.output
    transformers.AutoModelForCausalLM.from_pretrained(run / "final")


@pytest.mark.parametrize("command", ["train-grpo", "train-ppo"])
def test_a_killed_run_resumes_to_the_same_curve(command, tiny_model, tmp_path):
    options = ("--num-generations", "4", "--batch-size", "2", "--beta", "0.04") if command == "train-grpo" else (
        "--batch-size", "4", "--ppo-epochs", "2", "--target-kl", "1")  # fmt: skip
    common = ("--model", tiny_model, "--reward", LOW_IDS, "--max-steps", "6", "--save-every", "3", "--lr", "3e-3")
    whole = tmp_path / "whole"
    run_cli(command, SEEDS, "-o", whole, *common, *options, *QUICK)
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(whole / ".curate-folder", killed / ".curate-folder")
    shutil.copytree(whole / "checkpoint-3", killed / "checkpoint-3")
    for name in ("metrics.jsonl", "samples.jsonl"):  # the killed run had logged past its checkpoint
        (killed / name).write_text("".join((whole / name).read_text().splitlines(keepends=True)[:5]))
    if command == "train-ppo":
        assert (killed / "checkpoint-3" / "value" / "model.safetensors").is_file()
    run_cli(command, SEEDS, "-o", killed, *common, *options, *QUICK, "--resume")
    assert without_timings(read_metrics(killed / "metrics.jsonl")) == without_timings(
        read_metrics(whole / "metrics.jsonl")
    )
    assert (killed / "samples.jsonl").read_text() == (whole / "samples.jsonl").read_text()


def test_the_kl_guard_stops_a_run_and_names_the_last_checkpoint(tiny_model, tmp_path):
    run = tmp_path / "run"
    result = run_cli(
        "train-grpo", SEEDS, "-o", run, "--model", tiny_model, "--reward", LOW_IDS, "--max-steps", "60",
        "--lr", "1e-2", "--num-generations", "4", "--batch-size", "4", "--save-every", "2", "--max-kl", "2",
        *QUICK, expect=1,
    )  # fmt: skip
    message = result.output.strip().splitlines()[-1]
    assert "over --max-kl 2" in message and "checkpoint-" in message, result.output
    assert read_metrics(run / "metrics.jsonl")[-1]["kl"] > 2


def test_a_lora_policy_uses_itself_with_the_adapter_off_as_reference(tiny_model, tmp_path):
    run = tmp_path / "run"
    run_cli(
        "train-grpo", SEEDS, "-o", run, "--model", tiny_model, "--reward", LOW_IDS, "--max-steps", "3", "--lora",
        "--lr", "1e-2", "--num-generations", "4", "--batch-size", "2", "--beta", "0.04", *QUICK,
    )  # fmt: skip
    records = read_metrics(run / "metrics.jsonl")
    assert records[0]["kl"] == 0.0  # a fresh adapter changes nothing: the policy is its reference
    assert records[-1]["kl"] != 0.0
    assert (run / "final" / "adapter_config.json").is_file()


def test_reward_functions_get_the_datas_columns(tiny_model, tmp_path):
    data = tmp_path / "prompts.jsonl"
    rows = [{"prompt": f"Say {word}.", "target": "yes" if index % 2 else "no"} for index, word in enumerate("abcdef")]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run = tmp_path / "run"
    run_cli(
        "train-grpo", data, "-o", run, "--model", tiny_model, "--reward", "tests.rl_rewards:echo_columns",
        "--reward", LOW_IDS, "--reward-weight", "2", "--reward-weight", "1", "--max-steps", "2",
        "--num-generations", "2", "--batch-size", "3", *QUICK,
    )  # fmt: skip
    record = read_metrics(run / "metrics.jsonl")[0]
    assert record["reward/tests.rl_rewards:echo_columns"] == 1.0  # None ("no") counts as no opinion
    assert record["reward"] > 0


def reward_model(folder: Path, base: Path) -> Path:
    """A one-label classifier on `base` with a seeded score head, as train-rm would save it."""
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    torch.nn.init.normal_(model.score.weight, std=0.5)
    model.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return folder


def test_reward_models_with_the_same_or_another_tokenizer(tiny_model, tmp_path):
    """The same tokenizer reads the policy's own tokens; another re-renders the text."""
    from curate.instruct.templates import template_for
    from curate.train.rl.prompts import RLPrompt
    from curate.train.rl.rewards import Rewards
    from curate.train.rl.rollout import Sampling, encode_prompts, generate

    same = reward_model(tmp_path / "rm-same", tiny_model)
    other_base = make_tiny_chat_model(tmp_path / "other", vocab_size=600, seed=3)
    other = reward_model(tmp_path / "rm-other", other_base)
    policy = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model)
    prompts = [RLPrompt(str(n), [{"role": "user", "content": text}], True) for n, text in enumerate(["hi", "a b"])]
    ids = encode_prompts(tokenizer, template_for(tokenizer, None, str(tiny_model)), prompts, 64)
    rollout = generate(policy, tokenizer, prompts, ids, Sampling(max_new_tokens=8), tokenizer.pad_token_id, "cpu")
    rewards = Rewards((str(same), str(other)), (), "cpu", tokenizer)
    assert [source.same_tokens for source in rewards.sources] == [True, False]
    totals, each = rewards.score(rollout.scored())
    direct = transformers.AutoModelForSequenceClassification.from_pretrained(same)
    scored = rollout.scored()
    expected = [
        direct(torch.tensor([p + c])).logits[0, 0].item()
        for p, c in zip(scored.prompt_ids, scored.completion_ids, strict=True)
    ]
    assert each[str(same)] == pytest.approx(expected, abs=1e-5)
    assert all(isinstance(value, float) for value in each[str(other)]) and len(totals) == 2


@pytest.mark.parametrize(
    ("reward", "message"),
    [
        ("tests.no_such_module:f", "cannot import"),
        ("tests.rl_rewards:missing", "has no function missing"),
        ("tests.rl_rewards:wrong_length", "returned 1 values for 4 completions"),
        ("tests.rl_rewards:broken", "failed: KeyError"),
    ],
)
def test_reward_mistakes_are_one_line(reward, message, tiny_model, tmp_path):
    result = run_cli(
        "train-grpo", SEEDS, "-o", tmp_path / "run", "--model", tiny_model, "--reward", reward, "--max-steps", "1",
        "--num-generations", "2", "--batch-size", "2", *QUICK, expect=2,
    )  # fmt: skip
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_share_the_prompts_and_train_one_model(tiny_model, tmp_path):
    from .conftest import run_on_processes

    run = tmp_path / "run"
    command = [
        "train-grpo", str(SEEDS), "-o", str(run), "--model", str(tiny_model), "--reward", LOW_IDS,
        "--max-steps", "3", "--batch-size", "1", "--num-generations", "4", "--beta", "0.04", "--save-every", "2",
        "--lr", "1e-2", *QUICK,
    ]  # fmt: skip
    result = run_on_processes(command, REPO, processes=2)
    records = read_metrics(run / "metrics.jsonl")
    assert [record["step"] for record in records] == [1, 2, 3] and records[0]["kl"] == 0.0
    assert records[-1]["kl"] != 0.0  # both processes' gradients moved the one model away from its reference
    assert result.stdout.count("train-grpo: 3 steps") == 1  # the main process speaks for the run
    transformers.AutoModelForCausalLM.from_pretrained(run / "checkpoint-2")
