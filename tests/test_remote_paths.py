"""Inputs and outputs in an object store (io/remote.py), against moto's S3-compatible server
started here on 127.0.0.1 and stopped by PID, and file:// paths."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.test_dedup import SHARED_WEB, needs_shared
from tests.test_ray_executor import ray_cluster  # noqa: F401  (a fixture, for the Ray test)

s3fs = pytest.importorskip("s3fs")
pytestmark = needs_shared
BUCKET = "corpus"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(environment for curate, s3fs filesystem) of a moto server on a free port."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if server is None:
        pytest.skip("moto[server] is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "server.log", "wb")
    process = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("moto server did not start")
                time.sleep(0.2)
        env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem()
        fs.mkdir(BUCKET)
        for path in sorted((SHARED_WEB / "cc_en_head").glob("*.jsonl.gz"))[:3]:
            fs.put_file(str(path), f"{BUCKET}/crawl/{path.name}")
        fs.pipe(f"{BUCKET}/crawl/_notes.md", b"not read: a hidden name")
        yield env, fs
    finally:
        process.kill()
        process.wait(timeout=30)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        s3fs.S3FileSystem.clear_instance_cache()


def curate(tmp_path, env, *args, expect=0) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env, "CURATE_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "curate", *args], capture_output=True, text=True, env=environment, timeout=300
    )
    assert done.returncode == expect, done.stdout + done.stderr
    return done


def listing(fs, prefix: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(path[len(prefix) + 1 :] for path in fs.find(prefix))


def texts(fs, prefix: str) -> list[str]:
    manifest = json.loads(fs.cat_file(f"{prefix}/_manifest.json"))
    rows = []
    for shard in manifest["shards"]["data"]:
        with fs.open(f"{prefix}/{shard['path']}", "rb") as handle:
            rows += pq.read_table(handle).column("text").to_pylist()
    return rows


def test_filter_and_dedup_between_store_folders(tmp_path, store):
    env, fs = store
    local_inputs = tmp_path / "crawl"
    fs.get(f"{BUCKET}/crawl/", str(local_inputs), recursive=True)
    (local_inputs / "_notes.md").unlink()
    curate(tmp_path, env, "filter", str(local_inputs), "-o", str(tmp_path / "local"), "--no-progress")

    done = curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", f"s3://{BUCKET}/filtered", "--no-progress")
    assert f"to s3://{BUCKET}/filtered" in done.stdout
    names = listing(fs, f"{BUCKET}/filtered")
    assert "_manifest.json" in names and ".curate-folder" in names and "report.md" in names
    assert not any(name.startswith((".curate-upload", ".curate.lock", ".curate/")) for name in names)
    manifest = json.loads(fs.cat_file(f"{BUCKET}/filtered/_manifest.json"))
    local_manifest = json.loads((tmp_path / "local" / "_manifest.json").read_text())
    assert manifest["counts"] == local_manifest["counts"] and manifest["counts"]["kept"] > 0
    assert [item["path"] for item in manifest["inputs"]] == [
        f"s3://{BUCKET}/crawl/{path.name}" for path in sorted(local_inputs.iterdir())
    ]
    kept = pq.read_table(tmp_path / "local" / "data").column("text").to_pylist()
    assert texts(fs, f"{BUCKET}/filtered") == kept
    with fs.open(f"{BUCKET}/filtered/data/shard-00000.parquet", "rb") as handle:
        assert pq.read_table(handle).column("source")[0].as_py().startswith(f"s3://{BUCKET}/crawl/")

    # a store dataset folder as an input means its kept shards; dedup's passes read them there
    curate(tmp_path, env, "dedup", f"s3://{BUCKET}/filtered", "-o", f"s3://{BUCKET}/unique", "--no-progress")
    unique = json.loads(fs.cat_file(f"{BUCKET}/unique/_manifest.json"))
    assert unique["counts"]["in"] == manifest["counts"]["kept"]


def test_resume_from_the_store_and_a_cut_upload(tmp_path, store, monkeypatch):
    env, fs = store
    out = f"s3://{BUCKET}/resumed"
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress")
    complete = listing(fs, f"{BUCKET}/resumed")
    digests = {name: fs.info(f"{BUCKET}/resumed/{name}")["ETag"] for name in complete}

    # another machine (no staging folder): the store's folder is complete, nothing is run or deleted
    done = curate(tmp_path / "elsewhere", env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress")
    assert "already" in done.stdout
    assert listing(fs, f"{BUCKET}/resumed") == complete

    # an upload cut after three files: no manifest there yet; the re-run finishes it
    for name in complete:
        if name not in (".curate-folder", "report.md", "data/shard-00000.parquet"):
            fs.rm_file(f"{BUCKET}/resumed/{name}")
    fs.pipe(f"{BUCKET}/resumed/.curate-upload/data/shard-00001.parquet", b"half")
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress")
    assert listing(fs, f"{BUCKET}/resumed") == complete
    assert {name: fs.info(f"{BUCKET}/resumed/{name}")["ETag"] for name in complete} == digests


def test_a_cut_recommit_never_leaves_a_manifest_over_other_files(tmp_path, store, monkeypatch):
    from curate.io import remote
    from tests.conftest import run_cli

    env, fs = store
    out = f"s3://{BUCKET}/recommitted"
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress", "--shard-rows", "5")
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "cache"))
    original = remote.RemoteOutput._upload

    def cut_before_the_manifest(fs_, root, local, name, there):
        if name == remote.MANIFEST:
            raise KeyboardInterrupt  # killed here: every other file is in the store
        original(fs_, root, local, name, there)

    monkeypatch.setattr(remote.RemoteOutput, "_upload", staticmethod(cut_before_the_manifest))
    arguments = ("filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress", "--shard-rows", "500", "--overwrite")
    run_cli(*arguments, expect=130)  # interrupted: "run the same command again to resume"
    monkeypatch.setattr(remote.RemoteOutput, "_upload", staticmethod(original))
    assert "_manifest.json" not in listing(fs, f"{BUCKET}/recommitted")  # no manifest over the new shards
    # another machine does not take it for finished, nor read its files as data
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/recommitted", "-o", str(tmp_path / "read"), expect=2)
    # the re-run on this machine finishes the upload: exactly the new run's shards
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress", "--shard-rows", "500")
    names = listing(fs, f"{BUCKET}/recommitted")
    manifest = json.loads(fs.cat_file(f"{BUCKET}/recommitted/_manifest.json"))
    assert [name for name in names if name.startswith("data/")] == [
        shard["path"] for shard in manifest["shards"]["data"]
    ]


def test_a_stale_staging_folder_does_not_replace_the_store_s_folder(tmp_path, store):
    env, fs = store
    out = f"s3://{BUCKET}/contested"
    curate(tmp_path / "a", env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress", "--shard-rows", "5")
    curate(tmp_path / "b", env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress", "--overwrite")
    made_by_b = fs.cat_file(f"{BUCKET}/contested/_manifest.json")
    # machine a's staging folder still holds its own finished run: the store's folder counts
    done = curate(tmp_path / "a", env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--shard-rows", "5", expect=2)
    assert "--overwrite" in done.stderr and out in done.stderr and "remote-outputs" not in done.stderr
    assert fs.cat_file(f"{BUCKET}/contested/_manifest.json") == made_by_b


def test_overwrite_deletes_only_what_curate_wrote(tmp_path, store):
    env, fs = store
    out = f"s3://{BUCKET}/rewritten"
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress", "--shard-rows", "5")
    many = [name for name in listing(fs, f"{BUCKET}/rewritten") if name.startswith("data/")]
    fs.pipe(f"{BUCKET}/rewritten/NOTES.txt", b"the user's")
    fs.pipe(f"{BUCKET}/rewritten/data/README.md", b"the user's too")
    done = curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", out, "--no-progress", expect=2)
    assert "--overwrite" in done.stderr and done.stderr.count("\n") == 1
    curate(
        tmp_path,
        env,
        "filter",
        f"s3://{BUCKET}/crawl",
        "-o",
        out,
        "--no-progress",
        "--shard-rows",
        "500",
        "--overwrite",
    )
    names = listing(fs, f"{BUCKET}/rewritten")
    listed = [
        shard["path"] for shard in json.loads(fs.cat_file(f"{BUCKET}/rewritten/_manifest.json"))["shards"]["data"]
    ]
    shards = [name for name in names if name.startswith("data/") and name.endswith(".parquet")]
    assert shards == listed and len(listed) < len(many)
    assert "NOTES.txt" in names and "data/README.md" in names


def test_refusals_are_one_line(tmp_path, store):
    env, fs = store
    fs.pipe(f"{BUCKET}/theirs/file.bin", b"someone else's")
    done = curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", f"s3://{BUCKET}/theirs", expect=2)
    assert "curate did not make" in done.stderr and done.stderr.count("\n") == 1
    assert listing(fs, f"{BUCKET}/theirs") == ["file.bin"]
    done = curate(tmp_path, env, "filter", f"s3://{BUCKET}/nothing-here", "-o", str(tmp_path / "out"), expect=2)
    assert "does not exist" in done.stderr and done.stderr.count("\n") == 1
    done = curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", "s3://no-such-bucket/out", expect=2)
    assert "s3://no-such-bucket/out" in done.stderr and done.stderr.count("\n") == 1  # before any work
    done = curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl/x", "-o", f"s3://{BUCKET}/crawl", expect=2)
    assert "inside the output folder" in done.stderr
    fs.pipe(f"{BUCKET}/cut/.curate-upload/.curate-folder", b"{}")  # a first commit cut at its first file
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", f"s3://{BUCKET}/cut", "--no-progress")
    if not _installed("gcsfs"):
        done = curate(tmp_path, env, "filter", "gs://bucket/x.jsonl", "-o", str(tmp_path / "out"), expect=2)
        assert "gcsfs" in done.stderr and done.stderr.count("\n") == 1


def test_file_urls_are_local_paths(tmp_path, store):
    env, _ = store
    crawl = SHARED_WEB / "cc_en_head"
    files = [str(path) for path in sorted(crawl.glob("*.jsonl.gz"))[:2]]
    curate(tmp_path, env, "filter", *files, "-o", str(tmp_path / "plain"), "--no-progress")
    urls = [f"file://{path}" for path in files]
    curate(tmp_path, env, "filter", *urls, "-o", f"file://{tmp_path}/url", "--no-progress")
    for sub in ("data", "rejected"):
        plain = sorted((tmp_path / "plain" / sub).iterdir())
        assert [path.read_bytes() for path in plain] == [
            (tmp_path / "url" / sub / path.name).read_bytes() for path in plain
        ]


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_ray_tasks_fetch_their_own_inputs(tmp_path, store, request):
    """On a Ray cluster whose nodes have the store's credentials in their environment (as a
    cluster's nodes would), each task fetches its object where it runs: same bytes as locally."""
    pytest.importorskip("ray", reason="the ray extra: pip install 'curate[ray]'")
    env, fs = store
    address = request.getfixturevalue("ray_cluster")  # started after the store: its nodes see env
    first = sorted(fs.glob(f"{BUCKET}/crawl/*.jsonl.gz"))[0]
    fs.copy(first, f"{BUCKET}/copies/{first.rsplit('/', 1)[1]}")  # exact duplicates across files
    inputs = (f"s3://{BUCKET}/crawl", f"s3://{BUCKET}/copies")
    curate(tmp_path, env, "dedup", *inputs, "-o", str(tmp_path / "local"), "--no-progress", "--workers", "2")
    ray_options = ("--executor", "ray", "--ray-address", address, "--workers", "2", "--partitions", "3")
    curate(tmp_path, env, "dedup", *inputs, "-o", str(tmp_path / "ray"), "--no-progress", *ray_options)
    for sub in ("data", "rejected"):
        local = sorted((tmp_path / "local" / sub).iterdir())
        assert [path.read_bytes() for path in local] == [(tmp_path / "ray" / sub / p.name).read_bytes() for p in local]
    assert json.loads((tmp_path / "ray" / "_manifest.json").read_text())["counts"]["rejected"] > 0


