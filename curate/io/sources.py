"""Turn the user's input arguments (files, folders, globs) into the files to read, and account for
every other file met on the way.

A file named on the command line is read, or refused with one line (cannot be opened, a
compression curate does not read, a format it cannot tell). In a folder (read recursively) and
among a glob's matches, a file is read when its name says a format curate reads; every other
file is listed in `Inputs.skipped` with its reason, which the manifest, report.md and a note on
stderr repeat:

- hidden: a name below the folder starting with `.` or `_` (a hidden folder is one entry)
- unknown format: no reader reads files of its name (.csv, .md...)
- unsupported compression, archive: bzip2, xz, LZ4, zip, tar... (curate reads gzip and zstd)
- WARC: a WARC file of HTML pages when --input-format names another format (auto and warc
  read it; wet reads it as WET)
- curate folder: a folder curate made (a dataset, model or training run), whose files are
  reports, manifests and rejected rows, not raw data; name it as an input to read its kept
  rows. A command's own output folder inside its input folder is one, so re-runs work.
- unreadable: cannot be opened (permissions...), with the system's reason
- not a file: a link to a folder (not followed), a broken link, a pipe or socket
- not in the manifest: a file in a dataset folder's data/ that its manifest does not list
  (a dataset folder named as an input is read as exactly the kept shards it lists)

Skipped files are not part of a job's identity: its output folder appearing in its input folder,
or a note added beside the data, does not make a finished folder stale.
"""

from __future__ import annotations

import glob
import os
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from curate.errors import UserError
from curate.io import remote
from curate.io.input_file import InputFile, path_text
from curate.io.manifest import MANIFEST, read_manifest
from curate.io.readers.registry import READERS
from curate.pipeline.folder import KEPT, STATE
from curate.pipeline.ownership import MARKER

_COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd")
# compressions and archives curate does not open, by file name ending
_UNSUPPORTED = {
    ".bz2": "bzip2", ".xz": "xz", ".lzma": "LZMA", ".lz4": "LZ4", ".lz": "lzip", ".br": "Brotli",
    ".z": "compress", ".sz": "Snappy", ".snappy": "Snappy", ".lzo": "LZO",
}  # fmt: skip
_ARCHIVES = {".zip": "zip", ".7z": "7-Zip", ".rar": "RAR", ".tar": "tar", ".tgz": "tar", ".tbz2": "tar", ".txz": "tar"}
# the same, by their first bytes, for files whose name does not say so
_MAGIC = {
    b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x04\x22\x4d\x18": "LZ4",
    b"PK\x03\x04": "zip", b"7z\xbc\xaf\x27\x1c": "7-Zip", b"Rar!\x1a\x07": "RAR",
    b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd",  # read when named .gz / .zst: rename the file
}  # fmt: skip
_BZIP2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")  # after "BZh" and the block size: a block, or the end

HIDDEN = "hidden"
UNKNOWN = "unknown format"
COMPRESSION = "unsupported compression"
ARCHIVE = "archive"
WARC = "WARC"
CURATE_FOLDER = "curate folder"
OUTPUT_FOLDER = "output folder"
UNREADABLE = "unreadable"
NOT_A_FILE = "not a file"
NOT_LISTED = "not in the manifest"


@dataclass(frozen=True)
class SkippedInput:
    """A file (or a whole folder of `files` files) met in an input folder or glob and not read."""

    path: Path
    reason: str  # one of the names above, for counting
    detail: str  # why, for people
    files: int = 1
    folder: bool = False
    within: str = ""  # the input argument it was met under

    def to_json(self) -> dict:
        found = {"path": path_text(self.path) + (os.sep if self.folder else ""), "reason": self.reason}
        found["detail"] = path_text(self.detail)
        if self.folder:
            found["files"] = self.files
        return found


class Inputs(list):
    """The input files to read, in order (a list of InputFile), and what was met and not read."""

    def __init__(self, files: Iterable[InputFile] = (), skipped: Iterable[SkippedInput] = ()) -> None:
        super().__init__(files)
        self.skipped: list[SkippedInput] = list(skipped)


