"""train-grpo and train-ppo at their edges: encoder reward models, a reward model with another
tokenizer for PPO's value model, the sampling distribution, the reward-hacking guard's named
checkpoint, NaN gradients, the mistakes a user makes, and PPO mini-batches over two processes
with a short last batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from curate.errors import RunFailed  # noqa: E402
from curate.train.run_folder import read_metrics  # noqa: E402

from .conftest import REPO, run_cli  # noqa: E402
from .test_train_rl import LOW_IDS, QUICK, SEEDS, reward_model  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_chat_model(tmp_path_factory.mktemp("rl-edges") / "model")


@pytest.fixture(autouse=True)
def at_the_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)


def rollout_of(model_folder: Path, policy=None, seed: int = 0):
    from curate.instruct.templates import template_for
    from curate.train.rl.prompts import RLPrompt
    from curate.train.rl.rollout import Sampling, encode_prompts, generate

    policy = policy or transformers.AutoModelForCausalLM.from_pretrained(model_folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_folder)
    prompts = [RLPrompt(str(n), [{"role": "user", "content": text}], True) for n, text in enumerate(["hi", "a b c"])]
    ids = encode_prompts(tokenizer, template_for(tokenizer, None, str(model_folder)), prompts, 64)
    torch.manual_seed(seed)
    return generate(policy, tokenizer, prompts, ids, Sampling(max_new_tokens=10), tokenizer.pad_token_id, "cpu")


def test_an_encoder_reward_model_scores_as_its_own_forward(tiny_model, tmp_path):
    """BERT-style reward models pool their first token: curate calls their own forward."""
    from curate.train.rl.rewards import Rewards

    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model)
    config = transformers.BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        num_labels=1, max_position_embeddings=48,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(tmp_path / "bert-rm")
    tokenizer.save_pretrained(tmp_path / "bert-rm")
    rollout = rollout_of(tiny_model)
    rewards = Rewards((str(tmp_path / "bert-rm"),), (), "cpu", tokenizer)
    _, each = rewards.score(rollout.scored())
    source = rewards.sources[0]
    assert not source.decoder and not source.same_tokens and source.longest == 48
    direct = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "bert-rm").eval()
    scored = rollout.scored()
    expected = [
        direct(torch.tensor([source._tokens(scored, row)])).logits[0, 0].item() for row in range(len(scored.texts))
    ]
    assert each[str(tmp_path / "bert-rm")] == pytest.approx(expected, abs=1e-5)
    assert all(len(source._tokens(scored, row)) <= 48 for row in range(len(scored.texts)))


def test_sampling_ignores_the_models_generation_config(tiny_model):
    """A repetition penalty in generation_config.json would sample from another distribution."""
    plain = rollout_of(tiny_model)
    policy = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    policy.generation_config.repetition_penalty = 5.0
    policy.generation_config.top_k = 1
    assert torch.equal(rollout_of(tiny_model, policy).input_ids, plain.input_ids)


def test_ppo_with_a_reward_model_of_another_tokenizer(tiny_model, tmp_path):
    """The value model reads the policy's tokens: it starts from the policy, not that reward model."""
    other = reward_model(tmp_path / "rm-other", make_tiny_chat_model(tmp_path / "other", vocab_size=600, seed=3))
    run = tmp_path / "run"
    run_cli(
        "train-ppo", SEEDS, "-o", run, "--model", tiny_model, "--reward", other, "--max-steps", "2",
        "--batch-size", "2", "--ppo-epochs", "1", *QUICK,
    )  # fmt: skip
    records = read_metrics(run / "metrics.jsonl")
    assert len(records) == 2 and all(isinstance(record["value_loss"], float) for record in records)


def test_the_kl_guard_names_a_checkpoint_whose_rollouts_passed(tmp_path):
    """Step N's KL measures the weights saved at step N - 1: the guard names step N - 2's."""
    from curate.train.checkpoint import STATE_FILE
    from curate.train.rl.common import check_kl

    for step in (2, 4, 5):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / STATE_FILE).write_bytes(b"")
    check_kl({"kl": 1.0}, 2.0, 6, tmp_path)
    with pytest.raises(RunFailed, match="checkpoint-4"):
        check_kl({"kl": 3.0}, 2.0, 6, tmp_path)
    with pytest.raises(RunFailed, match="no checkpoint passed"):
        check_kl({"kl": 3.0}, 2.0, 3, tmp_path)


