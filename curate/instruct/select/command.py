"""`curate select`: a small, diverse, high-quality subset of an SFT set (LIMA, AlpaGasus, Deita).

Every row is scored (a heuristic floor, then `quality` and `complexity`, each optional),
ranked by the combined score, and walked best first: a row is kept when no kept row is more
similar than --max-cosine (sentence embeddings), until --budget rows are kept. Every row not
kept is in rejected/ with its reason and scores: `select:below_quality`, `select:too_similar`
(with the kept row it resembles), `select:over_budget`.

The combined score is the product of each score's percentile rank among the scored rows
(Deita multiplies quality by complexity; ranks make a reward model's unbounded scores and a
1-5 rating comparable). Ties are broken by a permutation drawn from --seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from curate.errors import UserError
from curate.instruct import formats
from curate.instruct.formats.canonical import is_id
from curate.instruct.interop import write_interop_files
from curate.instruct.rows import Unreadable, rows_or_problems
from curate.instruct.select import diversity, heuristics
from curate.instruct.select.scores import ScoreOptions, check_options, complexity_scores, quality_scores
from curate.instruct.spans import message_text
from curate.io.manifest import read_manifest
from curate.io.schema import RECORD_REJECTED_SCHEMA
from curate.io.writer import WriterOptions
from curate.llm.factory import CLIENT_OPTION_NAMES
from curate.pipeline import folder, in_memory
from curate.pipeline.folder import FolderState
from curate.pipeline.identity import RUNTIME_OPTIONS, job_identity
from curate.pipeline.job import JobResult

SOURCE = "select"
BELOW_QUALITY, TOO_SIMILAR, OVER_BUDGET = "select:below_quality", "select:too_similar", "select:over_budget"
SCORE_COLUMNS = ("quality", "complexity", "score")
_SCORE_FIELDS = [pa.field(name, pa.float64()) for name in SCORE_COLUMNS]
KEPT_SCHEMA = pa.schema(list(formats.output_schema("messages", alpaca_columns=True)) + _SCORE_FIELDS)
REJECTED_SCHEMA = pa.schema(list(RECORD_REJECTED_SCHEMA) + _SCORE_FIELDS)
TRANSPORT_OPTIONS = RUNTIME_OPTIONS | CLIENT_OPTION_NAMES | {"base_url", "embedding_base_url", "embedding_batch_size"}
CATEGORY_KEYS = ("category", "task_category", "motivation_app", "topic")


@dataclass(frozen=True)
class SelectSettings:
    budget: int | None = None
    max_cosine: float | None = 0.9
    min_quality: float | None = None
    embedding_model: str | None = None
    embedding_base_url: str | None = None
    embed_answer: bool = False
    embedding_batch: int = 32  # texts per endpoint request or forward pass
    index: str = diversity.AUTO
    seed: int = 0


@dataclass
class Row:
    id: str
    row: dict  # the canonical row
    place: str
    group: str  # its source or category, for the report
    quality: float | None = None
    complexity: float | None = None
    score: float | None = None
    reason: str | None = None
    detail: str = ""

    @property
    def prompt(self) -> list[dict]:
        messages = self.row["messages"]
        last_user = max(i for i, message in enumerate(messages) if message["role"] == "user")
        return messages[: last_user + 1]

    @property
    def answer(self) -> str:
        return heuristics.last_exchange(self.row["messages"])[1]

    def embedding_text(self, with_answer: bool) -> str:
        users = "\n".join(message_text(m) for m in self.row["messages"] if m["role"] in ("system", "user"))
        return f"{users}\n{self.answer}" if with_answer else users


def select_dataset(
    inputs: list[str],
    output: Path,
    settings: SelectSettings,
    scoring: ScoreOptions,
    *,
    options: dict,
    command_line: str,
    writer: WriterOptions | None = None,
    input_format: str = "auto",
    from_format: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> JobResult:
    """Score, rank and pick a diverse subset of `inputs`' SFT rows into the folder `output`."""
    clock = folder.Clock()
    check_options(scoring)
    _check_settings(settings, scoring)
    rows, fingerprints = _load(inputs, input_format, from_format)
    models = {
        "judge": [scoring.judge, scoring.judge_model],
        "complexity": [scoring.complexity, scoring.complexity_model],
        "embedding": settings.embedding_model,
    }
    identity = job_identity(SOURCE, options, runtime_options=TRANSPORT_OPTIONS, inputs=fingerprints, models=models)
    if in_memory.prepare(output, identity, overwrite, command_line) is FolderState.COMPLETE:
        return JobResult(output, read_manifest(output), skipped=True)

    encoder = _encoder(settings, scoring, progress)  # a wrong model or key stops the run before any rating
    stats: dict = {"rows": len(rows)}
    for row in rows:
        if row.reason is None and (problem := heuristics.floor_problem(row.row["messages"])) is not None:
            row.reason, row.detail = BELOW_QUALITY, f"{row.place}: {problem}"
    candidates = [row for row in rows if row.reason is None]
    stats |= _score(candidates, scoring, settings)
    candidates = [row for row in candidates if row.reason is None]
    vectors, stats["embeddings"] = _embed(candidates, encoder, settings, progress)
    _combine(candidates)
    order = _ranked(candidates, settings.seed)
    index = diversity.chosen_index(settings.index, len(candidates)) if vectors is not None else None
    picked = diversity.greedy_select(order, vectors, settings.max_cosine, settings.budget, index or diversity.EXACT)
    for position, (near, cosine) in picked.too_similar.items():
        row = candidates[position]
        row.reason, row.detail = TOO_SIMILAR, f"cosine {cosine:.3f} to kept row {candidates[near].id}"
    for position in picked.over_budget:
        candidates[position].reason = OVER_BUDGET
        candidates[position].detail = f"ranked below the budget of {settings.budget:,}"
    stats |= {"kept": len(picked.selected), "budget": settings.budget, "max_cosine": settings.max_cosine}
    stats["index"] = index
    kept = [row for row in rows if row.reason is None]
    manifest = in_memory.sealed_manifest(
        output, command=SOURCE, command_line=command_line, options=options, identity=identity, inputs=fingerprints,
        kept=[_kept_arrow(row) for row in kept], kept_schema=KEPT_SCHEMA,
        rejected=[_rejected_arrow(row) for row in rows if row.reason is not None], rejected_schema=REJECTED_SCHEMA,
        clock=clock, writer=writer, extra={SOURCE: stats},
    )  # fmt: skip
    from curate.instruct.select.report import write_select_report

    write_select_report(output, manifest, rows, vectors, candidates, picked.selected)
    write_interop_files(output, "messages", output.resolve().name, manifest["counts"], command_line)
    folder.finish(output, manifest)
    return JobResult(output, manifest, skipped=False)


