"""Tests of the fake OpenAI-compatible server (tests/fake_openai_server.py) as the openai client sees it."""

from __future__ import annotations

import json
import random
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.fake_openai_server import (
    CHATTY_FIRST,
    CHATTY_LAST,
    HOST,
    IMAGE_INSTRUCTIONS,
    SHORT_INSTRUCTIONS,
    FakeOpenAIServer,
    load_tasks,
    self_instruct_answer,
    stable_rng,
)

SERVER_SCRIPT = Path(__file__).resolve().parent / "fake_openai_server.py"

EXAMPLES = [
    ("Give three tips for staying healthy.", "", "1. Eat a balanced diet.\n2. Exercise regularly.\n3. Sleep well."),
    ("Count from 1 to 10.", "", "1 2 3 4 5 6 7 8 9 10"),
    ("Translate the sentence into French.", "Where is the library?", "Où est la bibliothèque ?"),
]
KO_EXAMPLES = [
    ("건강을 유지하기 위한 세 가지 팁을 알려주세요.", "", "1. 균형 잡힌 식사를 하세요.\n2. 규칙적으로 운동하세요."),
    ("다음 문장을 영어로 번역하세요.", "도서관이 어디에 있나요?", "Where is the library?"),
]


def self_instruct_prompt(examples=EXAMPLES, korean: bool = False, last: int | None = 12) -> str:
    if korean:
        header = f"다양한 작업 지시문을 만들어 주세요. {len(examples) + 1}번부터 {last}번까지 작성하세요.\n"
        header = header if last else ""
        labels = ("지시문", "입력", "출력")
    else:
        header = f"Come up with a series of tasks. Write tasks {len(examples) + 1} to {last}.\n" if last else ""
        labels = ("Instruction", "Input", "Output")
    parts = [header or "Come up with more tasks.\n"]
    for number, (instruction, input_, output) in enumerate(examples, 1):
        parts.append(
            f"###\n{number}. {labels[0]}: {instruction}\n{number}. {labels[1]}:\n{input_ or '<noinput>'}\n"
            f"{number}. {labels[2]}:\n{output}\n"
        )
    return "".join(parts) + "###\n"


# An independent parser (not the server's) of every label layout the server writes.
LABEL = re.compile(
    r"^\s*(?:\*\*)?(\d+)\.\s*(Instruction|Input|Output|지시문|입력|출력):(?:\*\*)?[ \t]*(.*)$"
)
KEYS = {"Instruction": "instruction", "지시문": "instruction", "Input": "input", "입력": "input",
        "Output": "output", "출력": "output"}


def parse(text: str) -> list[dict]:
    """[{number, instruction, input (None when the line is missing), output}]; a value runs to the next label."""
    tasks: list[dict] = []
    key = None
    for line in text.split("\n"):
        match = LABEL.match(line)
        if match:
            number, key = int(match.group(1)), KEYS[match.group(2)]
            if not tasks or tasks[-1]["number"] != number:
                tasks.append({"number": number, "instruction": [], "input": None, "output": []})
            tasks[-1][key] = [match.group(3)] if match.group(3) else []
        elif line.strip() == "###":
            key = None
        elif key is not None:
            tasks[-1][key].append(line)
    for task in tasks:
        for key in ("instruction", "input", "output"):
            if task[key] is not None:
                task[key] = "\n".join(task[key]).strip()
    return tasks


def client(server: FakeOpenAIServer, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.base_url, api_key="test", **kwargs)


def chat(server: FakeOpenAIServer, prompt: str | None = None, **kwargs):
    kwargs.setdefault("model", "fake-model")
    kwargs.setdefault("temperature", 0.7)
    messages = [{"role": "user", "content": prompt if prompt is not None else self_instruct_prompt()}]
    return client(server, timeout=kwargs.pop("timeout", 10.0)).chat.completions.create(messages=messages, **kwargs)


def test_models_list():
    with FakeOpenAIServer(model="m-1") as server:
        models = client(server).models.list()
        assert [model.id for model in models.data] == ["m-1"]
        assert models.data[0].owned_by == "curate-tests"
        assert server.models_requests == 1 and server.requests == 0


