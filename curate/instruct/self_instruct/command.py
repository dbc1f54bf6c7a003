"""`curate self-instruct`: read seed tasks, grow them with a model, write a dataset folder.

The folder has the shape of every curate folder: accepted tasks in `data/` (Alpaca columns
and `messages`), every dropped task or unusable answer in `rejected/` with its reason,
report.md with the novelty histogram, `_manifest.json` last. A killed run leaves the folder
unfinished; re-running the same command replays the answered requests from the answer
cache (no request is sent twice) and goes on from there.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from curate.errors import UserError
from curate.instruct import formats
from curate.instruct.interop import write_interop_files
from curate.instruct.rows import read_rows
from curate.instruct.self_instruct.grow import Outcome, SelfInstructSettings, grow, prompt_template
from curate.instruct.self_instruct.parsing import Task
from curate.instruct.self_instruct.report import write_self_instruct_report
from curate.io.manifest import read_manifest
from curate.io.schema import RECORD_REJECTED_SCHEMA as REJECTED_SCHEMA
from curate.io.writer import WriterOptions
from curate.llm.factory import CLIENT_OPTION_NAMES, ClientOptions, make_backend, require_key
from curate.pipeline import folder, in_memory
from curate.pipeline.folder import FolderState
from curate.pipeline.identity import RUNTIME_OPTIONS, job_identity
from curate.pipeline.job import JobResult

SOURCE = "self-instruct"
KEPT_SCHEMA = formats.output_schema("messages", alpaca_columns=True)
# Options that change how requests are sent, not which answers come back: not part of the job.
TRANSPORT_OPTIONS = RUNTIME_OPTIONS | CLIENT_OPTION_NAMES | {"base_url"}


def load_seeds(path: str, input_format: str = "auto", from_format: str | None = None) -> tuple[list[Task], list[dict]]:
    """The seed tasks (first instance of each seed-task; the last exchange of a conversation),
    one per distinct instruction, and the fingerprints of the files read."""
    found = read_rows([path], input_format, from_format, what="seed")
    if found.kind != formats.SFT:
        raise UserError(f"seeds must be instruction data; {path} holds {found.format} (preference) data")
    tasks: dict[str, Task] = {}
    for canonical, _ in found.rows:
        task = _seed_task(canonical)
        if task is not None and task.instruction not in tasks:
            tasks[task.instruction] = task
    return list(tasks.values()), found.fingerprints


def _seed_task(row: dict) -> Task | None:
    if "instruction" in row:
        task = Task(row["instruction"].strip(), row.get("input", "").strip(), row.get("output", "").strip())
    else:
        messages = row["messages"]
        users = [message for message in messages if message["role"] == "user"]
        answers = [message for message in messages if message["role"] == "assistant"]
        if not users or not answers:
            return None
        task = Task(users[-1]["content"].strip(), "", answers[-1]["content"].strip())
    return task if task.instruction and task.output else None


def self_instruct_dataset(
    seeds_path: str,
    output: Path,
    settings: SelfInstructSettings,
    backend: str,
    model: str,
    base_url: str | None,
    client: ClientOptions,
    *,
    options: dict,
    command_line: str,
    writer: WriterOptions | None = None,
    input_format: str = "auto",
    from_format: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> JobResult:
    """Grow `settings.num` tasks from the seeds with `model` (a `backend` kind of llm/factory.py)
    into the dataset folder `output`."""
    require_key(backend, model, base_url, client)
    model_identity = {"backend": backend, "model": model}
    if settings.checks.blacklist is not None:
        options = options | {"blacklist_words": list(settings.checks.blacklist)}  # the words, not the path
    clock = folder.Clock()
    seeds, seed_fingerprints = load_seeds(seeds_path, input_format, from_format)
    identity = job_identity(
        SOURCE, options, runtime_options=TRANSPORT_OPTIONS, seeds=seed_fingerprints,
        prompt=prompt_template(settings).fingerprint, model=model_identity,
    )  # fmt: skip
    if in_memory.prepare(output, identity, overwrite, command_line) is FolderState.COMPLETE:
        return JobResult(output, read_manifest(output), skipped=True)

    answerer = make_backend(backend, model, base_url, client)
    bar = tqdm(total=settings.num, desc="self-instruct", unit="task", disable=not progress, dynamic_ncols=True)

    def on_round(outcome: Outcome) -> None:
        bar.update(len(outcome.accepted) - bar.n)
        usage = answerer.usage
        bar.set_postfix_str(
            f"{outcome.requests:,} requests ({usage.cache_hits:,} cached), {len(outcome.rejected):,} rejected",
            refresh=False,
        )

    try:
        outcome = grow(seeds, answerer.complete, settings, on_round)
    finally:
        bar.close()
        answerer.close()
    usage = answerer.usage.as_dict()

    kept_rows, rejected_rows = _rows(outcome, model_identity)
    manifest = in_memory.sealed_manifest(
        output,
        command=SOURCE,
        command_line=command_line,
        options=options,
        identity=identity,
        inputs=seed_fingerprints,
        kept=kept_rows,
        kept_schema=KEPT_SCHEMA,
        rejected=rejected_rows,
        rejected_schema=REJECTED_SCHEMA,
        clock=clock,
        writer=writer,
        extra={
            "model": model_identity,
            "llm": usage,
            "self_instruct": {
                "seeds": len(seeds),
                "requests": outcome.requests,
                "rounds": outcome.rounds,
                "candidates": outcome.candidates,
                "reached_num": not outcome.budget_spent,
            },
        },
    )
    write_self_instruct_report(output, manifest, outcome, settings)
    # the rows are `messages` data to a trainer: the same card and LLaMA-Factory/Axolotl files as convert writes
    write_interop_files(output, "messages", output.resolve().name, manifest["counts"], command_line)
    folder.finish(output, manifest)
    return JobResult(output, manifest, skipped=False)


def _rows(outcome: Outcome, model: dict) -> tuple[list[dict], list[dict]]:
    """The kept rows (Alpaca columns and messages) and the rejected ones, as Arrow-ready dicts."""
    rows = []
    for number, item in enumerate(outcome.accepted):
        row = formats.read_row(item.task.as_dict(), "alpaca")[0]
        row["id"] = f"{SOURCE}-{number:07d}"
        row["meta"] = {
            "request": item.request,
            "rouge_l": round(item.similarity, 4),
            "most_similar": item.most_similar[:200],
            "model": model.get("model"),
        }
        rows.append(formats.to_arrow_row(row, "messages", source=SOURCE, alpaca_columns=True))
    rejected_rows = []
    for item in outcome.rejected:
        where = f"r{item.request:06d}" + (f"-{item.position:03d}" if item.position is not None else "")
        meta = {"request": item.request, "position": item.position}
        if item.similarity is not None:
            meta["rouge_l"] = round(item.similarity, 4)
        rejected_rows.append(
            {
                "id": f"{SOURCE}-{where}",
                "source": SOURCE,
                "meta": formats.meta_text(meta),
                "reason": item.reason,
                "detail": item.detail,
                "raw": item.raw.encode("utf-8"),
            }
        )
    return rows, rejected_rows
