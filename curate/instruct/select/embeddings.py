"""Sentence embeddings for `curate select`'s diversity: a Hugging Face encoder in this process
(mean pooling of its last hidden states), or an OpenAI-compatible `/v1/embeddings` endpoint.

Every vector comes back L2-normalised as float32, so a dot product is a cosine. An endpoint's
vectors are kept in a SQLite cache beside the answer cache, keyed by the model, the server
and the text, committed batch by batch: a killed run resumes without asking again, and a
finished one asks nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import xxhash

from curate.errors import RunFailed, UserError
from curate.llm.devices import first_line, pick_device
from curate.llm.factory import ClientOptions

EMBEDDINGS_FILE = "embeddings.sqlite"
BATCH = 32  # texts per /v1/embeddings request (TEI's default limit) or per forward pass
LOCAL_MAX_TOKENS = 512
ENDPOINT_MAX_CHARS = 8_000  # a text sent to an endpoint is cut here: under 8,192 tokens in any language


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        """(len(texts), d) float32, each row of norm 1; `progress(n)` after each n texts."""
        ...

    def stats(self) -> dict: ...


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


class HFEncoder:
    """A transformers encoder (or any model AutoModel loads, a causal LM's body included) with
    mean pooling over the real tokens. Weights from safetensors only."""

    def __init__(self, name: str, device: str = "auto", batch_size: int = BATCH, progress: bool = False) -> None:
        import torch
        from safetensors import SafetensorError
        from transformers import AutoModel, AutoTokenizer

        from curate.llm.local import hub_offline
        from curate.llm.model_files import check_model_folder

        self.name = name
        self.batch_size = batch_size
        self.device = pick_device(device)
        self._texts = 0
        check_model_folder(name, AutoModel)
        from curate.llm.reward_model import loading_quietly

        try:
            with loading_quietly(progress):
                self.tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=hub_offline())
                self.model = AutoModel.from_pretrained(name, use_safetensors=True, local_files_only=hub_offline())
        except (OSError, ValueError, KeyError, ImportError, RuntimeError, SafetensorError) as error:
            raise UserError(f"cannot load the embedding model {name!r}: {first_line(error)}") from None
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.model.to(self.device).eval()
        self._torch = torch

    def encode(self, texts: list[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        torch = self._torch
        width = int(self.model.config.hidden_size)
        vectors = np.zeros((len(texts), width), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chosen = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in chosen],
                    padding=True,
                    truncation=True,
                    max_length=LOCAL_MAX_TOKENS,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state.float()
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                vectors[chosen] = pooled.cpu().numpy()
                if progress is not None:
                    progress(len(chosen))
        self._texts += len(texts)
        return normalised(vectors)

    def stats(self) -> dict:
        return {"kind": "local", "model": self.name, "texts": self._texts}


class EmbeddingCache:
    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(folder / EMBEDDINGS_FILE, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        except (OSError, sqlite3.Error) as error:
            raise UserError(f"cannot use the embedding cache in {folder}: {error}") from None

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
            ).fetchall()
            found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def put_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
            [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items],
        )
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


@dataclass
class EndpointEncoder:
    """An OpenAI-compatible `/v1/embeddings` endpoint, `batch_size` texts a request, the
    client retrying 429s and 5xx with backoff; the key from the environment."""

    name: str
    base_url: str | None
    client_options: ClientOptions = field(default_factory=ClientOptions)
    batch_size: int = BATCH
    requests: int = 0
    cache_hits: int = 0

    def __post_init__(self) -> None:
        from openai import OpenAI

        from curate.llm.openai_compat import ClientSettings, api_key, server_url
        from curate.llm.redact import server_identity
        from curate.user_cache import cache_dir

        settings = ClientSettings(self.name, self.base_url, self.client_options.api_key_env)
        key = api_key(settings)
        self._url = server_url(settings)
        self._server = server_identity(self._url)
        self._client = OpenAI(
            api_key=key,
            base_url=server_url(settings),
            timeout=self.client_options.timeout,
            max_retries=self.client_options.max_retries,
        )
        options = self.client_options
        self._cache = None if options.no_cache else EmbeddingCache(options.cache or cache_dir() / "llm")

    def _key(self, text: str) -> str:
        identity = {"model": self.name} | ({} if self.client_options.share_cache else {"server": self._server})
        return xxhash.xxh3_128_hexdigest(
            json.dumps([identity, text], ensure_ascii=False, sort_keys=True).encode("utf-8")
        )

    def encode(self, texts: list[str], progress: Callable[[int], object] | None = None) -> np.ndarray:
        texts = [text[:ENDPOINT_MAX_CHARS] for text in texts]
        keys = [self._key(text) for text in texts]
        known = self._cache.get_many(list(dict.fromkeys(keys))) if self._cache is not None else {}
        first_of: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key not in known:
                first_of.setdefault(key, index)
        self.cache_hits += sum(key in known for key in keys)
        if progress is not None:
            progress(len(keys) - len(first_of))
        missing = list(first_of.values())  # each distinct text asked once
        for start in range(0, len(missing), self.batch_size):
            chosen = missing[start : start + self.batch_size]
            items = [(keys[i], vector) for i, vector in zip(chosen, self._ask([texts[i] for i in chosen]))]
            if self._cache is not None:
                self._cache.put_many(items)  # committed now: a kill keeps it
            known.update(items)
            if progress is not None:
                progress(len(chosen))
        width = {len(vector) for vector in known.values()}
        if len(width) > 1:
            raise RunFailed(f"the embedding endpoint gave vectors of several sizes {sorted(width)}")
        return normalised(np.stack([known[key] for key in keys])) if keys else np.zeros((0, 1), np.float32)

    def _ask(self, texts: list[str]) -> list[np.ndarray]:
        import openai

        from curate.llm.openai_compat import FATAL_STATUSES
        from curate.llm.redact import redact, redact_url

        try:
            answer = self._client.embeddings.create(model=self.name, input=texts)
        except openai.APIStatusError as error:
            problem = FATAL_STATUSES.get(error.status_code)
            if problem is not None:  # the user's to fix (key, model name, URL): one line, exit 2
                raise UserError(
                    f"embedding endpoint {redact_url(self._url)}: {problem} ({error.status_code})"
                ) from None
            raise RunFailed(
                f"the embedding endpoint failed ({error.status_code}): {redact(first_line(error))}"
            ) from None
        except openai.APIError as error:
            raise RunFailed(f"the embedding endpoint failed: {redact(first_line(error))}") from None
        self.requests += 1
        data = sorted(answer.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise RunFailed(f"the embedding endpoint answered {len(data)} of {len(texts)} texts")
        return [np.asarray(item.embedding, dtype=np.float32) for item in data]

    def stats(self) -> dict:
        return {"kind": "endpoint", "model": self.name, "requests": self.requests, "cache_hits": self.cache_hits}

    def close(self) -> None:
        self._client.close()
        if self._cache is not None:
            self._cache.close()


def make_encoder(
    name: str, base_url: str | None, options: ClientOptions, batch_size: int = BATCH, progress: bool = False
) -> Encoder:
    """The endpoint's encoder when `base_url` is given, else a model in this process."""
    if base_url is not None:
        return EndpointEncoder(name, base_url, options, batch_size)
    return HFEncoder(name, device=options.device, batch_size=batch_size, progress=progress)
