"""Turn the user's input arguments (files, folders, globs) into a sorted list of input files."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from curate.errors import UserError
from curate.io.input_file import InputFile
from curate.io.manifest import MANIFEST, read_manifest
from curate.io.readers.registry import READERS
from curate.pipeline.folder import KEPT, STATE

_COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd")


def detect_format(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith(".warc"):
        return "warc"
    suffix = os.path.splitext(name)[1]
    return next((format for format, reader in READERS.items() if suffix in reader.suffixes), None)


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _files_of_folder(folder: Path) -> list[Path]:
    # A curate dataset folder feeds the next command with its kept rows only.
    if (folder / MANIFEST).is_file():
        if (read_manifest(folder) or {}).get("dry_run"):
            raise UserError(
                f"{folder} is a --dry-run folder: it holds a report but no data; run without --dry-run first"
            )
        folder = folder / KEPT
    elif (folder / STATE).is_dir():
        raise UserError(f"{folder} is an unfinished curate dataset folder; re-run the command that writes it")
    elif (folder / KEPT / "shard-00000.parquet").is_file():
        # a curate folder without its manifest: read as plain files, its rejected rows would mix in
        raise UserError(
            f"{folder} is not a finished dataset folder (no {MANIFEST}); "
            "re-run the command that makes it, and it will resume and finish"
        )
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not _is_hidden(path, folder) and detect_format(path) is not None
    )


def expand_inputs(arguments: list[str], input_format: str = "auto") -> list[InputFile]:
    """Files, folders (recursively, known formats only) and globs, sorted and without repeats."""
    if not arguments:
        raise UserError("no input given; pass one or more files, folders or globs")
    paths: list[Path] = []
    for argument in arguments:
        if glob.has_magic(argument):
            matches = sorted(glob.glob(argument, recursive=True))
            if not matches:
                raise UserError(f"input glob '{argument}' matches no file")
            for match in matches:
                paths.extend(_files_of_folder(Path(match)) if os.path.isdir(match) else [Path(match)])
        elif os.path.isdir(argument):
            found = _files_of_folder(Path(argument))
            if not found:
                raise UserError(f"input folder '{argument}' holds no file of a known format ({', '.join(READERS)})")
            paths.extend(found)
        elif os.path.isfile(argument):
            paths.append(Path(argument))
        else:
            raise UserError(f"input '{argument}' does not exist")

    inputs, seen = [], set()
    for path in paths:
        key = os.path.realpath(path)
        if key in seen:
            continue
        seen.add(key)
        inputs.append(InputFile(path, _format_for(path, input_format)))
    return inputs


def _format_for(path: Path, input_format: str) -> str:
    if input_format != "auto":
        return input_format
    detected = detect_format(path)
    if detected == "warc":
        raise UserError(
            f"{path} is a WARC file of HTML pages; curate reads Common Crawl WET text files "
            "(.warc.wet.gz): extract the text first or pass the WET file"
        )
    if detected is None:
        raise UserError(f"cannot tell the format of {path}; pass --input-format ({', '.join(READERS)})")
    return detected
