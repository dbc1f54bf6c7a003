"""`curate train-ppo` and `curate train-grpo`: reinforcement learning from a reward (RLHF's step 3).

torch and transformers are imported when a command runs, never to list or describe it.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from curate.cli.options import compose
from curate.cli.train_options import train_options, train_settings

PROMPTS_HELP = "Prompts per step, per process (GRPO samples --num-generations completions of each)."
LENGTH_HELP = "Most tokens of prompt + completion (a longer prompt keeps its last tokens)."
HELD_OUT = {"eval_fraction": 0.0, "eval_help": "Share of prompts held out for eval_reward (0: train on all)."}


def rl_options(temperature: float, max_new_tokens: int) -> Callable[[Callable], Callable]:
    """What both RL commands add to the trainers' shared options: rewards, sampling, the guard."""
    return compose(
        click.option(
            "--reward",
            "rewards",
            multiple=True,
            required=True,
            metavar="PATH|ID|MODULE:FUNCTION",
            help="A reward model (train-rm's final/, an adapter, a hub id) or a Python function module:function; "
            "repeat to add several.",
        ),
        click.option(
            "--reward-weight",
            "reward_weights",
            multiple=True,
            type=float,
            metavar="W",
            help="Weight of each --reward, in order (default: 1 each).",
        ),
        click.option(
            "--temperature", type=click.FloatRange(min=0, min_open=True), default=temperature, show_default=True
        ),
        click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True),
        click.option(
            "--max-new-tokens",
            type=click.IntRange(min=1),
            default=max_new_tokens,
            show_default=True,
            help="Longest completion.",
        ),
        click.option(
            "--missing-eos-penalty",
            type=float,
            default=None,
            help="Taken off the reward of a completion that never ends (no EOS within --max-new-tokens).",
        ),
        click.option(
            "--max-kl",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Stop when the KL to the reference (per completion) passes this: the reward-hacking guard.",
        ),
        click.option(
            "--cliprange",
            type=click.FloatRange(min=0, min_open=True),
            default=0.2,
            show_default=True,
            help="Clip range of the policy ratio (epsilon).",
        ),
    )


def _rl_fields(params: dict) -> dict:
    from curate.train.rl.rollout import Sampling

    sampling = Sampling(
        temperature=params["temperature"], top_p=params["top_p"], max_new_tokens=params["max_new_tokens"]
    )
    return train_settings(params) | {
        "rewards": tuple(params["rewards"]), "reward_weights": tuple(params["reward_weights"]),
        "sampling": sampling, "missing_eos_penalty": params["missing_eos_penalty"], "max_kl": params["max_kl"],
        "epsilon": params["cliprange"],
    }  # fmt: skip


def _run(method: str, settings, params: dict) -> None:
    from curate.cli.options import show_progress
    from curate.train.command import train

    for line in train(method, settings, progress=show_progress(params["progress"])):
        click.echo(line)


@click.command("train-grpo")
@train_options(default_lr=1e-6, default_length=1024, batch_help=PROMPTS_HELP, length_help=LENGTH_HELP, **HELD_OUT)
@rl_options(temperature=1.0, max_new_tokens=256)
@click.option(
    "--num-generations", type=click.IntRange(min=2), default=8, show_default=True, help="Completions per prompt (G)."
)
@click.option("--beta", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="KL penalty to the reference; 0 loads no reference (unless --max-kl watches the KL).")  # fmt: skip
@click.option("--loss", "loss_type", type=click.Choice(["dapo", "grpo", "dr_grpo", "bnpo"]), default="dapo", show_default=True,
              help="How token losses add up (TRL's definitions).")  # fmt: skip
@click.option("--advantage", type=click.Choice(["group", "rloo"]), default="group", show_default=True,
              help="group: (r - group mean) / group std (GRPO); rloo: r - mean of the other completions (RLOO).")  # fmt: skip
@click.option("--iterations", type=click.IntRange(min=1), default=1, show_default=True,
              help="Optimizer steps on each batch of rollouts (TRL's num_iterations).")  # fmt: skip
