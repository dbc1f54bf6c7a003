"""Inputs and outputs in object stores: s3://, gs://, hf:// or any fsspec URL, and file:// paths.

Inputs: a URL names a file, a folder (a prefix, read recursively) or a glob, as a local
path does; a curate dataset there means the kept shards its manifest lists. A file's
fingerprint is what the store says of it (size, ETag or checksum, time), so planning a job
reads no data; the task that reads a file, on whichever machine runs it, fetches it into a
temporary local file, reads that and deletes it.

Outputs (`-o URL`): the command runs in a local staging folder (one per URL, under the user
cache), exactly as into a local folder, so a killed run resumes from it; then the finished
folder is committed: curate's ownership marker first (it marks the prefix as curate's), then
each file to a temporary key under `.curate-upload/` moved to its key (a server-side copy on
S3), files already there with the same bytes left alone, then the manifest last. A folder
whose manifest is in the store is whole; a killed upload resumes with what the store holds.
Only files the store's previous manifest lists are ever deleted there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from curate.errors import UserError
from curate.pipeline.ownership import MARKER
from curate.user_cache import cache_dir

MANIFEST = "_manifest.json"
UPLOADS = ".curate-upload"
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")
_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "hf": "huggingface_hub", "az": "adlfs"}


def is_url(text: object) -> bool:
    """A URL of a store that fsspec reaches (file:// is a local path, not one)."""
    found = _URL.match(str(text))
    return found is not None and found.group(1).lower() != "file"


def local_text(text: str) -> str:
    """`text` with a file:// scheme taken off (file:///data/x -> /data/x); anything else as it is."""
    return unquote(text[len("file://") :]) if text.lower().startswith("file://") else text


def filesystem(url: str):
    """(fsspec filesystem, path within it) for `url`; one line if its package is missing."""
    import fsspec

    scheme = _URL.match(url).group(1).lower()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        package = _PACKAGES.get(scheme, f"the fsspec package for {scheme}://")
        raise UserError(f"{scheme}:// paths need {package}: pip install 'curate[cloud]'") from None
    except ValueError as error:
        raise UserError(f"{url}: {error}") from None


def _join(url: str, name: str) -> str:
    return url.rstrip("/") + "/" + name


def remote_inputs(argument: str, input_format: str, detect_format) -> list[tuple[str, str]]:
    """(URL, format) of every file `argument` names, sorted; `detect_format(name)` says a
    name's format or None. Names starting with . or _ below a folder are not read."""
    fs, path = filesystem(argument)
    scheme = _URL.match(argument).group(1)
    try:
        if any(character in path for character in "*?["):
            found = sorted(item for item in fs.glob(path) if fs.isfile(item))
            named = False
            parts = path.split("/")
            base = "/".join(parts[: next(i for i, part in enumerate(parts) if any(c in part for c in "*?["))])
        elif fs.isdir(path):
            if fs.exists(_join(path, MANIFEST)):
                return _dataset_shards(fs, scheme, path)
            found, named, base = sorted(fs.find(path)), False, path
        elif fs.isfile(path):
            found, named, base = [path], True, path
        else:
            raise UserError(f"input '{argument}' does not exist")
    except OSError as error:
        raise UserError(f"cannot list input '{argument}': {error}") from None
    # a curate folder inside (an output written into its input folder): its files are reports,
    # manifests and rejected rows, not raw data; name it as an input to read its kept rows
    nested = {item.rsplit("/", 1)[0] + "/" for item in found if item.rsplit("/", 1)[-1] in (MANIFEST, MARKER)}
    files = []
    for item in found:
        relative = PurePosixPath(item).relative_to(base.rstrip("/")) if not named else None
        if relative is not None and any(part[:1] in "._" for part in relative.parts):
            continue
        if not named and any(item.startswith(folder) for folder in nested):
            continue
        format_ = detect_format(Path(PurePosixPath(item).name)) if input_format == "auto" else input_format
        if format_ is None:
            if named:
                raise UserError(f"cannot tell the format of '{argument}'; name it with --input-format")
            continue
        files.append((f"{scheme}://{item}", format_))
    if not files:
        raise UserError(f"input '{argument}' holds no file of a known format")
    return files


def _dataset_shards(fs, scheme: str, path: str) -> list[tuple[str, str]]:
    manifest = json.loads(fs.cat_file(_join(path, MANIFEST)))
    shards = (manifest.get("shards") or {}).get("data") if isinstance(manifest.get("shards"), dict) else None
    if not isinstance(shards, list) or manifest.get("dry_run"):
        raise UserError(f"{scheme}://{path}: its manifest lists no kept shards")
    return [(f"{scheme}://{_join(path, str(shard['path']))}", "parquet") for shard in shards]


def fingerprint(url: str) -> dict:
    """What the store says of `url`'s object: size, ETag (or checksum) and time, as the identity."""
    fs, path = filesystem(url)
    try:
        info = fs.info(path)
    except OSError as error:
        raise UserError(f"cannot read input {url}: {error}") from None
    tag = next((info[key] for key in ("ETag", "etag", "md5Hash", "crc32c", "sha", "checksum") if info.get(key)), "")
    when = next((info[key] for key in ("LastModified", "mtime", "updated", "last_modified") if info.get(key)), "")
    return {"path": url, "size": int(info.get("size") or 0), "etag": str(tag).strip('"'), "modified": str(when)}


def parquet_schema(url: str):
    """A Parquet object's schema, from its footer (a few ranged reads, not the whole object)."""
    import pyarrow.parquet as pq

    fs, path = filesystem(url)
    with fs.open(path, "rb") as handle:
        return pq.read_schema(handle)


@contextmanager
def fetched(url: str) -> Iterator[Path]:
    """`url`'s object as a local file of the same name (its compression is read from the name),
    deleted when the block ends."""
    fs, path = filesystem(url)
    folder = Path(tempfile.mkdtemp(prefix="input-", dir=_cache("remote-inputs")))
    local = folder / PurePosixPath(path).name
    try:
        try:
            fs.get_file(path, str(local))
        except OSError as error:
            raise UserError(f"cannot read input {url}: {error}") from None
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cache(name: str) -> Path:
    folder = cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class RemoteOutput(str):
    """`-o URL`: the URL (as text, for the manifest and the command line) and its staging folder."""

    @property
    def staging(self) -> Path:
        """One staging folder per URL and store (the same URL at another endpoint is another)."""
        fs, _ = filesystem(str(self))
        options = json.dumps(fs.storage_options, sort_keys=True, default=str)
        where = "\n".join([str(self), options, os.environ.get("AWS_ENDPOINT_URL", "")])
        return _cache("remote-outputs") / hashlib.sha256(where.encode()).hexdigest()[:20]

    def prepare(self, inputs: list[str] = ()) -> Path:
        """The staging folder to run the command in. The store decides: when it holds a finished
        curate folder, the staging folder holds its marker and manifest (so that a finished one is
        not run again, and one made with other options needs --overwrite, as a local folder would);
        a staging folder left from a run that the store no longer reflects is emptied first. One
        line if the prefix holds files curate did not make, an input is inside it, or the store
        cannot be written."""
        for item in inputs:
            if is_url(item) and (str(item).rstrip("/") + "/").startswith(str(self) + "/"):
                raise UserError(f"input {item} is inside the output folder {self}; write the output elsewhere")
        fs, root = filesystem(str(self))
        names = self._store_call(lambda: self._names(fs, root))
        ours = [name for name in names if not name.startswith(UPLOADS + "/")]
        if ours and MARKER not in ours:
            raise UserError(f"{self} holds files curate did not make; write to an empty prefix")
        probe = _join(root, f"{UPLOADS}/.probe")
        self._store_call(lambda: fs.pipe_file(probe, b""))  # a missing bucket or no right to write: now
        self._store_call(lambda: fs.rm_file(probe))
        staging = self.staging
        if MANIFEST in names:
            stored = self._store_call(lambda: fs.cat_file(_join(root, MANIFEST)))
            held = (staging / MANIFEST).read_bytes() if (staging / MANIFEST).is_file() else None
            if held != stored:  # the staging folder is of another run (or none): the store's folder counts
                shutil.rmtree(staging, ignore_errors=True)
                staging.mkdir(parents=True)
                (staging / MANIFEST).write_bytes(stored)
                self._store_call(lambda: fs.get_file(_join(root, MARKER), str(staging / MARKER)))
        staging.mkdir(parents=True, exist_ok=True)
        return staging

    def made_by(self, recipe: Path) -> bool:
        """Whether the store's folder is new (nothing there) or one `recipe` made (its marker says so)."""
        fs, root = filesystem(str(self))
        names = self._store_call(lambda: self._names(fs, root))
        if not [name for name in names if not name.startswith(UPLOADS + "/")]:
            return True
        try:
            marker = json.loads(fs.cat_file(_join(root, MARKER)))
        except (OSError, ValueError):
            return False
        return isinstance(marker, dict) and marker.get("recipe") == str(recipe)

    def commit(self) -> bool:
        """Copy the finished staging folder to the store; False when it already held this very folder.

        The store's old manifest goes first, so that no manifest ever describes files being
        replaced; then the marker, each file, the old run's shards this one did not write, and
        the new manifest last."""
        from curate.pipeline.folder import STATE
        from curate.pipeline.ownership import LOCK

        fs, root = filesystem(str(self))
        staging = self.staging
        names = self._store_call(lambda: self._names(fs, root))
        if MANIFEST in names:
            if self._store_call(lambda: fs.cat_file(_join(root, MANIFEST))) == (staging / MANIFEST).read_bytes():
                return False  # the store holds this very folder (the run found it complete)
            previous = self._previous_files(fs, root)
            self._store_call(lambda: fs.rm_file(_join(root, MANIFEST)))
        else:
            previous = set()
        local = sorted(
            path.relative_to(staging).as_posix()
            for path in staging.rglob("*")
            if path.is_file() and path.relative_to(staging).parts[0] not in (STATE, UPLOADS, LOCK)
        )
        for name in [MARKER, *(name for name in local if name not in (MARKER, MANIFEST))]:
            self._store_call(lambda name=name: self._upload(fs, root, staging / name, name, names.get(name)))
        made = set(local)
        for name in names:
            if name not in made and name != MANIFEST and _made_by_curate(name, previous):
                self._store_call(lambda name=name: fs.rm_file(_join(root, name)))
        self._store_call(lambda: self._upload(fs, root, staging / MANIFEST, MANIFEST, None))
        if self._store_call(lambda: fs.exists(_join(root, UPLOADS))):
            self._store_call(lambda: fs.rm(_join(root, UPLOADS), recursive=True))
        return True

    def _store_call(self, call):
        """`call()`, a store's refusal or failure made one line naming the URL."""
        try:
            return call()
        except OSError as error:
            raise UserError(f"{self}: the store refused: {error.strerror or error}") from None

    @staticmethod
    def _names(fs, root: str) -> dict[str, dict]:
        """Every object below `root`, by its name relative to it, with what the store says of it."""
        fs.invalidate_cache(root)  # what this process listed before may have changed since
        try:
            found = fs.find(root, detail=True)
        except FileNotFoundError:
            return {}
        base = root.rstrip("/") + "/"
        return {path[len(base) :]: info for path, info in found.items() if path.startswith(base)}

    @staticmethod
    def _previous_files(fs, root: str) -> set[str]:
        """The top-level names the store's last manifest says curate wrote there."""
        try:
            return set(json.loads(fs.cat_file(_join(root, MANIFEST))).get("files") or ())
        except (OSError, ValueError):
            return set()

    @staticmethod
    def _upload(fs, root: str, local: Path, name: str, there: dict | None) -> None:
        if there is not None and _same_bytes(local, there):
            return
        temporary = _join(root, f"{UPLOADS}/{name}")
        fs.put_file(str(local), temporary)
        fs.mv(temporary, _join(root, name))


def _made_by_curate(name: str, previous: set[str]) -> bool:
    """Whether an object of the store's folder is one the last run's manifest proves curate wrote:
    a top-level file it lists, or a shard-named file in a folder it lists."""
    from curate.pipeline.ownership import SHARD_NAME

    top, _, rest = name.partition("/")
    if top not in previous:
        return False
    return not rest or ("/" not in rest and SHARD_NAME.fullmatch(rest) is not None)


def _same_bytes(local: Path, there: dict) -> bool:
    """Whether the stored object holds `local`'s bytes: same size and, where the store gives one,
    an MD5 ETag (a single-part upload's) equal to the file's."""
    if int(there.get("size") or -1) != local.stat().st_size:
        return False
    tag = str(there.get("ETag") or there.get("etag") or "").strip('"')
    if not re.fullmatch(r"[0-9a-f]{32}", tag):
        return False  # no MD5 to compare (a multipart or another store's tag): upload again
    with open(local, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest() == tag
