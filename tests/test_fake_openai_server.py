"""Tests of the fake OpenAI-compatible server (tests/fake_openai_server.py) as the openai client sees it."""

from __future__ import annotations

import csv
import gzip
import json
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
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
    JUDGE_FAILURE_TEXT,
    KIND_PAIRWISE,
    KIND_POINTWISE,
    KIND_POLICY,
    KIND_SELF_INSTRUCT,
    PAIRWISE_MARKER,
    POINTWISE_MARKER,
    SHORT_INSTRUCTIONS,
    FakeOpenAIServer,
    answer_quality,
    judge_score,
    load_tasks,
    route,
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
LABEL = re.compile(r"^\s*(?:\*\*)?(\d+)\.\s*(Instruction|Input|Output|지시문|입력|출력):(?:\*\*)?[ \t]*(.*)$")
KEYS = {
    "Instruction": "instruction",
    "지시문": "instruction",
    "Input": "input",
    "입력": "input",
    "Output": "output",
    "출력": "output",
}


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
        "repeat in answer": sum(len({t["instruction"] for t in parse(a)}) < len(parse(a)) for a in answers),
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
        raw = httpx.post(
            server.base_url + "/chat/completions",
            json={"model": "fake-model", "messages": [{"role": "user", "content": "raw"}]},
        )
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
        {
            "model": "fake-model",
            "messages": [{"role": "user", "content": self_instruct_prompt(last=6)}],
            "seed": i,
            "temperature": 1.0,
            "max_tokens": 300,
        }
        for i in range(60)
    ]
    with (
        FakeOpenAIServer(faults=FAULTS, seed=7) as first,
        FakeOpenAIServer(faults=FAULTS, seed=7) as second,
        httpx.Client(timeout=10) as http,
    ):
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
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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


# ---- routing: judges and policy ------------------------------------------------------------------

EGG_QUESTION = "How long should I boil an egg to get a soft, runny yolk?"
EGG_HELPFUL = (
    "For a soft, runny yolk, lower the egg into boiling water and boil it for about six to seven minutes, then "
    "move it straight into ice water for a minute so it stops cooking. If you like the white a little firmer, go "
    "for seven and a half minutes. I hope this helps, and enjoy your breakfast!"
)
EGG_DISMISSIVE = "Just look that up yourself. I don't know."


def pointwise_prompt(answer: str, question: str = EGG_QUESTION) -> str:
    return (
        "[[curate-judge:pointwise]]\nRate how helpful the answer is to the question on a scale of 1 to 10. "
        'Reply with JSON: {"rationale": "<one sentence>", "score": <1-10>}.\n'
        f"<question>{question}</question>\n<answer>{answer}</answer>"
    )


def pairwise_prompt(answer_a: str, answer_b: str, question: str = EGG_QUESTION) -> str:
    return (
        "[[curate-judge:pairwise]]\nWhich answer to the question is more helpful? "
        'Reply with JSON: {"rationale": "<one sentence>", "winner": "A" | "B" | "tie"}.\n'
        f"<question>{question}</question>\n<answer_a>{answer_a}</answer_a>\n<answer_b>{answer_b}</answer_b>"
    )