def _load(inputs: list[str], input_format: str, from_format: str | None) -> tuple[list[Row], list[dict]]:
    found = rows_or_problems(inputs, input_format, from_format)
    if found.kind != formats.SFT:
        raise UserError(f"curate select reads instruction (SFT) data; {', '.join(inputs)} holds {found.format} rows")
    rows = []
    for number, (row, place) in enumerate(found.rows):
        if isinstance(row, Unreadable):  # below any floor: kept in rejected/ with what is wrong
            entry = Row(str(row.id or f"row-{number:07d}"), {"record": row.record}, place, _file_name(place))
            entry.reason, entry.detail = BELOW_QUALITY, f"{place}: not a readable {found.format} row ({row.error})"
            rows.append(entry)
            continue
        row_id = str(row["id"]) if is_id(row.get("id")) else f"row-{number:07d}"
        meta = row.get("meta") or {}
        for name in SCORE_COLUMNS:  # a select folder's own scores, read back into meta: this run scores anew
            meta.pop(name, None)
        group = next((str(meta[key]) for key in CATEGORY_KEYS if isinstance(meta.get(key), str)), None)
        source = row.get("source") if isinstance(row.get("source"), str) else None
        entry = Row(row_id, row, place, group or source or _file_name(place))
        if not any(message["role"] == "user" for message in row["messages"]):
            entry.reason, entry.detail = BELOW_QUALITY, f"{place}: no user turn"
        rows.append(entry)
    if not rows:
        raise UserError(f"no row to select from in {', '.join(inputs)}")
    return rows, found.fingerprints


def _file_name(place: str) -> str:
    return Path(place.rsplit(":", 1)[0]).name


def _score(rows: list[Row], scoring: ScoreOptions, settings: SelectSettings) -> dict:
    stats: dict = {}
    if scoring.judge is not None and rows:
        judged, stats["judge"] = quality_scores([row.prompt for row in rows], [row.answer for row in rows], scoring)
        for row, judgement in zip(rows, judged):
            row.quality = judgement.score
            if judgement.score is None:
                row.reason, row.detail = BELOW_QUALITY, f"no quality score: {judgement.failure}"
            elif settings.min_quality is not None and judgement.score < settings.min_quality:
                row.reason = BELOW_QUALITY
                row.detail = f"quality {judgement.score:g} < --min-quality {settings.min_quality:g}"
    scored = [row for row in rows if row.reason is None]
    if scoring.complexity != "none" and scored:
        rated, stats["complexity"] = complexity_scores([row.prompt for row in scored], scoring)
        for row, judgement in zip(scored, rated):
            row.complexity = judgement.score  # a rating that failed is left out of the rank (None)
    return stats


