"""Two labellers play a `curate label` compare project through the JSON API, then it is exported.

The quickstart runs it on the preference folder `curate prefs` made:

    python bench/label_play.py out/quickstart/prefs out/quickstart/labels out/quickstart/human_prefs

It makes the project (once), adds the labellers `ann` and `ben` and a third, `you`, whose login
link it prints with the `serve` command, so a person can label the same items in a browser.
It starts `curate label serve` on a free port of 127.0.0.1, lets ann (who prefers the longer
answer) and ben (who does too, but calls lengths within a fifth of each other a tie) answer
every item, stops the server by its PID, exports the answers and prints the p95 latency of a
next + answer round trip.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.label_server import LabelServer, call  # noqa: E402


def curate(*arguments: str) -> str:
    done = subprocess.run([sys.executable, "-m", "curate", *arguments], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(done.stderr.strip() or done.stdout.strip())
    return done.stdout


def token_of(output: str) -> str:
    return output.split("Bearer ", 1)[1].split()[0]


def play(url: str, token: str, strict: bool, latencies: list[float]) -> int:
    answered = 0
    while True:
        started = time.perf_counter()
        status, item = call(f"{url}/api/next", token=token)
        if status == 204:
            return answered
        lengths = {c["key"]: len(c["content"]) for c in item["candidates"]}
        ordered = sorted(lengths, key=lengths.get, reverse=True)
        close = lengths[ordered[-1]] > 0.8 * lengths[ordered[0]]
        choice = "tie" if close and not strict else ordered[0]
        status, reply = call(f"{url}/api/answer", "POST", token, {"item_id": item["item_id"], "choice": choice})
        if status != 200:
            raise SystemExit(f"answer refused: {status} {reply}")
        latencies.append(time.perf_counter() - started)
        answered += 1


def main() -> None:
    prefs, project, output = (Path(argument) for argument in sys.argv[1:4])
    if (project / "label.sqlite").exists():  # tokens are kept only as hashes: ann and ben played before
        print(f"label: {project} exists; exporting the answers it holds")
    else:
        print(curate("label", "init", str(prefs), "-o", str(project), "--task", "compare", "--overlap", "3").strip())
        tokens = {name: token_of(curate("label", "add", str(project), name)) for name in ("ann", "ben")}
        you = curate("label", "add", str(project), "you").splitlines()[0]
        print(f"  label the same items yourself: curate label serve {project}   then open {you.split(': ', 1)[1]}")
        latencies: list[float] = []
        with LabelServer(project) as server:
            answered = {name: play(server.url, token, name == "ann", latencies) for name, token in tokens.items()}
        p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else sum(latencies)
        print(f"label: ann answered {answered['ann']}, ben {answered['ben']} items through the API "
              f"(p95 of next + answer: {p95 * 1000:.1f} ms)")  # fmt: skip
    # each item wants 3 labellers (you are the third): ann's and ben's 2 votes are enough to export
    print(curate("label", "export", str(project), "-o", str(output), "--overwrite", "--min-votes", "2").strip())


if __name__ == "__main__":
    main()
