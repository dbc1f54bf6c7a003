"""One word segmentation per document, shared by every filter step that needs it.

Steps run one after another over the same batch, so the words of a document are kept
between steps in a cache bounded by the number of words held (not documents): a batch
of huge documents then only costs a second segmentation, never unbounded memory.
"""

from __future__ import annotations

from curate.corpus import segment

_WORD_LIMIT = 4_000_000  # about 250 MB of word strings at most
_cache: dict[tuple[str, str, str], list[str]] = {}
_cached_words = 0


def document_words(text: str, lang: str, korean: str = "space") -> list[str]:
    global _cached_words
    key = (text, lang, korean)
    found = _cache.get(key)
    if found is not None:
        return found
    found = segment.words(text, lang, korean)
    if _cached_words + len(found) > _WORD_LIMIT:
        _cache.clear()
        _cached_words = 0
    _cache[key] = found
    _cached_words += len(found)
    return found
