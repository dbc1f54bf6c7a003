"""An in-process backend: a transformers causal language model on this machine's GPU or CPU.

The prompt is the model's own chat template rendered in curate's sandbox (never the
tokenizer's unsandboxed jinja2), so it is byte for byte what `apply_chat_template` would
give. Requests with the same sampling are generated together in left-padded batches.

Weights load from safetensors only: a pickle (`pytorch_model.bin`) can run code when loaded.
torch and transformers are imported when a backend is built, so importing this module is cheap.
"""

from __future__ import annotations

import gc
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import xxhash

from curate.errors import UserError
from curate.instruct.templates import ChatTemplate, TemplateRenderError, loaded_tokenizer_template
from curate.io.fingerprint import fingerprint
from curate.llm import adapters
from curate.llm.backend import FAILED, ChatRequest, Completion, Sampling, Usage, completion_status, derived_seed
from curate.llm.devices import first_line, pick_device, pick_dtype

# Files whose content decides the answers: weights, configs, tokenizer, chat templates.
_IDENTITY_SUFFIXES = (".safetensors", ".json", ".jinja", ".model", ".txt", ".tiktoken")
# Files up to this size are hashed whole; larger ones (weight shards) by size and mtime, so
# identity() costs nothing on a 100 GB model.
# Checkpoint formats that are pickles (or not PyTorch): never loaded.
_UNSAFE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.msgpack")
# A Hugging Face cache blob is named by its content hash (sha256 for LFS files, git sha1 otherwise).
_CONTENT_HASH_NAME = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def hub_offline() -> bool:
    # Same switch as curate.corpus.fasttext_models: CURATE_OFFLINE=1 never downloads.
    flag = os.environ.get("CURATE_OFFLINE", "") or os.environ.get("HF_HUB_OFFLINE", "")
    return flag.strip().lower() not in ("", "0", "false", "no", "off")


def missing_folder(model: str) -> bool:
    """A model named by a path (looks_like_path) whose folder is not there: the user's mistake,
    said in one line before any loader tries the hub with it."""
    return looks_like_path(model) and not Path(model).expanduser().is_dir()


def looks_like_path(model: str | Path) -> bool:
    """A hub id is `name` or `owner/name`; anything else that names a place is a path."""
    if isinstance(model, Path):
        return True
    text = str(model)
    return text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text or os.path.exists(text)


def _file_fingerprint(path: Path) -> str:
    resolved = path.resolve()
    if path.is_symlink() and _CONTENT_HASH_NAME.fullmatch(resolved.name):
        return resolved.name  # a hub cache snapshot links to blobs named by their content hash
    # every byte (xxh3 reads several GB/s): weights edited in place with their size and mtime
    # restored must never be answered from the cache of the old ones
    return fingerprint(resolved)["xxh3_128"]


def weights_fingerprint(folder: Path) -> str:
    """A hash of the files in a model folder that decide its answers (see `_file_fingerprint`);
    for an adapter folder, of its base's too."""
    digest = xxhash.xxh3_64()
    files = [path for path in folder.iterdir() if path.is_file() and path.name.endswith(_IDENTITY_SUFFIXES)]
    files += sorted((folder / "additional_chat_templates").glob("*.jinja"))
    for path in sorted(files):
        digest.update(f"{path.relative_to(folder)}\0{_file_fingerprint(path)}\n".encode())
    if adapters.is_adapter_folder(folder):
        base = adapters.adapter_base(folder)
        base_folder = Path(base).expanduser()
        digest.update(f"base\0{weights_fingerprint(base_folder) if base_folder.is_dir() else base}\n".encode())
    return digest.hexdigest()