@click.option("--cliprange-high", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Upper clip of the ratio (DAPO's clip-higher; default: --cliprange).")  # fmt: skip
def train_grpo_command(**params) -> None:
    """GRPO (or RLOO): G completions per prompt, each judged against its group; no value model.

    DATA gives the prompts: prompt-only records ({"prompt": ...} or messages ending with a
    user turn, extra columns passed to reward functions) or any SFT / preference data (the
    conversation up to its last user turn). --batch-size is prompts per step (per process);
    each step samples --num-generations completions of each, scores them with every
    --reward, and takes one clipped policy step per --iterations. RUN/metrics.jsonl logs
    reward, reward_std, kl, entropy, clip_fraction, completion_length and eos_share;
    RUN/samples.jsonl a prompt, completion and reward per logged step; RUN/loss.png the curves.

    \b
    A reward function (verifiable rewards) is called as TRL calls its own:
      def reward(prompts, completions, **columns) -> list[float]: ...
    \b
    Examples:
      curate train-grpo out/prompts -o runs/grpo --model runs/dpo/final --reward runs/rm/final --max-steps 200
      curate train-grpo data/math.jsonl -o runs/grpo-math --model runs/sft/final --reward my_rewards:exact_answer \\
          --num-generations 8 --beta 0.04 --loss grpo --max-kl 20
      curate train-grpo out/prompts -o runs/rloo --model runs/sft/final --reward runs/rm/final --advantage rloo --lora
    """
    from curate.train.rl.grpo import GRPOSettings

    settings = GRPOSettings(
        **_rl_fields(params), num_generations=params["num_generations"], beta=params["beta"],
        loss=params["loss_type"], advantage=params["advantage"], iterations=params["iterations"],
        epsilon_high=params["cliprange_high"],
    )  # fmt: skip
    _run("grpo", settings, params)


@click.command("train-ppo")
@train_options(default_lr=3e-6, default_length=1024, batch_help=PROMPTS_HELP, length_help=LENGTH_HELP, **HELD_OUT)
@rl_options(temperature=0.7, max_new_tokens=53)
@click.option("--kl-coef", type=click.FloatRange(min=0), default=0.05, show_default=True, help="Per-token KL penalty.")
@click.option("--kl-estimator", type=click.Choice(["k1", "k3"]), default="k1", show_default=True)
@click.option("--target-kl", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Adaptive KL controller: steer --kl-coef so the KL per completion nears this.")  # fmt: skip
@click.option(
    "--vf-coef", type=click.FloatRange(min=0), default=0.1, show_default=True, help="Weight of the value loss."
)
@click.option("--cliprange-value", type=click.FloatRange(min=0, min_open=True), default=0.2, show_default=True)
@click.option("--gamma", type=click.FloatRange(0, 1), default=1.0, show_default=True, help="Discount.")
@click.option("--lam", type=click.FloatRange(0, 1), default=0.95, show_default=True, help="GAE lambda.")
@click.option(
    "--ppo-epochs", type=click.IntRange(min=1), default=4, show_default=True, help="Epochs over each batch of rollouts."
)
@click.option(
    "--mini-batches", type=click.IntRange(min=1), default=1, show_default=True, help="Optimizer steps per PPO epoch."
)
@click.option("--whiten-rewards", is_flag=True, help="Whiten the per-token rewards before GAE.")
def train_ppo_command(**params) -> None:
    """PPO against a reward model with a KL penalty to the reference (InstructGPT's step 3).

    DATA gives the prompts, as for train-grpo. --batch-size is prompts per step (per
    process). Each step: one completion per prompt, the reward-model score at its last
    token, a per-token KL penalty to the frozen starting policy, GAE with a value model
    (started from the reward model's weights, as TRL does), then --ppo-epochs epochs of
    clipped policy and value steps. Defaults are TRL's PPOConfig.

    \b
    Examples:
      curate train-ppo out/prompts -o runs/ppo --model runs/sft/final --reward runs/rm/final --max-steps 200
      curate train-ppo out/prompts -o runs/ppo --model runs/sft/final --reward runs/rm/final --target-kl 6 --max-kl 30
      curate train-ppo out/prompts -o runs/ppo-lora --model runs/sft/final --reward runs/rm/final --lora   # reference: adapters off
    """
    from curate.train.rl.ppo import PPOSettings

    settings = PPOSettings(
        **_rl_fields(params), kl_coef=params["kl_coef"], kl_estimator=params["kl_estimator"],
        target_kl=params["target_kl"], vf_coef=params["vf_coef"], cliprange_value=params["cliprange_value"],
        gamma=params["gamma"], lam=params["lam"], ppo_epochs=params["ppo_epochs"],
        mini_batches=params["mini_batches"], whiten_rewards=params["whiten_rewards"],
    )  # fmt: skip
    _run("ppo", settings, params)
