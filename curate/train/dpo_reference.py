"""DPO's reference: the frozen model whose log-probabilities the policy is pulled towards.

Either kept in memory and run on every batch (`live`), or run once over every train and eval
pair before training (`precompute`); precomputed values are stored in
`RUN/reference_logps/<key>.safetensors`, the key hashing the reference weights, the pairs' token
ids, the template and the max lengths, so a later run on the same data and reference (a resume,
a new learning rate) reads them instead of running the reference again. Dropout is switched off
(as TRL's `disable_dropout=True`), so the policy's log-probabilities equal the reference's at
the start of training.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from curate.errors import UserError
from curate.train.logps import sequence_logps
from curate.train.lora import is_peft_model
from curate.train.models import load_model

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from curate.instruct.templates import ChatTemplate
    from curate.train.data import PreferencePair

REFERENCE_MODES = ("precompute", "live")
REFERENCE_DIR = "reference_logps"


class Reference:
    """The reference log-probabilities of a batch: from a frozen model (live) or precomputed per pair.

    With `adapter_off` the model is the LoRA policy itself, run with its adapters disabled: the
    base weights are the reference, and no second copy of them is kept.
    """

    def __init__(
        self, model=None, chosen: torch.Tensor | None = None, rejected: torch.Tensor | None = None, adapter_off=False
    ) -> None:
        if (model is None) == (chosen is None or rejected is None):
            raise ValueError("a Reference is either a model or precomputed chosen and rejected log-probabilities")
        self.model, self.chosen, self.rejected, self.adapter_off = model, chosen, rejected, adapter_off

    def logps(self, batch: dict, indices: Sequence[int], device, use_bf16: bool) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        if self.model is None:
            picked = torch.as_tensor(list(indices), dtype=torch.long)
            return self.chosen[picked].to(device), self.rejected[picked].to(device)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)
        with torch.no_grad(), autocast, adapters_disabled(self.model, self.adapter_off):
            return sequence_logps(self.model, batch, device)


def adapters_disabled(model, disabled: bool = True):
    """A context in which a LoRA model (or a scorer holding one as `.model`) runs as its base
    (peft's `disable_adapter`); a no-op for other models or when not `disabled`."""
    peft_model = model if is_peft_model(model) else getattr(model, "model", None)
    if disabled and peft_model is not None and is_peft_model(peft_model):
        return peft_model.disable_adapter()
    return contextlib.nullcontext()


def frozen(model):
    """`model` in eval mode with no gradients, for use as a reference."""
    model.eval()
    model.requires_grad_(False)
    return model


def disable_dropout(model) -> None:
    """Dropout off: every nn.Dropout (TRL's `disable_dropout_in_model`), and the attention dropout
    that models such as Llama read from a plain attribute when training."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = 0.0


def load_reference(name: str, policy, device):
    """The reference model from `name`, frozen, dropout off; it must share the policy's vocabulary."""
    reference = frozen(load_model(name, device)[0])
    disable_dropout(reference)
    ours, theirs = policy.get_input_embeddings().num_embeddings, reference.get_input_embeddings().num_embeddings
    if ours != theirs:
        raise UserError(
            f"the reference model {name} has {theirs} token embeddings and the policy {ours}; "
            "use a reference with the policy's tokenizer"
        )
    return reference


def same_model(first: str, second: str) -> bool:
    """Whether two --model values name the same model: the same hub id, or the same folder however written."""
    if first == second:
        return True
    a, b = Path(first).expanduser(), Path(second).expanduser()
    return a.is_dir() and b.is_dir() and a.resolve() == b.resolve()


def model_fingerprint(name: str, model) -> str:
    """The identity of a model's weights: its folder's file hashes, or a hash of its tensors.

    A local folder is fingerprinted by `weights_fingerprint` (cheap even for big shards). A hub
    id has no folder here to trust, so the loaded tensors themselves are hashed.
    """
    import torch
    import xxhash

    folder = Path(name).expanduser()
    if folder.is_dir():
        from curate.llm.local import weights_fingerprint

        return "files:" + weights_fingerprint(folder)
    digest = xxhash.xxh3_128()
    for key, tensor in sorted(model.state_dict().items()):
        if "lora_" in key:
            continue  # a LoRA policy's reference is its base: the adapters are not part of it
        raw = tensor.detach().contiguous().cpu().reshape(-1).view(torch.uint8)
        digest.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\n".encode())
        digest.update(raw.numpy().tobytes())
    return "tensors:" + digest.hexdigest()


def reference_key(
    fingerprint: str,
    train_pairs: Sequence[PreferencePair],
    eval_pairs: Sequence[PreferencePair],
    template: ChatTemplate,
    max_length: int,
    max_prompt_length: int | None,
    bf16: bool,
) -> str:
    """The name of a precomputed reference file: a hash of everything its values depend on."""
    import xxhash

    digest = xxhash.xxh3_128()
    header = {
        "reference": fingerprint,
        "template": template.fingerprint,
        "max_length": max_length,
        "max_prompt_length": max_prompt_length,
        "bf16": bf16,
        "pairs": [len(train_pairs), len(eval_pairs)],
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for pair in (*train_pairs, *eval_pairs):
        for name in ("prompt_ids", "chosen_ids", "rejected_ids"):
            ids = pair[name]
            digest.update(len(ids).to_bytes(4, "little"))
            digest.update(array("q", ids).tobytes())
    return digest.hexdigest()


def compute_reference_logps(
    model, pairs: Sequence[PreferencePair], pad_id: int, batch_size: int, device, use_bf16: bool, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's summed completion log-probabilities of every pair, in order.

    (chosen [N], rejected [N]), float32 on the CPU; run in batches of `batch_size` pairs, without gradients.
    """
    import torch
    from tqdm import tqdm

    from curate.train import data

    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    starts = range(0, len(pairs), batch_size)
    with torch.no_grad(), adapters_disabled(model):
        for start in tqdm(starts, desc="reference log-probs", unit="batch", disable=not progress):
            batch = data.collate_preference(pairs[start : start + batch_size], pad_id)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                chosen_logps, rejected_logps = sequence_logps(model, batch, device)
            chosen.append(chosen_logps.float().cpu())
            rejected.append(rejected_logps.float().cpu())
    model.train(was_training)
    empty = torch.zeros(0, dtype=torch.float32)
    return (torch.cat(chosen) if chosen else empty), (torch.cat(rejected) if rejected else empty)


def load_reference_logps(path: Path, train_count: int, eval_count: int) -> dict[str, torch.Tensor] | None:
    """A precomputed reference file's four tensors, or None if it is absent or does not fit the data."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError):
        return None  # a damaged file is recomputed, never trusted
    expected = dict.fromkeys(("train_chosen", "train_rejected"), train_count)
    expected.update(dict.fromkeys(("eval_chosen", "eval_rejected"), eval_count))
    if any(name not in tensors or tensors[name].shape != (count,) for name, count in expected.items()):
        return None
    return tensors


def save_reference_logps(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Write the four tensors as safetensors (no pickle), whole or not at all."""
    from safetensors.torch import save_file

    from curate.io.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, str(tmp), metadata=metadata)
    return path


@dataclass
class References:
    """The reference of the training pairs and of the eval pairs, and where precomputed ones live."""

    train: Reference
    eval: Reference
    file: Path | None = None  # the precomputed file (None for a live reference)
    reused: bool = False  # whether that file was read rather than computed


def prepare_references(
    settings, model, train_pairs, eval_pairs, template, pad_id: int, dist, device, use_bf16: bool, progress: bool
) -> References:
    """The reference for `settings.ref`: the policy's starting weights (or `settings.ref_model`),
    frozen and run live, or precomputed over every pair. `model` is the policy's scorer
    (lean_loss.token_scorer). Call it before a checkpoint is loaded into the policy: the
    policy's weights at that moment are the reference."""
    import torch

    from curate.train.lean_loss import token_scorer

    same_weights = settings.ref_model is None or same_model(settings.ref_model, settings.model)
    if settings.ref == "live":
        if same_weights and is_peft_model(model.model):
            reference = Reference(model=model, adapter_off=True)  # the base: the policy with its adapters off
            return References(reference, reference)
        if same_weights:
            ref_model = frozen(copy.deepcopy(model))
        else:
            ref_model = token_scorer(load_reference(settings.ref_model, model.model, device), device)
        return References(Reference(model=ref_model), Reference(model=ref_model))

    ref_model = model if same_weights else token_scorer(load_reference(settings.ref_model, model.model, device), device)
    key = reference_key(
        model_fingerprint(settings.ref_model or settings.model, ref_model),
        train_pairs, eval_pairs, template, settings.max_length, settings.max_prompt_length, use_bf16,
    )  # fmt: skip
    path = Path(settings.output) / REFERENCE_DIR / f"{key}.safetensors"
    # The main process reads or computes the file; the others wait for it and read it. Only the
    # main process looks first: a process that found the file another had just written would
    # skip the barrier the main process waits at.
    tensors, reused = None, False
    if dist.is_main:
        tensors = load_reference_logps(path, len(train_pairs), len(eval_pairs))
        reused = tensors is not None
        if tensors is None:
            tensors = {}
            for split, pairs in (("train", train_pairs), ("eval", eval_pairs)):
                chosen, rejected = compute_reference_logps(
                    ref_model, pairs, pad_id, settings.batch_size, device, use_bf16, progress
                )
                tensors |= {f"{split}_chosen": chosen, f"{split}_rejected": rejected}
            save_reference_logps(path, tensors, {"reference": settings.ref_model or settings.model})
    dist.barrier()
    if tensors is None:
        tensors, reused = load_reference_logps(path, len(train_pairs), len(eval_pairs)), True
    if ref_model is not model:
        del ref_model  # not needed again: free its memory before training
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return References(
        Reference(chosen=tensors["train_chosen"], rejected=tensors["train_rejected"]),
        Reference(chosen=tensors["eval_chosen"], rejected=tensors["eval_rejected"]),
        path,
        reused,
    )
