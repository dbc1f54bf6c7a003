"""`curate prefs`: prompts -> n candidates from a policy -> judged -> chosen/rejected pairs.

Writes a preference dataset folder (TRL's columns plus `margin` and the judge's rationales)
with every dropped candidate, pair and prompt in `rejected/` and its reason; with
`best_of_n_out`, also an SFT folder of each prompt's best answer (rejection sampling).
Both model stages go through the answer cache, so a killed run resumes without resending.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson
import pyarrow as pa

from curate.errors import UserError
from curate.instruct import formats
from curate.instruct.interop import write_interop_files
from curate.instruct.rows import read_rows
from curate.instruct.spans import message_text
from curate.io.manifest import read_manifest
from curate.io.schema import RECORD_REJECTED_SCHEMA as REJECTED_SCHEMA
from curate.io.writer import WriterOptions
from curate.llm.backend import Sampling
from curate.llm.factory import CLIENT_OPTION_NAMES, ClientOptions, make_backend, require_key
from curate.pipeline import folder, in_memory, ownership
from curate.pipeline.folder import FolderState
from curate.pipeline.identity import RUNTIME_OPTIONS, job_identity
from curate.pipeline.job import JobResult
from curate.prefs import candidates as cand
from curate.prefs.judges.registry import JUDGES, JudgeOptions
from curate.prefs.pairs import make_pairs
from curate.prefs.report import write_prefs_report

SOURCE = "prefs"
BEST_OF_N = "prefs-best-of-n"
PAIRS_SCHEMA = formats.output_schema("preference").append(pa.field("margin", pa.float64()))
PAIRS_SCHEMA = PAIRS_SCHEMA.append(pa.field("rationale_chosen", pa.string())).append(
    pa.field("rationale_rejected", pa.string())
)
BEST_SCHEMA = formats.output_schema("messages").append(pa.field("score", pa.float64()))
# Options that change how requests are sent or where things are kept, not which rows come out.
TRANSPORT_OPTIONS = RUNTIME_OPTIONS | CLIENT_OPTION_NAMES | {"policy_base_url", "judge_base_url", "best_of_n_out"}
EXAMPLES = 3  # pairs and judge failures quoted in report.md


@dataclass(frozen=True)
class PrefsSettings:
    n: int = 4
    pairing: str = "best-worst"
    min_margin: float = 0.0
    include_existing: bool = False
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=1.0, top_p=1.0, max_tokens=1024))
    seed: int = 0
    best_of_n_out: Path | None = None
    min_score: float | None = None  # best-of-n: the best answer must score at least this


def load_prompts(
    inputs: list[str], input_format: str, from_format: str | None
) -> tuple[list[cand.Prompt], list[dict], list[dict]]:
    """The prompts, the input fingerprints, and the rejected rows of records without a user turn."""
    found = read_rows(inputs, input_format, from_format, what="prompt")
    prompts, rejected = [], []
    for number, (row, place) in enumerate(found.rows):
        prompt = cand.prompt_from_row(row, found.kind, place)
        if prompt is None:
            rejected.append(_rejected(str(row.get("id", number)), "no_user_turn", f"{place}: nothing to answer", row))
            continue
        prompt.id = prompt.id or f"prompt-{number:07d}"
        prompts.append(prompt)
    if not prompts:
        raise UserError(f"no prompt to answer in {', '.join(inputs)} (every record lacks a user turn)")
    return prompts, found.fingerprints, rejected


@dataclass(frozen=True)
class Policy:
    """The model that answers the prompts: a backend kind (llm/factory.py), its model, and how
    it is reached."""

    backend: str
    model: str
    base_url: str | None = None
    client: ClientOptions = field(default_factory=ClientOptions)


def prefs_dataset(
    inputs: list[str],
    output: Path,
    settings: PrefsSettings,
    policy: Policy,
    judge_kind: str,
    judge: JudgeOptions,
    *,
    options: dict,
    command_line: str,
    writer: WriterOptions | None = None,
    input_format: str = "auto",
    from_format: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> tuple[JobResult, JobResult | None]:
    """Answer, judge and pair `inputs`' prompts into a preference folder at `output` (and with
    `settings.best_of_n_out`, each prompt's best answer as SFT rows); the two results."""
    clock = folder.Clock()
    kind = JUDGES[judge_kind]
    if judge.base_url is None:  # a judge model on the policy's server unless named elsewhere
        judge = replace(judge, base_url=policy.base_url)
    require_key(policy.backend, policy.model, policy.base_url, policy.client)
    if kind.backend is not None:
        require_key(kind.backend, judge.model, judge.base_url, judge.client)
    if judge.pairwise and not kind.pairwise:
        comparing = " or ".join(name for name, other in JUDGES.items() if other.pairwise)
        raise UserError(f"--pairwise needs --judge {comparing}")
    identity_parts = {
        "policy": {"backend": policy.backend, "model": policy.model},
        "judge": {
            "kind": judge_kind,
            "model": judge.model,
            "pairwise": judge.pairwise,
            "rubric": _rubric_text(judge.rubric),
        },
    }
    prompts, fingerprints, rejected_rows = load_prompts(inputs, input_format, from_format)
    identity = job_identity(SOURCE, options, runtime_options=TRANSPORT_OPTIONS, inputs=fingerprints, **identity_parts)
    best_folder = settings.best_of_n_out
    if best_folder is not None and Path(best_folder).resolve() == Path(output).resolve():
        raise UserError("--best-of-n-out must be another folder than --output")
    targets = [output] if best_folder is None else [output, best_folder]
    states = [in_memory.prepare(target, identity, overwrite, command_line) for target in targets]
    if all(state is FolderState.COMPLETE for state in states):
        best = JobResult(best_folder, read_manifest(best_folder), skipped=True) if best_folder else None
        return JobResult(output, read_manifest(output), skipped=True), best
    for target, state in zip(targets, states):
        if state is FolderState.COMPLETE:  # written again with the other folder: hold its lock too
            ownership.lock(Path(target))

    # ---- candidates
    requests = cand.requests_for(prompts, settings.n, settings.sampling, settings.seed)
    answerer = make_backend(policy.backend, policy.model, policy.base_url, policy.client)
    try:
        completions = answerer.complete_with_bar(requests, "prefs: answers", "answer", progress)
    finally:
        answerer.close()
    groups, dropped = cand.collect(prompts, completions, settings.n, settings.include_existing)
    for item in dropped:
        rejected_rows.append(
            _rejected(f"{item.prompt_id}#{item.sample}", item.reason, item.detail, {"answer": item.text})
        )

    # ---- judging
    scorer = kind.build(judge)
    try:
        judgements = scorer.judge(
            [(prompt.messages, [candidate.text for candidate in group]) for prompt, group in zip(prompts, groups)]
        )
        judge_stats = scorer.stats()
    finally:
        scorer.close()

    # ---- pairs and best-of-n
    rng = random.Random(settings.seed)
    pair_rows, best_rows, best_rejected = [], [], []
    scores, pair_counts = [], Counter()
    examples: dict[str, list[dict]] = {"pairs": [], "judge_failures": []}  # quoted in report.md
    for prompt, group, verdicts in zip(prompts, groups, judgements):
        for position, (candidate, verdict) in enumerate(zip(group, verdicts)):
            if verdict.score is None:
                if verdict.rationale and len(examples["judge_failures"]) < EXAMPLES:
                    examples["judge_failures"].append(
                        {"reason": verdict.failure, "answer": candidate.text, "reply": verdict.rationale}
                    )
                rejected_rows.append(
                    _rejected(
                        f"{prompt.id}#{_label(candidate, position)}",
                        f"judge:{verdict.failure}",
                        verdict.rationale or "the judge gave no usable score",
                        {"answer": candidate.text},
                    )
                )
            else:
                scores.append(verdict.score)
        pairs, drops = make_pairs([verdict.score for verdict in verdicts], settings.pairing, settings.min_margin, rng)
        pair_counts["considered"] += len(pairs) + sum(drop.first is not None for drop in drops)
        for drop in drops:
            pair_counts[drop.reason] += 1
            texts = [group[index].text for index in (drop.first, drop.second) if index is not None]
            rejected_rows.append(
                _rejected(prompt.id, drop.reason, drop.detail, {"prompt": prompt.messages, "answers": texts})
            )
        for pair in pairs:
            if len(examples["pairs"]) < EXAMPLES:
                examples["pairs"].append(_pair_example(prompt, group, verdicts, pair))
            pair_rows.append(_pair_row(prompt, group, verdicts, pair, len(pair_rows)))
        if best_folder is not None:
            _best_of_n(prompt, group, verdicts, settings.min_score, best_rows, best_rejected)

    usage = {"policy": answerer.usage.as_dict(), "judge": judge_stats}
    run = {
        "prompts": len(prompts),
        "n": settings.n,
        "candidates": sum(len(group) for group in groups),
        "judged": len(scores),
        "pairs_considered": pair_counts["considered"],
        "ties": pair_counts["tie"],
        "below_min_margin": pair_counts["below_min_margin"],
        "pairing": settings.pairing,
    }
    folder_facts = {
        "command_line": command_line, "options": options, "identity": identity, "inputs": fingerprints,
        "rejected_schema": REJECTED_SCHEMA, "clock": clock, "writer": writer,
    }  # fmt: skip
    manifest = in_memory.sealed_manifest(
        output, command=SOURCE, kept=pair_rows, kept_schema=PAIRS_SCHEMA, rejected=rejected_rows,
        extra={"models": identity_parts, "llm": usage, "prefs": run}, **folder_facts,
    )  # fmt: skip
    write_prefs_report(output, manifest, scores, examples)
    write_interop_files(output, "preference", output.resolve().name, manifest["counts"], command_line)
    folder.finish(output, manifest)
    best_result = None
    if best_folder is not None:
        best_manifest = in_memory.sealed_manifest(
            best_folder, command=BEST_OF_N, kept=best_rows, kept_schema=BEST_SCHEMA, rejected=best_rejected,
            extra={"min_score": settings.min_score}, **folder_facts,
        )  # fmt: skip
        write_interop_files(
            best_folder, "messages", Path(best_folder).resolve().name, best_manifest["counts"], command_line
        )
        folder.finish(best_folder, best_manifest)
        best_result = JobResult(best_folder, best_manifest, skipped=False)
    return JobResult(output, manifest, skipped=False), best_result


