"""The cost of curate's OpenAI-compatible client against a plain asyncio + openai loop.

Starts tests/fake_openai_server.py in its own process on 127.0.0.1 (so the server does not
share the client's GIL), then sends the same N distinct chat requests three ways, each
with the same concurrency:

1. peer: a plain loop, `asyncio.Semaphore` + `openai.AsyncOpenAI.chat.completions.create`,
   the client's own retries off (no faults are injected, so none would happen);
2. curate: `OpenAIBackend.complete` (retry wrapper, rate-limit hooks, status per answer);
3. curate + cache: the same through `CachedBackend` with a fresh SQLite answer cache (every
   answer committed as it arrives), then 4. the same requests again, all cache hits.

Prints requests/s and the client's CPU milliseconds per request (process time of this
process, so the server's work is not counted) and the ratios to the peer.

Run: .venv/bin/python bench/llm_client_overhead.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fake_openai_server.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().strip()
    if not line.startswith("READY "):
        process.kill()
        raise SystemExit(f"the fake server did not start: {line!r}")
    return process, line.split()[1]


def make_requests(count: int):
    from curate.llm.backend import ChatRequest, Sampling

    return [
        ChatRequest.of(
            [{"role": "user", "content": f"Request {number}: write tasks 1 to 3 about topic {number % 97}."}],
            Sampling(temperature=1.0, max_tokens=256, seed=number),
        )
        for number in range(count)
    ]


def run_peer(base_url: str, requests, concurrency: int) -> int:
    import openai

    async def main() -> int:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=60)
        gate = asyncio.Semaphore(concurrency)

        async def one(request) -> str:
            async with gate:
                response = await client.chat.completions.create(
                    model="fake-model", messages=request.message_dicts(), temperature=request.sampling.temperature,
                    top_p=request.sampling.top_p, max_tokens=request.sampling.max_tokens, seed=request.sampling.seed,
                )  # fmt: skip
                return response.choices[0].message.content or ""

        answers = await asyncio.gather(*(one(request) for request in requests))
        await client.close()
        return sum(1 for answer in answers if answer)

    return asyncio.run(main())


def run_curate(base_url: str, requests, concurrency: int, cache_dir: Path | None) -> int:
    from curate.llm.cache import AnswerCache, CachedBackend
    from curate.llm.openai_compat import ClientSettings, OpenAIBackend

    backend = OpenAIBackend(ClientSettings(model="fake-model", base_url=base_url, concurrency=concurrency, timeout=60))
    if cache_dir is not None:
        backend = CachedBackend(backend, AnswerCache(cache_dir))
    try:
        return sum(1 for completion in backend.complete(requests) if completion.usable or completion.status == "length")
    finally:
        backend.close()


def timed(function) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    answered = function()
    return time.perf_counter() - wall, time.process_time() - cpu, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the server waits before each answer")
    args = parser.parse_args()
    requests = make_requests(args.requests)
    server, base_url = start_server(args.latency)
    try:
        run_peer(base_url, requests[:50], args.concurrency)  # warm-up: imports, connections, server data
        with tempfile.TemporaryDirectory() as scratch:
            cache = Path(scratch) / "cache"
            results = {
                "peer (asyncio + openai)": timed(lambda: run_peer(base_url, requests, args.concurrency)),
                "curate OpenAIBackend": timed(lambda: run_curate(base_url, requests, args.concurrency, None)),
                "curate + answer cache (all misses)": timed(
                    lambda: run_curate(base_url, requests, args.concurrency, cache)
                ),
                "curate + answer cache (all hits)": timed(
                    lambda: run_curate(base_url, requests, args.concurrency, cache)
                ),
            }
    finally:
        server.terminate()
        server.wait()
    peer_wall, peer_cpu, _ = results["peer (asyncio + openai)"]
    print(
        f"{args.requests:,} requests, concurrency {args.concurrency}, server latency {args.latency} s (server in its own process)"
    )
    print(
        f"{'client':38} {'answered':>9} {'wall s':>8} {'req/s':>9} {'CPU ms/req':>11} {'req/s vs peer':>14} {'CPU vs peer':>12}"
    )
    for name, (wall, cpu, answered) in results.items():
        print(
            f"{name:38} {answered:>9,} {wall:>8.2f} {args.requests / wall:>9,.0f} {1000 * cpu / args.requests:>11.3f} "
            f"{'x%.2f' % (peer_wall / wall):>14} {'x%.2f' % (cpu / peer_cpu):>12}"
        )
    overhead = (results["curate OpenAIBackend"][1] - peer_cpu) / args.requests * 1000
    print(f"curate's client CPU overhead per request over the plain loop: {overhead:+.3f} ms")


if __name__ == "__main__":
    main()
