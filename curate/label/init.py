"""`curate label init`: a labelling project from any data `convert` and `prefs` read.

compare, rank, rate: an item is a prompt with two or more candidate answers. Preference rows
give their chosen and rejected answers; SFT rows that share a prompt (several answers from
`curate generate --n 4`, say) give one item with all their answers. write: an item is a
prompt, with its answer (if any) as the draft the labeller starts from.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

from curate.errors import UserError
from curate.instruct import formats
from curate.instruct.rows import read_rows
from curate.label.store import DATABASE, TASKS, Project
from curate.prefs.candidates import prompt_from_row

GUIDELINES = "guidelines.md"
DEFAULT_GUIDELINES = {
    "compare": "Read the conversation, then pick the better answer: helpful, correct, honest and harmless. "
    "Press **1** or **2**, **T** when they are equally good, **S** to skip.",
    "rank": "Order the answers from best to worst: helpful, correct, honest and harmless first.",
    "rate": "Rate each answer from 1 (useless or harmful) to 5 (excellent: correct, complete, clear).",
    "write": "Write the answer an expert assistant would give: correct, complete, clear and kind.",
}


def init_project(
    inputs: list[str],
    output: Path,
    task: str,
    guidelines: Path | None = None,
    overlap: int = 1,
    input_format: str = "auto",
    from_format: str | None = None,
) -> dict:
    """Make the project folder `output`; returns its summary (items, task, overlap)."""
    if task not in TASKS:
        raise UserError(f"--task must be one of {', '.join(TASKS)}")
    if (output / DATABASE).exists():
        raise UserError(f"{output} already holds a labelling project; choose another folder")
    if output.exists() and any(output.iterdir()):
        raise UserError(f"{output} is not empty; a project needs a folder of its own")
    items = collect_items(inputs, task, input_format, from_format)
    if not items:
        wanted = "a prompt" if task == "write" else "a prompt with two or more different answers"
        raise UserError(f"no item to label in {', '.join(inputs)}: --task {task} needs {wanted}")
    if task == "compare" and any(len(item["candidates"]) != 2 for item in items):
        raise UserError("--task compare shows two answers side by side; some prompts have more: use --task rank")
    output.mkdir(parents=True, exist_ok=True)
    text = guidelines.read_text(encoding="utf-8") if guidelines is not None else DEFAULT_GUIDELINES[task]
    (output / GUIDELINES).write_text(text, encoding="utf-8")
    project = Project(output, create=True)
    try:
        project.set_settings(
            {"task": task, "overlap": overlap, "secret": secrets.token_hex(32), "inputs": inputs, "format": "1"}
        )
        project.add_items(items)
    except BaseException:
        project.close()
        shutil.rmtree(output, ignore_errors=True)  # made here, now: nothing of the user's is in it
        raise
    project.close()
    return {"items": len(items), "task": task, "overlap": overlap}


def collect_items(inputs: list[str], task: str, input_format: str, from_format: str | None) -> list[dict]:
    found = read_rows(inputs, input_format, from_format, what="row")
    groups: dict[str, dict] = {}
    for number, (row, place) in enumerate(found.rows):
        prompt = prompt_from_row(row, found.kind, place)
        if prompt is None:
            continue
        key = json.dumps(prompt.messages, ensure_ascii=False, sort_keys=True)
        group = groups.setdefault(key, {"messages": prompt.messages, "answers": [], "ids": [], "kind": found.kind})
        group["ids"].append(str(row.get("id", f"row-{number}")))
        for answer in prompt.existing:
            if answer not in group["answers"]:
                group["answers"].append(answer)
    items, keys = [], set()
    for group in groups.values():
        answers = group["answers"]
        if task != "write" and len(answers) < 2:
            continue
        key = group["ids"][0] if len(group["ids"]) == 1 else f"{group['ids'][0]}+{len(group['ids']) - 1}"
        while key in keys:  # ids repeated across input files
            key += "'"
        keys.add(key)
        source = {"ids": group["ids"]}
        if group["kind"] == formats.PREFERENCE and len(answers) == 2:
            source["given_chosen"] = "a"  # the input's own label, for comparison in the report
        candidates = [] if task == "write" else [{"key": _key(i), "content": text} for i, text in enumerate(answers)]
        items.append(
            {
                "key": key,
                "messages": group["messages"],
                "candidates": candidates,
                "draft": answers[0] if task == "write" and answers else None,
                "source": source,
            }
        )
    return items


def _key(index: int) -> str:
    return chr(ord("a") + index) if index < 26 else f"c{index}"
