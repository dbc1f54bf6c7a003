"""The heuristic floor of `curate select`: answers no judge needs to look at.

A row falls below the floor when its answer is empty, cut off, a refusal, or the question
said back. These are the cheap checks AlpaGasus-style selection leaves to the judge and pays
for; here they cost nothing and the judge is not asked about such rows.
"""

from __future__ import annotations

import re

from curate.instruct.spans import message_text

# Refusals and model disclaimers, English and Korean, matched at the start of the answer (or
# anywhere in a short one): a refusal to a harmless task teaches the model to refuse. "I can't"
# counts only before a verb of helping ("I can't get enough of..." is no refusal).
_HELP = (
    r"(?:help|assist|provide|answer|comply|fulfil|fulfill|do that|do this|write|create|generate|complete|share|give)"
)
REFUSAL = re.compile(
    rf"(?:^|\n)\s*(?:(?:i['’]?m|i am) sorry,? but|sorry,? but i|i (?:can(?:no|['’])t|am unable to|am not able to|"
    rf"won['’]t be able to|will not|won['’]t) {_HELP}|as an ai(?: language model)?\b|as a language model\b|"
    r"i do not have (?:access|the ability)|i don['’]t have (?:access|the ability)|죄송하지만|죄송합니다만|"
    r"ai 언어 모델로서|언어 모델로서|도와드릴 수 없|답변(?:을|해)? 드릴 수 없|제공할 수 없)",
    re.IGNORECASE,
)
SHORT_ANSWER = 400  # characters: a refusal phrase anywhere in an answer this short makes it a refusal
# The last word of an answer cut short (lower case only: "Vitamin A" and "Or" are whole answers).
CUT_ENDINGS = re.compile(r"(?:\.\.\.|…|,|:|\b(?:and|or|the|a|an|to|of|with|that)|그리고|또는|및)\s*$")
CUT_MIN_WORDS = 4  # shorter answers are not called cut off
NON_WORD = re.compile(r"\W+")


def last_exchange(messages: list[dict]) -> tuple[str, str]:
    """(the last user turn, the assistant answer after it) as plain text; "" where missing."""
    question, answer = "", ""
    for message in messages:
        if message["role"] == "user":
            question, answer = message_text(message), ""
        elif message["role"] == "assistant":
            answer += message_text(message)
    return question, answer


def floor_problem(messages: list[dict]) -> str | None:
    """Why a conversation's final answer is below the floor (a short phrase), or None."""
    question, answer = last_exchange(messages)
    text = answer.strip()
    if not text:
        return "empty answer"
    if text.count("```") % 2 == 1:
        return "truncated answer (an unclosed code block)"
    if len(text.split()) >= CUT_MIN_WORDS and CUT_ENDINGS.search(text) and not text.endswith(("etc.", "etc...")):
        return "truncated answer (ends mid-sentence)"
    if REFUSAL.search(text[:200]) or (len(text) < SHORT_ANSWER and REFUSAL.search(text)):
        return "refusal"
    if _repeats(question, text):
        return "the answer repeats the question"
    return None


def _repeats(question: str, answer: str) -> bool:
    """The answer is the question again, perhaps with a few words around it."""
    asked = NON_WORD.sub(" ", question.lower()).strip()
    said = NON_WORD.sub(" ", answer.lower()).strip()
    if not asked or not said:
        return False
    return said == asked or (asked in said and len(said) < 1.2 * len(asked) + 10)