def test_a_curate_folder_inside_an_input_prefix_is_not_read_as_data(tmp_path, store):
    env, fs = store
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", f"s3://{BUCKET}/crawl/filtered", "--no-progress")
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl", "-o", str(tmp_path / "again"), "--no-progress")
    inputs = json.loads((tmp_path / "again" / "_manifest.json").read_text())["inputs"]
    assert inputs and not any("/filtered/" in item["path"] for item in inputs)
    fs.rm(f"{BUCKET}/crawl/filtered", recursive=True)


def test_globs_single_objects_and_a_text_corpus(tmp_path, store):
    env, fs = store
    names = sorted(path.rsplit("/", 1)[1] for path in fs.glob(f"{BUCKET}/crawl/*.jsonl.gz"))
    curate(tmp_path, env, "filter", f"s3://{BUCKET}/crawl/*.jsonl.gz", "-o", str(tmp_path / "glob"), "--no-progress")
    one = f"s3://{BUCKET}/crawl/{names[1]}"
    curate(tmp_path, env, "filter", one, "-o", str(tmp_path / "one"), "--no-progress")
    inputs = [json.loads((tmp_path / name / "_manifest.json").read_text())["inputs"] for name in ("glob", "one")]
    assert [item["path"] for item in inputs[0]] == [f"s3://{BUCKET}/crawl/{name}" for name in names]
    assert [item["path"] for item in inputs[1]] == [one] and inputs[1][0]["etag"] and inputs[1][0]["size"] > 0
    # a tokenizer learned from a store's corpus (read through the same readers)
    curate(tmp_path, env, "train-tokenizer", f"s3://{BUCKET}/crawl", "-o", str(tmp_path / "tok"), "--vocab-size", "300")
    assert (tmp_path / "tok" / "tokenizer.json").is_file()