def detect_format(path: Path) -> str | None:
    """The reader format the file's name says ("warc" for a WARC of HTML pages), or None."""
    name = path.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith(".warc"):
        return "warc"
    suffix = os.path.splitext(name)[1]
    return next((format for format, reader in READERS.items() if suffix in reader.suffixes), None)


@dataclass
class _Problem:
    reason: str
    detail: str


def _name_problem(path: Path, input_format: str) -> _Problem | None:
    """Why a file cannot be read, as far as its name tells; None when it can."""
    name = path.name.lower()
    stem, suffix = os.path.splitext(name)
    bare = path.name[: -len(suffix)] if suffix in _COMPRESSION_SUFFIXES else path.name
    shown = os.path.splitext(bare)[1] or bare
    if suffix in _ARCHIVES or os.path.splitext(stem)[1] == ".tar":
        kind = _ARCHIVES.get(suffix, "tar")
        return _Problem(ARCHIVE, f"a {kind} archive; unpack it and pass its files")
    if suffix in _UNSUPPORTED:
        return _Problem(
            COMPRESSION, f"{_UNSUPPORTED[suffix]}-compressed ({suffix}); curate reads gzip (.gz) and zstd (.zst)"
        )
    detected = detect_format(path)
    if input_format != "auto" and detected is not None and (detected != "warc" or input_format == "wet"):
        detected = input_format  # a WARC named file is read as another format only when the user says it is WET
    if detected == "warc" and input_format not in ("auto", "warc"):
        return _Problem(WARC, f"a WARC file of HTML pages, which --input-format {input_format} does not read")
    if detected is None:
        known = ", ".join(suffix for reader in READERS.values() for suffix in reader.suffixes)
        return _Problem(UNKNOWN, f"'{shown}' is not a format curate reads ({known}, also .gz or .zst)")
    if detected == "parquet" and name.endswith(_COMPRESSION_SUFFIXES):
        return _Problem(COMPRESSION, "a compressed Parquet file; Parquet compresses inside: write it uncompressed")
    return None


