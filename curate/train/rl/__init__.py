"""Reinforcement learning from a reward: `train-ppo` (ppo.py) and `train-grpo` (grpo.py), on the
frame loop.py gives both (prompts.py, rewards.py, rollout.py, values.py, common.py)."""