def judge_json(text: str) -> dict | None:
    """The JSON object of a judge reply, fenced or not; None when there is none."""
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*)\n```", text.strip(), re.DOTALL)
    try:
        value = json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_score(text: str) -> int | None:
    """The score of a pointwise reply in any of its layouts (an independent parser, not the server's)."""
    value = judge_json(text)
    if value is not None:
        return value.get("score")
    match = re.search(r"^Score:\s*(\d+)\s*$", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def answer_of(api: openai.OpenAI, prompt: str, seed: int = 0, **kwargs) -> str:
    """The content of one answer to `prompt`, through a client made once per server (faster than `chat`)."""
    return (
        api.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": prompt}], seed=seed, temperature=0.7, **kwargs
        )
        .choices[0]
        .message.content
    )


def hh_finals(path: Path) -> tuple[set[str], dict[str, set[str]]]:
    """(every final Assistant turn, finals by Human turn) of the hh-rlhf file, parsed here independently."""
    finals: set[str] = set()
    by_turn: dict[str, set[str]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            ends = {row[column].rsplit("\n\nAssistant:", 1)[1].strip() for column in ("chosen", "rejected")} - {""}
            finals |= ends
            for chunk in row["chosen"].split("\n\nHuman:")[1:]:
                by_turn.setdefault(chunk.split("\n\nAssistant:")[0].strip(), set()).update(ends)
    return finals, by_turn


def test_route_picks_each_kind_by_its_markers():
    user = lambda text: {"role": "user", "content": text}  # noqa: E731
    assert route([user(self_instruct_prompt())]) == KIND_SELF_INSTRUCT
    assert route([user(self_instruct_prompt(KO_EXAMPLES, korean=True))]) == KIND_SELF_INSTRUCT
    assert route([user(pointwise_prompt(EGG_HELPFUL))]) == KIND_POINTWISE
    assert route([user(pairwise_prompt(EGG_HELPFUL, EGG_DISMISSIVE))]) == KIND_PAIRWISE
    assert route([user(EGG_QUESTION)]) == KIND_POLICY
    assert route([user("Write tasks 1 to 3 about cooking.")]) == KIND_POLICY  # no numbered examples
    # the pointwise marker may sit anywhere, the words "score" and "rationale" in a system message
    system = {"role": "system", "content": 'Judge answers. Reply {"rationale": ..., "score": 1-10}.'}
    marked = {"role": "system", "content": POINTWISE_MARKER}
    assert route([system, user(f"<answer>{EGG_HELPFUL}</answer>")]) == KIND_POLICY  # no marker
    assert route([system, marked, user(f"<answer>{EGG_HELPFUL}</answer>")]) == KIND_POINTWISE
    assert route([marked, user(f"Rate this. <answer>{EGG_HELPFUL}</answer>")]) == KIND_POLICY  # no score words
    assert route([{"role": "system", "content": PAIRWISE_MARKER}, user("<answer_a>x</answer_a>")]) == KIND_PAIRWISE
    # a judged answer that quotes self-instruct tasks is still judged
    assert route([user(pointwise_prompt(self_instruct_prompt()))]) == KIND_POINTWISE
    with FakeOpenAIServer() as server:
        api_server = client(server, timeout=10.0)
        for prompt in (
            self_instruct_prompt(),
            pointwise_prompt(EGG_HELPFUL),
            pointwise_prompt(EGG_DISMISSIVE),
            pairwise_prompt(EGG_HELPFUL, EGG_DISMISSIVE),
            EGG_QUESTION,
        ):
            assert answer_of(api_server, prompt, seed=0)
        assert server.kinds == {KIND_SELF_INSTRUCT: 1, KIND_POINTWISE: 2, KIND_PAIRWISE: 1, KIND_POLICY: 1}
        assert sum(server.kinds.values()) == server.answered
        server.reset_counts()
        assert not server.kinds


def test_pointwise_judge_scores_a_helpful_answer_above_a_dismissive_one():
    layouts = Counter()
    with FakeOpenAIServer() as server:
        api_server = client(server, timeout=10.0)
        for seed in range(40):
            replies = [
                answer_of(api_server, pointwise_prompt(answer), seed=seed) for answer in (EGG_HELPFUL, EGG_DISMISSIVE)
            ]
            helpful, dismissive = (parse_score(reply) for reply in replies)
            assert 1 <= dismissive < helpful <= 10, (seed, replies)
            assert helpful >= 7 and dismissive <= 3
            for reply in replies:
                value = judge_json(reply)
                if reply.startswith("```json\n"):
                    layouts["fenced"] += 1
                elif value is not None:
                    layouts["json"] += 1
                    assert list(value) == ["rationale", "score"] and value["rationale"]
                else:
                    layouts["prose"] += 1
                    assert re.search(r"\nScore: \d+$", reply)
        again = answer_of(api_server, pointwise_prompt(EGG_HELPFUL), seed=3)
        assert again == answer_of(api_server, pointwise_prompt(EGG_HELPFUL), seed=3)
    assert layouts["json"] > layouts["fenced"] > 0 and layouts["prose"] > 0, layouts
    # the jitter is small: the score stays within a point and a half of the unjittered quality
    for seed in range(20):
        score = judge_score(EGG_HELPFUL, EGG_QUESTION, stable_rng(seed).uniform(-0.75, 0.75))
        assert abs(score - answer_quality(EGG_HELPFUL, EGG_QUESTION)) <= 1.5
    assert judge_score("", EGG_QUESTION) == 1


