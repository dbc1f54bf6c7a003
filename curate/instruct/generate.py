"""`curate generate`: a teacher model answers every prompt, and the answers become SFT rows.

This is the Alpaca-GPT4 / KoAlpaca v1.1 step: instructions (or conversations up to their
last user turn) from any data `curate convert` reads, answered `n` times each by any
backend (an OpenAI-compatible server or a local model), through the answer cache, so a
killed run resumes without sending a request twice. Every prompt ends kept or rejected:
`no_user_turn`, `request_failed`, `empty_answer`, `cut_by_length`, `duplicate_answer`.
The folder holds `messages` rows (with Alpaca columns for one-turn prompts), report.md,
and the interop files trainers read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from curate.errors import UserError
from curate.instruct import formats
from curate.instruct.formats.canonical import is_id
from curate.instruct.interop import write_interop_files
from curate.instruct.rows import raw_records
from curate.io import markdown
from curate.io.fingerprint import input_fingerprint
from curate.io.manifest import read_manifest
from curate.io.schema import RECORD_REJECTED_SCHEMA as REJECTED_SCHEMA
from curate.io.sources import expand_inputs
from curate.io.writer import WriterOptions
from curate.llm.backend import EMPTY, FAILED, LENGTH, Completion, Sampling, require_answers
from curate.llm.factory import CLIENT_OPTION_NAMES, make_backend, require_key
from curate.pipeline import folder, in_memory
from curate.pipeline.folder import FolderState
from curate.pipeline.identity import RUNTIME_OPTIONS, job_identity
from curate.pipeline.job import JobResult
from curate.prefs import candidates as cand
from curate.prefs.command import Policy, load_prompts

SOURCE = "generate"
KEPT_SCHEMA = formats.output_schema("messages", alpaca_columns=True)
# Options that change how requests are sent, not which answers come back: not part of the job.
TRANSPORT_OPTIONS = RUNTIME_OPTIONS | CLIENT_OPTION_NAMES | {"base_url"}
EXAMPLES = 3  # answers quoted in report.md
_ROLES = ("system", "user", "assistant")
_REASONS = {FAILED: "request_failed", EMPTY: "empty_answer", LENGTH: "cut_by_length"}


@dataclass(frozen=True)
class GenerateSettings:
    n: int = 1
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.7, top_p=1.0, max_tokens=1024))
    seed: int = 0


def generate_dataset(
    inputs: list[str],
    output: Path,
    settings: GenerateSettings,
    teacher: Policy,
    *,
    options: dict,
    command_line: str,
    writer: WriterOptions | None = None,
    input_format: str = "auto",
    from_format: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> JobResult:
    """Answer `inputs`' prompts `settings.n` times each with `teacher` into the SFT folder `output`."""
    clock = folder.Clock()
    require_key(teacher.backend, teacher.model, teacher.base_url, teacher.client)
    prompts, fingerprints, rejected_rows = _load(inputs, input_format, from_format)
    model = {"backend": teacher.backend, "model": teacher.model}
    identity = job_identity(SOURCE, options, runtime_options=TRANSPORT_OPTIONS, inputs=fingerprints, model=model)
    if in_memory.prepare(output, identity, overwrite, command_line) is FolderState.COMPLETE:
        return JobResult(output, read_manifest(output), skipped=True)

    requests = cand.requests_for(prompts, settings.n, settings.sampling, settings.seed)
    answerer = make_backend(teacher.backend, teacher.model, teacher.base_url, teacher.client)
    try:
        completions = answerer.complete_with_bar(requests, "generate", "answer", progress)
    finally:
        answerer.close()
    require_answers(completions, "generate")
    kept_rows, dropped = answer_rows(prompts, completions, settings.n, teacher.model)
    rejected_rows += dropped
    stats = {"prompts": len(prompts), "n": settings.n, "answers": len(kept_rows)}
    manifest = in_memory.sealed_manifest(
        output, command=SOURCE, command_line=command_line, options=options, identity=identity, inputs=fingerprints,
        kept=kept_rows, kept_schema=KEPT_SCHEMA, rejected=rejected_rows, rejected_schema=REJECTED_SCHEMA,
        clock=clock, writer=writer, extra={"model": model, "llm": answerer.usage.as_dict(), SOURCE: stats},
    )  # fmt: skip
    _write_report(output, manifest, kept_rows)
    write_interop_files(output, "messages", output.resolve().name, manifest["counts"], command_line)
    folder.finish(output, manifest)
    return JobResult(output, manifest, skipped=False)


def _load(inputs: list[str], input_format: str, from_format: str | None) -> tuple[list, list[dict], list[dict]]:
    """The prompts, the input fingerprints and the rejected records. Questions without answers
    (messages ending with a user turn, an instruction with no output, a `prompt` alone) are read
    as they are; data with answers as `prefs` reads it (the conversation up to its last user turn)."""
    records = list(raw_records(inputs, input_format)) if from_format is None else []
    if not records or _question(records[0][0]) is None:
        prompts, fingerprints, rejected = load_prompts(inputs, input_format, from_format)
        for row in rejected:
            row["source"] = SOURCE
        return prompts, fingerprints, rejected
    prompts, rejected = [], []
    for number, (record, place) in enumerate(records):
        row_id = str(record["id"]) if is_id(record.get("id")) else f"prompt-{number:07d}"
        messages = _question(record)
        if messages is None:
            rejected.append(_rejected(row_id, "not_a_question", f"{place}: no question to answer", record))
            continue
        prompts.append(cand.Prompt(row_id, messages, place=place))
    if not prompts:
        raise UserError(f"no prompt to answer in {', '.join(inputs)}")
    fingerprints = [input_fingerprint(item) for item in expand_inputs(inputs, input_format)]
    return prompts, fingerprints, rejected


