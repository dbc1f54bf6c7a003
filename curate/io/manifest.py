"""`_manifest.json`: the last file written into a finished dataset folder."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from curate.io.atomic import atomic_path

MANIFEST = "_manifest.json"
FORMAT_VERSION = 1


def write_json_atomic(path: Path, obj: object) -> None:
    """Write JSON to `path` whole or not at all (io/atomic.py)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2, sort_keys=False)
        handle.write("\n")


def read_json(path: Path) -> dict | None:
    """A JSON object from `path`; None when it is missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as handle:
            found = json.load(handle)
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def read_manifest(folder: Path) -> dict | None:
    return read_json(folder / MANIFEST)


def schema_to_json(schema: pa.Schema) -> list[dict]:
    return [{"name": field.name, "type": str(field.type)} for field in schema]