def _check_settings(settings: SelectSettings, scoring: ScoreOptions) -> None:
    from curate.llm.local import missing_folder
    from curate.llm.openai_compat import ClientSettings, api_key

    if settings.min_quality is not None and scoring.judge is None:
        raise UserError("--min-quality needs a quality score: add --judge-model (and --judge llm|reward-model)")
    model = settings.embedding_model
    if model is None:
        for given, name in (
            (settings.embedding_base_url, "--embedding-base-url"),
            (settings.embed_answer, "--embed-answer"),
        ):
            if given:
                raise UserError(f"{name} needs --embedding-model")
        if settings.index == diversity.APPROXIMATE:
            raise UserError("--index approximate needs --embedding-model")
    elif settings.embedding_base_url is not None:
        api_key(ClientSettings(model, settings.embedding_base_url, scoring.client.api_key_env))
    elif missing_folder(model):
        raise UserError(f"--embedding-model {model}: no such model folder (or name a model on an endpoint with "
                        "--embedding-base-url)")  # fmt: skip


def _encoder(settings: SelectSettings, scoring: ScoreOptions, progress: bool):
    if settings.embedding_model is None:
        return None
    from curate.instruct.select.embeddings import make_encoder

    return make_encoder(
        settings.embedding_model, settings.embedding_base_url, scoring.client, settings.embedding_batch, progress
    )


def _embed(rows: list[Row], encoder, settings: SelectSettings, progress: bool) -> tuple[np.ndarray | None, dict | None]:
    if encoder is None:
        return None, None
    bar = tqdm(total=len(rows), desc="embed", unit="row", disable=not progress or not rows, dynamic_ncols=True)
    try:
        texts = without_boilerplate([row.embedding_text(settings.embed_answer) for row in rows])
        vectors = encoder.encode(texts, progress=bar.update) if rows else None
    finally:
        bar.close()
        close = getattr(encoder, "close", None)
        if close is not None:
            close()
    if vectors is None:
        return None, encoder.stats() | {"dimensions": 0, "with_answer": settings.embed_answer}
    return vectors, encoder.stats() | {"dimensions": int(vectors.shape[1]), "with_answer": settings.embed_answer}


def without_boilerplate(texts: list[str]) -> list[str]:
    """The texts less the prefix and suffix every one of them shares (a prompt template such as
    Alpaca's "Below is an instruction..." around rendered rows), cut at whitespace: shared
    words would pull every cosine towards 1. Texts that would be left empty are kept whole."""
    if len(texts) < 2:
        return texts
    prefix = _common_prefix(texts)
    if prefix and not prefix[-1].isspace():  # back to a word boundary
        prefix = prefix[: max((i + 1 for i, char in enumerate(prefix) if char.isspace()), default=0)]
    suffix = _common_prefix([text[::-1] for text in texts])[::-1]
    if suffix and not suffix[0].isspace():
        suffix = suffix[next((i for i, char in enumerate(suffix) if char.isspace()), len(suffix)) :]
    if len(prefix) + len(suffix) > min(map(len, texts)):
        suffix = ""
    trimmed = [text[len(prefix) : len(text) - len(suffix)] for text in texts]
    return trimmed if all(text.strip() for text in trimmed) else texts


def _common_prefix(texts: list[str]) -> str:
    """The longest prefix of every text: that of the first and last in sorted order."""
    first, last = min(texts), max(texts)
    return first[: sum(1 for _ in takewhile(lambda pair: pair[0] == pair[1], zip(first, last)))]


def _combine(rows: list[Row]) -> None:
    """score = the product of each available score's percentile rank (a missing score counts 0.5)."""
    from scipy.stats import rankdata

    combined = np.ones(len(rows))
    for name in ("quality", "complexity"):
        values = np.array([getattr(row, name) for row in rows], dtype=object)
        present = np.array([value is not None for value in values])
        if not present.any():
            continue
        ranks = np.full(len(rows), 0.5)
        ranks[present] = rankdata(values[present].astype(float), method="average") / present.sum()
        combined *= ranks
    for row, value in zip(rows, combined):
        row.score = round(float(value), 6)


def _ranked(rows: list[Row], seed: int) -> list[int]:
    """Positions best first; equal scores in an order drawn from `seed`."""
    tiebreak = np.random.default_rng(seed).permutation(len(rows))
    return sorted(range(len(rows)), key=lambda i: (-rows[i].score, tiebreak[i]))


def _scores(row: Row) -> dict:
    return {"quality": row.quality, "complexity": row.complexity, "score": row.score}


def _kept_arrow(row: Row) -> dict:
    arrow = formats.to_arrow_row(row.row, "messages", source=SOURCE, alpaca_columns=True, validated=True)
    return arrow | _scores(row)


def _rejected_arrow(row: Row) -> dict:
    rejected = formats.rejected_row(row.id, SOURCE, row.reason, row.detail, row.row, {"group": row.group})
    return rejected | _scores(row)