def _question(record: dict) -> list[dict] | None:
    """A record that asks without an answer, as messages ending with the user; else None."""
    messages = record.get("messages") if "messages" in record else record.get("prompt")
    if isinstance(messages, list):
        valid = all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") in _ROLES for m in messages
        )
        if valid and messages and messages[-1]["role"] == "user" and messages[-1]["content"].strip():
            return [{"role": m["role"], "content": m["content"]} for m in messages]
        return None
    if isinstance(messages, str) and messages.strip() and not any(k in record for k in ("completion", "chosen")):
        return [{"role": "user", "content": messages}]
    instruction, extra = record.get("instruction"), record.get("input") or ""
    output = record.get("output")
    answered = (isinstance(output, str) and output.strip()) or "instances" in record  # seed tasks carry answers
    if isinstance(instruction, str) and instruction.strip() and not answered:
        text = instruction.strip() + (f"\n\n{extra.strip()}" if isinstance(extra, str) and extra.strip() else "")
        return [{"role": "user", "content": text}]
    return None


def answer_rows(prompts: list[cand.Prompt], completions: list[Completion], n: int, model: str) -> tuple[list, list]:
    """The kept rows (prompt plus answer) and the rejected answers, prompt by prompt (also
    translate --regenerate-answers' rows)."""
    kept, rejected = [], []
    for number, prompt in enumerate(prompts):
        seen: set[str] = set()
        for sample in range(n):
            completion = completions[number * n + sample]
            row_id = prompt.id if n == 1 else f"{prompt.id}#{sample}"
            text = completion.text.strip()
            reason = _REASONS.get(completion.status)
            if reason is None and text in seen:
                reason = "duplicate_answer"
            if reason is not None:
                detail = completion.error or reason.replace("_", " ")
                raw = {"prompt": prompt.messages, "answer": completion.text}
                rejected.append(_rejected(row_id, reason, f"{prompt.place}: {detail}".lstrip(": "), raw))
                continue
            seen.add(text)
            kept.append(_kept_row(prompt, text, row_id, {"model": model, "sample": sample}))
    return kept, rejected


def _kept_row(prompt: cand.Prompt, answer: str, row_id: str, meta: dict) -> dict:
    messages = [*prompt.messages, {"role": "assistant", "content": answer}]
    if len(prompt.messages) == 1:  # one instruction: Alpaca's columns too
        row = formats.read_row({"instruction": prompt.messages[0]["content"], "input": "", "output": answer}, "alpaca")[
            0
        ]
    else:
        row = {"messages": messages}
    row |= {"id": row_id, "meta": meta}
    return formats.to_arrow_row(row, "messages", source=SOURCE, alpaca_columns=True)


def _rejected(row_id: str, reason: str, detail: str, raw: object) -> dict:
    return formats.rejected_row(row_id, SOURCE, reason, detail, raw if isinstance(raw, dict) else {"value": raw})


def _write_report(output: Path, manifest: dict, kept: list[dict]) -> None:
    counts, usage, stats = manifest["counts"], manifest["llm"], manifest[SOURCE]
    lines = [
        "# curate generate",
        "",
        f"`{manifest['command_line']}`",
        "",
        f"- prompts: {stats['prompts']:,}, answers asked: {stats['prompts'] * stats['n']:,} ({stats['n']} each)",
        f"- kept: {counts['kept']:,} rows; rejected: {counts['rejected']:,}",
        f"- requests sent: {usage['requests']:,}, answered from the cache: {usage['cache_hits']:,}, "
        f"retries: {usage['retries_total']:,}; tokens: {usage['prompt_tokens']:,} in, "
        f"{usage['completion_tokens']:,} out",
    ]
    if counts["by_reason"]:
        lines += ["", "| reason | rows |", "|---|---:|"]
        lines += [f"| {markdown.cell(reason)} | {rows:,} |" for reason, rows in counts["by_reason"].items()]
    lengths = Counter(min(len(row["messages"][-1]["content"]) // 200, 10) for row in kept)
    if lengths:
        lines += ["", "| answer characters | rows |", "|---|---:|"]
        lines += [
            f"| {bucket * 200:,}{'+' if bucket == 10 else f'-{bucket * 200 + 199:,}'} | {lengths[bucket]:,} |"
            for bucket in sorted(lengths)
        ]
    for row in kept[:EXAMPLES]:
        lines += ["", f"### {markdown.text(row['id'])}", ""]
        lines += [f"**{message['role']}**: {markdown.text(message['content'][:600])}" for message in row["messages"]]
    (output / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
