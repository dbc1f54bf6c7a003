"""Backends from a command's options: which kind, which model, and how requests reach it.

A backend kind is one entry of BACKENDS; commands offer its names as their --backend (and
prefs' --policy) choices. Every backend is wrapped in the answer cache (cache.py) unless the
user turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from curate.llm.backend import Backend
from curate.llm.cache import AnswerCache, CachedBackend
from curate.llm.openai_compat import DEFAULT_KEY_ENV, ClientSettings


@dataclass(frozen=True)
class ClientOptions:
    """How requests reach a model: the server client's limits and retries, the answer cache,
    and the settings of a model run in this process."""

    api_key_env: str = DEFAULT_KEY_ENV
    concurrency: int = ClientSettings.concurrency
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = ClientSettings.timeout
    max_retries: int = ClientSettings.max_retries
    cache: Path | None = None  # None: the user cache's llm/ folder
    no_cache: bool = False
    share_cache: bool = False  # answers keyed by the model alone, not the server: replicas share them
    batch_size: int = 8  # local models: sequences generated together
    device: str = "auto"
    dtype: str = "auto"


# The options that change how requests are sent or where answers are kept, never which answers
# come back: left out of a job's identity.
CLIENT_OPTION_NAMES = frozenset(field.name for field in fields(ClientOptions))


def _openai(model: str, base_url: str | None, options: ClientOptions) -> Backend:
    from curate.llm.openai_compat import OpenAIBackend

    return OpenAIBackend(
        ClientSettings(
            model=model,
            base_url=base_url,
            api_key_env=options.api_key_env,
            concurrency=options.concurrency,
            rpm=options.rpm,
            tpm=options.tpm,
            timeout=options.timeout,
            max_retries=options.max_retries,
        )
    )


def _local(model: str, base_url: str | None, options: ClientOptions) -> Backend:
    from curate.llm.local import LocalBackend

    return LocalBackend(model, batch_size=options.batch_size, device=options.device, dtype=options.dtype)


BACKENDS: dict[str, Callable[[str, str | None, ClientOptions], Backend]] = {
    "openai": _openai,  # any OpenAI-compatible server: vLLM, Ollama, llama.cpp, OpenAI
    "local": _local,  # a transformers model in this process
}
REMOTE = "openai"  # the kind that talks to a server and may need a key


def require_key(kind: str, model: str, base_url: str | None, options: ClientOptions) -> None:
    """A remote server without a key in the environment: one line, before anything is written."""
    if kind == REMOTE:
        from curate.llm.openai_compat import api_key

        api_key(ClientSettings(model, base_url, options.api_key_env))


def make_backend(kind: str, model: str, base_url: str | None, options: ClientOptions) -> CachedBackend:
    """A backend of `kind` for `model`, behind the answer cache unless `options.no_cache`; the
    cache is keyed by the server too unless `options.share_cache`."""
    from curate.user_cache import cache_dir

    backend = BACKENDS[kind](model, base_url, options)
    cache = None if options.no_cache else AnswerCache(options.cache or cache_dir() / "llm")
    return CachedBackend(backend, cache, shared=options.share_cache)
