"""PPO against TRL: curate's PPO terms (advantages_and_returns, ppo_loss, the value and reward heads,
the missing-EOS penalty) equal TRL's PPOTrainer's on the same fixed rollouts and initial weights.

TRL 1.16 has no PPOTrainer; 1.9.0's `trl.experimental.ppo` is installed apart, in the venv's
trl-ppo/ folder (the Makefile puts it there), and runs in a subprocess: both TRLs are named `trl`.
There its `batch_generation` is replaced by one that returns fixed rollouts and `trainer.log`
is captured: one update (one epoch, one mini-batch, one micro-batch) logs the terms of the
first PPO step at the initial weights, which curate computes here on the same tensors.

The eight rollouts (TRL whitens rewards from 8 up) cover each way a completion ends: EOS then
padding, EOS as the last token, EOS then junk (cut at the EOS), EOS first, no EOS (the
missing-EOS penalty). The sampling logits are the policy's plus noise, so the ratio is not 1
and the policy clip engages. A fixed function of the token ids is added to the value
predictions of the training forward on both sides (at the first step they would equal the
rollout's values and the value clip could never engage).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("datasets")

from curate.llm.reward_model import load_reward_model  # noqa: E402
from curate.train.lean_loss import token_scorer  # noqa: E402
from curate.train.models import load_model  # noqa: E402
from curate.train.rl.common import apply_missing_eos_penalty  # noqa: E402
from curate.train.rl.ppo import PPOSettings, advantages_and_returns, ppo_loss  # noqa: E402
from curate.train.rl.rollout import Rollout, Sampling, completion_logps  # noqa: E402
from curate.train.rl.values import last_token_scores, token_values  # noqa: E402

from .conftest import REPO  # noqa: E402
from .tiny_chat_model import make_tiny_chat_model  # noqa: E402

TRL_PPO = Path(sys.prefix) / "trl-ppo"  # `pip install --no-deps --target .venv/trl-ppo trl==1.9.0`
PROMPTS = ["hello there friend", "the cat sat", "a b c d e", "one two", "hi", "what is it", "go on", "x y z w"]
RESPONSE_LENGTH = 6
TEMPERATURE = 0.8
# TRL's names; all differ from both sides' defaults, so a setting that is not passed on shows
COMMON = {
    "kl_coef": 0.2, "cliprange": 0.1, "cliprange_value": 0.05, "vf_coef": 0.3, "gamma": 0.98, "lam": 0.9,
    "missing_eos_penalty": 1.5,
}  # fmt: skip
CASES = {
    "k1": {"kl_estimator": "k1", "whiten_rewards": False},
    "k3": {"kl_estimator": "k3", "whiten_rewards": False},
    "k3-whiten-rewards": {"kl_estimator": "k3", "whiten_rewards": True},
}
# TRL's logged metric -> curate's term
METRICS = {
    "loss/policy_avg": "policy_loss",
    "loss/value_avg": "value_loss",
    "policy/clipfrac_avg": "clip_fraction",
    "val/clipfrac_avg": "value_clip_fraction",
    "val/ratio": "ratio",
    "policy/approxkl_avg": "approx_kl",
    "objective/kl": "kl",
    "objective/non_score_reward": "non_score_reward",
    "objective/scores": "scores",
}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def value_shift(input_ids):
    """Added to the training forward's value predictions (TRL_SCRIPT has the same function)."""
    return 0.3 * torch.cos(input_ids.float())


