"""`_manifest.json`: the last file written into a finished dataset folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa

MANIFEST = "_manifest.json"
FORMAT_VERSION = 1


def write_json_atomic(path: Path, obj: object) -> None:
    """Write JSON to a temporary name, flush it to disk, then rename over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def read_manifest(folder: Path) -> dict | None:
    return read_json(folder / MANIFEST)


def schema_to_json(schema: pa.Schema) -> list[dict]:
    return [{"name": field.name, "type": str(field.type)} for field in schema]