def _open_problem(path: Path) -> _Problem | None:
    """Why a file cannot be read, from opening it: unreadable, or compressed though its name says not."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(10)
    except OSError as error:
        return _Problem(UNREADABLE, str(error.strerror or error))
    if not path.name.lower().endswith(_COMPRESSION_SUFFIXES):
        for magic, kind in _MAGIC.items():
            if head.startswith(magic) and (kind != "bzip2" or head[4:10] in _BZIP2_BLOCKS):
                if kind in ("gzip", "zstd"):
                    suffix = ".gz" if kind == "gzip" else ".zst"
                    return _Problem(
                        COMPRESSION, f"{kind}-compressed, by its first bytes, but not named {suffix}: rename it"
                    )
                return _Problem(COMPRESSION, f"{kind}-compressed, by its first bytes; curate reads gzip and zstd files")
    return None


def _file_problem(path: Path, input_format: str = "auto") -> _Problem | None:
    if not os.path.isfile(path):
        what = "a broken link" if os.path.islink(path) and not os.path.exists(path) else "not a regular file"
        return _Problem(NOT_A_FILE, what)
    return _name_problem(path, input_format) or _open_problem(path)


def _curate_folder(folder: Path) -> str | None:
    """Why `folder` is one curate made (the detail of its CURATE_FOLDER entry); None if it is not."""
    if (folder / MANIFEST).is_file() and not (read_manifest(folder) or {}).get("dry_run"):
        return "a curate dataset folder; name it as an input to read its kept rows"
    if (folder / MARKER).is_file() or (folder / STATE).is_dir() or (folder / MANIFEST).is_file():
        return "a curate folder without a finished dataset (an unfinished or dry run, a model or a training run)"
    return None


def _count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


class _Scan:
    """What the arguments name: files to read, in argument order, and the files skipped."""

    def __init__(self, input_format: str) -> None:
        self.input_format = input_format
        self.files: list[Path] = []
        self.skipped: list[SkippedInput] = []

    def skip(self, path: Path, problem: _Problem, within: str, folder: bool = False, files: int = 1) -> None:
        self.skipped.append(SkippedInput(path, problem.reason, problem.detail, files, folder, within))

    def consider(self, path: Path, within: str) -> bool:
        """Take a file met in a folder or glob, or skip it with its reason; True when taken."""
        problem = _file_problem(path, self.input_format)
        if problem is not None:
            self.skip(path, problem, within)
            return False
        self.files.append(path)
        return True

    def folder(self, root: Path, within: str) -> int:
        """Every file under `root`, read or skipped; returns how many are read."""
        found: list[Path] = []

        def unreadable(error: OSError) -> None:
            if Path(error.filename) == root:
                raise UserError(f"cannot list input folder {path_text(root)}: {error.strerror or error}")
            problem = _Problem(UNREADABLE, f"{error.strerror or error} (a folder: its files are not counted)")
            self.skip(Path(error.filename), problem, within, True)

        for top, folders, names in os.walk(root, onerror=unreadable):
            here = Path(top)
            kept_folders = []
            for name in sorted(folders):
                path = here / name
                if os.path.islink(path):
                    self.skip(
                        path, _Problem(NOT_A_FILE, "a link to a folder, not followed; name it to read it"), within
                    )
                elif name.startswith((".", "_")):
                    if count := _count_files(path):  # an empty folder holds nothing to account for
                        self.skip(path, _Problem(HIDDEN, "its name starts with . or _"), within, True, count)
                elif (why := _curate_folder(path)) is not None:
                    self.skip(path, _Problem(CURATE_FOLDER, why), within, True, _count_files(path))
                else:
                    kept_folders.append(name)
            folders[:] = kept_folders
            for name in names:
                path = here / name
                if name.startswith((".", "_")):
                    self.skip(path, _Problem(HIDDEN, "its name starts with . or _"), within)
                elif (problem := _file_problem(path, self.input_format)) is not None:
                    self.skip(path, problem, within)
                else:
                    found.append(path)
        self.files += sorted(found)
        return len(found)

    def matches(self, pattern: str) -> int:
        """A glob's matches: folders read whole (a finished dataset made from other inputs: its
        kept rows), files taken or skipped. What lies inside a curate folder below the pattern's
        fixed part is that folder's, listed once (`raw/**/*.parquet` would otherwise read a
        dataset's rejected rows)."""
        base = _fixed_part(pattern)
        known: dict[Path, str | None] = {}
        accounted: set[Path] = set()  # curate folders read as datasets or listed as skipped
        taken = 0
        for match in sorted(glob.glob(pattern, recursive=True)):
            path = Path(match)
            inside = _inside_curate_folder(path, base, known)
            if inside is not None:
                if inside not in accounted:
                    accounted.add(inside)
                    self.skip(inside, _Problem(CURATE_FOLDER, known[inside]), pattern, True, _count_files(inside))
            elif not os.path.isdir(match):
                taken += self.consider(path, pattern)
            elif (made := _curate_folder(path)) is None:
                taken += self.folder_argument(path, pattern)
            else:
                accounted.add(path)
                if _dataset_of_other_inputs(path, pattern):
                    taken += self.folder_argument(path, pattern)
                else:
                    self.skip(path, _Problem(CURATE_FOLDER, made), pattern, True, _count_files(path))
        return taken

    def folder_argument(self, folder: Path, within: str) -> int:
        """A folder named as an input: a finished dataset's kept rows, or every file under it."""
        if (folder / MANIFEST).is_file():
            return self.dataset(folder, within)
        if (folder / STATE).is_dir():
            raise UserError(
                f"{path_text(folder)} is an unfinished curate dataset folder; re-run the command that writes it"
            )
        if (folder / KEPT / "shard-00000.parquet").is_file():
            # a curate folder without its manifest: read as plain files, its rejected rows would mix in
            raise UserError(
                f"{path_text(folder)} is not a finished dataset folder (no {MANIFEST}); "
                "re-run the command that makes it, and it will resume and finish"
            )
        if (folder / MARKER).is_file():
            raise UserError(
                f"{path_text(folder)} is a curate folder that holds no dataset (a model or a training run); "
                "name the files to read in it"
            )
        return self.folder(folder, within)

    def dataset(self, folder: Path, within: str) -> int:
        """A finished dataset folder: exactly the kept shards its manifest lists (a file added
        to data/ later is skipped as not the dataset's; a listed shard missing stops the run)."""
        manifest = read_manifest(folder) or {}
        if manifest.get("dry_run"):
            raise UserError(
                f"{path_text(folder)} is a --dry-run folder: it holds a report but no data; run without --dry-run first"
            )
        shards = (manifest.get("shards") or {}).get(KEPT) if isinstance(manifest.get("shards"), dict) else None
        if not isinstance(shards, list) or not all(isinstance(shard, dict) and "path" in shard for shard in shards):
            raise UserError(f"{path_text(folder / MANIFEST)} is not a manifest curate wrote (no list of shards)")
        listed = [folder / str(shard["path"]) for shard in shards]
        for path in listed:
            if not path.is_file() or folder.resolve() not in path.resolve().parents:
                raise UserError(
                    f"{path_text(folder)}: {path_text(path.relative_to(folder))} is listed in its manifest but not "
                    "there; the folder was changed after curate wrote it: re-run the command that made it"
                )
        known = {os.path.realpath(path) for path in listed}
        for top, _, names in os.walk(folder / KEPT):
            for name in sorted(names):
                path = Path(top) / name
                if os.path.realpath(path) not in known:
                    self.skip(
                        path, _Problem(NOT_LISTED, "in data/ but not among the shards the manifest lists"), within
                    )
        self.files += listed
        return len(listed)