def test_a_recipe_rebuilds_only_store_folders_it_made(tmp_path, store, monkeypatch):
    from tests.conftest import run_cli

    env, fs = store
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    crawl = f"s3://{BUCKET}/crawl"
    curate(tmp_path, env, "filter", crawl, "-o", f"s3://{BUCKET}/by-hand", "--no-progress", "--steps", "clean")
    made_by_hand = fs.cat_file(f"{BUCKET}/by-hand/_manifest.json")
    step = "steps:\n  - filter: {inputs: [%s], output: 's3://%s/%s', steps: clean, unicode: NFKC, progress: false}\n"
    (tmp_path / "hand.yaml").write_text(step % (crawl, BUCKET, "by-hand"), encoding="utf-8")
    result = run_cli("run", tmp_path / "hand.yaml", expect=2)
    assert "the recipe did not make" in result.output and "pass --overwrite" in result.output
    fs.invalidate_cache()
    assert fs.cat_file(f"{BUCKET}/by-hand/_manifest.json") == made_by_hand
    # one the recipe made is rebuilt when its options change
    (tmp_path / "own.yaml").write_text(step % (crawl, BUCKET, "own"), encoding="utf-8")
    run_cli("run", tmp_path / "own.yaml")
    (tmp_path / "own.yaml").write_text((step % (crawl, BUCKET, "own")).replace("NFKC", "NFC"), encoding="utf-8")
    run_cli("run", tmp_path / "own.yaml")
    fs.invalidate_cache()
    assert json.loads(fs.cat_file(f"{BUCKET}/own/_manifest.json"))["options"]["unicode_form"] == "NFC"


def test_local_and_store_inputs_keep_the_argument_order(tmp_path, store):
    env, fs = store
    local = sorted((SHARED_WEB / "cc_en_head").glob("*.jsonl.gz"))[-1]
    one = f"s3://{BUCKET}/crawl/{sorted(fs.glob(f'{BUCKET}/crawl/*.jsonl.gz'))[0].rsplit('/', 1)[1]}"
    for name, arguments in (("store-first", [one, str(local)]), ("local-first", [str(local), one])):
        curate(tmp_path, env, "filter", *arguments, "-o", str(tmp_path / name), "--no-progress")
        inputs = json.loads((tmp_path / name / "_manifest.json").read_text())["inputs"]
        assert [item["path"] for item in inputs] == arguments
