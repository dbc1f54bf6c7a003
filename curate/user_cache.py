"""Where curate keeps what it fetched or computed for the user: models, LLM answers."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`CURATE_CACHE_DIR`, else the platform's user cache folder (~/.cache/curate on Linux)."""
    configured = os.environ.get("CURATE_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("curate"))