def _rubric_text(path: str | None) -> str | None:
    """The rubric's text, for the job's identity: an edited rubric rebuilds the folder."""
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read the rubric {path}: {error.strerror or error}") from None


def _label(candidate: cand.Candidate, position: int) -> str:
    return f"s{candidate.sample}" if candidate.origin == cand.POLICY else f"existing{position}"


def _rejected(row_id: str, reason: str, detail: str, raw: object) -> dict:
    return {
        "id": row_id,
        "source": SOURCE,
        "meta": "{}",
        "reason": reason,
        "detail": detail,
        "raw": orjson.dumps(raw),
    }


def _pair_row(prompt: cand.Prompt, group: list, verdicts: list, pair, number: int) -> dict:
    chosen, rejected = group[pair.chosen], group[pair.rejected]
    row = {
        "id": f"{prompt.id}#{number}" if prompt.id else f"pair-{number:07d}",
        "prompt": prompt.messages,
        "chosen": [{"role": "assistant", "content": chosen.text}],
        "rejected": [{"role": "assistant", "content": rejected.text}],
        "score_chosen": float(verdicts[pair.chosen].score),
        "score_rejected": float(verdicts[pair.rejected].score),
        "meta": {"origin_chosen": chosen.origin, "origin_rejected": rejected.origin},
    }
    arrow = formats.to_arrow_row(row, "preference", source=SOURCE)
    arrow["margin"] = pair.margin
    arrow["rationale_chosen"] = verdicts[pair.chosen].rationale
    arrow["rationale_rejected"] = verdicts[pair.rejected].rationale
    return arrow