def _dataset_of_other_inputs(folder: Path, pattern: str) -> bool:
    """Whether a folder a glob matched is a finished dataset made from other inputs than this
    glob: read as its kept rows. One made from this glob is its own output (`'raw/*' -o raw/out`
    run again), and an unfinished or dry run holds no dataset: those are skipped."""
    manifest = read_manifest(folder) or {}
    if not manifest or manifest.get("dry_run"):
        return False
    return pattern not in ((manifest.get("options") or {}).get("inputs") or ())


def _fixed_part(pattern: str) -> Path:
    fixed = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _inside_curate_folder(path: Path, base: Path, known: dict[Path, str | None]) -> Path | None:
    try:
        below = path.parent.relative_to(base).parts
    except ValueError:
        return None
    folder = base
    for part in below:
        folder = folder / part
        if folder not in known:
            known[folder] = _curate_folder(folder)
        if known[folder] is not None:
            return folder
    return None


def expand_inputs(arguments: list[str], input_format: str = "auto") -> Inputs:
    """Files, folders (recursively, known formats only) and globs, sorted and without repeats,
    with what folders and globs held that is not read (`Inputs.skipped`)."""
    if not arguments:
        raise UserError("no input given; pass one or more files, folders or globs")
    scan = _Scan(input_format)
    in_stores: list[tuple[int, InputFile]] = []  # each with the count of local files before it
    for argument in arguments:
        if remote.is_url(argument):
            found = remote.remote_inputs(argument, input_format, detect_format)
            position = len(scan.files)
            in_stores += [(position, InputFile(Path(url.split("://", 1)[1]), form, url)) for url, form in found]
            continue
        argument = remote.local_text(argument)
        shown = path_text(argument)
        before = len(scan.skipped)
        if glob.has_magic(argument) and not os.path.lexists(argument):  # a file named `a[1].jsonl` is that file
            if not glob.glob(argument, recursive=True):
                raise UserError(f"input glob '{shown}' matches no file")
            if not scan.matches(argument):
                raise UserError(f"input glob '{shown}' matches no file curate reads ({_tally(scan.skipped[before:])})")
        elif os.path.isdir(argument):
            if not scan.folder_argument(Path(argument), os.path.join(argument, "")):
                known = ", ".join(READERS)
                found = f"; skipped {_tally(scan.skipped[before:])}" if len(scan.skipped) > before else ""
                raise UserError(f"input folder '{shown}' holds no file of a known format ({known}){found}")
        elif os.path.isfile(argument):
            problem = _name_problem(Path(argument), input_format) if input_format == "auto" else None
            problem = problem or _explicit_problem(Path(argument), input_format)
            if problem is not None:
                raise UserError(_refusal(shown, problem))
            scan.files.append(Path(argument))
        elif os.path.lexists(argument):
            raise UserError(f"input '{shown}' is not a file or folder (a broken link, a pipe or a socket)")
        else:
            raise UserError(f"input '{shown}' does not exist")

    inputs, seen = [], set()
    # in argument order: store files named before local file number `position` come before it
    ordered = [(position, 0, None, item) for position, item in in_stores]
    ordered += [(position, 1, path, None) for position, path in enumerate(scan.files)]
    for _, _, path, item in sorted(ordered, key=lambda entry: entry[:2]):
        key = item.url if item is not None else os.path.realpath(path)
        if key in seen:
            continue
        seen.add(key)
        inputs.append(item if item is not None else InputFile(path, _format_for(path, input_format)))
    skipped = {}
    for entry in scan.skipped:
        skipped.setdefault(os.path.realpath(entry.path), entry)
    kept = [entry for key, entry in skipped.items() if key not in seen]  # read through another argument
    return Inputs(inputs, sorted(kept, key=lambda entry: entry.path))


