"""Byte-identical output whatever the worker count; a killed run resumes to the same bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, folder_bytes, manifest, run_cli, write_jsonl


def _corpus(folder, files: int, docs: int):
    for number in range(files):
        records = [
            {"id": f"{number}-{i}", "text": f"Document {i} of file {number}.  Some   text\n\n\n\nhere."}
            for i in range(docs)
        ]
        records[3] = {"id": f"{number}-empty", "text": "   "}
        write_jsonl(folder / f"part-{number:03d}.jsonl.gz", records, "gzip")
    (folder / "part-999.jsonl").write_bytes(b'{"text": "ok"}\n{"broken json\n')


def test_same_bytes_for_one_and_four_workers(tmp_path):
    _corpus(tmp_path / "in", files=7, docs=900)
    run_cli(
        "filter", "--steps", "clean", tmp_path / "in", "-o", tmp_path / "w1", "--workers", "1", "--shard-rows", "500"
    )
    run_cli(
        "filter", "--steps", "clean", tmp_path / "in", "-o", tmp_path / "w4", "--workers", "4", "--shard-rows", "500"
    )
    one, four = folder_bytes(tmp_path / "w1"), folder_bytes(tmp_path / "w4")
    assert len(one) > 14 and one == four
    assert manifest(tmp_path / "w1")["counts"] == manifest(tmp_path / "w4")["counts"]
    # step counters are per task and summed once, whoever ran the tasks
    stages = [json.loads((tmp_path / name / "report.json").read_text())["stages"] for name in ("w1", "w4")]
    assert stages[0][1]["counters"] == stages[1][1]["counters"] == {"changed": 7 * 900}


def test_rerun_of_a_finished_folder_does_nothing(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out")
    stamp = (tmp_path / "out/_manifest.json").stat().st_mtime_ns
    result = run_cli(
        "filter", "--steps", "clean", source, "-o", tmp_path / "out", "--workers", "3"
    )  # runtime options do not matter
    assert "already complete" in result.output
    assert (tmp_path / "out/_manifest.json").stat().st_mtime_ns == stamp


def test_changed_options_or_inputs_need_overwrite(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out")
    result = run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out", "--unicode", "NFKC", expect=2)
    assert "already holds a finished dataset made from other inputs or options" in result.output
    write_jsonl(source, [{"text": "a"}, {"text": "b"}])
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out", expect=2)
    run_cli("filter", "--steps", "clean", source, "-o", tmp_path / "out", "--overwrite")
    assert manifest(tmp_path / "out")["counts"]["kept"] == 2


def _workers_gone(group: int, wait: float = 3.0) -> bool:
    """True once no multiprocessing worker of that process group is alive."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z" and b"spawn_main" in cmdline:
                alive.append(stat.parent.name)
        if not alive:
            return True
        time.sleep(0.05)
    return False


def _run_job(inputs, output, pause: float, workers: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(REPO / "tests/resumable_job.py"), str(inputs), str(output), str(pause), str(workers)]
    return subprocess.Popen(command, env=env, start_new_session=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_killed_run_resumes_to_identical_output(tmp_path, workers):
    _corpus(tmp_path / "in", files=12, docs=1000)
    reference = _run_job(tmp_path / "in", tmp_path / "reference", 0.0, workers)
    assert reference.wait(timeout=120) == 0

    victim = _run_job(tmp_path / "in", tmp_path / "out", 0.03, workers)
    done = tmp_path / "out/.curate/done"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(done.glob("*.json"))) < 4:
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)  # the main process only, as a user's `kill -9` would
    victim.wait()
    assert _workers_gone(victim.pid), "worker processes outlived the killed main process"

    finished_before = len(list(done.glob("*.json")))
    assert 4 <= finished_before < 13, "the run was not killed half-way"
    assert not (tmp_path / "out/_manifest.json").exists()

    resumed = _run_job(tmp_path / "in", tmp_path / "out", 0.0, workers)
    assert resumed.wait(timeout=120) == 0
    assert manifest(tmp_path / "out")["timings"]["resumed_tasks"] == finished_before
    assert folder_bytes(tmp_path / "out") == folder_bytes(tmp_path / "reference")
    assert manifest(tmp_path / "out")["counts"] == manifest(tmp_path / "reference")["counts"]
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_ray_address_without_the_ray_executor_is_one_line(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    result = run_cli("filter", source, "-o", tmp_path / "out", "--ray-address", "auto", expect=2)
    assert result.output.strip() == "Error: --ray-address is for --executor ray"
    assert not (tmp_path / "out").exists()


def test_a_ray_address_where_nothing_answers_is_one_line(tmp_path):
    pytest.importorskip("ray")
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    result = run_cli("filter", source, "-o", tmp_path / "out", "--executor", "ray", "--ray-address",
                     f"127.0.0.1:{port}", expect=2)  # fmt: skip
    assert "no Ray cluster answers there" in result.output and len(result.output.strip().splitlines()) == 1