def test_completion_is_deterministic_and_seed_dependent():
    with FakeOpenAIServer() as server, FakeOpenAIServer() as other:
        first = chat(server, seed=1)
        again = chat(server, seed=1)  # a second attempt of the same body
        elsewhere = chat(other, seed=1)
        reseeded = chat(server, seed=2)
        assert first.choices[0].message.content == again.choices[0].message.content
        assert first.choices[0].message.content == elsewhere.choices[0].message.content
        assert first.choices[0].message.content != reseeded.choices[0].message.content
        assert first.object == "chat.completion" and first.choices[0].message.role == "assistant"
        assert first.choices[0].finish_reason == "stop"
        content = first.choices[0].message.content
        assert first.usage.completion_tokens == len(content.split())
        assert first.usage.prompt_tokens == len(self_instruct_prompt().split())
        assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
        assert server.requests == 3 and server.answered == 3 and sum(server.bodies.values()) == 3
        assert sorted(server.bodies.values()) == [1, 2]
    with FakeOpenAIServer(seed=5) as server:  # the server seed changes answers too
        assert chat(server, seed=1).choices[0].message.content != content


def test_answer_continues_the_prompt_numbering():
    with FakeOpenAIServer() as server:
        for seed in range(5):
            tasks = parse(chat(server, self_instruct_prompt(last=12), seed=seed).choices[0].message.content)
            assert [task["number"] for task in tasks] == list(range(4, 13))
            assert all(task["instruction"].strip() and task["output"].strip() for task in tasks)
        # without a range: 10 tasks after the highest example number ("from 1 to 10" inside an example is ignored)
        tasks = parse(chat(server, self_instruct_prompt(last=None), seed=0).choices[0].message.content)
        assert [task["number"] for task in tasks] == list(range(4, 14))
        # Korean prompts get Korean labels and Korean tasks
        korean = self_instruct_prompt(KO_EXAMPLES, korean=True, last=9)
        content = chat(server, korean, seed=3).choices[0].message.content
        assert "지시문:" in content and "Instruction:" not in content
        tasks = parse(content)
        assert [task["number"] for task in tasks] == list(range(3, 10))
        assert all(re.search(r"[\uac00-\ud7a3]", task["instruction"]) for task in tasks)


def test_answers_are_drawn_from_the_shared_data(shared_data):
    english = {task["instruction"] for task in load_tasks(shared_data)["en"]}
    korean = {task["instruction"] for task in load_tasks(shared_data)["ko"]}
    assert len(english) > 4000 and len(korean) > 200
    with FakeOpenAIServer(data_dir=shared_data) as server:
        tasks = parse(chat(server, seed=0).choices[0].message.content)
        assert sum(task["instruction"] in english for task in tasks) >= len(tasks) - 3
        content = chat(server, self_instruct_prompt(KO_EXAMPLES, korean=True), seed=0).choices[0].message.content
        tasks = parse(content)
        assert sum(task["instruction"] in korean for task in tasks) >= len(tasks) - 3


def test_answers_show_realistic_variety():
    pools = load_tasks()
    prompt = self_instruct_prompt()
    answers = [self_instruct_answer(prompt, pools, stable_rng("variety", i)) for i in range(300)]
    example_instructions = {instruction for instruction, _, _ in EXAMPLES}
    assert all(a.startswith("###") or a.split("\n")[0] in CHATTY_FIRST["en"] for a in answers)
    seen = {
        "chatty first line": sum(a.split("\n")[0] in CHATTY_FIRST["en"] for a in answers),
        "trailing chatter": sum(parse(a)[-1]["output"].split("\n")[-1] in CHATTY_LAST["en"] for a in answers),
        "bold labels": sum("**4. Instruction:**" in a for a in answers),
        "inline input": sum(bool(re.search(r"^\d+\. Input:(?:\*\*)? \S", a, re.MULTILINE)) for a in answers),
        "missing input": sum(any(t["input"] is None for t in parse(a)) for a in answers),
        "copied example": sum(any(t["instruction"] in example_instructions for t in parse(a)) for a in answers),
        "repeat in answer": sum(
            len({t["instruction"] for t in parse(a)}) < len(parse(a)) for a in answers
        ),
        "short": sum(any(t["instruction"] in SHORT_INSTRUCTIONS["en"] for t in parse(a)) for a in answers),
        "image": sum(any(t["instruction"] in IMAGE_INSTRUCTIONS["en"] for t in parse(a)) for a in answers),
    }
    for name, count in seen.items():
        assert 5 <= count <= 290, (name, count, seen)
    assert seen["chatty first line"] <= 60 and seen["bold labels"] <= 50