def test_judge_failure_rate_one_gives_no_score_and_no_winner():
    with FakeOpenAIServer(judge_failure_rate=1.0) as server:
        api_server = client(server, timeout=10.0)
        for seed in range(5):
            reply = answer_of(api_server, pointwise_prompt(EGG_HELPFUL), seed=seed)
            assert reply == JUDGE_FAILURE_TEXT and parse_score(reply) is None and not re.search(r"\d", reply)
            reply = answer_of(api_server, pairwise_prompt(EGG_HELPFUL, EGG_DISMISSIVE), seed=seed)
            assert reply == JUDGE_FAILURE_TEXT and judge_json(reply) is None
        assert answer_of(api_server, EGG_QUESTION) != JUDGE_FAILURE_TEXT  # policy unaffected
    with FakeOpenAIServer(judge_failure_rate=0.3) as server:
        api_server = client(server, timeout=10.0)
        failed = sum(
            parse_score(answer_of(api_server, pointwise_prompt(EGG_HELPFUL), seed=seed)) is None for seed in range(60)
        )
        assert 6 <= failed <= 35
    with pytest.raises(ValueError):
        FakeOpenAIServer(judge_failure_rate=1.5)
    with pytest.raises(ValueError):
        FakeOpenAIServer(position_bias=-0.1)


def test_pairwise_judge_picks_the_higher_scored_answer_and_position_bias_says_a():
    with FakeOpenAIServer() as server:
        api_server = client(server, timeout=10.0)
        for seed in range(10):
            forward = judge_json(answer_of(api_server, pairwise_prompt(EGG_HELPFUL, EGG_DISMISSIVE), seed=seed))
            backward = judge_json(answer_of(api_server, pairwise_prompt(EGG_DISMISSIVE, EGG_HELPFUL), seed=seed))
            same = judge_json(answer_of(api_server, pairwise_prompt(EGG_HELPFUL, EGG_HELPFUL), seed=seed))
            assert list(forward) == ["rationale", "winner"] and forward["rationale"]
            assert (forward["winner"], backward["winner"], same["winner"]) == ("A", "B", "tie")
    with FakeOpenAIServer(position_bias=1.0) as biased:
        api_biased = client(biased, timeout=10.0)
        for seed in range(10):
            reply = answer_of(api_biased, pairwise_prompt(EGG_DISMISSIVE, EGG_HELPFUL), seed=seed)
            assert judge_json(reply)["winner"] == "A"
    with FakeOpenAIServer(position_bias=0.5) as half:
        api_half = client(half, timeout=10.0)
        replies = [answer_of(api_half, pairwise_prompt(EGG_DISMISSIVE, EGG_HELPFUL), seed=seed) for seed in range(60)]
        winners = Counter(judge_json(reply)["winner"] for reply in replies)
        assert set(winners) == {"A", "B"} and 15 <= winners["A"] <= 45


def test_policy_answers_are_deterministic_per_body_and_differ_across_seeds():
    prompt = "What is a good way to start learning to cook at home?"
    with FakeOpenAIServer() as server, FakeOpenAIServer() as other:
        api_server = client(server, timeout=10.0)
        api_other = client(other, timeout=10.0)
        answers = [answer_of(api_server, prompt, seed=seed) for seed in range(8)]
        assert answers == [answer_of(api_other, prompt, seed=seed) for seed in range(8)]
        assert answer_of(api_server, prompt, seed=0) == answers[0]  # a second attempt
        assert len(set(answers)) >= 3 and all(answer.strip() for answer in answers)  # 8 built-in ones at least
        assert server.kinds == {KIND_POLICY: 9} and other.kinds == {KIND_POLICY: 8}
        # max_tokens and stop cut a policy answer as they cut the others; content faults apply too
        full = max(answers, key=lambda answer: len(answer.split()))
        seed = answers.index(full)
        cut = chat(server, prompt, seed=seed, max_tokens=3)
        assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 3
        assert full.startswith(cut.choices[0].message.content)
    with FakeOpenAIServer(faults={"empty": 1.0}) as server:
        api_server = client(server, timeout=10.0)
        assert answer_of(api_server, prompt) == ""
    with FakeOpenAIServer(faults={"429": 1.0}, max_fault_attempts=1) as server:
        api_server = client(server, timeout=10.0)
        with pytest.raises(openai.RateLimitError):
            answer_of(api_server, pointwise_prompt(EGG_HELPFUL))
        assert parse_score(answer_of(api_server, pointwise_prompt(EGG_HELPFUL)))  # the retry of the same body
        assert server.kinds == {KIND_POINTWISE: 1} and server.faults == {"429": 1}


