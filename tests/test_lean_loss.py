"""The lean loss on tiny models made here: equal to the plain full-logits path in value and gradient,
under bf16 autocast and LoRA too, the self-check that sends other architectures back to the plain
path, and no full [L, V] logits tensor anywhere in the lean forward and backward."""

from __future__ import annotations

import pytest

from curate.train.data import collate_sft, pack
from curate.train.lean_loss import (
    LeanCausalLM,
    causal_parts,
    lean_matches_plain,
    sequence_logps_from,
    token_loss_sum,
)
from curate.train.models import model_inputs

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZES = dict(
    vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=128,
)  # fmt: skip


def made(model_class, config_class, attention: str = "sdpa", **changes):
    torch.manual_seed(0)
    config = config_class(**{**SIZES, **changes})
    config._attn_implementation = attention
    return model_class(config).float()


def llama(tie: bool = False, **changes):
    return made(transformers.LlamaForCausalLM, transformers.LlamaConfig, tie_word_embeddings=tie, **changes)


def qwen2(tie: bool = False):
    return made(transformers.Qwen2ForCausalLM, transformers.Qwen2Config, tie_word_embeddings=tie)


def gemma2_softcapped():
    # a cap this small bends these tiny logits; at Gemma 2's own 30 the check could not tell
    config = dict(head_dim=8, final_logit_softcapping=0.05)
    return made(transformers.Gemma2ForCausalLM, transformers.Gemma2Config, "eager", **config)


def cohere_scaled():
    return made(transformers.CohereForCausalLM, transformers.CohereConfig, logit_scale=0.5)


MODELS = {"llama-untied": lambda: llama(False), "llama-tied": lambda: llama(True), "qwen2": qwen2}


def examples(count: int = 3) -> list[dict]:
    """Prompt tokens labelled -100, then a completion; lengths differ, so the batch has padding."""
    generator = torch.Generator().manual_seed(1)
    rows = []
    for number in range(count):
        prompt, completion = 3 + number, 4 + 2 * number
        ids = torch.randint(1, 1000, (prompt + completion,), generator=generator).tolist()
        rows.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    return rows


def padded_batch() -> dict:
    return collate_sft(examples(), pad_id=0)


def packed_batch() -> dict:
    return collate_sft(pack(examples(5), 24), pad_id=0, packed=True)


def plain_loss(model, batch: dict):
    logits = model(**model_inputs(batch, "cpu")).logits
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.size(-1)), batch["labels"][:, 1:].reshape(-1),
        ignore_index=-100, reduction="sum",
    )  # fmt: skip


