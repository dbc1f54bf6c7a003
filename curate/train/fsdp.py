"""FSDP2 (`--fsdp`): every process holds a shard of the weights, gradients and optimizer state.

`fully_shard` wraps each decoder layer (the classes the model names in `_no_split_modules`),
then the whole model, so one layer's weights are gathered at a time. With bf16 the gathered
weights are bf16 and gradients are reduced in fp32 over fp32 master shards. Gradients are
averaged over processes, as DDP does, so the loops' loss scaling is the same for both.

Checkpoints are written whole: every process takes part in gathering the full state dict
(weights and optimizer, on the CPU), and the main process saves it as a single-process run
would (safetensors that transformers loads; a LoRA run's whole adapter). A run resumes by
loading the full weights before sharding and the full optimizer state after it.
"""

from __future__ import annotations

import contextlib


def decoder_layers(model) -> list:
    """The modules to shard one by one: those whose class the model declares unsplittable."""
    names: set[str] = set()
    for module in model.modules():  # the transformers model, inside peft or a loss module
        names.update(getattr(module, "_no_split_modules", None) or ())
    return [module for module in model.modules() if type(module).__name__ in names]


def shard(model, use_bf16: bool):
    """Shard `model` in place over the default process group; returns it."""
    import torch
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    from curate.errors import UserError

    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if use_bf16 else None
    options = {"mp_policy": policy} if policy is not None else {}
    layers = decoder_layers(model)
    if not layers:
        raise UserError(f"--fsdp: {type(model).__name__} names no decoder layer class (_no_split_modules) to shard by")
    for layer in layers:
        fully_shard(layer, **options)
    fully_shard(model, **options)
    return model


def is_sharded(model) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def gradient_sync(model, sync: bool):
    """A context for one micro-batch's backward: without `sync`, gradients accumulate locally
    (DDP's `no_sync`, FSDP2's `set_requires_gradient_sync(False)`)."""
    if sync:
        return contextlib.nullcontext()
    if is_sharded(model):
        return _fsdp_no_sync(model)
    return model.no_sync() if hasattr(model, "no_sync") else contextlib.nullcontext()


@contextlib.contextmanager
def _fsdp_no_sync(model):
    model.set_requires_gradient_sync(False)
    try:
        yield
    finally:
        model.set_requires_gradient_sync(True)


def full_state(model, optimizer) -> tuple[dict | None, dict | None]:
    """(weights, optimizer state) gathered whole on the CPU, for a sharded model: every process
    must call it. (None, the optimizer's own state dict) for a model that is not sharded."""
    if not is_sharded(model):
        return None, (optimizer.state_dict() if optimizer is not None else None)
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    weights = get_model_state_dict(model, options=options)
    state = get_optimizer_state_dict(model, optimizer, options=options) if optimizer is not None else None
    return weights, state


def load_optimizer_state(model, optimizer, state: dict) -> None:
    """Load an optimizer state saved by `full_state` (whole for a sharded model, else its own)."""
    if not is_sharded(model):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))


def full_tensor(value):
    """A DTensor (a sharded model's gradient norm) as a plain tensor; anything else unchanged."""
    return value.full_tensor() if hasattr(value, "full_tensor") else value