def test_policy_answers_come_from_hh_rlhf(shared_data):
    finals, by_turn = hh_finals(shared_data / "preferences" / "hh_rlhf_harmless_base_test.jsonl.gz")
    assert len(finals) > 4000
    with FakeOpenAIServer(data_dir=shared_data) as server:
        api_server = client(server, timeout=10.0)
        answers = [answer_of(api_server, "Can you help me plan a birthday party?", seed=seed) for seed in range(10)]
        assert all(answer in finals for answer in answers)
        turn = next(turn for turn, ends in by_turn.items() if len(turn.split()) > 4 and len(ends) >= 2)
        matched = [answer_of(api_server, turn, seed=seed) for seed in range(20)]
        assert all(answer in finals for answer in matched)
        assert sum(answer in by_turn[turn] for answer in matched) >= 12  # on-topic when the turn is known
        # a multi-turn conversation: the last user message decides
        conversation = [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": turn},
        ]
        response = api_server.chat.completions.create(model="fake-model", messages=conversation, seed=1)
        assert response.choices[0].message.content in finals


def test_korean_prompt_gets_a_korean_answer(shared_data):
    hangul = re.compile(r"[\uac00-\ud7a3]")
    with FakeOpenAIServer() as server:  # the default folder, or the built-in answers when it is absent
        api_server = client(server, timeout=10.0)
        for seed in range(5):
            assert hangul.search(answer_of(api_server, "요즘 잠이 잘 안 와요", seed=seed))
    with (shared_data / "korean" / "chatbot_qa.ko.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    answers = {row["A"].strip() for row in rows}
    question = rows[0]["Q"].strip()
    on_topic = {row["A"].strip() for row in rows if row["Q"].strip() == question}
    with FakeOpenAIServer(data_dir=shared_data) as server:
        api_server = client(server, timeout=10.0)
        replies = [answer_of(api_server, question, seed=seed) for seed in range(20)]
        assert all(reply in answers and hangul.search(reply) for reply in replies)
        assert sum(reply in on_topic for reply in replies) >= 12


def test_policy_falls_back_to_built_in_answers_without_the_default_data(monkeypatch, tmp_path):
    import tests.fake_openai_server as fake

    monkeypatch.setattr(fake, "DEFAULT_DATA_DIR", tmp_path / "absent")
    pools = fake.load_policy_answers()
    assert pools.en == tuple(fake.FALLBACK_POLICY["en"]) and pools.ko == tuple(fake.FALLBACK_POLICY["ko"])
    assert fake.policy_answer(EGG_QUESTION, pools, stable_rng(0)) in fake.FALLBACK_POLICY["en"]
    assert fake.policy_answer("배고파요", pools, stable_rng(0)) in fake.FALLBACK_POLICY["ko"]
    with pytest.raises(FileNotFoundError):  # an explicit folder must hold the files
        fake.load_policy_answers(tmp_path)


def test_judges_read_a_conversation_block_and_answer_to_grade():
    def pointwise(answer: str) -> str:
        return (
            f"{POINTWISE_MARKER}\nGrade ONE answer.\n<conversation>\n<system>\nBe brief.\n</system>\n"
            f"<user>\n{EGG_QUESTION}\n</user>\n</conversation>\n<answer_to_grade>\n{answer}\n</answer_to_grade>\n"
            'Reply with ONLY {"rationale": "<reasoning>", "score": <an integer from 1 to 10>}'
        )

    assert route([{"role": "user", "content": pointwise(EGG_HELPFUL)}]) == KIND_POINTWISE
    with FakeOpenAIServer() as server:
        api_server = client(server, timeout=10.0)
        for seed in range(10):
            helpful = parse_score(answer_of(api_server, pointwise(EGG_HELPFUL), seed=seed))
            dismissive = parse_score(answer_of(api_server, pointwise(EGG_DISMISSIVE), seed=seed))
            assert 1 <= dismissive < helpful <= 10
            pair = (
                f"{PAIRWISE_MARKER}\n<conversation>\n<user>\n{EGG_QUESTION}\n</user>\n</conversation>\n"
                f"<answer_a>\n{EGG_DISMISSIVE}\n</answer_a>\n<answer_b>\n{EGG_HELPFUL}\n</answer_b>"
            )
            assert judge_json(answer_of(api_server, pair, seed=seed))["winner"] == "B"
