"""Read the numbered tasks out of a model's self-instruct answer.

Models answer the self-instruct request in many slightly different shapes: with or without
the `###` separators, numbered or not, labels in bold, the input inline or on the next
line, `<noinput>` or no input line at all, a chatty first line, and (when the token limit
cuts the answer) a last task that stops mid-sentence. The parser keys on the labels alone
(`Instruction:`, `Input:`, `Output:` or the Korean `지시문:`, `입력:`, `출력:`), so
everything between labels is a field and anything before the first instruction is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

LABELS = {
    "instruction": "instruction",
    "input": "input",
    "output": "output",
    "지시문": "instruction",
    "지시": "instruction",
    "입력": "input",
    "출력": "output",
}
# A label line: optional markdown/quote decoration, an optional "N." number, the label, a colon.
_LABEL = regex.compile(
    r"^[ \t>*_#]*(?:\d+[ \t]*[.):][ \t]*)?[*_]*[ \t]*(" + "|".join(sorted(LABELS, key=len, reverse=True)) + r")"
    r"[ \t]*[*_]*[ \t]*[:：][ \t]*[*_]*[ \t]*",
    regex.IGNORECASE | regex.MULTILINE,
)
_SEPARATOR = regex.compile(r"^[ \t]*#{3,}[ \t]*$", regex.MULTILINE)
_NO_INPUT = regex.compile(
    r"^[\"'`(\[]*\s*(?:<\s*no\s*_?\s*input\s*>|no\s*input|none|n/?a|없음|입력\s*없음)\s*[\"'`)\].]*$", regex.IGNORECASE
)


@dataclass
class Task:
    instruction: str
    input: str = ""
    output: str = ""

    def as_dict(self) -> dict:
        return {"instruction": self.instruction, "input": self.input, "output": self.output}


def _clean(value: str) -> str:
    """A field's text: up to the next `###` line, trimmed of blank lines and stray bold markers."""
    separator = _SEPARATOR.search(value)
    if separator:
        value = value[: separator.start()]
    return value.strip().strip("*_").strip()


def parse_tasks(text: str) -> list[Task]:
    """The tasks in `text`, in order; a field a task lacks is the empty string."""
    labels = list(_LABEL.finditer(text))
    tasks: list[Task] = []
    current: Task | None = None
    seen: set[str] = set()
    for position, match in enumerate(labels):
        end = labels[position + 1].start() if position + 1 < len(labels) else len(text)
        field = LABELS[match.group(1).lower()]
        value = _clean(text[match.end() : end])
        if field == "instruction":
            current = Task(value)
            tasks.append(current)
            seen = {"instruction"}
        elif current is not None and field not in seen:  # a repeated label belongs to no task
            seen.add(field)
            if field == "input":
                current.input = "" if _NO_INPUT.match(value) else value
            else:
                current.output = value
    return tasks
