"""A realistic, deterministic OpenAI-compatible HTTP server for tests and benchmarks.

`FakeOpenAIServer` serves `GET /v1/models` and `POST /v1/chat/completions` on 127.0.0.1
(never any other interface) from an aiohttp app running in its own event loop on a daemon
thread. Run as a script it serves in the foreground of its own process (for benchmarks, so
the server does not share the client's GIL)::

    python tests/fake_openai_server.py [--port 0] [--latency 0] [--faults 429=0.1,500=0.05]
        [--judge-failure-rate 0] [--position-bias 0]

prints exactly one line ``READY http://127.0.0.1:PORT/v1`` when listening and stops on
SIGTERM/SIGINT.

Routing
-------
Each request is routed by what it asks, from its messages only, in this order (the first rule
that holds wins; the routed kind is counted in ``kinds``):

1. **pointwise judge** (``"pointwise"``): the literal marker ``[[curate-judge:pointwise]]``
   appears in any message, or curate's rubric tag ``<answer_to_grade>`` in the last user or a
   system message, AND the words ``score`` and ``rationale`` (case-insensitive, whole
   words) both appear there;
2. **pairwise judge** (``"pairwise"``): the literal marker ``[[curate-judge:pairwise]]``
   appears in any message, or curate's pairwise tags ``<answer_a>`` and ``<answer_b>`` with
   the word ``winner``;
3. **self-instruct** (``"self-instruct"``): the last user message contains a numbered example
   line ``N. Instruction:`` / ``N. 지시문:`` (bold labels allowed);
4. **policy** (``"policy"``): everything else.

The judge markers come first so that a judged answer quoting self-instruct tasks is still
judged. A pointwise marker without both words falls through to the later rules.

Self-instruct answers
---------------------
The server finds the highest ``N. Instruction:`` (or ``N. 지시문:``) in the last user message
and answers with tasks N+1, N+2, ... up to B when the prompt says "tasks A to B" /
"A번부터 B번까지" (else 10 tasks). Tasks are drawn from
``shared/data/instructions/alpaca_5000.json`` (English) or
``user_oriented_instructions.ko.jsonl`` (when the last user message contains Hangul), with the
variety a real model shows, each chosen by a seeded RNG: a chatty first line, an inline or
missing input line, markdown bold labels, a repeated task (from the same answer or copied
from the prompt's examples), a 2-3 word or image/graph/drawing instruction, trailing chatter.

Judges
------
The judged texts sit between tags in the last user message (else anywhere in the
conversation; an absent tag reads as an empty answer): ``<answer>...</answer>`` (pointwise;
``<answer_to_grade>...</answer_to_grade>`` is read when there is no ``<answer>``),
``<answer_a>...</answer_a>`` and ``<answer_b>...</answer_b>`` (pairwise); the last pair of a
tag wins. The question is the text of ``<question>...</question>`` (or ``<prompt>``) when
present, else the last ``<user>...</user>`` inside ``<conversation>...</conversation>`` (the
whole conversation when it has none), else the last user message less its answers and
markers. A judge's opinion of an
answer (``answer_quality``, about 0..9.5) is 2 plus: length (up to 3, log of the words,
full at 60), on-topic (up to 3, the share of the question's content words the answer uses),
politeness (0.6 a phrase such as "please", "I hope", "glad", "feel free", up to 1.5), minus
2.5 a dismissive phrase ("look that up yourself", "I don't know", "no idea", "google it",
a sentence starting "Just ", ..., down to -5) and 2 a rude word; an empty answer is 0. The
score (``judge_score``) is that plus a uniform jitter in [-0.75, 0.75] seeded by the request
(messages, sampling fields, choice index, server seed) and the answer text, rounded and
clamped to 1..10; identical answers in one request therefore get the same score.

* pointwise: ``{"rationale": "...", "score": 7}`` (rationale first, digit-free); with
  probability 0.15 the same JSON fenced in a markdown json code block (three backticks and
  ``json`` on the line before, three backticks on the line after), with probability 0.15
  prose: the rationale, a line break, then ``Score: 7``;
* pairwise: ``{"rationale": "...", "winner": "A"|"B"|"tie"}``, the answer with the higher
  score, "tie" when the two scores are equal; with probability ``position_bias`` the winner
  is "A" whatever the answers (a judge biased to the first position);
* with probability ``judge_failure_rate`` either judge replies ``I cannot judge this.`` (no
  score, no winner, no digit).

Each of these draws uses an RNG seeded from the request's content key and the server seed.

Policy answers
--------------
A real assistant turn: the final Assistant turn of a ``chosen`` or ``rejected`` transcript of
``shared/data/preferences/hh_rlhf_harmless_base_test.jsonl.gz`` or, when the last user
message contains Hangul, an ``A`` of ``shared/data/korean/chatbot_qa.ko.csv``; both files are
loaded once per folder, on the first policy request. When the last user message equals
(stripped) a Human turn of some transcript (a ``Q`` of the CSV), the answer is one of those
transcripts' finals (those rows' answers) with probability 0.8, else one of the whole pool.
Built-in answers stand in when the default data folder lacks the files (an explicit
``data_dir`` must hold them).

Cutting
-------
Every kind of answer text is a pure function of the request's messages and sampling fields
(temperature, top_p, seed, n, penalties) and the server ``seed`` (plus the server's
``judge_failure_rate`` and ``position_bias`` for judges); ``max_tokens`` (or
``max_completion_tokens``) and ``stop`` only cut it, as they would a real model's: ``stop``
strings end it early (finish_reason "stop"), and more than ``max_tokens`` whitespace words
cut it at ``max_tokens`` words (finish_reason "length"). Token counts are whitespace words.

Fault model
-----------
``faults`` maps a kind to a probability per request attempt:

* transient: ``"429"`` (with ``Retry-After: <retry_after>``), ``"500"``, ``"503"`` (OpenAI
  error JSON), ``"hang"`` (sleep ``hang_seconds`` without blocking other requests, then answer
  normally), ``"malformed"`` (200, application/json, truncated JSON);
* content: ``"length"`` (a 200 answer cut at about half its words, finish_reason "length"),
  ``"empty"`` (a 200 answer with content "" and finish_reason "stop").

The server counts how many times each canonical body (``json.dumps(sort_keys=True)``) was
received; the attempt index ``a`` of a request is that count before it (0, 1, 2, ...). While
``a < max_fault_attempts`` one transient kind is drawn with ``random.Random`` seeded from
sha256(body, a, server seed): a single uniform number falls in one of the cumulative bins
429, 500, 503, hang, malformed (so each kind has exactly its probability) or in none. From
attempt ``max_fault_attempts`` on, no transient fault is drawn, so every request succeeds
after enough retries. Content faults are drawn the same way from sha256(body, server seed)
only, bins length then empty: the same body always gets the same content fault at every
attempt, so an answer stays a pure function of the body. The whole fault sequence is thus
deterministic whatever the arrival order or concurrency; only ``reset_counts()`` (which also
forgets the attempt counts) changes it. A transient fault replaces the answer; otherwise the
content fault (if any) applies. ``latency`` delays every chat-completion response.

Counters (read from any thread): ``requests`` (chat-completion POSTs received), ``answered``
(200 answers with valid JSON, content faults included; a hung answer whose client has gone
is not counted), ``faults`` (Counter kind -> injected count), ``bodies`` (Counter canonical
body -> times received), ``kinds`` (Counter routed kind -> requests answered, counted as
``answered`` is), ``models_requests``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import hashlib
import json
import math
import random
import re
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiohttp import web

HOST = "127.0.0.1"  # hard-coded: the fake server never listens on any other interface
TRANSIENT_FAULTS = ("429", "500", "503", "hang", "malformed")
CONTENT_FAULTS = ("length", "empty")
FAULT_KINDS = TRANSIENT_FAULTS + CONTENT_FAULTS
CREATED = 1_700_000_000  # fixed, so a whole answer is a pure function of the body

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ALPACA_FILE = Path("instructions") / "alpaca_5000.json"
KOREAN_FILE = Path("instructions") / "user_oriented_instructions.ko.jsonl"

# sampling fields that change what a model writes (max_tokens and stop only cut the text)
CONTENT_FIELDS = ("temperature", "top_p", "seed", "n", "presence_penalty", "frequency_penalty", "logit_bias")

HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
TASK_NUMBER = re.compile(
    r"^[ \t]*(?:\*\*)?[ \t]*(\d+)[ \t]*\.[ \t]*(?:Instruction|지시문)[ \t]*:", re.MULTILINE | re.IGNORECASE
)
TASK_RANGE = re.compile(r"(\d+)\s*(?:번\s*)?(?:to|부터)\s*(\d+)", re.IGNORECASE)
LABEL_LINE = re.compile(
    r"^[ \t]*(?:\*\*)?[ \t]*(\d+)[ \t]*\.[ \t]*(Instruction|Input|Output|지시문|입력|출력)[ \t]*:(?:\*\*)?[ \t]*(.*)$",
    re.IGNORECASE,
)
WORD = re.compile(r"\S+")
MAX_TASKS = 100

LABELS = {
    "en": {"instruction": "Instruction", "input": "Input", "output": "Output"},
    "ko": {"instruction": "지시문", "input": "입력", "output": "출력"},
}
LABEL_KEYS = {
    "instruction": "instruction",
    "지시문": "instruction",
    "input": "input",
    "입력": "input",
    "output": "output",
    "출력": "output",
}
CHATTY_FIRST = {
    "en": [
        "Sure! Here are more tasks:",
        "Here are some more diverse tasks:",
        "Certainly. Continuing the list:",
        "Of course! Here are additional task instructions:",
    ],
    "ko": [
        "네! 추가 작업은 다음과 같습니다:",
        "물론입니다. 목록을 이어서 작성하겠습니다:",
        "다음은 더 다양한 작업입니다:",
    ],
}
CHATTY_LAST = {
    "en": [
        "Let me know if you would like more tasks!",
        "I hope these tasks are helpful.",
        "Feel free to ask for more examples.",
    ],
    "ko": ["더 필요하시면 말씀해 주세요!", "도움이 되었으면 좋겠습니다.", "추가 작업이 필요하면 알려 주세요."],
}
SHORT_INSTRUCTIONS = {
    "en": [
        "Write a poem.",
        "Summarize this.",
        "Tell a joke.",
        "Name animals.",
        "Define love.",
        "Sort these.",
        "Explain gravity.",
    ],
    "ko": ["시를 쓰세요.", "이것을 요약하세요.", "농담을 해 주세요.", "사랑을 정의하세요.", "숫자 정렬."],
}
IMAGE_INSTRUCTIONS = {
    "en": [
        "Describe the image below.",
        "Draw a picture of a cat sitting on a windowsill.",
        "Look at the graph and explain the trend it shows.",
        "Create a drawing that represents happiness.",
        "Describe what is happening in this photo.",
        "Sketch a diagram of the water cycle.",
    ],
    "ko": [
        "아래 이미지를 설명하세요.",
        "창가에 앉은 고양이 그림을 그려 주세요.",
        "그래프를 보고 추세를 설명하세요.",
        "행복을 표현하는 그림을 그리세요.",
        "이 사진에서 무슨 일이 일어나고 있는지 설명하세요.",
    ],
}

# rates of each variety, chosen by the seeded RNG
RATE_CHATTY_FIRST = 0.10  # per answer
RATE_BOLD = 0.07  # per answer: every label of the answer in **bold**
RATE_TRAILING = 0.08  # per answer
RATE_INLINE_INPUT = 0.08  # per task
RATE_MISSING_INPUT = 0.06  # per task without input
RATE_REPEAT = 0.08  # per task
RATE_SHORT = 0.05  # per task
RATE_IMAGE = 0.05  # per task

# used only when the default data folder is absent (an explicit data_dir must exist)
FALLBACK_TASKS = {
    "en": [
        {
            "instruction": "Give three tips for staying healthy.",
            "input": "",
            "output": "1. Eat a balanced diet.\n2. Exercise regularly.\n3. Get enough sleep.",
        },
        {
            "instruction": "Translate the sentence into French.",
            "input": "Where is the library?",
            "output": "Où est la bibliothèque ?",
        },
        {
            "instruction": "Classify the sentiment of the review as positive or negative.",
            "input": "The food was cold and the service was slow.",
            "output": "Negative",
        },
        {"instruction": "Name the capital of Australia.", "input": "", "output": "Canberra"},
        {
            "instruction": "Rewrite the sentence in the passive voice.",
            "input": "The cat chased the mouse.",
            "output": "The mouse was chased by the cat.",
        },
        {"instruction": "Suggest a name for a coffee shop.", "input": "", "output": "The Daily Grind"},
        {"instruction": "Find the sum of the numbers.", "input": "4, 8, 15", "output": "27"},
        {
            "instruction": "Explain what photosynthesis is in one sentence.",
            "input": "",
            "output": "Photosynthesis is how plants turn light, water and carbon dioxide into sugar and oxygen.",
        },
        {
            "instruction": "Generate a haiku about autumn.",
            "input": "",
            "output": "Crisp leaves drift and fall\nGolden light on quiet paths\nThe year exhales slow",
        },
        {
            "instruction": "Correct the grammar of the sentence.",
            "input": "She don't like apples.",
            "output": "She doesn't like apples.",
        },
        {
            "instruction": "List four primary colors used in printing.",
            "input": "",
            "output": "Cyan, magenta, yellow and black.",
        },
        {"instruction": "Convert the temperature from Celsius to Fahrenheit.", "input": "25°C", "output": "77°F"},
    ],
    "ko": [
        {
            "instruction": "건강을 유지하기 위한 세 가지 팁을 알려주세요.",
            "input": "",
            "output": "1. 균형 잡힌 식사를 하세요.\n2. 규칙적으로 운동하세요.\n3. 충분히 주무세요.",
        },
        {
            "instruction": "다음 문장을 영어로 번역하세요.",
            "input": "도서관이 어디에 있나요?",
            "output": "Where is the library?",
        },
        {
            "instruction": "리뷰의 감정을 긍정 또는 부정으로 분류하세요.",
            "input": "음식이 차갑고 서비스가 느렸습니다.",
            "output": "부정",
        },
        {"instruction": "호주의 수도는 어디인가요?", "input": "", "output": "캔버라"},
        {"instruction": "커피숍 이름을 제안해 주세요.", "input": "", "output": "하루 한 잔"},
        {"instruction": "다음 숫자의 합을 구하세요.", "input": "4, 8, 15", "output": "27"},
        {
            "instruction": "가을에 관한 짧은 시를 쓰세요.",
            "input": "",
            "output": "낙엽이 지고\n노을이 물드는 길\n한 해가 숨을 고른다",
        },
        {
            "instruction": "문장의 맞춤법을 고치세요.",
            "input": "어의없는 일이 생겼다.",
            "output": "어이없는 일이 생겼다.",
        },
    ],
}

_DATA_CACHE: dict[Path, dict[str, list[dict[str, str]]]] = {}
_DATA_LOCK = threading.Lock()


def _load_once(cache: dict, data_dir: Path | None, names: tuple[str, str], fallback: Callable, read: Callable):
    """`read(*files)` of the two named files of a data folder, once per folder; `fallback()`
    when the default folder lacks them (an explicit folder that lacks them is an error)."""
    explicit = data_dir is not None
    folder = Path(data_dir).resolve() if explicit else DEFAULT_DATA_DIR
    with _DATA_LOCK:
        if folder not in cache:
            files = [folder / name for name in names]
            if all(path.is_file() for path in files):
                cache[folder] = read(*files)
            elif explicit:
                raise FileNotFoundError(f"{folder} lacks {names[0]} or {names[1]}")
            else:
                cache[folder] = fallback()
        return cache[folder]


def load_tasks(data_dir: Path | None = None) -> dict[str, list[dict[str, str]]]:
    """The task pools {"en": [...], "ko": [...]} of (instruction, input, output) dicts, loaded once per folder."""
    return _load_once(_DATA_CACHE, data_dir, (ALPACA_FILE, KOREAN_FILE), lambda: FALLBACK_TASKS, _read_tasks)


def _read_tasks(alpaca: Path, korean: Path) -> dict[str, list[dict[str, str]]]:
    english = [
        {
            "instruction": str(row["instruction"]).strip(),
            "input": str(row.get("input") or "").strip(),
            "output": str(row.get("output") or "").strip(),
        }
        for row in json.loads(alpaca.read_text(encoding="utf-8"))
    ]
    ko: list[dict[str, str]] = []
    for line in korean.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        for instance in row.get("instances") or [{}]:
            ko.append(
                {
                    "instruction": str(row["instruction"]).strip(),
                    "input": str(instance.get("input") or "").strip(),
                    "output": str(instance.get("output") or "").strip(),
                }
            )
    return {
        "en": [t for t in english if t["instruction"] and t["output"]],
        "ko": [t for t in ko if t["instruction"] and t["output"]],
    }


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def stable_rng(*parts: Any) -> random.Random:
    """A random.Random seeded from sha256 of the parts (never Python's salted hash())."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def message_text(message: Any) -> str:
    """The text of a chat message whose content is a string or a list of text parts."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", part.get("value", ""))) for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return message_text(messages[-1]) if messages else ""


def parse_tasks(text: str) -> list[dict[str, Any]]:
    """Numbered tasks in self-instruct text: [{number, instruction, input, output}] in order of appearance.

    Tolerates bold labels, inline or missing input lines, Korean labels; a label's value runs
    to the next label line or ``###`` line.
    """
    tasks: dict[int, dict[str, Any]] = {}
    current: tuple[int, str] | None = None
    for line in text.splitlines():
        match = LABEL_LINE.match(line)
        if match:
            number, key = int(match.group(1)), LABEL_KEYS[match.group(2).lower()]
            task = tasks.setdefault(number, {"number": number})
            task[key] = [match.group(3)] if match.group(3).strip() else []
            current = (number, key)
        elif line.strip() == "###":
            current = None
        elif current is not None:
            tasks[current[0]][current[1]].append(line)
    result = []
    for task in tasks.values():
        done: dict[str, Any] = {"number": task["number"]}
        for key in ("instruction", "input", "output"):
            done[key] = "\n".join(task.get(key, [])).strip()
        if done["input"] == "<noinput>":
            done["input"] = ""
        result.append(done)
    return result


def task_range(prompt: str, highest: int) -> tuple[int, int]:
    """(first, last) task numbers to write after the prompt's highest task number."""
    first = highest + 1
    header = re.split(r"^\s*###\s*$|" + TASK_NUMBER.pattern, prompt, maxsplit=1, flags=re.MULTILINE | re.IGNORECASE)[0]
    for match in TASK_RANGE.finditer(header):
        if int(match.group(2)) >= first:
            return first, min(int(match.group(2)), highest + MAX_TASKS)
    for match in TASK_RANGE.finditer(prompt):  # elsewhere only a range that starts right after the examples
        if int(match.group(1)) == first and int(match.group(2)) >= first:
            return first, min(int(match.group(2)), highest + MAX_TASKS)
    return first, highest + 10


def self_instruct_answer(prompt: str, pools: dict[str, list[dict[str, str]]], rng: random.Random) -> str:
    """A self-instruct continuation of `prompt` drawn with `rng` (see the module docstring)."""
    lang = "ko" if HANGUL.search(prompt) else "en"
    numbers = [int(n) for n in TASK_NUMBER.findall(prompt)]
    first, last = task_range(prompt, max(numbers, default=0))
    count = last - first + 1
    pool = pools[lang]
    drawn = rng.sample(pool, count) if count <= len(pool) else [rng.choice(pool) for _ in range(count)]
    examples = [t for t in parse_tasks(prompt) if t["instruction"]]
    labels = LABELS[lang]
    bold = rng.random() < RATE_BOLD

    def label(number: int, key: str) -> str:
        text = f"{number}. {labels[key]}:"
        return f"**{text}**" if bold else text

    lines: list[str] = []
    if rng.random() < RATE_CHATTY_FIRST:
        lines += [rng.choice(CHATTY_FIRST[lang]), ""]
    written: list[dict[str, str]] = []
    for offset, base in enumerate(drawn):
        number = first + offset
        task = dict(base)
        roll = rng.random()
        if roll < RATE_REPEAT:
            sources = [written, examples] if rng.random() < 0.5 else [examples, written]
            source = next((s for s in sources if s), None)
            if source is not None:
                picked = rng.choice(source)
                task = {key: picked.get(key, "") for key in ("instruction", "input", "output")}
        elif roll < RATE_REPEAT + RATE_SHORT:
            task["instruction"] = rng.choice(SHORT_INSTRUCTIONS[lang])
        elif roll < RATE_REPEAT + RATE_SHORT + RATE_IMAGE:
            task["instruction"] = rng.choice(IMAGE_INSTRUCTIONS[lang])
        written.append(task)
        lines += ["###", f"{label(number, 'instruction')} {task['instruction']}"]
        shown_input = task["input"] or "<noinput>"
        style = rng.random()
        if not task["input"] and style < RATE_MISSING_INPUT:
            pass  # the input line is missing entirely
        elif style < RATE_MISSING_INPUT + RATE_INLINE_INPUT:
            lines.append(f"{label(number, 'input')} {shown_input}")
        else:
            lines += [label(number, "input"), shown_input]
        lines += [label(number, "output"), task["output"]]
    if rng.random() < RATE_TRAILING:
        lines += ["", rng.choice(CHATTY_LAST[lang])]
    return "\n".join(lines)


# ---- routing ---------------------------------------------------------------------------------
KIND_SELF_INSTRUCT = "self-instruct"
KIND_POINTWISE = "pointwise"
KIND_PAIRWISE = "pairwise"
KIND_POLICY = "policy"
KINDS = (KIND_SELF_INSTRUCT, KIND_POINTWISE, KIND_PAIRWISE, KIND_POLICY)
POINTWISE_MARKER = "[[curate-judge:pointwise]]"
PAIRWISE_MARKER = "[[curate-judge:pairwise]]"
SCORE_WORD = re.compile(r"\bscore\b", re.IGNORECASE)
RATIONALE_WORD = re.compile(r"\brationale\b", re.IGNORECASE)
WINNER_WORD = re.compile(r"\bwinner\b", re.IGNORECASE)


def tagged(text: str, tag: str) -> str | None:
    """The text between the last ``<tag>`` ... ``</tag>`` pair of `text` (stripped), or None."""
    found = re.findall(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return found[-1].strip() if found else None


def route(messages: list[Any]) -> str:
    """Which kind of answer a request asks for (see "Routing" in the module docstring); the
    kinds of fake_routes.py (complexity ratings, translations) are tried first."""
    from tests.fake_routes import extra_route

    extra = extra_route(messages)
    if extra is not None:
        return extra
    prompt = last_user_text(messages)
    everything = "\n".join(message_text(m) for m in messages)
    asked = "\n".join(
        [prompt] + [message_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "system"]
    )
    pointwise = POINTWISE_MARKER in everything or "<answer_to_grade>" in asked
    if pointwise and SCORE_WORD.search(asked) and RATIONALE_WORD.search(asked):
        return KIND_POINTWISE
    if PAIRWISE_MARKER in everything or ("<answer_a>" in asked and "<answer_b>" in asked and WINNER_WORD.search(asked)):
        return KIND_PAIRWISE
    if TASK_NUMBER.search(prompt):
        return KIND_SELF_INSTRUCT
    return KIND_POLICY


# ---- judge -----------------------------------------------------------------------------------
JUDGE_FAILURE_TEXT = "I cannot judge this."
RATE_JUDGE_FENCED = 0.15  # pointwise replies in a ```json fence
RATE_JUDGE_PROSE = 0.15  # pointwise replies as prose ending "Score: N"
JUDGE_JITTER = 0.75  # half-width of the uniform jitter added to the quality before rounding
CONTENT_WORD = re.compile(r"[a-z0-9]+|[\uac00-\ud7a3]+")
STOPWORDS = frozenset(
    "the and for are but not you your with that this have has had was were will would can could should "
    "what when where which who whom why how all any some its it's they them their there then than from "
    "into about out our ours his her hers she him been being does did doing just also very too more most "
    "such only own same other each few both here once again because while these those may might must "
    "shall let lets get got one two yes answer question rate rating score rationale judge response reply "
    "assistant user human please json".split()
)
POLITE = (
    "please",
    "thank",
    "happy to help",
    "glad",
    "i hope",
    "hope this helps",
    "certainly",
    "of course",
    "you're welcome",
    "feel free",
    "i'd recommend",
    "i recommend",
    "i suggest",
    "good question",
    "습니다",
    "세요",
    "드립니다",
    "감사",
)
DISMISSIVE = (
    "look that up yourself",
    "look it up yourself",
    "i don't know",
    "i dont know",
    "no idea",
    "figure it out",
    "google it",
    "who cares",
    "not my problem",
    "why would i",
    "whatever",
    "모르겠",
    "알아서",
    "직접 찾아",
)
RUDE = ("stupid", "idiot", "shut up", "dumb", "바보")
SENTENCE_JUST = re.compile(r"(?:^|[.!?]\s+)Just ")


def normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").lower()


def content_words(text: str) -> set[str]:
    return {w for w in CONTENT_WORD.findall(normalise(text)) if len(w) >= 3 or HANGUL.search(w)} - STOPWORDS


def answer_features(answer: str, question: str) -> dict[str, float]:
    """The parts of an answer's quality (see "Judges" in the module docstring)."""
    text = normalise(answer)
    words = word_count(answer)
    asked = content_words(question)
    overlap = len(asked & content_words(answer)) / len(asked) if asked else 0.5
    dismissive = sum(phrase in text for phrase in DISMISSIVE) + len(SENTENCE_JUST.findall(answer))
    return {
        "length": 3.0 * min(1.0, math.log1p(words) / math.log1p(60)),
        "topic": 3.0 * min(1.0, 1.5 * overlap),
        "polite": min(1.5, 0.6 * sum(phrase in text for phrase in POLITE)),
        "dismissive": -min(5.0, 2.5 * dismissive),
        "rude": -min(4.0, 2.0 * sum(phrase in text for phrase in RUDE)),
    }


def answer_quality(answer: str, question: str) -> float:
    """The judge's unjittered opinion of `answer` to `question`, about 0 (useless) to 9.5 (excellent)."""
    if not answer.strip():
        return 0.0
    return 2.0 + sum(answer_features(answer, question).values())


def judge_score(answer: str, question: str, jitter: float = 0.0) -> int:
    """The 1..10 score a judge gives: the quality plus `jitter`, rounded and clamped."""
    return max(1, min(10, round(answer_quality(answer, question) + jitter)))


def judge_rationale(answer: str, question: str) -> str:
    """A short digit-free reason for the score of `answer`."""
    if not answer.strip():
        return "There is no answer to judge, so it cannot help the user."
    parts = answer_features(answer, question)
    size = "detailed" if parts["length"] >= 2.6 else "brief" if parts["length"] < 1.9 else "reasonably complete"
    topic = "addresses the question" if parts["topic"] >= 1.5 else "drifts away from the question"
    text = f"The answer is {size} and {topic}"
    text += ", and its tone is polite." if parts["polite"] > 0 else "."
    if parts["dismissive"] < 0:
        text += " It is dismissive and leaves the user to find the answer alone."
    if parts["rude"] < 0:
        text += " It is rude to the user."
    return text


def judged_question(prompt: str) -> str:
    """The question a judge prompt asks about (see "Judges" in the module docstring)."""
    for tag in ("question", "prompt"):
        found = tagged(prompt, tag)
        if found is not None:
            return found
    conversation = tagged(prompt, "conversation")
    if conversation is not None:
        found = tagged(conversation, "user")
        return found if found is not None else conversation
    rest = re.sub(r"<(answer(?:_a|_b|_to_grade)?)>.*?</\1>", " ", prompt, flags=re.DOTALL)
    return rest.replace(POINTWISE_MARKER, " ").replace(PAIRWISE_MARKER, " ")


def judge_jitter(key: str, server_seed: int, index: int, answer: str) -> float:
    """The judge's noise on one answer: seeded by the request, the choice index and the answer text."""
    return stable_rng("judge-jitter", key, server_seed, index, answer).uniform(-JUDGE_JITTER, JUDGE_JITTER)


def judge_text(messages: list[Any], *tags: str) -> str:
    """The text of the first of `tags` in the last user message, else anywhere in the conversation ("" if none)."""
    for text in (last_user_text(messages), "\n".join(message_text(m) for m in messages)):
        for tag in tags:
            found = tagged(text, tag)
            if found is not None:
                return found
    return ""


ASKED_SCALE = re.compile(r"from\s+(\d+)\s+to\s+(\d+)|(\d+)\s*점?\s*(?:에서|부터)\s*(\d+)\s*점")


def asked_scale(prompt: str) -> tuple[int, int]:
    """The scale a rubric asks for ("from 1 to 5", "1점에서 5점"); 1..10 when it names none."""
    found = ASKED_SCALE.search(prompt)
    if found is None:
        return 1, 10
    low, high = (int(v) for v in (found.group(1, 2) if found.group(1) else found.group(3, 4)))
    return (low, high) if low < high else (1, 10)


def pointwise_answer(messages: list[Any], key: str, server_seed: int, index: int, failure_rate: float) -> str:
    rng = stable_rng("pointwise", key, server_seed, index)
    if rng.random() < failure_rate:
        return JUDGE_FAILURE_TEXT
    answer = judge_text(messages, "answer", "answer_to_grade")
    question = judged_question(last_user_text(messages))
    score = judge_score(answer, question, judge_jitter(key, server_seed, index, answer))
    low, high = asked_scale(last_user_text(messages))
    if (low, high) != (1, 10):  # the same opinion on the scale the rubric asks for
        score = max(low, min(high, round(low + (score - 1) * (high - low) / 9)))
    rationale = judge_rationale(answer, question)
    reply = json.dumps({"rationale": rationale, "score": score}, ensure_ascii=False)
    style = rng.random()
    if style < RATE_JUDGE_FENCED:
        return f"```json\n{reply}\n```"
    if style < RATE_JUDGE_FENCED + RATE_JUDGE_PROSE:
        return f"{rationale}\nScore: {score}"
    return reply


def pairwise_answer(
    messages: list[Any], key: str, server_seed: int, index: int, failure_rate: float, position_bias: float
) -> str:
    rng = stable_rng("pairwise", key, server_seed, index)
    if rng.random() < failure_rate:
        return JUDGE_FAILURE_TEXT
    answer_a, answer_b = judge_text(messages, "answer_a"), judge_text(messages, "answer_b")
    question = judged_question(last_user_text(messages))
    score_a = judge_score(answer_a, question, judge_jitter(key, server_seed, index, answer_a))
    score_b = judge_score(answer_b, question, judge_jitter(key, server_seed, index, answer_b))
    if rng.random() < position_bias:
        winner, rationale = "A", "Answer A is better."
    elif score_a == score_b:
        winner, rationale = "tie", "Both answers are about equally helpful."
    else:
        winner = "A" if score_a > score_b else "B"
        loser = "B" if winner == "A" else "A"
        rationale = f"Answer {winner} is more helpful and better suited to the question than answer {loser}."
    return json.dumps({"rationale": rationale, "winner": winner}, ensure_ascii=False)


# ---- policy ----------------------------------------------------------------------------------
HH_FILE = Path("preferences") / "hh_rlhf_harmless_base_test.jsonl.gz"
CHATBOT_FILE = Path("korean") / "chatbot_qa.ko.csv"
RATE_POLICY_OFF_TOPIC = 0.2  # when the prompt matches a transcript: chance of an answer from the whole pool
FALLBACK_POLICY = {
    "en": [
        "I'm happy to help. Could you tell me a little more about what you need?",
        "That depends on a few things, but in most cases the simplest approach works best. Start small, check the "
        "result, and adjust from there.",
        "I'm not sure I understand the question. Do you mean how to do it safely, or why it works that way?",
        "Sure! The short answer is yes, but it is worth reading the instructions first so nothing goes wrong.",
        "I don't think I can help with that, but I can suggest some other resources if you like.",
        "Good question. Many people find it easier to break the task into steps and do one step at a time.",
        "I'd recommend talking to someone you trust about this; they may know your situation better than I do.",
        "Here is what I know: it usually takes a little practice, and it gets easier after the first few tries.",
    ],
    "ko": [
        "네, 도와드릴게요. 조금 더 자세히 말씀해 주시겠어요?",
        "좋은 질문이에요. 천천히 한 단계씩 해 보세요.",
        "그럴 때는 잠시 쉬어 가는 것도 좋아요.",
        "잘하고 있어요. 너무 걱정하지 마세요.",
        "저도 잘 모르겠지만 함께 생각해 볼게요.",
        "전문가와 상담해 보시는 것을 추천드려요.",
    ],
}


@dataclass(frozen=True)
class PolicyPools:
    """Real assistant answers: the English pool, the Korean pool, and on-topic finals by exact Human turn."""

    en: tuple[str, ...]
    ko: tuple[str, ...]
    by_turn: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ko_by_question: dict[str, tuple[str, ...]] = field(default_factory=dict)


_POLICY_CACHE: dict[Path, PolicyPools] = {}


def transcript_turns(transcript: str) -> list[tuple[str, str]]:
    """[(speaker, text)] of a "\\n\\nHuman: ...\\n\\nAssistant: ..." transcript."""
    parts = re.split(r"\n\n(Human|Assistant):", transcript)
    return [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]


def load_policy_answers(data_dir: Path | None = None) -> PolicyPools:
    """The policy answer pools of a data folder, loaded once per folder (built-in ones for an absent default)."""
    return _load_once(
        _POLICY_CACHE, data_dir, (HH_FILE, CHATBOT_FILE),
        lambda: PolicyPools(tuple(FALLBACK_POLICY["en"]), tuple(FALLBACK_POLICY["ko"])), _read_policy_answers,
    )  # fmt: skip


def _read_policy_answers(hh: Path, chatbot: Path) -> PolicyPools:
    english: dict[str, None] = {}
    by_turn: dict[str, dict[str, None]] = {}
    with gzip.open(hh, "rt", encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            finals = []
            for column in ("chosen", "rejected"):
                turns = transcript_turns(str(row.get(column) or ""))
                if turns and turns[-1][0] == "Assistant" and turns[-1][1]:
                    finals.append(turns[-1][1])
            english.update(dict.fromkeys(finals))
            for speaker, text in transcript_turns(str(row.get("chosen") or "")):
                if speaker == "Human" and text:
                    by_turn.setdefault(text, {}).update(dict.fromkeys(finals))
    korean: dict[str, None] = {}
    by_question: dict[str, dict[str, None]] = {}
    with chatbot.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            answer, question = (row.get("A") or "").strip(), (row.get("Q") or "").strip()
            if answer and HANGUL.search(answer):
                korean[answer] = None
                if question:
                    by_question.setdefault(question, {})[answer] = None
    return PolicyPools(
        tuple(english),
        tuple(korean),
        {turn: tuple(finals) for turn, finals in by_turn.items() if finals},
        {q: tuple(answers) for q, answers in by_question.items()},
    )


def policy_answer(prompt: str, pools: PolicyPools, rng: random.Random) -> str:
    """An assistant answer to a conversation whose last user message is `prompt`, drawn with `rng`."""
    korean = bool(HANGUL.search(prompt))
    pool = pools.ko if korean else pools.en
    matched = (pools.ko_by_question if korean else pools.by_turn).get(prompt.strip())
    if matched and rng.random() >= RATE_POLICY_OFF_TOPIC:
        return rng.choice(matched)
    return rng.choice(pool)


def cut_words(text: str, limit: int) -> str:
    """`text` up to the end of its `limit`-th whitespace word (layout kept)."""
    if limit <= 0:
        return ""
    for index, match in enumerate(WORD.finditer(text)):
        if index + 1 == limit:
            return text[: match.end()]
    return text


def word_count(text: str) -> int:
    return len(text.split())


def error_body(message: str, type_: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class FakeOpenAIServer:
    """An OpenAI-compatible chat server on 127.0.0.1 with deterministic answers and fault injection."""

    def __init__(
        self,
        *,
        faults: dict[str, float] | None = None,
        seed: int = 0,
        model: str = "fake-model",
        hang_seconds: float = 3.0,
        retry_after: str = "0.05",
        max_fault_attempts: int = 2,
        latency: float = 0.0,
        data_dir: str | Path | None = None,
        port: int = 0,
        judge_failure_rate: float = 0.0,
        position_bias: float = 0.0,
    ) -> None:
        faults = {str(kind): float(p) for kind, p in (faults or {}).items()}
        unknown = sorted(set(faults) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {list(FAULT_KINDS)}")
        for kinds in (TRANSIENT_FAULTS, CONTENT_FAULTS):
            if any(faults.get(k, 0.0) < 0 for k in kinds) or sum(faults.get(k, 0.0) for k in kinds) > 1.0 + 1e-9:
                raise ValueError(f"fault probabilities of {kinds} must be >= 0 and sum to at most 1")
        for name, rate in (("judge_failure_rate", judge_failure_rate), ("position_bias", position_bias)):
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], not {rate}")
        self.fault_rates = faults
        self.judge_failure_rate = float(judge_failure_rate)
        self.position_bias = float(position_bias)
        self.seed = seed
        self.model = model
        self.hang_seconds = float(hang_seconds)
        self.retry_after = str(retry_after)
        self.max_fault_attempts = int(max_fault_attempts)
        self.latency = float(latency)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._requested_port = int(port)
        self._port: int | None = None
        self._lock = threading.Lock()
        self._requests = 0
        self._answered = 0
        self._models_requests = 0
        self._faults: Counter[str] = Counter()
        self._bodies: Counter[str] = Counter()
        self._kinds: Counter[str] = Counter()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    # ---- counters -------------------------------------------------------------------------
    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def answered(self) -> int:
        with self._lock:
            return self._answered

    @property
    def models_requests(self) -> int:
        with self._lock:
            return self._models_requests

    @property
    def faults(self) -> Counter[str]:
        """A copy: fault kind -> times injected."""
        with self._lock:
            return Counter(self._faults)

    @property
    def bodies(self) -> Counter[str]:
        """A copy: canonical request body -> times received (the attempt counts of the fault rule)."""
        with self._lock:
            return Counter(self._bodies)

    @property
    def kinds(self) -> Counter[str]:
        """A copy: routed kind (self-instruct, pointwise, pairwise, policy) -> requests answered."""
        with self._lock:
            return Counter(self._kinds)

    def reset_counts(self) -> None:
        """Zero every counter, the per-body attempt counts included (the fault sequence starts over)."""
        with self._lock:
            self._requests = self._answered = self._models_requests = 0
            self._faults.clear()
            self._bodies.clear()
            self._kinds.clear()

    # ---- lifecycle ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self) -> Self:
        """Serve on a daemon thread with its own event loop; return once listening."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        self._ready.clear()
        self._start_error = None
        self._thread = threading.Thread(target=self._run, name="fake-openai-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            raise self._start_error
        return self

    def stop(self) -> None:
        """Stop serving; hanging or delayed handlers are woken, so this returns promptly."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            if not self._ready.is_set():
                self._start_error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop_event = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_post("/v1/chat/completions", self._handle_chat)
        from tests.fake_routes import handle_embeddings

        async def embeddings(request: web.Request) -> web.Response:
            return await handle_embeddings(self, request)

        app.router.add_post("/v1/embeddings", embeddings)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, HOST, self._requested_port)
            await site.start()
            self._port = int(runner.addresses[0][1])
            self._ready.set()
            await self._stop_event.wait()
        finally:
            await runner.cleanup()

    async def _sleep(self, seconds: float) -> None:
        """Sleep without blocking other requests; cut short when the server stops."""
        if seconds <= 0:
            return
        assert self._stop_event is not None
        try:
            await asyncio.wait_for(self._stop_event.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # ---- handlers -------------------------------------------------------------------------
    async def _handle_models(self, request: web.Request) -> web.Response:
        with self._lock:
            self._models_requests += 1
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "curate-tests"}],
            }
        )

    def draw_faults(self, canonical_body: str, attempt: int) -> tuple[str | None, str | None]:
        """(transient fault or None, content fault or None) for this body at this attempt index."""
        body_hash = hashlib.sha256(canonical_body.encode("utf-8")).hexdigest()
        transient = None
        if attempt < self.max_fault_attempts:
            transient = self._pick(stable_rng("transient", body_hash, attempt, self.seed).random(), TRANSIENT_FAULTS)
        content = self._pick(stable_rng("content-fault", body_hash, self.seed).random(), CONTENT_FAULTS)
        return transient, content

    def _pick(self, draw: float, kinds: tuple[str, ...]) -> str | None:
        edge = 0.0
        for kind in kinds:
            rate = self.fault_rates.get(kind, 0.0)
            edge += rate
            if rate > 0 and draw < edge:
                return kind
        return None

    async def _handle_chat(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self._requests += 1
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.json_response(
                error_body("the body is not valid JSON", "invalid_request_error", None), status=400
            )
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            return web.json_response(
                error_body("'messages' is a required non-empty array", "invalid_request_error", None), status=400
            )
        if body.get("stream"):
            return web.json_response(
                error_body("the fake server does not stream", "invalid_request_error", None), status=400
            )
        canonical = canonical_json(body)
        with self._lock:
            attempt = self._bodies[canonical]
            self._bodies[canonical] += 1
        transient, content_fault = self.draw_faults(canonical, attempt)
        await self._sleep(self.latency)

        if transient in ("429", "500", "503", "malformed"):
            with self._lock:
                self._faults[transient] += 1
        if transient == "429":
            return web.json_response(
                error_body("Rate limit reached for requests (fake).", "requests", "rate_limit_exceeded"),
                status=429,
                headers={"Retry-After": self.retry_after},
            )
        if transient == "500":
            return web.json_response(
                error_body("The server had an error while processing your request (fake).", "server_error", None),
                status=500,
            )
        if transient == "503":
            return web.json_response(
                error_body("The engine is currently overloaded (fake).", "server_error", "service_unavailable"),
                status=503,
            )
        kind = route(messages)
        answer = self._answer(body, canonical, content_fault, kind)
        if transient == "malformed":
            text = json.dumps(answer, ensure_ascii=False)
            return web.Response(text=text[: max(1, len(text) // 2)], content_type="application/json")
        if transient == "hang":
            with self._lock:
                self._faults["hang"] += 1
            await self._sleep(self.hang_seconds)
            if request.transport is None or request.transport.is_closing():
                return web.json_response(answer)  # nobody is listening any more: not counted as answered
        with self._lock:
            self._answered += 1
            self._kinds[kind] += 1
            if content_fault is not None:
                self._faults[content_fault] += 1
        return web.json_response(answer, headers={"x-request-id": answer["id"]})

    def _answer(self, body: dict, canonical: str, content_fault: str | None, kind: str | None = None) -> dict:
        messages = body["messages"]
        kind = kind or route(messages)
        prompt = last_user_text(messages)
        content_key = canonical_json({"messages": messages, **{k: body.get(k) for k in CONTENT_FIELDS}})
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        stops = body.get("stop") or []
        stops = [stops] if isinstance(stops, str) else [s for s in stops if isinstance(s, str) and s]
        n = body.get("n") or 1
        n = max(1, min(int(n), 16)) if isinstance(n, (int, float)) else 1
        choices, completion_tokens = [], 0
        for index in range(n):
            text = self._draw(kind, messages, prompt, content_key, index)
            finish = "stop"
            for stop in stops:
                at = text.find(stop)
                if at >= 0:
                    text = text[:at]
            if isinstance(limit, int) and not isinstance(limit, bool) and word_count(text) > limit:
                text, finish = cut_words(text, limit), "length"
            if content_fault == "length":
                half = (word_count(text) + 1) // 2
                text, finish = cut_words(text, half), "length"
            elif content_fault == "empty":
                text, finish = "", "stop"
            completion_tokens += word_count(text)
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            )
        prompt_tokens = sum(word_count(message_text(m)) for m in messages)
        return {
            "id": "chatcmpl-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24],
            "object": "chat.completion",
            "created": CREATED,
            "model": str(body.get("model") or self.model),
            "system_fingerprint": "fp_fake",
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _draw(self, kind: str, messages: list[Any], prompt: str, content_key: str, index: int) -> str:
        """The uncut text of choice `index` of a `kind` answer."""
        if kind == KIND_POINTWISE:
            return pointwise_answer(messages, content_key, self.seed, index, self.judge_failure_rate)
        if kind == KIND_PAIRWISE:
            return pairwise_answer(messages, content_key, self.seed, index, self.judge_failure_rate, self.position_bias)
        from tests.fake_routes import EXTRA_KINDS

        if kind in EXTRA_KINDS:
            return EXTRA_KINDS[kind].answer(messages, content_key, self, index)
        rng = stable_rng("answer", content_key, self.seed, index)
        if kind == KIND_SELF_INSTRUCT:
            return self_instruct_answer(prompt, load_tasks(self.data_dir), rng)
        return policy_answer(prompt, load_policy_answers(self.data_dir), rng)


def parse_faults(spec: str) -> dict[str, float]:
    """'429=0.1,500=0.05' -> {'429': 0.1, '500': 0.05}."""
    faults: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, rate = item.partition("=")
        if not rate:
            raise ValueError(f"bad fault {item!r}: expected KIND=PROBABILITY")
        faults[kind.strip()] = float(rate)
    return faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the fake OpenAI-compatible API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every chat answer")
    parser.add_argument("--faults", default="", help="e.g. 429=0.1,500=0.05,hang=0.01")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--hang-seconds", type=float, default=3.0)
    parser.add_argument("--retry-after", default="0.05")
    parser.add_argument("--max-fault-attempts", type=int, default=2)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--judge-failure-rate", type=float, default=0.0)
    parser.add_argument("--position-bias", type=float, default=0.0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: `tests.fake_routes` importable
    server = FakeOpenAIServer(
        faults=parse_faults(args.faults),
        seed=args.seed,
        model=args.model,
        hang_seconds=args.hang_seconds,
        retry_after=args.retry_after,
        max_fault_attempts=args.max_fault_attempts,
        latency=args.latency,
        data_dir=args.data_dir,
        port=args.port,
        judge_failure_rate=args.judge_failure_rate,
        position_bias=args.position_bias,
    )
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    load_tasks(server.data_dir)  # load the data before READY, so the first answer is not slow
    load_policy_answers(server.data_dir)
    server.start()
    print(f"READY {server.base_url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
