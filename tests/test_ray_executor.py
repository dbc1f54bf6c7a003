"""`--executor ray` on a two-node Ray cluster started here on 127.0.0.1: the same bytes as the
local executor for filter and dedup, a worker killed mid-run retried, the whole command killed
and resumed, and an error in curate's own code not retried but named."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from curate.errors import RunFailed
from curate.pipeline import folder
from tests.conftest import SHARED_DATA, processes_where, run_cli

ray = pytest.importorskip("ray", reason="the ray extra: pip install 'curate[ray]'")

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
STEPS = "clean,gopher_repetition,gopher_quality,c4,fineweb"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ray_command() -> str:
    return str(Path(sys.executable).with_name("ray"))


@pytest.fixture(scope="module")
def ray_cluster():
    """A head and a second node process, one CPU each, on this machine; stopped by PID."""
    os.environ.update(RAY_ENV)
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    port = _free_port()
    common = ["--block", "--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats",
              "--object-store-memory", str(100 << 20)]  # fmt: skip
    environment = {**os.environ, **RAY_ENV}
    logs = [open(Path(temp) / name, "wb") for name in ("head.log", "node.log")]
    head = subprocess.Popen(
        [_ray_command(), "start", "--head", "--port", str(port), "--include-dashboard=false",
         "--temp-dir", temp, *common],
        stdout=logs[0], stderr=subprocess.STDOUT, env=environment,
    )  # fmt: skip
    processes = [head]
    try:
        address = f"127.0.0.1:{port}"
        _wait_for(lambda: b"Ray runtime started" in (Path(temp) / "head.log").read_bytes(), head, "head")
        node = subprocess.Popen(
            [_ray_command(), "start", "--address", address, *common], stdout=logs[1], stderr=subprocess.STDOUT,
            env=environment,
        )  # fmt: skip
        processes.append(node)
        _wait_for(lambda: b"Ray runtime started" in (Path(temp) / "node.log").read_bytes(), node, "node")
        yield address
    finally:
        from curate.pipeline import pool

        pool.use_executor("local")  # library calls of later tests run on the local executor
        if ray.is_initialized():
            ray.shutdown()
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for(condition, process: subprocess.Popen, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"ray {what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"ray {what} did not start in {seconds:.0f} s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def web_corpus(tmp_path_factory) -> Path:
    """Real web documents over six files, large enough that a task lasts a moment."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    shared_data = SHARED_DATA
    folder_path = tmp_path_factory.mktemp("web")
    documents = []
    for path in sorted((shared_data / "web/cc_en_head").glob("*.jsonl.gz")):
        documents += gzip.decompress(path.read_bytes()).decode().splitlines()
    documents += (shared_data / "web/dclm_quality_labeled.jsonl").read_text(encoding="utf-8").splitlines()
    for part in range(6):
        lines = [json.dumps({**json.loads(line), "id": f"{part}-{number}"}) for number, line in enumerate(documents)]
        (folder_path / f"part-{part}.jsonl").write_text("\n".join(lines[part::2]) + "\n", encoding="utf-8")
    return folder_path


def _shards(output: Path) -> dict[str, str]:
    return {
        str(path.relative_to(output)): hashlib.sha256(path.read_bytes()).hexdigest()
        for sub in ("data", "rejected")
        for path in sorted((output / sub).glob("*"))
    }


def _counts(output: Path) -> tuple[dict, list]:
    manifest = json.loads((output / "_manifest.json").read_text())
    report = json.loads((output / "report.json").read_text())
    return manifest["counts"], [(stage["stage"], stage.get("counters")) for stage in report["stages"]]


def test_filter_and_dedup_give_the_local_executor_s_bytes(ray_cluster, web_corpus, tmp_path):
    ray_options = ("--executor", "ray", "--ray-address", ray_cluster, "--workers", "2")
    run_cli("filter", web_corpus, "-o", tmp_path / "local", "--steps", STEPS, "--workers", "2")
    run_cli("filter", web_corpus, "-o", tmp_path / "ray", "--steps", STEPS, *ray_options)
    assert _shards(tmp_path / "ray") == _shards(tmp_path / "local") and _shards(tmp_path / "local")
    assert _counts(tmp_path / "ray") == _counts(tmp_path / "local")  # no step's counts lost
    shown = (tmp_path / "ray/report.md").read_text().splitlines()[2]  # the command line: not the executor's
    assert shown.startswith("`curate filter") and "--executor" not in shown and "--ray-address" not in shown

    run_cli("dedup", web_corpus, "-o", tmp_path / "dedup-local", "--workers", "2")
    run_cli("dedup", web_corpus, "-o", tmp_path / "dedup-ray", *ray_options)
    assert _shards(tmp_path / "dedup-ray") == _shards(tmp_path / "dedup-local")
    assert _counts(tmp_path / "dedup-ray")[0] == _counts(tmp_path / "dedup-local")[0]
    assert _counts(tmp_path / "dedup-local")[0]["rejected"] > 0  # the copies across files were found