def test_a_nan_gradient_stops_the_step_before_the_weights_change():
    from curate.train.optim import Optimization
    from curate.train.settings import OptimizerSettings

    model = torch.nn.Linear(2, 1)
    optimization = Optimization.adamw(model, OptimizerSettings(lr=0.1), 10, 1.0)
    before = model.weight.detach().clone()
    (model(torch.tensor([[float("nan"), 1.0]])).sum()).backward()
    with pytest.raises(RunFailed, match="the gradient norm became nan at step 3"):
        optimization.step(model, 0.5, 3, None)
    assert torch.equal(model.weight.detach(), before)


def test_rewards_computed_with_numpy_or_torch_are_taken(tiny_model, tmp_path):
    run = tmp_path / "run"
    run_cli(
        "train-grpo", SEEDS, "-o", run, "--model", tiny_model, "--reward", "tests.rl_rewards:numpy_share",
        "--max-steps", "1", "--num-generations", "2", "--batch-size", "2", *QUICK,
    )  # fmt: skip
    assert isinstance(read_metrics(run / "metrics.jsonl")[0]["reward"], float)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--reward", LOW_IDS, "--reward", LOW_IDS), "is given twice"),
        (("--reward", "./no/such/rm"), "no such folder"),
        (("--reward", "/no/such/rm", "--reward", "tests.no_such_module:f"), "no such folder"),
    ],
)
def test_reward_option_mistakes_are_one_line(arguments, message, tiny_model, tmp_path):
    result = run_cli(
        "train-grpo", SEEDS, "-o", tmp_path / "run", "--model", tiny_model, *arguments, "--max-steps", "1", *QUICK,
        expect=2,
    )  # fmt: skip
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("notes.txt", "just some text\n", "is a text file"),
        ("other.jsonl", '{"a": 1}\n', "no prompt in the first record"),
    ],
)
def test_data_without_prompts_is_one_line(name, text, message, tiny_model, tmp_path):
    data = tmp_path / name
    data.write_text(text)
    result = run_cli(
        "train-grpo", data, "-o", tmp_path / "run", "--model", tiny_model, "--reward", LOW_IDS, "--max-steps", "1",
        *QUICK, expect=2,
    )  # fmt: skip
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_ppo_mini_batches_on_two_processes_with_a_short_last_batch(tiny_model, tmp_path):
    """Three prompts, two per process: the short batch is filled up, so both processes take the
    same optimizer steps (it used to leave one process waiting for the other)."""
    from .conftest import run_on_processes

    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"say {word}"}) + "\n" for word in ("one", "two", "three")))
    run = tmp_path / "run"
    command = [
        "train-ppo", str(data), "-o", str(run), "--model", str(tiny_model), "--reward", LOW_IDS, "--max-steps", "2",
        "--batch-size", "2", "--mini-batches", "2", "--ppo-epochs", "2", "--eval-fraction", "0.34", "--eval-every", "1",
        "--device", "cpu", "--no-progress", "--max-new-tokens", "8",
    ]  # fmt: skip
    run_on_processes(command, REPO, processes=2, timeout=240)
    records = read_metrics(run / "metrics.jsonl")
    assert [record["step"] for record in records] == [1, 2] and all("eval_reward" in record for record in records)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_resume_to_the_same_curve(tiny_model, tmp_path):
    """Each step seeds (seed, step, process): a resumed two-process run samples what the whole run did."""
    import shutil

    from .conftest import run_on_processes
    from .test_train_rl import without_timings

    def command(run: Path, *extra: str) -> list[str]:
        return [
            "train-grpo", str(SEEDS), "-o", str(run), "--model", str(tiny_model), "--reward", LOW_IDS,
            "--max-steps", "4", "--save-every", "2", "--batch-size", "1", "--num-generations", "4", "--beta", "0.04",
            "--lr", "1e-2", *QUICK, *extra,
        ]  # fmt: skip

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_on_processes(command(whole), REPO, processes=2)
    killed.mkdir()
    shutil.copy(whole / ".curate-folder", killed / ".curate-folder")
    shutil.copytree(whole / "checkpoint-2", killed / "checkpoint-2")
    for name in ("metrics.jsonl", "samples.jsonl"):
        (killed / name).write_text("".join((whole / name).read_text().splitlines(keepends=True)[:2]))
    run_on_processes(command(killed, "--resume"), REPO, processes=2)
    assert without_timings(read_metrics(killed / "metrics.jsonl")) == without_timings(
        read_metrics(whole / "metrics.jsonl")
    )
    samples = [json.loads(line) for line in (whole / "samples.jsonl").read_text().splitlines()]
    assert (killed / "samples.jsonl").read_text() == (whole / "samples.jsonl").read_text() and len(samples) == 4
