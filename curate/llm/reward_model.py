"""Reward models in this process: loading one (a one-label sequence classifier) and scoring
whole conversations with it, for `curate prefs --judge reward-model` and, in training, for
`curate train-rm`, which loads its model the same way.

The reward of a sequence is the score head's output at its last non-pad token, which is what
every `GenericForSequenceClassification` computes once `config.pad_token_id` is set; it is set
here (the tokenizer's pad token, else its eos token, as TRL does) and saved with the model.
Weights load from safetensors only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from curate.errors import UserError
from curate.instruct.templates import TemplateRenderError, template_for
from curate.llm import adapters
from curate.llm.devices import first_line, pick_device


@contextmanager
def loading_quietly(progress: bool):
    """Silence the load report (a new `score.weight` and an unused `lm_head` are expected here;
    other missing keys are checked by the caller) and, without progress, the loading bar."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _is_head(key: str) -> bool:
    return key.split(".")[0] in ("score", "classifier")


def load_reward_model(name: str, device, seed: int = 0, dtype=None, progress: bool = False, load_in_4bit: bool = False):
    """(model, tokenizer, head_initialised): a one-label sequence classifier with pad_token_id set.

    The score head is initialised from `seed` (torch's generator is seeded right before the
    load, as TRL's `set_seed` does) when the checkpoint has none. `dtype` None loads float32
    (TRL's default for reward models; bf16 then comes from autocast, not from the weights).
    An adapter folder (a `train-rm --lora` run's final/) is merged into the base it names, its
    trained score head included; `load_in_4bit` loads the weights in NF4 (QLoRA, CUDA only).
    """
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from curate.llm.model_files import check_model_folder

    if adapters.is_adapter_folder(name):
        base = adapters.adapter_base(name)
        model, _, head_initialised = load_reward_model(base, device, seed, dtype, progress, load_in_4bit)
        trained_head = adapters.adapter_config(name).get("task_type") == adapters.CLASSIFIER_TASK
        with loading_quietly(progress):
            if trained_head:
                model = adapters.attach_adapter(model, name)
            else:
                _load_causal_adapter_body(model, name, base, load_in_4bit)
        tokenizer = AutoTokenizer.from_pretrained(adapters.tokenizer_source(name, base))
        return model, _with_pad(model, tokenizer, name), head_initialised and not trained_head
    check_model_folder(name, AutoModelForSequenceClassification)
    placement = {}
    if load_in_4bit:
        from curate.train.lora import quantization_config

        placement = {"quantization_config": quantization_config(), "device_map": {"": device}}
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        torch.manual_seed(seed)
        with loading_quietly(progress):
            model, info = AutoModelForSequenceClassification.from_pretrained(
                name, num_labels=1, use_safetensors=True, dtype=dtype or torch.float32, output_loading_info=True,
                **placement,
            )  # fmt: skip
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:
        raise UserError(f"cannot load the model {name}: {first_line(error)}") from None
    missing = sorted(info.get("missing_keys") or ())
    body = [key for key in missing if not _is_head(key)]
    if body:
        raise UserError(
            f"{name} does not fit {type(model).__name__}: {len(body)} weights are missing (e.g. {body[0]}); "
            "use a causal LM or reward model folder whose config matches its weights"
        )
    if model.config.num_labels != 1:
        raise UserError(f"{name} has {model.config.num_labels} labels; a reward model has one")
    tokenizer = _with_pad(model, tokenizer, name)
    return (model if load_in_4bit else model.to(device)), tokenizer, any(_is_head(key) for key in missing)


def _load_causal_adapter_body(model, name: str, base: str, load_in_4bit: bool) -> None:
    """A causal LM adapter (an SFT --lora run) as a reward model's start: the adapter is merged
    into the causal base, whose body (all but the LM head) then replaces the classifier's."""
    from transformers import AutoModelForCausalLM

    if load_in_4bit or adapters.is_adapter_folder(base):
        raise UserError(
            f"{name} is a causal LM adapter on {'a 4-bit base' if load_in_4bit else 'another adapter'}; "
            "merge it first (curate merge-lora) and start the reward model from the merged folder"
        )
    try:
        causal = AutoModelForCausalLM.from_pretrained(base, use_safetensors=True, dtype=model.dtype)
    except (OSError, ValueError, RuntimeError) as error:
        raise UserError(f"cannot load the model {base}: {first_line(error)}") from None
    merged = adapters.attach_adapter(causal, name)
    prefix = model.base_model_prefix + "."
    body = {key: value for key, value in merged.state_dict().items() if key.startswith(prefix)}
    missing, _ = model.load_state_dict(body, strict=False)
    if not body or [key for key in missing if not _is_head(key)]:
        raise UserError(f"{name}: the causal model's weights do not fit {type(model).__name__}")


def _with_pad(model, tokenizer, name: str):
    """The tokenizer, with the eos token as pad token when it has none, and the model's
    config told which it is: the reward is read at the last token that is not pad_token_id
    (GenericForSequenceClassification)."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise UserError(f"{name}: the tokenizer has neither a pad nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer


def right_pad(sequences: Sequence[Sequence[int]], pad_id: int):
    """(input_ids, attention_mask): `sequences` right-padded with `pad_id` to the longest, 1 on real tokens."""
    import torch

    longest = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for number, ids in enumerate(sequences):
        input_ids[number, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[number, : len(ids)] = 1
    return input_ids, attention_mask


class RewardScorer:
    """Scores whole conversations with a trained reward model (`RUN/final`, or any one-label
    sequence classifier with a chat template), for `curate prefs` to judge candidates.

        scorer = RewardScorer("runs/rm/final")
        scorer.score([[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]])

    Each conversation is rendered with the model's own chat template (or `template`) in
    curate's sandbox, as in training (no generation prompt), tokenised without added special
    tokens, and scored in right-padded batches of `batch_size` (longest first, so a batch
    wastes little padding) without gradients. One float per conversation, in order.
    """

    def __init__(
        self, model_dir: str | Path, device: str = "auto", batch_size: int = 8, template: str | None = None, dtype=None
    ) -> None:
        if batch_size < 1:
            raise UserError(f"batch_size must be at least 1, not {batch_size}")
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.model, self.tokenizer, head_initialised = load_reward_model(str(model_dir), self.device, dtype=dtype)
        if head_initialised:
            raise UserError(f"{model_dir} has no reward head (score weights); train one with `curate train-rm`")
        self.model.eval()
        self.template = template_for(self.tokenizer, template, str(model_dir))

    def score(self, conversations: Sequence[Sequence[Mapping]]) -> list[float]:
        import torch

        texts = []
        for number, messages in enumerate(conversations):
            try:
                texts.append(self.template.render(list(messages)))
            except TemplateRenderError as error:
                raise UserError(f"conversation {number}: {error}") from None
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        empty = [number for number, ids in enumerate(encoded) if not ids]
        if empty:
            raise UserError(f"conversation {empty[0]} renders to no tokens; a reward needs at least one")
        order = sorted(range(len(encoded)), key=lambda index: -len(encoded[index]))
        pad_id = self.tokenizer.pad_token_id
        scores = [0.0] * len(encoded)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                input_ids, attention_mask = right_pad([encoded[index] for index in chunk], pad_id)
                logits = self.model(
                    input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device), use_cache=False
                ).logits
                for row, index in enumerate(chunk):
                    scores[index] = float(logits[row, 0].float().item())
        return scores