def _hub_snapshot(model_id: str) -> Path | None:
    """The cached snapshot folder a hub model was loaded from, if it can be found."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, "config.json")
    except Exception:
        return None
    return Path(found).parent if isinstance(found, str) else None


def _as_list(value: int | Iterable[int] | None) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(item) for item in value]


class LocalBackend:
    """A transformers model answering chat requests in this process (see the module doc)."""

    def __init__(self, model: str | Path, *, batch_size: int = 8, device: str = "auto", dtype: str = "auto") -> None:
        if batch_size < 1:
            raise UserError(f"batch size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        self.usage = Usage()
        self._model_name, self._folder = self._locate(model)
        self._device = pick_device(device)
        self._dtype = pick_dtype(dtype, self._device)
        self._tokenizer, self._template = self._load_tokenizer()
        self._model = self._load_model()

        folder = self._folder or _hub_snapshot(self._model_name)
        if folder is not None:
            weights = weights_fingerprint(folder)
        else:  # loaded, but its cache folder is not where huggingface_hub says: fall back on the config
            weights = xxhash.xxh3_64_hexdigest(self._model.config.to_json_string() + self._template.source)
        self._identity = {"backend": "local", "model": self._model_name, "weights": weights}

        generation_config = self._model.generation_config
        # Generation ends at any of the model's end tokens (a list for Llama 3 and others) and
        # at the tokenizer's eos, which chat tokenizers set to the end-of-turn marker.
        eos_ids = set(_as_list(generation_config.eos_token_id)) | set(_as_list(self._tokenizer.eos_token_id))
        self._eos_ids = sorted(eos_ids)
        if not self._eos_ids:
            raise UserError(f"{self._model_name}: neither the tokenizer nor the model names an end-of-sequence token")
        pad = self._tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else self._eos_ids[0]
        # transformers fills unset sampling options from its own defaults, top_k=50 among them:
        # an OpenAI-style request has no top_k, so switch it off unless the model's own
        # generation_config.json asks for one (as vLLM does).
        self._model_top_k = generation_config.top_k
        text_config = self._model.config.get_text_config()
        self._max_positions = getattr(text_config, "max_position_embeddings", None)

    # ------------------------------------------------------------------ loading

    @staticmethod
    def _locate(model: str | Path) -> tuple[str, Path | None]:
        """(the name identity() reports, the local folder or None for a hub id)."""
        if looks_like_path(model):
            folder = Path(model).expanduser().resolve()
            if not folder.is_dir():
                raise UserError(f"model folder {folder} does not exist")
            if not any(folder.glob("*.safetensors")):
                unsafe = sorted({path.name for pattern in _UNSAFE_WEIGHTS for path in folder.glob(pattern)})
                found = f" (it has {', '.join(unsafe[:3])})" if unsafe else ""
                raise UserError(
                    f"model folder {folder} has no safetensors weights{found}; curate loads only safetensors "
                    "(pickled weights can run code): convert it, e.g. load it with transformers and "
                    "save_pretrained(folder, safe_serialization=True)"
                )
            return str(folder), folder
        return str(model), None

    def _source(self) -> str:
        return str(self._folder) if self._folder is not None else self._model_name

    def _load_error(self, what: str, error: Exception) -> UserError:
        detail = first_line(error)
        if self._folder is not None:
            return UserError(f"cannot load the {what} from {self._folder}: {detail}")
        if hub_offline():
            where = "offline (CURATE_OFFLINE or HF_HUB_OFFLINE is set), and it is not in the Hugging Face cache"
        else:
            where = "it is not a local folder and could not be fetched from the Hugging Face hub"
        if "safetensors" in str(error):
            where = "the hub repository has no safetensors weights; curate loads only safetensors"
        return UserError(f"cannot load the {what} of model {self._model_name!r}: {where} ({detail})")

    def _load_tokenizer(self) -> tuple[Any, ChatTemplate]:
        from transformers import AutoTokenizer

        source = self._source()
        if adapters.is_adapter_folder(source):
            source = adapters.tokenizer_source(source, adapters.adapter_base(source))
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=hub_offline())
        except (OSError, ValueError, KeyError, ImportError) as error:
            raise self._load_error("tokenizer", error) from None
        template = loaded_tokenizer_template(tokenizer, f"{self._model_name} chat template")
        if template is None:
            raise UserError(
                f"model {self._model_name} has no chat template; use a chat (instruct) model whose tokenizer has one"
            )
        return tokenizer, template

    def _load_model(self) -> Any:
        return self._load_weights(self._source()).eval()

    def _load_weights(self, source: str) -> Any:
        """The model in `source`; an adapter folder (a `train-sft --lora` run's final/) is merged
        into the base it names."""
        from safetensors import SafetensorError
        from transformers import AutoModelForCausalLM

        from curate.llm.model_files import check_model_folder

        if adapters.is_adapter_folder(source):
            return adapters.load_merged(source, self._load_weights)
        check_model_folder(source, AutoModelForCausalLM)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                source,
                use_safetensors=True,
                dtype=self._dtype,  # `torch_dtype` in transformers 4.x; renamed in 5
                device_map=str(self._device),
                local_files_only=hub_offline(),
            )
        except (OSError, ValueError, KeyError, ImportError, RuntimeError, SafetensorError) as error:
            raise self._load_error("model", error) from None
        return model

    # ------------------------------------------------------------------ the protocol

    def identity(self) -> dict:
        return dict(self._identity)

    def close(self) -> None:
        if self._model is None:
            return
        self._model = None
        gc.collect()
        if self._device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def complete(
        self, requests: list[ChatRequest], on_completion: Callable[[int, Completion], None] | None = None
    ) -> list[Completion]:
        if self._model is None:
            raise RuntimeError("LocalBackend.complete() after close()")
        started = time.perf_counter()
        results: list[Completion | None] = [None] * len(requests)
        prompts: dict[int, list[int]] = {}
        groups: dict[Sampling, list[int]] = {}

        def done(index: int, completion: Completion) -> None:
            results[index] = completion
            if on_completion is not None:
                on_completion(index, completion)

        for index, request in enumerate(requests):
            ids_or_error = self._prompt_ids(request)
            if isinstance(ids_or_error, str):
                done(index, Completion("", FAILED, error=ids_or_error))
                continue
            prompts[index] = ids_or_error
            # Requests differing only in their seed share a batch: generate() cannot seed rows
            # one by one, so the batch is seeded from all of its requests' seeds instead.
            groups.setdefault(replace(request.sampling, seed=None), []).append(index)

        for sampling, indices in groups.items():
            # Similar lengths in one batch waste less on padding; the order is deterministic,
            # so a seeded request list gives the same batches, and the same answers, every time.
            indices = sorted(indices, key=lambda index: len(prompts[index]))
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                seeds = [requests[index].sampling.seed for index in chunk]
                batch_sampling = replace(sampling, seed=_batch_seed(seeds))
                for index, completion in zip(chunk, self._generate_safely([prompts[i] for i in chunk], batch_sampling)):
                    done(index, completion)

        self.usage.seconds += time.perf_counter() - started
        missing = [index for index, completion in enumerate(results) if completion is None]
        if missing:  # cannot happen; never hand back fewer completions than requests
            raise RuntimeError(f"no completion for requests {missing}")
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ generation

    def _prompt_ids(self, request: ChatRequest) -> list[int] | str:
        """The prompt's token ids, or why this request cannot be sent."""
        try:
            text = self._template.render(request.message_dicts(), add_generation_prompt=True)
        except TemplateRenderError as error:
            return str(error)
        # The template writes BOS itself if the model wants one; the tokenizer must not add another.
        ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            return "the chat template rendered an empty prompt"
        if self._max_positions and len(ids) >= self._max_positions:
            return f"the prompt has {len(ids)} tokens; the model takes at most {self._max_positions}"
        return ids

    def _generate_safely(self, prompts: list[list[int]], sampling: Sampling) -> list[Completion]:
        """`_generate`, but a failure becomes FAILED completions for this batch (never lost requests).

        Out of GPU memory, the batch is split in halves and each half tried again."""
        import torch

        try:
            return self._generate(prompts, sampling)
        except torch.OutOfMemoryError as error:
            if self._device.type == "cuda":
                torch.cuda.empty_cache()
            if len(prompts) > 1:
                middle = len(prompts) // 2
                return self._generate_safely(prompts[:middle], sampling) + self._generate_safely(
                    prompts[middle:], sampling
                )
            failure = f"out of memory: {first_line(error)}"
        except Exception as error:
            failure = f"{type(error).__name__}: {first_line(error)}"
        return [Completion("", FAILED, error=failure) for _ in prompts]

    def _generate(self, prompts: list[list[int]], sampling: Sampling) -> list[Completion]:
        import torch

        width = max(len(ids) for ids in prompts)
        # Left padding: every prompt ends at the same column, where generation starts.
        input_ids = torch.tensor([[self._pad_id] * (width - len(ids)) + ids for ids in prompts], device=self._device)
        attention_mask = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts], device=self._device
        )
        options: dict[str, Any] = {
            "max_new_tokens": sampling.max_tokens,
            "pad_token_id": self._pad_id,
            "eos_token_id": self._eos_ids,
        }
        if sampling.temperature > 0:
            options.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
            if self._model_top_k is None:
                options["top_k"] = 0  # 0 switches top-k off (transformers 5 warns if set when greedy)
        else:
            # Sampling options are left out: transformers 5 warns about each one set while greedy.
            options["do_sample"] = False
        if sampling.stop:
            # Stops a row early once it has written a stop string; the text is cut below.
            options.update(stop_strings=list(sampling.stop), tokenizer=self._tokenizer)
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        with torch.inference_mode():
            output = self._model.generate(input_ids=input_ids, attention_mask=attention_mask, **options)
        generated = output[:, width:].tolist()
        return [self._completion(ids, row, sampling) for ids, row in zip(prompts, generated)]

    def _completion(self, prompt: list[int], row: list[int], sampling: Sampling) -> Completion:
        eos = set(self._eos_ids)
        end = next((position for position, token in enumerate(row) if token in eos), None)
        if end is not None:
            tokens, used, finish = row[:end], end + 1, "stop"
        else:
            # A row that stopped on a stop string is padded after it up to the batch's length
            # (the pad id is not an end token here, or `end` would have found it).
            tokens = list(row)
            while tokens and tokens[-1] == self._pad_id:
                tokens.pop()
            used, finish = len(tokens), "length" if len(tokens) == len(row) else "stop"
        text = self._decode(tokens)
        cut = self._stop_position(text, sampling.stop)
        if cut is not None:
            text, finish = text[:cut], "stop"
            used = self._tokens_until_stop(tokens, sampling.stop)
        return Completion(
            text=text,
            status=completion_status(text, finish),
            finish_reason=finish,
            prompt_tokens=len(prompt),
            completion_tokens=used,
        )

    def _decode(self, tokens: list[int]) -> str:
        return self._tokenizer.decode(tokens, skip_special_tokens=True)

    @staticmethod
    def _stop_position(text: str, stops: tuple[str, ...]) -> int | None:
        found = [position for stop in stops if stop and (position := text.find(stop)) >= 0]
        return min(found) if found else None

    def _tokens_until_stop(self, tokens: list[int], stops: tuple[str, ...]) -> int:
        """How many tokens the model wrote up to and including the first stop string (what a
        server reports): the shortest prefix whose text holds one, by binary search."""
        low, high = 1, len(tokens)
        while low < high:
            middle = (low + high) // 2
            if self._stop_position(self._decode(tokens[:middle]), stops) is not None:
                high = middle
            else:
                low = middle + 1
        return high


def _batch_seed(seeds: list[int | None]) -> int | None:
    """One seed for a batch from its requests' seeds (None when none has one)."""
    if all(seed is None for seed in seeds):
        return None
    return derived_seed(",".join(map(str, seeds)))