TRL_SCRIPT = r"""
import json, sys

import torch

torch.set_num_threads(1)
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

import trl.experimental.ppo.ppo_trainer as P
from trl.experimental.ppo import PPOConfig, PPOTrainer

assert P.PPOTrainer is PPOTrainer
folders, rollouts_file, out_dir, common, cases = sys.argv[1:6]
folders, common, cases = json.loads(folders), json.loads(common), json.loads(cases)
fixed = torch.load(rollouts_file)


def fixed_batch_generation(model, queries, batch_size, pad_token_id, generation_config):
    # the dataloader may shuffle the prompts: give each query its own fixed rollout
    order = [next(j for j in range(len(fixed["queries"])) if torch.equal(fixed["queries"][j], q)) for q in queries]
    assert sorted(order) == list(range(len(fixed["queries"])))
    return fixed["query_responses"][order], fixed["logits"][order]


original_forward = P.forward


def shifted_forward(model, query_responses, pad_token_id):
    output = original_forward(model, query_responses, pad_token_id)
    if isinstance(model, P.PolicyAndValueWrapper):  # the training forward: (policy output, values)
        policy_output, values = output
        return policy_output, values + (0.3 * torch.cos(query_responses.float())).unsqueeze(-1)
    return output


P.batch_generation = fixed_batch_generation
P.forward = shifted_forward
tokenizer = AutoTokenizer.from_pretrained(folders["policy"], padding_side="left")
dataset = Dataset.from_dict({"input_ids": fixed["prompt_ids"]})
results = {}
for name, case in cases.items():
    n = len(fixed["prompt_ids"])
    args = PPOConfig(
        output_dir=f"{out_dir}/{name}", use_cpu=True, bf16=False, report_to="none", gradient_checkpointing=False,
        per_device_train_batch_size=n, gradient_accumulation_steps=1, num_mini_batches=1, num_ppo_epochs=1,
        total_episodes=n, local_rollout_forward_batch_size=n, num_sample_generations=0, stop_token="eos",
        response_length=fixed["query_responses"].shape[1] - fixed["queries"].shape[1],
        temperature=fixed["temperature"], save_strategy="no", logging_steps=1, seed=0, **common, **case,
    )
    policy = AutoModelForCausalLM.from_pretrained(folders["policy"])
    ref = AutoModelForCausalLM.from_pretrained(folders["policy"])
    value = AutoModelForSequenceClassification.from_pretrained(folders["value"], num_labels=1)
    reward = AutoModelForSequenceClassification.from_pretrained(folders["reward"], num_labels=1)
    trainer = PPOTrainer(
        args=args, processing_class=tokenizer, model=policy, ref_model=ref, reward_model=reward,
        train_dataset=dataset, value_model=value, eval_dataset=dataset,
    )
    logged = {}
    trainer.log = lambda metrics, *rest, **kw: logged.update(metrics)
    trainer.train()
    results[name] = logged
print("TRL-METRICS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def fixed_rollouts(tmp_path_factory) -> dict:
    """The tiny policy, a value and a reward model with seeded non-trivial score heads (saved, so
    that both sides load the same weights), and four fixed rollouts with their sampling logits."""
    root = tmp_path_factory.mktemp("ppo-trl")
    policy_folder = make_tiny_chat_model(root / "policy")
    tokenizer = transformers.AutoTokenizer.from_pretrained(policy_folder)
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    assert pad != eos
    folders = {"policy": str(policy_folder)}
    torch.manual_seed(0)
    for name in ("value", "reward"):
        model = transformers.AutoModelForSequenceClassification.from_pretrained(policy_folder, num_labels=1)
        model.config.pad_token_id = pad
        torch.nn.init.normal_(model.score.weight, std=0.5)  # a fresh head; make it non-trivial
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        folders[name] = str(root / name)

    prompt_ids = [tokenizer(prompt)["input_ids"] for prompt in PROMPTS]
    context = max(len(ids) for ids in prompt_ids)
    queries = torch.full((len(prompt_ids), context), pad, dtype=torch.long)
    for row, ids in enumerate(prompt_ids):
        queries[row, context - len(ids) :] = torch.tensor(ids)
    generator = torch.Generator().manual_seed(1)
    responses = torch.randint(10, len(tokenizer), (len(prompt_ids), RESPONSE_LENGTH), generator=generator)
    assert not ((responses == pad) | (responses == eos)).any()
    responses[0, 3], responses[0, 4:] = eos, pad  # stopped early: generate pads after the EOS
    responses[1, -1] = eos  # EOS as the last token
    responses[2, 1] = eos  # EOS then junk: cut at the EOS
    responses[4, 0] = eos  # an empty answer
    responses[6, 2], responses[6, 3:] = eos, pad
    # rows 3, 5 and 7: no EOS, the missing-EOS penalty
    query_responses = torch.cat([queries, responses], 1)

    policy = transformers.AutoModelForCausalLM.from_pretrained(policy_folder)
    mask = query_responses != pad
    with torch.no_grad():
        logits = policy(
            input_ids=query_responses.masked_fill(~mask, 0), attention_mask=mask,
            position_ids=(mask.cumsum(1) - 1).clamp(min=0),
        ).logits[:, context - 1 : -1] / TEMPERATURE  # fmt: skip
    logits = logits + 0.5 * torch.randn(logits.shape, generator=generator)  # sampled "elsewhere": ratio != 1
    fixed = {
        "prompt_ids": prompt_ids, "queries": queries, "query_responses": query_responses, "logits": logits,
        "temperature": TEMPERATURE,
    }  # fmt: skip
    torch.save(fixed, root / "rollouts.pt")
    return {**fixed, "root": root, "folders": folders, "pad": pad, "eos": eos, "context": context}


@pytest.fixture(scope="module")
def trl_metrics(fixed_rollouts) -> dict:
    """TRL 1.9's PPOTrainer's logged metrics after one update on the fixed rollouts, per case."""
    if not (TRL_PPO / "trl" / "experimental" / "ppo" / "ppo_trainer.py").is_file():
        pytest.skip(f"{TRL_PPO} is absent: `pip install --no-deps --target {TRL_PPO} trl==1.9.0` (make does)")
    root = fixed_rollouts["root"]
    env = {
        **os.environ, "PYTHONPATH": os.pathsep.join([str(TRL_PPO), str(REPO)]), "TRL_EXPERIMENTAL_SILENCE": "1",
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
    }  # fmt: skip
    command = [
        sys.executable, "-c", TRL_SCRIPT, json.dumps(fixed_rollouts["folders"]), str(root / "rollouts.pt"),
        str(root / "trl"), json.dumps(COMMON), json.dumps(CASES),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("TRL-METRICS "))
    return json.loads(line.removeprefix("TRL-METRICS "))


def curate_terms(fixed: dict, case: dict) -> dict:
    """curate's terms of the first PPO step on the fixed rollouts, named as METRICS' values."""
    settings = PPOSettings(
        model=fixed["folders"]["policy"], data=("unused",), output=fixed["root"] / "unused",
        sampling=Sampling(temperature=TEMPERATURE, max_new_tokens=RESPONSE_LENGTH),
        kl_coef=COMMON["kl_coef"], epsilon=COMMON["cliprange"], cliprange_value=COMMON["cliprange_value"],
        vf_coef=COMMON["vf_coef"], gamma=COMMON["gamma"], lam=COMMON["lam"],
        missing_eos_penalty=COMMON["missing_eos_penalty"], kl_estimator=case["kl_estimator"],
        whiten_rewards=case["whiten_rewards"],
    )  # fmt: skip
    device = torch.device("cpu")
    pad, eos, context = fixed["pad"], fixed["eos"], fixed["context"]
    queries, completions = fixed["queries"], fixed["query_responses"][:, context:]
    # as curate's `generate` keeps them: up to and including the first EOS, all when none
    is_end = completions == eos
    ended = is_end.any(1)
    first_end = torch.where(ended, is_end.int().argmax(1), completions.shape[1] - 1)
    keep = torch.arange(completions.shape[1]).unsqueeze(0) <= first_end.unsqueeze(1)
    rollout = Rollout(
        [None] * len(queries), torch.cat([queries, completions.masked_fill(~keep, pad)], 1),
        torch.cat([(queries != pad).long(), keep.long()], 1), context, keep, ended, [""] * len(queries),
    )  # fmt: skip

    policy = load_model(settings.model, device, torch.float32)[0]
    reference = load_model(settings.model, device, torch.float32)[0]
    value = load_reward_model(fixed["folders"]["value"], device)[0]
    reward = load_reward_model(fixed["folders"]["reward"], device)[0]
    scorers = {}
    for name, model in (("policy", policy), ("reference", reference)):
        scorers[name] = token_scorer(model, device)
        scorers[name].temperature = settings.sampling.temperature

    inputs = {
        "input_ids": rollout.input_ids, "attention_mask": rollout.attention_mask,
        "position_ids": rollout.position_ids,
    }  # fmt: skip
    with torch.no_grad():
        # the sampling log-probs: of the sampling logits (already over the temperature), as TRL's
        sampled = torch.log_softmax(fixed["logits"].float(), -1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)
        sampled = sampled.masked_fill(~keep, 0.0)
        reference_logps = completion_logps(scorers["reference"], rollout, device)
        values = token_values(value, **inputs)[:, context - 1 : -1]
        scored = rollout.scored()
        totals = last_token_scores(
            reward, [p + c for p, c in zip(scored.prompt_ids, scored.completion_ids, strict=True)], device
        )
        totals = apply_missing_eos_penalty(totals, rollout, settings.missing_eos_penalty)
        scores = torch.tensor(totals, dtype=torch.float32)
        terms = advantages_and_returns(sampled, reference_logps, values, scores, keep, settings, settings.kl_coef)
        new_logps = completion_logps(scorers["policy"], rollout, device)
        predictions = (token_values(value, **inputs) + value_shift(rollout.input_ids))[:, context - 1 : -1]
        _, stats = ppo_loss(new_logps, predictions, terms, settings)
    return {
        **stats, "kl": float(terms["kl"].sum(1).mean()), "non_score_reward": float(terms["non_score"].sum(1).mean()),
        "scores": float(scores.mean()),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_ppo_terms_equal_trl(fixed_rollouts, trl_metrics, case):
    theirs = trl_metrics[case]
    ours = curate_terms(fixed_rollouts, CASES[case])
    differences = {metric: abs(ours[term] - theirs[metric]) for metric, term in METRICS.items()}
    print(f"{case}; TRL:", {metric: theirs[metric] for metric in METRICS}, "abs differences:", differences)
    # a real test: both clips engage, the ratio is not 1, the KL and the EOS penalty count
    assert 0 < theirs["policy/clipfrac_avg"] < 1 and 0 < theirs["val/clipfrac_avg"] < 1
    assert abs(theirs["val/ratio"] - 1) > 1e-2 and abs(theirs["objective/kl"]) > 1e-2
    for metric, difference in differences.items():
        assert difference < 1e-5, (metric, differences)