def test_max_tokens_cuts_with_finish_reason_length():
    with FakeOpenAIServer() as server:
        full = chat(server, seed=4, max_tokens=4096)
        cut = chat(server, seed=4, max_tokens=40)
        assert full.choices[0].finish_reason == "stop" and len(full.choices[0].message.content.split()) > 40
        assert cut.choices[0].finish_reason == "length"
        assert cut.usage.completion_tokens == 40 == len(cut.choices[0].message.content.split())
        assert full.choices[0].message.content.startswith(cut.choices[0].message.content)
        newer = chat(server, seed=4, max_completion_tokens=40)
        assert newer.choices[0].message.content == cut.choices[0].message.content
        # stop strings end the answer early, as a real server's do
        stopped = chat(server, seed=4, stop=["\n7."])
        assert stopped.choices[0].finish_reason == "stop"
        assert [task["number"] for task in parse(stopped.choices[0].message.content)] == [4, 5, 6]


def test_rate_limit_fault_carries_retry_after_and_clears_after_max_fault_attempts():
    with FakeOpenAIServer(faults={"429": 1.0}, retry_after="0.25", max_fault_attempts=2) as server:
        for _ in range(2):
            with pytest.raises(openai.RateLimitError) as caught:
                chat(server, seed=1)
            assert caught.value.status_code == 429
            assert caught.value.response.headers["Retry-After"] == "0.25"
            assert caught.value.code == "rate_limit_exceeded"
        assert chat(server, seed=1).choices[0].finish_reason == "stop"  # attempt index 2: no transient fault
        assert server.faults == {"429": 2} and server.requests == 3 and server.answered == 1
        # the client's own retries honour Retry-After and succeed
        response = client(server, max_retries=3).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "another body"}]
        )
        assert response.choices[0].message.content
        assert server.faults == {"429": 4} and server.answered == 2
        server.reset_counts()
        assert server.requests == 0 and not server.faults and not server.bodies
        with pytest.raises(openai.RateLimitError):  # the attempt counts were forgotten too
            chat(server, seed=1)


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_error_faults(kind):
    with FakeOpenAIServer(faults={kind: 1.0}, max_fault_attempts=1) as server:
        with pytest.raises(openai.InternalServerError) as caught:
            chat(server)
        assert caught.value.status_code == int(kind)
        assert chat(server).choices[0].message.content
        assert server.faults == {kind: 1}


def test_hang_fault_times_the_client_out_without_blocking_others_and_stop_is_prompt():
    server = FakeOpenAIServer(faults={"hang": 1.0}, hang_seconds=5.0, max_fault_attempts=1).start()
    try:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            chat(server, seed=1, timeout=0.3)
        assert time.monotonic() - started < 2.0
        # while that handler still hangs, a retry of the body (attempt 1: no fault) and /models answer at once
        started = time.monotonic()
        assert chat(server, seed=1).choices[0].message.content
        assert client(server).models.list().data
        assert time.monotonic() - started < 2.0
        with pytest.raises(openai.APITimeoutError):  # another body hangs too; stop() below must not wait for it
            chat(server, seed=2, timeout=0.3)
        assert server.faults == {"hang": 2} and server.answered == 1
    finally:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2.0


def test_malformed_fault_raises_json_decode_error():
    # The openai client parses a 200 application/json body with httpx's response.json(): a truncated body
    # surfaces as json.JSONDecodeError (a ValueError, not an openai.APIError), and the client does not retry it.
    with FakeOpenAIServer(faults={"malformed": 1.0}, max_fault_attempts=1) as server:
        with pytest.raises(json.JSONDecodeError):
            client(server, max_retries=3).chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": "hi"}]
            )
        assert server.requests == 1 and server.faults == {"malformed": 1} and server.answered == 0
        raw = httpx.post(server.base_url + "/chat/completions",
                         json={"model": "fake-model", "messages": [{"role": "user", "content": "raw"}]})
        assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/json")
        with pytest.raises(ValueError):
            raw.json()


def test_content_faults_are_a_pure_function_of_the_body():
    with FakeOpenAIServer() as clean, FakeOpenAIServer(faults={"length": 1.0}) as cut:
        full = chat(clean, seed=3).choices[0].message.content
        for _ in range(3):  # every attempt of the same body gets the same cut answer
            response = chat(cut, seed=3)
            assert response.choices[0].finish_reason == "length"
            content = response.choices[0].message.content
            assert full.startswith(content)
            assert len(content.split()) == (len(full.split()) + 1) // 2
        assert cut.faults == {"length": 3} and cut.answered == 3
    with FakeOpenAIServer(faults={"empty": 1.0}) as server:
        response = chat(server, seed=3)
        assert response.choices[0].message.content == "" and response.choices[0].finish_reason == "stop"
        assert response.usage.completion_tokens == 0
        assert server.faults == {"empty": 1} and server.answered == 1


