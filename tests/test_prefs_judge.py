"""curate.prefs.judges: reading judge replies, the pointwise and pairwise LLM judges (scripted
backends), and the reward-model judge on a tiny reward model trained here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from curate.errors import UserError
from curate.llm.backend import EMPTY, FAILED, LENGTH, OK, ChatRequest, Completion, Usage
from curate.llm.cache import AnswerCache, CachedBackend
from curate.prefs.judges.base import Judgement
from curate.prefs.judges.llm import LLMJudge
from curate.prefs.judges.parsing import parse_score, parse_verdict

from .conftest import REPO

PAIRS = REPO / "sample_data" / "preferences" / "pairs.jsonl"
QUESTION = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is the capital of Peru?"},
]


class ScriptedBackend:
    """A judge model answering by rules: `rule(prompt) -> reply text or Completion`."""

    def __init__(self, rule) -> None:
        self.rule = rule
        self.usage = Usage()
        self.calls: list[list[ChatRequest]] = []
        self.closed = False

    def identity(self) -> dict:
        return {"model": "scripted-judge"}

    def complete(self, requests, on_completion=None):
        self.calls.append(list(requests))
        completions = []
        for index, request in enumerate(requests):
            reply = self.rule(request.messages[-1][1])
            completion = reply if isinstance(reply, Completion) else Completion(reply, OK, "stop", 100, 20)
            completions.append(completion)
            if on_completion is not None:
                on_completion(index, completion)
        return completions

    def close(self) -> None:
        self.closed = True


def between(text: str, tag: str) -> str:
    return re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL).group(1)


# ------------------------------------------------------------------------------ parse_score


@pytest.mark.parametrize(
    "reply, expected",
    [
        ('{"rationale": "Correct and concise.", "score": 8}', (8.0, "Correct and concise.", None)),
        (
            'Here is my evaluation:\n```json\n{\n  "rationale": "Accurate but terse.",\n  "score": 7\n}\n```',
            (7.0, "Accurate but terse.", None),
        ),
        ('{"Rating": "8/10", "Explanation": "Good."}', (8.0, "Good.", None)),
        ('{"GRADE": 9}', (9.0, None, None)),
        ('Some words first.\n{"score": 6.5, "reasoning": "Half right."}', (6.5, "Half right.", None)),
        ("The answer is accurate and complete.\n\nScore: 8/10", (8.0, "The answer is accurate and complete.", None)),
        ("Rating: 7/10", (7.0, None, None)),
        ("The answer follows the instructions.\n**Score:** 9", (9.0, "The answer follows the instructions.", None)),
        ("Rationale: Wrong capital.\nScore: 2", (2.0, "Wrong capital.", None)),
        ("Score (1-10): 6", (6.0, None, None)),
        ("Mostly right, some padding.\n\n7", (7.0, "Mostly right, some padding.", None)),
        ("Weak answer.\n**4**", (4.0, "Weak answer.", None)),
        # two scores: the last explicit one wins
        (
            "Initial score: 4. On reflection the answer handles the edge case.\nFinal score: 6",
            (6.0, "Initial score: 4. On reflection the answer handles the edge case.", None),
        ),
        # a JSON object wins over a labelled score
        ('{"score": 8}\nScore: 3', (8.0, "Score: 3", None)),
        # broken JSON: still read, its rationale too
        ('{"rationale": "Cut \\"here\\"", "score": 5', (5.0, 'Cut "here"', None)),
        # out of range, wrong scale: failures, not clipped or rescaled
        ("Score: 11", (None, None, "score_out_of_range")),
        ('{"rationale": "Terrible.", "score": 0}', (None, "Terrible.", "score_out_of_range")),
        ("Score: -3", (None, None, "score_out_of_range")),
        ("Score: 4/5", (None, None, "wrong_scale")),
        # nothing usable: the reply comes back as the rationale
        (
            "The answer is good and I would rate it highly.",
            (None, "The answer is good and I would rate it highly.", "no_score"),
        ),
        (
            "I would give it a 7 out of 10 because it is clear.",
            (None, "I would give it a 7 out of 10 because it is clear.", "no_score"),
        ),
        ("Score: eight", (None, "Score: eight", "no_score")),
        ('{"score": true}', (None, '{"score": true}', "no_score")),
        ("", (None, None, "no_score")),
    ],
)
def test_parse_score(reply, expected):
    assert parse_score(reply) == expected


def test_parse_score_on_another_scale():
    assert parse_score('{"score": 0.75}', low=0, high=1) == (0.75, None, None)
    assert parse_score("Rating: 4/5", low=1, high=5) == (4.0, None, None)
    assert parse_score("Score: 7", low=1, high=5) == (None, None, "score_out_of_range")


@pytest.mark.parametrize(
    "reply, expected",
    [
        ('{"rationale": "A is right.", "winner": "A"}', ("A", "A is right.", None)),
        ('```json\n{"rationale": "Same.", "winner": "tie"}\n```', ("tie", "Same.", None)),
        ('{"winner": "Answer B"}', ("B", None, None)),
        ("B explains the steps.\nWinner: B", ("B", "B explains the steps.", None)),
        ("Analysis...\n**Verdict:** [[A]]", ("A", "Analysis...", None)),
        ("Both are fine. [[C]]", ("tie", "Both are fine.", None)),
        ("A is shorter but wrong.\nB", ("B", "A is shorter but wrong.", None)),
        ("Answer A is better.", (None, "Answer A is better.", "no_verdict")),
        ("I cannot decide.", (None, "I cannot decide.", "no_verdict")),
    ],
)
def test_parse_verdict(reply, expected):
    assert parse_verdict(reply) == expected


# ------------------------------------------------------------------------------ pointwise


def pointwise_rule(prompt: str):
    answer = between(prompt, "answer_to_grade")
    if "Lima" in answer and "Peru" in answer:
        return '{"rationale": "Correct and complete.", "score": 9}'
    if "Lima" in answer:
        return "Correct but bare.\nScore: 7/10"
    if "Cusco" in answer:
        return '```json\n{"rationale": "Wrong city.", "score": 2}\n```'
    if "dunno" in answer:
        return "This answer is unhelpful."  # no score
    if "crash" in answer:
        return Completion("", FAILED, error="HTTP 500 after 3 retries")
    if "silent" in answer:
        return Completion("", EMPTY, "stop")
    if "ramble" in answer:
        return Completion('{"rationale": "The answer goes on and on, and', LENGTH, "length")
    raise AssertionError(answer)


def test_pointwise_scores_and_failures():
    backend = ScriptedBackend(pointwise_rule)
    judge = LLMJudge(backend)
    answers = ["Lima is the capital of Peru.", "Lima.", "Cusco.", "dunno", "crash", "  ", "silent", "ramble"]
    other = [{"role": "user", "content": "Name a city in Peru."}], ["Lima"]
    [judged, second] = judge.judge([(QUESTION, answers), other])
    assert judged == [
        Judgement(9.0, "Correct and complete."),
        Judgement(7.0, "Correct but bare."),
        Judgement(2.0, "Wrong city."),
        Judgement(None, "This answer is unhelpful.", "no_score"),  # a failure, not a zero
        Judgement(None, failure="request_failed"),
        Judgement(None, failure="empty_answer"),  # never sent
        Judgement(None, failure="empty_reply"),
        Judgement(None, '{"rationale": "The answer goes on and on, and', "cut_by_length"),
    ]
    assert second == [Judgement(7.0, "Correct but bare.")]
    # every request of the call in one backend call, in order; the empty answer sent nowhere
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 8
    prompts = [request.messages for request in backend.calls[0]]
    assert all(len(messages) == 1 and messages[0][0] == "user" for messages in prompts)
    first = prompts[0][0][1]
    for text in ("Answer briefly.", "What is the capital of Peru?", "Lima is the capital of Peru.", "from 1 to 10"):
        assert text in first
    assert first.index("Answer briefly.") < first.index("capital of Peru?") < first.index("Lima is the capital")
    assert [request.sampling.temperature for request in backend.calls[0]] == [0.0] * 8
    stats = judge.stats()
    assert stats["candidates"] == 9 and stats["scored"] == 4
    assert stats["failures"] == {
        "cut_by_length": 1, "empty_answer": 1, "empty_reply": 1, "no_score": 1, "request_failed": 1,
    }  # fmt: skip
    assert stats["requests"] == 8 and stats["cache_hits"] == 0
    assert stats["statuses"] == {"ok": 5, "empty": 1, "length": 1, "failed": 1}
    assert stats["prompt_tokens"] == 500 and stats["completion_tokens"] == 100
    judge.close()
    assert backend.closed


def test_request_seeds_follow_the_content_so_the_cache_replays(tmp_path):
    backend = ScriptedBackend(pointwise_rule)
    groups = [(QUESTION, ["Lima.", "Cusco."])]
    LLMJudge(backend, seed=1).judge(groups)
    LLMJudge(backend, seed=1).judge([(QUESTION, ["Cusco."]), (QUESTION, ["Lima."])])
    LLMJudge(backend, seed=2).judge(groups)
    first, swapped, reseeded = ([request.sampling.seed for request in call] for call in backend.calls)
    assert first == swapped[::-1] and len(set(first)) == 2  # the seed goes with the request, not its place
    assert not set(reseeded) & set(first)

    counted = ScriptedBackend(pointwise_rule)
    cached = CachedBackend(counted, AnswerCache(tmp_path / "cache"))
    once = LLMJudge(cached).judge(groups + [(QUESTION, ["Lima.", "Lima."])])  # a repeat is asked once
    assert len(counted.calls[0]) == 2
    replay = LLMJudge(cached)
    assert replay.judge(groups) == once[:1]
    assert len(counted.calls) == 1  # every answer from the cache
    assert replay.stats()["requests"] == 0 and replay.stats()["cache_hits"] == 2


def test_user_rubric_file(tmp_path):
    rubric = tmp_path / "strict.jinja"
    rubric.write_text(
        "Grade {{ low }}..{{ high }}.\n{% for m in messages %}{{ m.role | upper }}: {{ m.content }}\n{% endfor %}"
        "ANSWER: {{ answer }}\n"
    )
    seen = []

    def rule(prompt):
        seen.append(prompt)
        return "Score: 3" if prompt.endswith("ANSWER: short") else "Score: 4"

    judge = LLMJudge(ScriptedBackend(rule), rubric_source=str(rubric), low=0, high=5)
    assert judge.judge([(QUESTION, ["short", "longer"])]) == [[Judgement(3.0), Judgement(4.0)]]
    assert seen[0] == "Grade 0..5.\nSYSTEM: Answer briefly.\nUSER: What is the capital of Peru?\nANSWER: short"
    assert judge.stats()["template"] == str(rubric)
    # the rubric's text works the same (as `curate prefs --rubric` passes it)
    seen.clear()
    judge = LLMJudge(ScriptedBackend(rule), rubric_source=rubric.read_text(), low=0, high=5)
    assert judge.judge([(QUESTION, ["short", "longer"])]) == [[Judgement(3.0), Judgement(4.0)]]
    assert seen[0] == "Grade 0..5.\nSYSTEM: Answer briefly.\nUSER: What is the capital of Peru?\nANSWER: short"
    assert judge.stats()["template"] is None


@pytest.mark.parametrize(
    "source, message",
    [
        ("{{ ''.__class__.__mro__ }}", "sandbox forbids"),
        ("{{ answer.__class__.__subclasses__() }}", "sandbox forbids"),
        ("{% for m in messages %}{{ m.content }}", "does not parse"),
        ("{{ missing.attribute }}", "could not render"),
    ],
)
def test_bad_rubric_is_a_user_error_naming_the_file(tmp_path, source, message):
    rubric = tmp_path / "evil.jinja"
    rubric.write_text(source)
    backend = ScriptedBackend(pointwise_rule)
    with pytest.raises(UserError, match=message) as raised:
        LLMJudge(backend, rubric_source=str(rubric))
    assert str(rubric) in str(raised.value)
    assert backend.calls == []  # raised before any request
    with pytest.raises(UserError, match=message):  # given as text: the same error
        LLMJudge(backend, rubric_source=source + "\n")
    with pytest.raises(UserError, match="cannot read"):
        LLMJudge(backend, rubric_source=str(tmp_path / "absent.jinja"))


# ------------------------------------------------------------------------------ pairwise


def prefers_longer(prompt: str) -> str:
    a, b = between(prompt, "answer_a"), between(prompt, "answer_b")
    winner = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
    return json.dumps({"rationale": "The longer one says more.", "winner": winner})


def test_pairwise_consistent_judge_orders_by_length():
    backend = ScriptedBackend(prefers_longer)
    judge = LLMJudge(backend, pairwise=True)
    answers = ["Lima, the capital city of Peru.", "Lima.", "It is Lima.", "Lima, Peru"]
    [judged] = judge.judge([(QUESTION, answers)])
    scores = [judgement.score for judgement in judged]
    assert scores == [1.0, 0.0, 2 / 3, 1 / 3]
    assert sorted(range(4), key=lambda index: scores[index]) == sorted(range(4), key=lambda index: len(answers[index]))
    assert judged[0].rationale == "6 wins, 0 ties, 0 losses in 6 comparisons"
    # every unordered pair asked in both orders, in one backend call
    [requests] = backend.calls
    assert len(requests) == 12
    shown = {(between(r.messages[0][1], "answer_a"), between(r.messages[0][1], "answer_b")) for r in requests}
    assert shown == {(a, b) for a in answers for b in answers if a != b}
    assert "capital of Peru?" in requests[0].messages[0][1]
    stats = judge.stats()
    assert stats["position_bias"] == 0.0 and stats["position_bias_pairs"] == 6
    assert stats["position_consistency"] == 1.0 and stats["first_position_win_rate"] == 0.5
    assert stats["comparisons"] == 12 and stats["comparison_failures"] == {} and stats["failures"] == {}


def test_pairwise_judge_that_always_says_a_is_all_position():
    judge = LLMJudge(ScriptedBackend(lambda prompt: "Both have merit.\nWinner: A"), pairwise=True)
    groups = [(QUESTION, ["Lima.", "It is Lima.", "Lima, Peru."]), (QUESTION, ["Cusco.", "Lima."])]
    judged = judge.judge(groups)
    assert [[judgement.score for judgement in group] for group in judged] == [[0.5, 0.5, 0.5], [0.5, 0.5]]
    stats = judge.stats()
    assert stats["position_bias"] == 1.0 and stats["position_bias_pairs"] == 4
    assert stats["position_consistency"] == 0.0 and stats["first_position_win_rate"] == 1.0


def test_pairwise_failures_stay_with_their_comparison():
    def rule(prompt):
        a, b = between(prompt, "answer_a"), between(prompt, "answer_b")
        if {a, b} == {"Lima.", "Cusco."}:
            return "Hard to say."  # unreadable: fails these two comparisons only
        return prefers_longer(prompt)

    judge = LLMJudge(ScriptedBackend(rule), pairwise=True)
    groups = [
        (QUESTION, ["Lima.", "Cusco.", "It is Lima.", ""]),
        (QUESTION, ["Lima.", "Lima."]),  # identical: a tie without a request
        (QUESTION, ["Only one."]),
        (QUESTION, ["Lima.", "Cusco."]),  # every comparison fails
    ]
    judged = judge.judge(groups)
    assert judged[0] == [
        Judgement(0.0, "0 wins, 0 ties, 2 losses in 2 comparisons (2 without a verdict)"),
        Judgement(0.0, "0 wins, 0 ties, 2 losses in 2 comparisons (2 without a verdict)"),
        Judgement(1.0, "4 wins, 0 ties, 0 losses in 4 comparisons"),
        Judgement(None, failure="empty_answer"),
    ]
    assert judged[1] == [Judgement(0.5, "0 wins, 2 ties, 0 losses in 2 comparisons")] * 2
    assert judged[2] == [Judgement(None, failure="no_comparison")]
    assert judged[3] == [Judgement(None, failure="no_score")] * 2
    stats = judge.stats()
    assert stats["comparison_failures"] == {"no_verdict": 4}
    assert stats["failures"] == {"empty_answer": 1, "no_comparison": 1, "no_score": 2}
    # group 3 asks what group 0 already asked: each distinct request is sent once
    assert stats["identical_pairs"] == 1 and stats["requests"] == 6 and stats["comparisons"] == 10
    assert stats["position_bias_pairs"] == 2 and stats["position_bias"] == 0.0


def test_bad_pairwise_template(tmp_path):
    template = tmp_path / "pair.jinja"
    template.write_text("{{ answer_a.__class__.__mro__ }}")
    with pytest.raises(UserError, match="pair.jinja"):
        LLMJudge(ScriptedBackend(prefers_longer), pairwise=True, pairwise_source=str(template))


# ------------------------------------------------------------------------------ reward model


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory, one_torch_thread) -> Path:
    pytest.importorskip("transformers")
    from curate.train import rm
    from curate.train.settings import OptimizerSettings

    from .tiny_chat_model import make_tiny_chat_model

    base = make_tiny_chat_model(tmp_path_factory.mktemp("tiny-base"))
    output = tmp_path_factory.mktemp("tiny-rm")
    settings = rm.RMSettings(
        model=str(base), data=(str(PAIRS),), output=output, max_length=512, batch_size=4, eval_fraction=0.0,
        max_steps=80, log_every=20, optimizer=OptimizerSettings(lr=1e-3, warmup_steps=10),
    )  # fmt: skip
    return rm.train_rm(settings, progress=False)["final"]


def test_reward_model_judge(reward_model):
    from curate.prefs.judges.reward_model import RewardModelJudge
    from curate.train.data import read_rows

    rows = read_rows(PAIRS, kind="preference")
    judge = RewardModelJudge(reward_model, device="cpu", batch_size=5)
    groups = [(row["prompt"], [row["chosen"][0]["content"], row["rejected"][0]["content"], ""]) for row in rows]
    judged = judge.judge(groups)
    assert all(len(group) == 3 for group in judged)
    assert all(group[2] == Judgement(None, failure="empty_answer") for group in judged)
    assert all(isinstance(group[0].score, float) and isinstance(group[1].score, float) for group in judged)
    better = sum(group[0].score > group[1].score for group in judged)
    print("reward model prefers the better answer in", better, "of 16 pairs")
    assert better >= 13, better  # of 16 pairs
    stats = judge.stats()
    assert stats["candidates"] == 48 and stats["scored"] == 32 and stats["failures"] == {"empty_answer": 16}
    judge.close()
