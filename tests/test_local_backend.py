"""LocalBackend on a tiny random Llama built here (no download): batching, statuses, token
counts, stop strings, failures, identity."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from curate.errors import UserError
from curate.llm import local
from curate.llm.backend import FAILED, LENGTH, STATUSES, ChatRequest, Sampling
from curate.llm.local import LocalBackend

from .tiny_chat_model import make_tiny_chat_model

GREEDY = Sampling(temperature=0.0, max_tokens=12)
SAMPLED = Sampling(temperature=1.0, top_p=0.95, max_tokens=16, seed=7)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # A model this small gains nothing from threads, and on a busy machine with few cores
    # torch's thread pool makes it ten times slower.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


@pytest.fixture(scope="module")
def backend(model_dir):
    backend = LocalBackend(model_dir, batch_size=2, device="cpu")
    yield backend
    backend.close()


def conversation(index: int) -> list[dict]:
    messages = [{"role": "user", "content": f"Question {index}: " + "why is the sky blue? " * index}]
    if index % 2:
        messages.insert(0, {"role": "system", "content": "Answer briefly."})
    return messages


def mixed_requests() -> list[ChatRequest]:
    # two sampling groups, interleaved, and batch_size 2 splits each group in several batches
    return [ChatRequest.of(conversation(index), GREEDY if index % 2 == 0 else SAMPLED) for index in range(5)]


def test_batch_of_mixed_requests(backend, model_dir):
    from transformers import AutoTokenizer

    requests = mixed_requests()
    completions = backend.complete(requests)
    assert len(completions) == len(requests)
    assert all(completion.status in STATUSES for completion in completions)
    assert all(completion.status != FAILED for completion in completions)

    # in request order: each prompt's token count is what transformers' own template and tokenizer give
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    for request, completion in zip(requests, completions):
        text = tokenizer.apply_chat_template(request.message_dicts(), tokenize=False, add_generation_prompt=True)
        assert completion.prompt_tokens == len(tokenizer(text, add_special_tokens=False)["input_ids"])
        assert 0 < completion.completion_tokens <= request.sampling.max_tokens
        if completion.finish_reason == "length":  # no end token: the limit was reached
            assert completion.completion_tokens == request.sampling.max_tokens
            assert completion.status == LENGTH
    # complete() leaves usage to the caller (the cache), apart from the time spent
    assert backend.usage.requests == 0 and backend.usage.seconds > 0

    # greedy answers, and seeded samples in the same batches, are the same on a second call
    again = backend.complete(requests)
    assert [(c.text, c.finish_reason, c.completion_tokens) for c in again] == [
        (c.text, c.finish_reason, c.completion_tokens) for c in completions
    ]


def test_short_limit_gives_length(backend):
    completions = backend.complete(
        [ChatRequest.of(conversation(i), Sampling(temperature=0, max_tokens=4)) for i in range(3)]
    )
    for completion in completions:
        if completion.finish_reason == "length":
            assert completion.status == LENGTH and completion.completion_tokens == 4
        else:  # the random model wrote its end token within 4 tokens
            assert completion.finish_reason == "stop" and completion.completion_tokens <= 4
    # random weights almost never write <|im_end|> (1 in ~1000 a token): at least one ran out
    assert any(completion.status == LENGTH for completion in completions)


def test_stop_strings_cut_the_text(backend):
    request = ChatRequest.of(conversation(3), SAMPLED)
    (free,) = backend.complete([request])
    letters = [char for char in free.text[2:] if char.isalnum()]
    if not letters:
        pytest.skip(f"the random model wrote no letter to stop at: {free.text!r}")
    stop = letters[0]
    (stopped,) = backend.complete([ChatRequest(request.messages, dataclasses.replace(SAMPLED, stop=(stop,)))])
    # same seed, same batch: the same tokens up to the stop string, and nothing from it on
    assert stopped.text == free.text[: free.text.index(stop)]
    assert stop not in stopped.text
    assert stopped.finish_reason == "stop"
    assert 0 < stopped.completion_tokens <= free.completion_tokens


def test_a_failing_batch_fails_only_its_requests(backend, monkeypatch):
    import torch

    real_generate = backend._model.generate

    def generate(*args, **kwargs):
        if kwargs.get("do_sample"):
            raise RuntimeError("boom")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(backend._model, "generate", generate)
    bad = ChatRequest.of([{"role": "user", "content": None}], GREEDY)  # ChatML cannot render None
    completions = backend.complete(mixed_requests() + [bad])
    assert [c.status == FAILED for c in completions] == [False, True, False, True, False, True]
    assert completions[1].error == "RuntimeError: boom" and completions[1].prompt_tokens == 0
    assert "could not render" in completions[5].error

    # out of memory with several prompts: the batch is split, and every request is answered
    calls = []

    def short_of_memory(*args, **kwargs):
        calls.append(len(kwargs["input_ids"]))
        if len(kwargs["input_ids"]) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(backend._model, "generate", short_of_memory)
    completions = backend.complete([ChatRequest.of(conversation(i), GREEDY) for i in range(2)])
    assert calls == [2, 1, 1] and all(c.status != FAILED for c in completions)


def test_identity(backend, model_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    identity = backend.identity()
    assert identity["backend"] == "local" and identity["model"] == str(model_dir.resolve())
    assert LocalBackend(model_dir, device="cpu").identity() == identity

    copy = shutil.copytree(model_dir, tmp_path / "copy")
    copied = LocalBackend(copy, device="cpu").identity()
    assert copied["weights"] == identity["weights"]  # same files, same weights fingerprint

    weights = load_file(copy / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name] + 1.0  # same shapes, same file size, other numbers
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    assert local.weights_fingerprint(copy) != copied["weights"]
    # every byte counts, whatever the file's size: an edit with the size and mtime restored is seen
    stat = (copy / "model.safetensors").stat()
    before = local.weights_fingerprint(copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    local.os.utime(copy / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert local.weights_fingerprint(copy) != before


def test_loading_errors(model_dir, tmp_path):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text('{"model_type": "llama"}')
    (pickled / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(UserError, match="safetensors"):
        LocalBackend(pickled, device="cpu")

    with pytest.raises(UserError, match="does not exist"):
        LocalBackend(tmp_path / "missing", device="cpu")

    # a hub id, offline (tests set CURATE_OFFLINE) and not in the cache: a clear error naming it
    with pytest.raises(UserError, match="curate-tests/no-such-model"):
        LocalBackend("curate-tests/no-such-model", device="cpu")

    plain = shutil.copytree(model_dir, tmp_path / "plain")
    (plain / "chat_template.jinja").unlink()
    with pytest.raises(UserError, match="no chat template"):
        LocalBackend(plain, device="cpu")

    with pytest.raises(UserError, match="dtype"):
        LocalBackend(model_dir, device="cpu", dtype="float8")