FAULTS = {"429": 0.15, "500": 0.1, "503": 0.1, "malformed": 0.1, "length": 0.15, "empty": 0.1}


def run_until_answered(http: httpx.Client, base_url: str, body: dict) -> list:
    """POST `body` until a 200 with valid JSON; the outcome of every attempt."""
    outcomes: list = []
    while True:
        response = http.post(base_url + "/chat/completions", json=body)
        try:
            data = response.json()
        except ValueError:
            outcomes.append("malformed")
            continue
        if response.status_code != 200:
            outcomes.append(response.status_code)
            continue
        choice = data["choices"][0]
        outcomes.append((choice["finish_reason"], choice["message"]["content"]))
        return outcomes


def test_fault_sequence_is_deterministic_whatever_the_order_and_concurrency():
    bodies = [
        {"model": "fake-model", "messages": [{"role": "user", "content": self_instruct_prompt(last=6)}],
         "seed": i, "temperature": 1.0, "max_tokens": 300}
        for i in range(60)
    ]
    with FakeOpenAIServer(faults=FAULTS, seed=7) as first, FakeOpenAIServer(faults=FAULTS, seed=7) as second, \
            httpx.Client(timeout=10) as http:
        in_order = [run_until_answered(http, first.base_url, body) for body in bodies]
        shuffled = list(range(len(bodies)))
        random.Random(0).shuffle(shuffled)
        with ThreadPoolExecutor(8) as pool:  # one httpx.Client is safe to share between threads
            outcomes = pool.map(lambda i: run_until_answered(http, second.base_url, bodies[i]), shuffled)
            results = dict(zip(shuffled, outcomes))
        assert [results[i] for i in range(len(bodies))] == in_order
        assert first.faults == second.faults and first.bodies == second.bodies
        assert first.requests == second.requests == sum(len(outcomes) for outcomes in in_order)
        assert first.answered == second.answered == len(bodies)
        assert max(len(outcomes) for outcomes in in_order) <= 3  # max_fault_attempts=2 transient faults at most
        assert {"429", "500", "503", "malformed", "length", "empty"} <= set(first.faults)
    with FakeOpenAIServer(faults=FAULTS, seed=8) as reseeded, httpx.Client(timeout=10) as http:
        assert [run_until_answered(http, reseeded.base_url, body) for body in bodies] != in_order


def test_listens_on_127_0_0_1_only():
    assert HOST == "127.0.0.1"
    with FakeOpenAIServer() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass
        # a socket bound to 0.0.0.0 would also accept on 127.0.0.2 (all of 127/8 is loopback on Linux)
        others = ["127.0.0.2"]
        try:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it only picks the outgoing address
            others.append(probe.getsockname()[0])
            probe.close()
        except OSError:
            pass
        for address in others:
            if address.startswith("127.0.0.1"):
                continue
            with pytest.raises(OSError):
                socket.create_connection((address, server.port), timeout=1).close()
        with pytest.raises(OSError):  # nor on IPv6 loopback
            socket.create_connection(("::1", server.port), timeout=1).close()


def test_rejects_unknown_faults_and_impossible_rates():
    with pytest.raises(ValueError):
        FakeOpenAIServer(faults={"404": 0.5})
    with pytest.raises(ValueError):
        FakeOpenAIServer(faults={"429": 0.7, "500": 0.5})


def test_bad_requests_get_400():
    with FakeOpenAIServer() as server:
        assert httpx.post(server.base_url + "/chat/completions", content=b"{not json").status_code == 400
        assert httpx.post(server.base_url + "/chat/completions", json={"model": "m"}).status_code == 400
        assert server.requests == 2 and server.answered == 0


def test_main_serves_in_a_subprocess_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--port", "0", "--latency", "0", "--faults", "429=0,length=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"READY (http://127\.0\.0\.1:(\d+)/v1)\n", line)
        assert match, (line, process.poll())
        response = openai.OpenAI(base_url=match.group(1), api_key="test", max_retries=0).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": self_instruct_prompt()}], seed=1
        )
        assert [task["number"] for task in parse(response.choices[0].message.content)] == list(range(4, 13))
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=5)
        assert process.returncode == 0, stderr
        assert stdout == ""  # READY was the only line
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
