"""Shared training pieces: schedule, RNG and checkpoint round trips, metrics log, NaN guard."""

from __future__ import annotations

import random

import numpy as np
import pytest

from curate.errors import RunFailed
from curate.train.checkpoint import latest_checkpoint, load_state, rng_state, save_checkpoint, set_rng_state
from curate.train.optim import check_finite, lr_factor, make_optimizer, make_scheduler
from curate.train.run_folder import MetricsLog, read_metrics
from curate.train.settings import OptimizerSettings

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def tiny_model():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        vocab_size=100,
    )  # fmt: skip
    return transformers.LlamaForCausalLM(config)


def test_warmup_then_cosine_to_the_floor():
    factors = [lr_factor(step, 10, 2, 0.1) for step in range(11)]
    assert factors[:2] == [0.5, 1.0]
    assert factors[2] == pytest.approx(1.0) and factors[-1] == pytest.approx(0.1)
    assert all(later <= earlier for earlier, later in zip(factors[1:], factors[2:]))


def test_rng_states_round_trip():
    state = rng_state()
    first = (torch.rand(4), random.random(), np.random.rand())
    set_rng_state(state)
    again = (torch.rand(4), random.random(), np.random.rand())
    assert torch.equal(first[0], again[0]) and first[1:] == again[1:]


def test_checkpoint_restores_model_optimizer_and_schedule_without_pickled_code(tmp_path):
    settings = OptimizerSettings(lr=1e-2, warmup_steps=1)
    model = tiny_model()
    optimizer = make_optimizer(model, settings)
    scheduler = make_scheduler(optimizer, 5, settings)
    batch = torch.tensor([[1, 2, 3, 4]])

    def step(model, optimizer, scheduler) -> float:
        loss = model(batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        return loss.item()

    step(model, optimizer, scheduler)
    save_checkpoint(tmp_path / "checkpoint-1", model, None, optimizer, scheduler, {"step": 1})
    uninterrupted = [step(model, optimizer, scheduler) for _ in range(3)]

    resumed = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "checkpoint-1")
    state = load_state(latest_checkpoint(tmp_path))
    optimizer2 = make_optimizer(resumed, settings)
    optimizer2.load_state_dict(state["optimizer"])
    scheduler2 = make_scheduler(optimizer2, 5, settings)
    scheduler2.load_state_dict(state["scheduler"])
    assert state["progress"] == {"step": 1}
    assert [step(resumed, optimizer2, scheduler2) for _ in range(3)] == uninterrupted


def test_metrics_log_continues_after_the_checkpoint_step(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in range(1, 6):
        log.log({"step": step, "loss": 1.0 / step})
    log.close()
    resumed = MetricsLog(tmp_path / "metrics.jsonl", resume_from_step=3)
    resumed.log({"step": 4, "loss": 0.3})
    resumed.close()
    assert [record["step"] for record in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4]


def test_a_nan_loss_stops_with_the_last_good_checkpoint_named(tmp_path):
    check_finite(0.5, 3, None)
    with pytest.raises(RunFailed, match="the loss became nan at step 7.*checkpoint-5"):
        check_finite(float("nan"), 7, tmp_path / "checkpoint-5")


def test_every_process_takes_its_rows_and_an_idle_one_joins_with_weight_zero():
    from curate.train.distributed import Distributed

    first, second = Distributed(world=2, rank=0), Distributed(world=2, rank=1)
    assert first.share([5, 6, 7, 8], 2) == ([5, 6], 1.0)
    assert second.share([5, 6, 7, 8], 2) == ([7, 8], 1.0)
    # the short last batch of an epoch: the second process has no row of its own
    assert first.share([5, 6], 2) == ([5, 6], 1.0)
    assert second.share([5, 6], 2) == ([5], 0.0)