def _ray_task_processes() -> list[int]:
    """Ray workers running a curate task now (Ray titles a busy worker `ray::<function>`)."""
    return processes_where("cmdline", lambda command: command.startswith(b"ray::_call"))


def test_a_worker_killed_mid_run_is_retried_and_the_output_is_the_same(ray_cluster, web_corpus, tmp_path):
    run_cli("filter", web_corpus, "-o", tmp_path / "local", "--steps", STEPS, "--workers", "1")
    killed: list[int] = []
    stop = threading.Event()

    def kill_one() -> None:
        while not stop.is_set() and not killed:
            for pid in _ray_task_processes():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        run_cli("filter", web_corpus, "-o", tmp_path / "ray", "--steps", STEPS, "--executor", "ray",
                "--ray-address", ray_cluster, "--workers", "2")  # fmt: skip
    finally:
        stop.set()
        killer.join()
    assert killed, "no Ray worker was seen running a task"
    assert _shards(tmp_path / "ray") == _shards(tmp_path / "local")
    assert _counts(tmp_path / "ray") == _counts(tmp_path / "local")


def test_the_whole_command_killed_resumes(ray_cluster, web_corpus, tmp_path):
    run_cli("filter", web_corpus, "-o", tmp_path / "local", "--steps", STEPS, "--workers", "1")
    output = tmp_path / "ray"
    command = [sys.executable, "-m", "curate", "filter", str(web_corpus), "-o", str(output), "--steps", STEPS,
               "--executor", "ray", "--ray-address", ray_cluster, "--workers", "1", "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **RAY_ENV}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_for(lambda: output.is_dir() and len(folder.finished_tasks(output)) >= 1, process, "curate", 120)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = len(folder.finished_tasks(output))
    assert 1 <= finished < 6, "the run was killed after every task finished: nothing left to resume"
    run_cli("filter", web_corpus, "-o", output, "--steps", STEPS, "--executor", "ray", "--ray-address", ray_cluster)
    assert _shards(output) == _shards(tmp_path / "local")
    assert json.loads((output / "_manifest.json").read_text())["timings"]["resumed_tasks"] == finished


ATTEMPTS = "CURATE_TEST_ATTEMPTS"


def _fails_on_the_second_file(task) -> dict:
    """A task function whose own code raises on one file, counting its attempts in a folder."""
    Path(os.environ[ATTEMPTS], f"{task.index}-{time.monotonic_ns()}").touch()
    if task.index == 1:
        raise ValueError("a bug in curate's own code")
    return {"counts": {"read": {"docs": 1}}}


def test_an_error_in_curate_s_code_is_not_retried_and_names_the_file(ray_cluster, tmp_path, monkeypatch):
    from curate.io.input_file import InputFile
    from curate.pipeline import pool
    from curate.pipeline.ray_executor import RaySettings

    attempts = tmp_path / "attempts"
    attempts.mkdir()
    monkeypatch.setenv(ATTEMPTS, str(attempts))
    if ray.is_initialized():
        ray.shutdown()  # the workers must see the variable: a new job of the cluster
    tasks = [_Task(index, InputFile(tmp_path / f"file-{index}.jsonl", "jsonl")) for index in range(3)]
    pool.use_executor("ray", RaySettings(ray_cluster))
    try:
        bar = pool.Progress(None, "test", False)
        with pytest.raises(RunFailed, match=r"failed on .*file-1\.jsonl: ValueError: a bug in curate's own code"):
            pool.run_tasks(_fails_on_the_second_file, tasks, 2, bar)
    finally:
        pool.use_executor("local")
        ray.shutdown()
    assert sum(name.startswith("1-") for name in os.listdir(attempts)) == 1  # not retried


class _Task:
    def __init__(self, index: int, input_file) -> None:
        self.index, self.input = index, input_file
