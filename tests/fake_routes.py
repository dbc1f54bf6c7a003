"""More of the fake OpenAI-compatible server (fake_openai_server.py): the requests of
`curate select` and `curate translate`, and the `/v1/embeddings` endpoint.

Chat kinds, tried before the server's own routes (each a pure function of the request's
messages, sampling fields and the server seed, like every fake answer):

* **complexity** (``"complexity"``): the last user message holds ``<instruction_to_rate>`` and
  the words ``complexity`` and ``score``. The reply is ``{"rationale": ..., "score": N}`` on the
  scale the prompt asks for (``from 1 to 5`` / ``1점에서 5점``; 1..5 when it names none): 1 plus
  up to 2 for length (full at 40 words) plus 0.7 per constraint cue (numbers, "must", "at
  least", "exactly", "only", "without", "format", "list", 반드시, 이상, 이하, 없이, 형식...),
  up to 2, plus a seeded jitter of at most 0.4, rounded.

Translations (``"translation"``) are registered by tests/fake_translation.py, when present.

``POST /v1/embeddings`` (``input``: a string or a list of strings; ``dimensions`` optional,
384 by default): each text's vector is a signed feature hash of its lower-cased word
unigrams and bigrams (Hangul runs are words too), weighted by the square root of their
counts and L2-normalised, so texts sharing most words have a cosine near 1 and unrelated
texts near 0. Transient faults (429, 500, 503) are drawn per body and attempt as for chat
requests; each answered request adds one to ``server.kinds["embeddings"]`` and its texts to
``server.kinds["embedded_texts"]``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

EMBEDDING_DIMENSIONS = 384
WORDS = re.compile(r"[a-z0-9]+|[\uac00-\ud7a3]+")
CONSTRAINT_CUES = (
    "must", "at least", "at most", "exactly", "only", "without", "format", "list", "each", "every",
    "words", "sentences", "bullet", "table", "json", "step by step", "explain why", "compare", "include",
    "반드시", "이상", "이하", "없이", "형식", "목록", "각각", "단계", "비교", "포함",
)  # fmt: skip
NUMBER = re.compile(r"\d+")
COMPLEXITY_SCALE = (1, 5)


@dataclass(frozen=True)
class ExtraKind:
    matches: Callable[[list[Any]], bool]
    answer: Callable[[list[Any], str, Any, int], str]  # (messages, content key, server, choice index)


def _last_user(messages: list[Any]) -> str:
    from tests.fake_openai_server import last_user_text

    return last_user_text(messages)


# ---- complexity ratings ------------------------------------------------------------------
def _is_complexity(messages: list[Any]) -> bool:
    prompt = _last_user(messages)
    lowered = prompt.lower()
    return "<instruction_to_rate>" in prompt and "complexity" in lowered and "score" in lowered


def complexity_value(instruction: str) -> float:
    """The fake rater's unjittered opinion of an instruction's complexity on 1..5."""
    lowered = instruction.lower()
    words = len(WORDS.findall(lowered))
    cues = sum(cue in lowered for cue in CONSTRAINT_CUES) + min(2, len(NUMBER.findall(lowered)))
    return 1.0 + min(2.0, 2.0 * words / 40) + min(2.0, 0.7 * cues)


def _complexity_answer(messages: list[Any], key: str, server: Any, index: int) -> str:
    from tests.fake_openai_server import asked_scale, stable_rng, tagged

    prompt = _last_user(messages)
    instruction = tagged(prompt, "instruction_to_rate") or ""
    low, high = asked_scale(prompt)
    if (low, high) == (1, 10) and "from 1 to 10" not in prompt:
        low, high = COMPLEXITY_SCALE
    jitter = stable_rng("complexity", key, server.seed, index).uniform(-0.4, 0.4)
    value = complexity_value(instruction) + jitter
    score = max(low, min(high, round(low + (value - 1) * (high - low) / 4)))
    rationale = "The instruction asks for several things at once." if score > (low + high) / 2 else "A simple request."
    return json.dumps({"rationale": rationale, "score": score}, ensure_ascii=False)


EXTRA_KINDS: dict[str, ExtraKind] = {"complexity": ExtraKind(_is_complexity, _complexity_answer)}

try:  # translations, when their module is there
    from tests.fake_translation import TRANSLATION_KIND
except ImportError:  # pragma: no cover
    TRANSLATION_KIND = None
if TRANSLATION_KIND is not None:
    EXTRA_KINDS["translation"] = TRANSLATION_KIND


def extra_route(messages: list[Any]) -> str | None:
    for kind, extra in EXTRA_KINDS.items():
        if extra.matches(messages):
            return kind
    return None


# ---- embeddings --------------------------------------------------------------------------
def embed_text(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    words = WORDS.findall(text.lower())
    features = Counter(words) + Counter(f"{a} {b}" for a, b in zip(words, words[1:]))
    vector = np.zeros(dimensions, dtype=np.float64)
    for feature, count in features.items():
        digest = hashlib.sha256(feature.encode("utf-8")).digest()
        slot = int.from_bytes(digest[:4], "big") % dimensions
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[slot] += sign * math.sqrt(count)
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        vector[0] = 1.0
        norm = 1.0
    return [round(float(value) / norm, 6) for value in vector]


async def handle_embeddings(server: Any, request: web.Request) -> web.Response:
    from tests.fake_openai_server import canonical_json, error_body

    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return web.json_response(error_body("the body is not valid JSON", "invalid_request_error", None), status=400)
    texts = body.get("input") if isinstance(body, dict) else None
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return web.json_response(
            error_body("'input' must be a string or a non-empty list of strings", "invalid_request_error", None),
            status=400,
        )
    dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
    canonical = canonical_json(body)
    with server._lock:
        attempt = server._bodies[canonical]
        server._bodies[canonical] += 1
    transient, _ = server.draw_faults(canonical, attempt)
    if transient in ("429", "500", "503"):
        with server._lock:
            server._faults[transient] += 1
        status = int(transient)
        headers = {"Retry-After": server.retry_after} if status == 429 else None
        return web.json_response(error_body(f"fake {status}", "server_error", None), status=status, headers=headers)
    data = [
        {"object": "embedding", "index": i, "embedding": embed_text(text, int(dimensions))}
        for i, text in enumerate(texts)
    ]
    tokens = sum(len(text.split()) for text in texts)
    with server._lock:
        server._kinds["embeddings"] += 1
        server._kinds["embedded_texts"] += len(texts)
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "model": str(body.get("model") or server.model),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
