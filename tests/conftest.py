from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import cli

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (the shared test data sits beside the checkout in CI)")
    return SHARED_DATA


def run_cli(*args: str, expect: int | None = 0):
    """Invoke `curate ARGS`; check the exit code unless expect is None."""
    result = CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, f"exit {result.exit_code}, expected {expect}:\n{result.output}"
    return result


def write_jsonl(path: Path, records: list, compress: str | None = None) -> Path:
    data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()
    if compress == "gzip":
        data = gzip.compress(data, mtime=0)
    elif compress == "zstd":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read_rows(folder: Path, sub: str = "data") -> list[dict]:
    files = sorted((folder / sub).glob("*.parquet"))
    if not files:
        return []
    return pa.concat_tables([pq.read_table(path) for path in files]).to_pylist()


def manifest(folder: Path) -> dict:
    return json.loads((folder / "_manifest.json").read_text())


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every Parquet file of a dataset folder, by relative path."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.parquet"))}


@pytest.fixture(autouse=True, scope="session")
def _offline_model_cache(tmp_path_factory):
    """No test downloads a model (CURATE_OFFLINE), or reads or fills the user's model cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CURATE_OFFLINE", "1")
        patch.setenv("CURATE_CACHE_DIR", str(tmp_path_factory.mktemp("curate-cache")))
        yield


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine idle-spinning
    OpenMP threads slow them down a hundredfold. Use with `pytestmark = usefixtures(...)`."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_on_processes(command: list[str], cwd: Path, processes: int = 1, timeout: int = 300):
    """`python -m curate COMMAND` on one process, or under torchrun (gloo) on several; checks exit 0."""
    import os
    import subprocess
    import sys

    launcher = [sys.executable] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
    ]  # fmt: skip
    import signal

    # its own process group, so a run that hangs is stopped with every worker torchrun started
    process = subprocess.Popen(
        [*launcher, "-m", "curate", *command], cwd=cwd, env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"timed out after {timeout} s: {' '.join(command[:1])}\n{stderr[-3000:]}") from None
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(autouse=True)
def _local_executor():
    """Every test starts on the local executor, whatever the one before chose (--executor ray)."""
    from curate.pipeline.pool import use_executor

    use_executor("local")
    yield
    use_executor("local")


def processes_where(file: str, test: Callable[[bytes], bool]) -> list[int]:
    """The processes whose /proc/PID/`file` (stat, cmdline...) passes `test`; one that ends
    while it is read is left out."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                content = Path("/proc", entry, file).read_bytes()
            except OSError:
                continue
            if test(content):
                found.append(int(entry))
    return found
