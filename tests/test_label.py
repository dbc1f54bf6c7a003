"""`curate label`: projects, the API's promises (auth, CSRF, one answer per labeller and item,
durability under kill -9, 20 labellers at once) and the export's votes and agreement."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.label.agreement import cohen_kappa
from tests.conftest import SHARED_DATA
from tests.conftest import read_rows as rows
from tests.label_server import LabelServer, call

pytest.importorskip("aiohttp")
pytest.importorskip("nh3")
PAIRS = SHARED_DATA / "preferences"


def pairs_file(tmp_path: Path, count: int, extra: list[dict] | None = None) -> Path:
    records = [
        {"prompt": f"Question {i}: how do I keep basil fresh for {i} days?", "chosen": f"Keep it in water, tip {i}.",
         "rejected": f"Throw it away after {i} days."}
        for i in range(count)
    ] + (extra or [])  # fmt: skip
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def init(tmp_path: Path, data: Path, task: str = "compare", overlap: int = 1, name: str = "project") -> Path:
    project = tmp_path / name
    result = CliRunner().invoke(
        cli, ["label", "init", str(data), "-o", str(project), "--task", task, "--overlap", str(overlap)]
    )
    assert result.exit_code == 0, result.output
    return project


def add(project: Path, name: str, admin: bool = False) -> str:
    result = CliRunner().invoke(cli, ["label", "add", str(project), name, *(["--admin"] if admin else [])])
    assert result.exit_code == 0, result.output
    return re.search(r"token=(\S+)", result.output).group(1)


def export(project: Path, output: Path) -> dict:
    result = CliRunner().invoke(cli, ["label", "export", str(project), "-o", str(output)])
    assert result.exit_code == 0, result.output
    return json.loads((output / "_manifest.json").read_text())


def answer_all(url: str, token: str, choose) -> list[int]:
    answered = []
    while True:
        status, item = call(f"{url}/api/next", token=token)
        if status == 204:
            return answered
        assert status == 200, item
        status, reply = call(f"{url}/api/answer", "POST", token, {"item_id": item["item_id"], **choose(item)})
        assert status == 200, reply
        answered.append(item["item_id"])


def test_every_endpoint_needs_a_token_and_admins_and_owners_are_checked(tmp_path):
    project = init(tmp_path, pairs_file(tmp_path, 4), overlap=2)
    alice, bob, lead = add(project, "alice"), add(project, "bob"), add(project, "lead", admin=True)
    with LabelServer(project) as server:
        url = server.url
        for path, method in [("/api/next", "GET"), ("/api/progress", "GET"), ("/api/me", "GET"), ("/api/answer", "POST"),
                             ("/api/skip", "POST"), ("/api/undo", "POST"), ("/api/admin/progress", "GET"), ("/", "GET"),
                             ("/admin", "GET")]:  # fmt: skip
            assert call(url + path, method, body={} if method == "POST" else None)[0] == 401, path
            assert call(url + path, method, "not-a-token", body={} if method == "POST" else None)[0] == 401, path
        assert call(f"{url}/api/admin/progress", token=alice)[0] == 403
        assert call(f"{url}/admin", token=alice)[0] == 403
        assert call(f"{url}/api/admin/progress", token=lead)[0] == 200
        status, item = call(f"{url}/api/next", token=alice)
        # bob may not answer alice's item, and nobody may answer an item twice
        assert call(f"{url}/api/answer", "POST", bob, {"item_id": item["item_id"], "choice": "a"})[0] == 403
        assert call(f"{url}/api/answer", "POST", alice, {"item_id": item["item_id"], "choice": "zzz"})[0] == 400
        assert call(f"{url}/api/answer", "POST", alice, {"item_id": item["item_id"], "choice": "a"})[0] == 200
        assert call(f"{url}/api/answer", "POST", alice, {"item_id": item["item_id"], "choice": "b"})[0] == 409
        # the cookie session: a POST without the CSRF token is refused, with it accepted
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", f"/login?token={alice}")
        login = connection.getresponse()
        assert login.status == 303 and login.getheader("Location") == "/"
        assert "HttpOnly" in login.getheader("Set-Cookie") and "SameSite=Strict" in login.getheader("Set-Cookie")
        connection.close()
        cookie = {"Cookie": f"curate_label={alice}"}
        assert call(f"{url}/api/undo", "POST", body={}, headers=cookie)[0] == 403
        csrf = call(f"{url}/api/me", headers=cookie)[1]["csrf"]
        assert call(f"{url}/api/undo", "POST", body={}, headers=cookie | {"X-CSRF-Token": csrf})[0] == 200
        assert call(f"{url}/api/undo", "POST", body={}, headers=cookie | {"X-CSRF-Token": "0" * 64})[0] == 403
        assert call(f"{url}/login?token=wrong")[0] == 401


def test_overlap_undo_skip_and_never_twice(tmp_path):
    project = init(tmp_path, pairs_file(tmp_path, 6), overlap=2)
    tokens = {name: add(project, name) for name in ("ann", "ben", "cat")}
    with LabelServer(project) as server:
        url = server.url
        first = call(f"{url}/api/next", token=tokens["ann"])[1]
        assert call(f"{url}/api/next", token=tokens["ann"])[1]["item_id"] == first["item_id"]  # the same until answered
        call(f"{url}/api/answer", "POST", tokens["ann"], {"item_id": first["item_id"], "choice": "tie"})
        assert call(f"{url}/api/undo", "POST", tokens["ann"], {})[1]["undone"] == first["item_id"]
        assert call(f"{url}/api/next", token=tokens["ann"])[1]["item_id"] == first["item_id"]  # back to it
        call(f"{url}/api/skip", "POST", tokens["ann"], {"item_id": first["item_id"]})
        seen = {name: answer_all(url, token, lambda item: {"choice": item["candidates"][0]["key"]})
                for name, token in tokens.items()}  # fmt: skip
    for name, items in seen.items():
        assert len(items) == len(set(items)), name  # never the same item twice
    assert first["item_id"] not in seen["ann"]  # skipped: not given again
    counts = {item: sum(item in items for items in seen.values()) for item in range(1, 7)}
    assert all(count == 2 for count in counts.values())  # each item by exactly `overlap` labellers


def test_an_acknowledged_answer_survives_kill_9(tmp_path):
    project = init(tmp_path, pairs_file(tmp_path, 30))
    token = add(project, "ann")
    server = LabelServer(project).start()
    acknowledged = []
    try:
        for _ in range(12):
            item = call(f"{server.url}/api/next", token=token)[1]
            status, _ = call(f"{server.url}/api/answer", "POST", token, {"item_id": item["item_id"], "choice": "b"})
            assert status == 200
            acknowledged.append(item["item_id"])
    finally:
        server.kill(signal.SIGKILL)
    manifest = export(project, tmp_path / "out")
    assert manifest["counts"]["kept"] == 12 and manifest["counts"]["by_reason"] == {"label:unlabelled": 18}
    assert sorted(json.loads(row["meta"])["answers"]["ann"]["choice"] for row in rows(tmp_path / "out")) == ["b"] * 12


def test_twenty_labellers_two_thousand_answers(tmp_path):
    project = init(tmp_path, pairs_file(tmp_path, 100), overlap=20)
    tokens = [add(project, f"labeller{n:02d}") for n in range(20)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def labeller(token: str) -> None:
        while True:
            started = time.perf_counter()
            status, item = call(f"{server.url}/api/next", token=token)
            if status == 204:
                return
            status, reply = call(f"{server.url}/api/answer", "POST", token, {"item_id": item["item_id"], "choice": "a"})
            with lock:
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors.append(f"{status} {reply}")

    with LabelServer(project) as server:
        threads = [threading.Thread(target=labeller, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        admin = add(project, "lead", admin=True)
        total = call(f"{server.url}/api/admin/progress", token=admin)[1]["total"]
    assert not errors and len(latencies) == 2000 and total["answered"] == 2000
    manifest = export(project, tmp_path / "out")
    assert manifest["label"]["answers"] == 2000 and manifest["counts"]["kept"] == 100
    assert all(len(json.loads(row["meta"])["answers"]) == 20 for row in rows(tmp_path / "out"))
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"\n20 labellers, 2,000 answers: p95 of next+answer {p95 * 1000:.1f} ms")


def test_votes_ties_and_agreement_in_the_export(tmp_path):
    project = init(tmp_path, pairs_file(tmp_path, 4), overlap=3)
    tokens = [add(project, name) for name in ("a1", "a2", "a3")]
    # per item (in item order): what each labeller says, by the candidate's stored key
    plan = {1: ["a", "a", "b"], 2: ["tie", "tie", "a"], 3: ["a", "b", "tie"], 4: [None, None, None]}
    with LabelServer(project) as server:
        for index, token in enumerate(tokens):
            while True:
                status, item = call(f"{server.url}/api/next", token=token)
                if status == 204:
                    break
                choice = plan[item["item_id"]][index]
                if choice is None:
                    call(f"{server.url}/api/skip", "POST", token, {"item_id": item["item_id"]})
                else:
                    call(f"{server.url}/api/answer", "POST", token, {"item_id": item["item_id"], "choice": choice})
    manifest = export(project, tmp_path / "out")
    assert manifest["counts"]["by_reason"] == {"label:tie": 1, "label:no_majority": 1, "label:unlabelled": 1}
    (kept,) = rows(tmp_path / "out")
    assert kept["chosen"][0]["content"].startswith("Keep it in water") and len(json.loads(kept["meta"])["answers"]) == 3
    stats = manifest["label"]["agreement"]
    assert len(stats["pairs"]) == 3 and stats["alpha"] is not None
    assert (tmp_path / "out" / "agreement.png").is_file() and "Cohen's kappa" in (
        tmp_path / "out" / "report.md"
    ).read_text()


@pytest.mark.parametrize("task", ["rank", "rate", "write"])
def test_rank_rate_and_write_exports(tmp_path, task):
    records = [{"prompt": f"Name a colour number {i}.", "chosen": "Blue.", "rejected": "Red."} for i in range(3)]
    data = tmp_path / "p.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    project = init(tmp_path, data, task=task)
    token = add(project, "ann")
    answer = {
        "rank": lambda item: {"order": [c["key"] for c in sorted(item["candidates"], key=lambda c: c["content"])]},
        "rate": lambda item: {"scores": {c["key"]: 5 if c["content"] == "Blue." else 2 for c in item["candidates"]}},
        "write": lambda item: {"text": f"{item['draft']} Or green."},
    }[task]
    with LabelServer(project) as server:
        assert len(answer_all(server.url, token, answer)) == 3
    export(project, tmp_path / "out")
    kept = rows(tmp_path / "out")
    if task == "rank":
        assert all(row["chosen"][0]["content"] == "Blue." for row in kept) and len(kept) == 3
    elif task == "rate":
        assert sorted(row["score"] for row in kept) == [2.0] * 3 + [5.0] * 3
    else:
        assert [row["messages"][-1]["content"] for row in kept] == ["Blue. Or green."] * 3


def test_kappa_by_hand():
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"]) == 1.0
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == 0.0
    assert cohen_kappa([], []) is None


def test_user_mistakes_are_one_line(tmp_path):
    data = pairs_file(tmp_path, 2)
    runner = CliRunner()
    for arguments in (
        ["label", "add", str(tmp_path / "nothing"), "ann"],
        ["label", "serve", str(tmp_path / "nothing")],
        ["label", "export", str(tmp_path / "nothing"), "-o", str(tmp_path / "o")],
        ["label", "init", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "p"), "--task", "compare"],
    ):
        result = runner.invoke(cli, arguments)
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    project = init(tmp_path, data)
    add(project, "ann")
    for arguments in (
        ["label", "add", str(project), "ann"],
        ["label", "init", str(data), "-o", str(project), "--task", "compare"],
    ):
        result = runner.invoke(cli, arguments)
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output


def test_the_server_listens_on_loopback_unless_told():
    from curate.cli.label import serve_command

    host = next(param for param in serve_command.params if param.name == "host")
    assert host.default == "127.0.0.1"


def test_an_abandoned_hold_expires_and_a_late_undo_of_a_skip_is_refused(tmp_path, monkeypatch):
    from curate.label import store as label_store

    project = init(tmp_path, pairs_file(tmp_path, 3))
    ann, ben = add(project, "ann"), add(project, "ben")
    db = label_store.Project(project)
    ids = {name: db.labeller_by_token(token).id for name, token in (("ann", ann), ("ben", ben))}
    assert db.next_item(ids["ann"]) == 1
    assert db.next_item(ids["ben"]) == 2  # ann holds item 1
    db.record(ids["ben"], 2, "answer", {"choice": "a"})
    monkeypatch.setattr(label_store, "HOLD_SECONDS", -1)  # ann's hold is now old
    assert db.next_item(ids["ben"]) == 1
    db.record(ids["ben"], 1, "skip")
    db.record(ids["ann"], 1, "answer", {"choice": "a"})
    with pytest.raises(FileExistsError):  # ann has answered item 1 since ben skipped it: overlap 1 is full
        db.undo(ids["ben"])
    db.close()


def test_bad_bodies_head_requests_and_incomplete_items(tmp_path):
    project = init(tmp_path, pairs_file(tmp_path, 3), overlap=2)
    ann = add(project, "ann")
    with LabelServer(project) as server:
        url = server.url
        item = call(f"{url}/api/next", token=ann)[1]["item_id"]
        for body in ({"item_id": True, "choice": "a"}, {"item_id": 2**70, "choice": "a"}, {"item_id": "1"}, [1]):
            assert call(f"{url}/api/answer", "POST", ann, body)[0] == 400, body
        deep = urllib.request.Request(f"{url}/api/answer", data=b"[" * 100_000, method="POST")
        deep.add_header("Authorization", f"Bearer {ann}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(deep, timeout=30)
        assert refused.value.code == 400
        head = urllib.request.Request(f"{url}/api/next", method="HEAD", headers={"Authorization": f"Bearer {ann}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(head, timeout=30)
        assert refused.value.code == 405
        assert call(f"{url}/api/answer", "POST", ann, {"item_id": item, "choice": "a"})[0] == 200
    manifest = export(project, tmp_path / "out")
    assert manifest["counts"]["by_reason"] == {"label:incomplete": 1, "label:unlabelled": 2}
    result = CliRunner().invoke(cli, ["label", "export", str(project), "-o", str(tmp_path / "one"), "--min-votes", "1"])
    assert (
        result.exit_code == 0 and json.loads((tmp_path / "one" / "_manifest.json").read_text())["counts"]["kept"] == 1
    )


def test_images_and_relative_links_in_items_are_not_fetched_or_followed():
    from curate.label.render import safe_html

    shown = safe_html("![rm -rf /](http://x/y.png) [me](/login?token=OTHER) [ok](https://example.org/a)")
    assert "<img" not in shown and "[image: rm -rf / (http://x/y.png)]" in shown
    assert 'href="/login' not in shown and 'href="https://example.org/a"' in shown


def test_a_busy_port_and_a_broken_project_are_one_line(tmp_path):
    project = init(tmp_path, pairs_file(tmp_path, 2))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["label", "serve", str(project), "--port", str(port)])
    assert result.exit_code == 2 and "cannot listen" in result.output and result.output.count("\n") == 1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "label.sqlite").write_bytes(b"not a database" * 100)
    result = CliRunner().invoke(cli, ["label", "add", str(broken), "ann"])
    assert result.exit_code == 2 and "not a labelling project" in result.output
