"""A disk cache of model answers, keyed by the full request.

The key is a hash of the backend's identity (the model and, for a server, its scheme, host,
port and path, never its credentials), the messages and every sampling parameter, seed
included. Another server answering to the same model name is another key, so it is never
answered from this server's answers; `shared` (--share-cache) leaves the server out, for the
same model served at several hosts. Each answer is committed as soon as it arrives, so a run that is
killed keeps what it paid for: re-running sends only the requests with no cached answer,
and a finished run replays from the cache without a single request. Failed requests are
not cached, so a re-run tries them again.

SQLite (standard library) holds the answers: one file, atomic commits, safe to share
between processes, and a lookup is one indexed read.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import xxhash

from curate.errors import UserError
from curate.llm.backend import FAILED, Backend, ChatRequest, Completion

CACHE_FILE = "llm-answers.sqlite"
SERVER = "server"  # the key of a backend's identity that names the server answering


def request_key(identity: dict, request: ChatRequest) -> str:
    canonical = json.dumps(
        {"model": identity, "messages": request.messages, "sampling": request.sampling.as_dict()},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return xxhash.xxh3_128_hexdigest(canonical.encode("utf-8"))


class AnswerCache:
    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / CACHE_FILE
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, created REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as error:
            raise UserError(f"cannot use the answer cache in {folder}: {error}") from None

    def get(self, key: str) -> Completion | None:
        row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        stored = json.loads(row[0])
        return Completion(
            stored["text"],
            stored["status"],
            stored.get("finish_reason"),
            stored.get("prompt_tokens", 0),
            stored.get("completion_tokens", 0),
            cached=True,
        )

    def put(self, key: str, completion: Completion) -> None:
        answer = {
            "text": completion.text,
            "status": completion.status,
            "finish_reason": completion.finish_reason,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
        }
        self._db.execute(
            "INSERT OR REPLACE INTO answers (key, answer, created) VALUES (?, ?, ?)",
            (key, json.dumps(answer, ensure_ascii=False), time.time()),
        )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def cache_identity(identity: dict, shared: bool = False) -> dict:
    """The part of a backend's identity the cache keys by: all of it, or without the server when
    answers are `shared` across servers (a key then matches one made without a server)."""
    return {name: value for name, value in identity.items() if name != SERVER} if shared else identity


class CachedBackend:
    """A backend whose answers come from the cache when it has them (no cache: every request
    goes to the model). Adds every completion, cached or not, to the backend's usage. `shared`:
    one server's answers serve another that has the same model name."""

    def __init__(self, backend: Backend, cache: AnswerCache | None, shared: bool = False) -> None:
        self.backend = backend
        self.cache = cache
        self.shared = shared
        self.usage = backend.usage

    def identity(self) -> dict:
        return self.backend.identity()

    def complete(
        self, requests: list[ChatRequest], on_completion: Callable[[int, Completion], None] | None = None
    ) -> list[Completion]:
        identity = cache_identity(self.backend.identity(), self.shared)
        keys = [request_key(identity, request) for request in requests]
        results: list[Completion | None] = [None] * len(requests)
        missing: list[int] = []
        for index, key in enumerate(keys):
            found = self.cache.get(key) if self.cache is not None else None
            if found is None:
                missing.append(index)
            else:
                results[index] = found
                self.usage.add(found)
                if on_completion is not None:
                    on_completion(index, found)

        def arrived(position: int, completion: Completion) -> None:
            index = missing[position]
            if self.cache is not None and completion.status != FAILED:
                self.cache.put(keys[index], completion)  # committed now: a kill keeps it
            self.usage.add(completion)
            results[index] = completion
            if on_completion is not None:
                on_completion(index, completion)

        if missing:
            self.backend.complete([requests[index] for index in missing], on_completion=arrived)
        return results  # type: ignore[return-value]

    def complete_with_bar(self, requests: list[ChatRequest], desc: str, unit: str, progress: bool) -> list[Completion]:
        """`complete`, with a progress bar that moves as each answer arrives (from the cache or the model)."""
        from tqdm import tqdm

        bar = tqdm(total=len(requests), desc=desc, unit=unit, disable=not progress, dynamic_ncols=True)
        try:
            return self.complete(requests, on_completion=lambda index, completion: bar.update(1))
        finally:
            bar.close()

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()