def _explicit_problem(path: Path, input_format: str) -> _Problem | None:
    """What stops a file the user named from being read: its compression or opening it (an
    unknown name is for `--input-format`, a hidden name is the user's choice)."""
    problem = _name_problem(path, input_format)
    if problem is not None and problem.reason in (COMPRESSION, ARCHIVE):
        return problem
    return _open_problem(path)


def _refusal(shown: str, problem: _Problem) -> str:
    if problem.reason == UNKNOWN:
        return f"cannot tell the format of {shown}; pass --input-format ({', '.join(READERS)})"
    if problem.reason == WARC:
        return f"{shown} is a WARC file of HTML pages: read it with --input-format auto or warc"
    return f"cannot read {shown}: {problem.detail}"


def _format_for(path: Path, input_format: str) -> str:
    if input_format != "auto":
        return input_format
    return detect_format(path)


def _files(skipped: list[SkippedInput]) -> str:
    total = sum(entry.files for entry in skipped)
    return f"{total:,} file{'' if total == 1 else 's'}"


def _reasons(skipped: list[SkippedInput]) -> str:
    """`2 unknown format, 1 hidden`: files by reason, most first."""
    by_reason: Counter[str] = Counter()
    for entry in skipped:
        by_reason[entry.reason] += entry.files
    return ", ".join(
        f"{count:,} {reason}" for reason, count in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
    )


def _tally(skipped: list[SkippedInput]) -> str:
    return f"{_files(skipped)}: {_reasons(skipped)}"


def skipped_note(skipped: list[SkippedInput], see: str | None = None) -> str | None:
    """The one line that tells a user which files were not read: `skipped 3 files in raw/: 2
    unknown format, 1 hidden; see out/report.md`; None when every file was read."""
    if not skipped:
        return None
    places = list(dict.fromkeys(path_text(entry.within) for entry in skipped))
    shown = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
    return f"skipped {_files(skipped)} in {shown}: {_reasons(skipped)}" + (f"; see {see}" if see else "")


def print_skipped(skipped: list[SkippedInput], see: str | None = None) -> None:
    """`skipped_note` on stderr, when a file was skipped."""
    note = skipped_note(skipped, see)
    if note:
        print(note, file=sys.stderr)


def mark_output(skipped: list[SkippedInput], output: Path) -> list[SkippedInput]:
    """`skipped` with the command's own output folder named as such."""
    target = os.path.realpath(output)
    return [
        replace(entry, reason=OUTPUT_FOLDER, detail="the output folder of this command")
        if entry.folder and os.path.realpath(entry.path) == target
        else entry
        for entry in skipped
    ]