def _pair_example(prompt: cand.Prompt, group: list, verdicts: list, pair) -> dict:
    return {
        "prompt": message_text(prompt.messages[-1]),
        "chosen": group[pair.chosen].text,
        "rejected": group[pair.rejected].text,
        "score_chosen": verdicts[pair.chosen].score,
        "score_rejected": verdicts[pair.rejected].score,
    }


def _best_of_n(prompt, group, verdicts, min_score, kept: list, rejected: list) -> None:
    scored = [(verdict.score, index) for index, verdict in enumerate(verdicts) if verdict.score is not None]
    if not scored:
        rejected.append(
            _rejected(prompt.id, "no_scored_candidate", "no candidate got a score", {"prompt": prompt.messages})
        )
        return
    score, index = max(scored, key=lambda item: (item[0], -item[1]))
    if min_score is not None and score < min_score:
        rejected.append(
            _rejected(
                prompt.id,
                "below_min_score",
                f"best score {score:g} < {min_score:g}",
                {"prompt": prompt.messages, "answer": group[index].text},
            )
        )
        return
    row = {
        "id": prompt.id,
        "messages": [*prompt.messages, {"role": "assistant", "content": group[index].text}],
        "meta": {"origin": group[index].origin, "candidates": len(group)},
    }
    arrow = formats.to_arrow_row(row, "messages", source=BEST_OF_N)
    arrow["score"] = float(score)
    kept.append(arrow)