def plain_row_logps(model, batch: dict):
    logits = model(**model_inputs(batch, "cpu")).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    per_token = logits.log_softmax(-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return torch.where(labels != -100, per_token, torch.zeros_like(per_token)).sum(-1)


def lean_loss(model, batch: dict, chunk_tokens: int | None = None):
    logps, _ = LeanCausalLM(model, chunk_tokens)(model_inputs(batch, "cpu"), batch["labels"])
    return token_loss_sum(logps)


def lean_row_logps(model, batch: dict, chunk_tokens: int | None = None):
    logps, rows = LeanCausalLM(model, chunk_tokens)(model_inputs(batch, "cpu"), batch["labels"])
    return sequence_logps_from(logps, rows, batch["labels"].shape[0])


def value_and_grads(model, loss_of) -> tuple:
    model.zero_grad(set_to_none=True)
    value = loss_of()
    value.sum().backward()
    grads = {name: param.grad.clone() for name, param in model.named_parameters() if param.requires_grad}
    return value.detach(), grads


def assert_grads_close(lean: dict, plain: dict, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    assert lean.keys() == plain.keys() and lean
    for name in plain:
        torch.testing.assert_close(lean[name], plain[name], rtol=rtol, atol=atol, msg=name)


@pytest.mark.parametrize("chunk_tokens", [3, None])
@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("make_batch", [padded_batch, packed_batch], ids=["padded", "packed"])
def test_sft_loss_and_gradients_equal_the_plain_path(kind, chunk_tokens, make_batch):
    model, batch = MODELS[kind](), make_batch()
    plain, plain_grads = value_and_grads(model, lambda: plain_loss(model, batch))
    lean, lean_grads = value_and_grads(model, lambda: lean_loss(model, batch, chunk_tokens))
    torch.testing.assert_close(lean, plain, rtol=1e-5, atol=0)
    assert_grads_close(lean_grads, plain_grads)


@pytest.mark.parametrize("chunk_tokens", [2, None])
def test_per_row_sums_equal_the_plain_path_for_dpo(chunk_tokens):
    model, batch = llama(), padded_batch()
    plain, plain_grads = value_and_grads(model, lambda: plain_row_logps(model, batch))
    lean, lean_grads = value_and_grads(model, lambda: lean_row_logps(model, batch, chunk_tokens))
    assert lean.dtype == torch.float32 and lean.shape == (3,)
    torch.testing.assert_close(lean, plain, rtol=1e-5, atol=1e-5)
    assert_grads_close(lean_grads, plain_grads)


def test_rows_and_order_follow_the_labelled_positions():
    batch = padded_batch()
    logps, rows = LeanCausalLM(llama(), 4)(model_inputs(batch, "cpu"), batch["labels"])
    mask = batch["labels"][:, 1:] != -100
    assert rows.dtype == torch.long and rows.tolist() == mask.nonzero()[:, 0].tolist()
    assert logps.dtype == torch.float32 and bool((logps < 0).all())


def test_without_grad_the_chunks_are_not_checkpointed_and_give_the_same_values():
    model, batch = llama(), padded_batch()
    with torch.no_grad():
        expected = plain_row_logps(model, batch)
    with torch.inference_mode():
        got = lean_row_logps(model, batch, 3)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_bf16_autocast_agrees_with_the_plain_path_under_the_same_autocast():
    model, batch = llama(), padded_batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain, plain_grads = value_and_grads(model, lambda: plain_loss(model, batch))
        lean, lean_grads = value_and_grads(model, lambda: lean_loss(model, batch, 3))
    torch.testing.assert_close(lean, plain, rtol=1e-2, atol=0)
    for name in plain_grads:
        scale = float(plain_grads[name].abs().max())
        assert float((lean_grads[name] - plain_grads[name]).abs().max()) <= 2e-2 * scale, name


def test_lora_model_gives_the_same_loss_and_adapter_gradients():
    peft = pytest.importorskip("peft")
    config = peft.LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False)
    model, batch = peft.get_peft_model(llama(), config), padded_batch()
    decoder, head = causal_parts(model)
    assert head is model.get_base_model().lm_head and decoder is model.get_base_model().model
    plain, plain_grads = value_and_grads(model, lambda: plain_loss(model, batch))
    lean, lean_grads = value_and_grads(model, lambda: lean_loss(model, batch, 3))
    assert all("lora_" in name for name in plain_grads)
    torch.testing.assert_close(lean, plain, rtol=1e-5, atol=0)
    assert_grads_close(lean_grads, plain_grads)
    assert lean_matches_plain(model, 1000, "cpu")


def test_a_row_with_no_labels_still_gives_every_parameter_a_gradient():
    """What an idle DDP process runs to join the gradient sync: loss 0, a zero gradient everywhere."""
    model, batch = llama(), padded_batch()
    batch["labels"][:] = -100
    logps, rows = LeanCausalLM(model, 3)(model_inputs(batch, "cpu"), batch["labels"])
    assert logps.shape == rows.shape == (0,)
    token_loss_sum(logps).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and not param.grad.any(), name


def test_ddp_wraps_the_wrapper_and_syncs_a_step_with_no_labels_too(tmp_path):
    """DDP (one gloo process) as the loops wrap: it fails a step whose backward left a parameter out."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model, batch = llama(), padded_batch()
        wrapped = torch.nn.parallel.DistributedDataParallel(LeanCausalLM(model, 3))
        empty = {**batch, "labels": torch.full_like(batch["labels"], -100)}
        for step in (batch, empty, batch):
            model.zero_grad(set_to_none=True)
            logps, _ = wrapped(model_inputs(step, "cpu"), step["labels"])
            token_loss_sum(logps).backward()
        lean = {name: param.grad.clone() for name, param in model.named_parameters()}
        _, plain = value_and_grads(model, lambda: plain_loss(model, batch))
        assert_grads_close(lean, plain)
    finally:
        dist.destroy_process_group()


def test_default_chunk_is_about_256_mib_of_float32_logits():
    assert LeanCausalLM(llama()).chunk_tokens == 2**28 // (4 * 1000)
    assert LeanCausalLM(llama(vocab_size=32000)).chunk_tokens == 2097
    assert LeanCausalLM(llama(), 7).chunk_tokens == 7
    wrapper = LeanCausalLM(llama())
    assert dict(wrapper.named_children()) == {"model": wrapper.model}


@pytest.mark.parametrize(
    "make",
    [
        lambda: llama(),
        lambda: llama(tie=True),
        qwen2,
        lambda: llama().to(torch.bfloat16),
        gemma2_softcapped,
        cohere_scaled,
    ],
    ids=["llama", "llama-tied", "qwen2", "llama-bf16", "gemma2-softcap", "cohere-logit-scale"],
)
@pytest.mark.parametrize("training", [True, False])
def test_self_check_passes_models_whose_logits_the_lean_path_reproduces(make, training):
    model = make()
    model.train(training)
    assert lean_matches_plain(model, 1000, "cpu")
    assert model.training is training and all(module.training is training for module in model.modules())


def test_self_check_fails_where_the_model_changes_its_logits_beyond_the_head():
    # Granite divides its logits by `logits_scaling`, which the lean path does not know
    granite = made(transformers.GraniteForCausalLM, transformers.GraniteConfig, logits_scaling=4.0)
    assert not lean_matches_plain(granite, 1000, "cpu")
    # a hook on the whole model runs on the plain path only; doubling changes the softmax
    # (adding a constant would not: log_softmax does not see a shift, and neither would the check)
    model = llama()
    assert lean_matches_plain(model, 1000, "cpu")
    model.register_forward_hook(lambda module, args, output: output.__setitem__("logits", output.logits * 2))
    assert not lean_matches_plain(model, 1000, "cpu")


def test_self_check_leaves_the_global_random_state_alone():
    model = llama()
    state = torch.get_rng_state()
    lean_matches_plain(model, 1000, "cpu")
    assert torch.equal(torch.get_rng_state(), state)


class LargestTensor(torch.utils._python_dispatch.TorchDispatchMode):
    """The most elements of any tensor an op returns while active, forward and backward."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(value, torch.Tensor):
                self.largest = max(self.largest, value.numel())
        return out


def saved_shapes(loss_of) -> list[tuple]:
    """The shapes of the tensors autograd keeps for backward (outside a checkpoint, which keeps
    only its inputs and recomputes the rest there), then backward."""
    shapes = []

    def keep(tensor):
        shapes.append(tuple(tensor.shape))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        loss = loss_of()
    loss.backward()
    return shapes


def test_no_full_logits_tensor_exists_in_the_lean_forward_and_backward():
    vocab, length, chunk = 32000, 512, 64
    model = llama(vocab_size=vocab, num_hidden_layers=1, max_position_embeddings=length)
    ids = torch.randint(0, vocab, (1, length), generator=torch.Generator().manual_seed(0))
    batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}
    with LargestTensor() as plain:
        plain_loss(model, batch).backward()
    with LargestTensor() as lean:
        lean_loss(model, batch, chunk).backward()
    assert plain.largest >= (length - 1) * vocab
    assert chunk * vocab >= lean.largest >= vocab * 32  # one chunk's logits; the head weight is V x H
    # and no chunk's logits wait for backward: each chunk's are recomputed there, one at a time
    assert (length - 1, vocab) in saved_shapes(lambda: plain_loss(model, batch))
    assert not [shape for shape in saved_shapes(lambda: lean_loss(model, batch, chunk)) if vocab in shape]
