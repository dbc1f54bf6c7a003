"""The `curate translate` job: every text field of SFT or preference data through a model, checked.

Rows are read as `convert` reads them (rows.py), every field (fields.py) becomes one request
of the prompt template (templates/prompts/translate[.LANG].jinja), identical texts are asked
once, and all requests go to the backend in one `complete` call through the answer cache, so a
killed run resumes without sending a request twice and a re-run sends none. Each reply is
checked (checks.py, spans.py); a row with a field that fails goes to rejected/ with the first
field's reason. With `regenerate_answers` (SFT only) the answers are not translated: the
translated conversations are answered anew in the target language by `curate generate`'s
machinery (the KoAlpaca v1.1 lesson).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from curate.corpus.fasttext_models import DEFAULT_LANGID_URL
from curate.errors import UserError
from curate.instruct import formats
from curate.instruct.formats.canonical import derived_alpaca_keys, is_id
from curate.instruct.generate import answer_rows
from curate.instruct.interop import write_interop_files
from curate.instruct.rows import Unreadable, rows_or_problems
from curate.instruct.templates import PROMPTS_DIR, PromptTemplate
from curate.instruct.translate import checks, fields, report, spans
from curate.instruct.translate.languages import AUTO, chars_per_english_char, checked_code, name, script_language
from curate.io.manifest import read_manifest
from curate.io.schema import RECORD_REJECTED_SCHEMA as REJECTED_SCHEMA
from curate.io.writer import WriterOptions
from curate.llm.backend import ChatRequest, Completion, Sampling, derived_seed, require_answers
from curate.llm.cache import CachedBackend
from curate.llm.factory import CLIENT_OPTION_NAMES, make_backend, require_key
from curate.pipeline import folder, in_memory
from curate.pipeline.folder import FolderState
from curate.pipeline.identity import RUNTIME_OPTIONS, job_identity
from curate.pipeline.job import JobResult
from curate.prefs import candidates as cand
from curate.prefs.command import Policy

SOURCE = "translate"
SCHEMAS = {
    formats.SFT: formats.output_schema("messages", alpaca_columns=True),
    formats.PREFERENCE: formats.output_schema("preference"),
}
LAYOUTS = {formats.SFT: "messages", formats.PREFERENCE: "preference"}
ONE_TURN = ["user", "assistant"]
# Options that change how requests are sent, not which answers come back: not part of the job.
TRANSPORT_OPTIONS = RUNTIME_OPTIONS | CLIENT_OPTION_NAMES | {"base_url"}
MAX_TOKENS_BASE = 64  # a request's max tokens: at most this plus MAX_TOKENS_PER_CHAR per source character
MAX_TOKENS_PER_CHAR = 2  # generous: Korean takes ~0.45 characters per English one, a syllable up to 3 tokens


@dataclass(frozen=True)
class TranslateSettings:
    target: str  # ISO 639-1
    source_lang: str = AUTO
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.0, top_p=1.0, max_tokens=4096))
    seed: int = 0
    min_length_ratio: float | None = None  # None: by language pair (checks.default_min_ratio)
    prompt_template: str | Path | None = None  # None: translate.<target>.jinja, else translate.jinja
    langid_model: str = DEFAULT_LANGID_URL
    regenerate_answers: bool = False
    answer_model: str | None = None  # None: the translating model
    answer_sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.7, top_p=1.0, max_tokens=1024))


@dataclass
class Text:
    """One distinct source text: its request, its masked code blocks, and how its translation fared."""

    source: str
    request: ChatRequest | None  # None: the text is in the target language already, kept as it is
    blocks: list[str]
    translation: str = ""
    verdict: checks.Verdict = checks.PASSED


@dataclass
class Item:
    """One input row: its canonical row, where it was read, and its fields to translate."""

    id: str
    row: dict
    place: str
    fields: list[tuple[str, str]]
    source_lang: str = ""


def default_template(target: str) -> Path:
    own = PROMPTS_DIR / f"translate.{target}.jinja"
    return own if own.is_file() else PROMPTS_DIR / "translate.jinja"


def translate_dataset(
    inputs: list[str],
    output: Path,
    settings: TranslateSettings,
    translator: Policy,
    *,
    options: dict,
    command_line: str,
    writer: WriterOptions | None = None,
    input_format: str = "auto",
    from_format: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> JobResult:
    """Translate every text field of `inputs` into `settings.target` with `translator` into the folder `output`."""
    clock = folder.Clock()
    target = checked_code(settings.target, "--to")
    source_lang = (
        AUTO if settings.source_lang.strip().lower() == AUTO else checked_code(settings.source_lang, "--source-lang")
    )
    if source_lang == target:
        raise UserError(f"--source-lang and --to are both {target}: nothing to translate")
    answer_model = settings.answer_model or translator.model
    require_key(translator.backend, translator.model, translator.base_url, translator.client)
    found = rows_or_problems(inputs, input_format, from_format)
    kind = found.kind
    if settings.regenerate_answers and kind != formats.SFT:
        raise UserError(f"--regenerate-answers is for SFT data; {', '.join(inputs)} holds {kind} rows ({found.format})")
    items, unreadable = _items(found.rows, kind, settings.regenerate_answers, found.format)
    if not items and not unreadable:
        raise UserError(f"no row to translate in {', '.join(inputs)}")
    langid = checks.LanguageId(settings.langid_model)
    langid.require(target, "--to")
    template = PromptTemplate(settings.prompt_template or default_template(target), "translation prompt")
    _check_template(template, target)
    model = {"backend": translator.backend, "model": translator.model}
    if settings.regenerate_answers:
        model["answer_model"] = answer_model
    identity = job_identity(
        SOURCE, options, runtime_options=TRANSPORT_OPTIONS, inputs=found.fingerprints, model=model,
        template=template.fingerprint,
    )  # fmt: skip
    if in_memory.prepare(output, identity, overwrite, command_line) is FolderState.COMPLETE:
        return JobResult(output, read_manifest(output), skipped=True)

    texts = _texts(items, template, target, source_lang, settings, langid)
    asked = [text for text in texts.values() if text.request is not None]
    backend = make_backend(translator.backend, translator.model, translator.base_url, translator.client)
    backends = [backend]
    try:
        completions = _complete(backend, [text.request for text in asked], "translate", "text", progress)
        for text, completion in zip(asked, completions):
            _judge(text, completion, target, langid, settings.min_length_ratio)
        _source_langs(items, source_lang, langid)
        meta = {"model": translator.model, "target_lang": target}
        kept, rejected = _rows(items, texts, kind, meta, settings.regenerate_answers)
        rejected = unreadable + rejected
        if settings.regenerate_answers:
            if answer_model != translator.model:
                backends.append(make_backend(translator.backend, answer_model, translator.base_url, translator.client))
            kept, answer_rejects = _answer(kept, backends[-1], answer_model, settings, progress)
            rejected += answer_rejects
    finally:
        for each in backends:
            each.close()
    stats = {
        "rows": len(items) + len(unreadable),
        "kind": kind,
        "input_format": found.format,
        "target_lang": target,
        "source_lang": source_lang,
        "source_langs": dict(Counter(item.source_lang for item in items).most_common()),
        "fields": sum(len(item.fields) for item in items),
        "texts": len(texts),
        "texts_in_target_already": len(texts) - len(asked),
        "regenerate_answers": settings.regenerate_answers,
    }
    usage = sum((each.usage for each in backends[1:]), backends[0].usage).as_dict()
    manifest = in_memory.sealed_manifest(
        output, command=SOURCE, command_line=command_line, options=options, identity=identity,
        inputs=found.fingerprints, kept=[row for row, _ in kept], kept_schema=SCHEMAS[kind], rejected=rejected,
        rejected_schema=REJECTED_SCHEMA, clock=clock, writer=writer,
        extra={"model": model, "llm": usage, SOURCE: stats},
    )  # fmt: skip
    report.write_report(output, manifest, _examples(kept, texts, settings.regenerate_answers), rejected)
    write_interop_files(output, LAYOUTS[kind], output.resolve().name, manifest["counts"], command_line)
    folder.finish(output, manifest)
    return JobResult(output, manifest, skipped=False)


def _items(
    rows: Iterable[tuple[dict | Unreadable, str]], kind: str, regenerate: bool, fmt: str
) -> tuple[list[Item], list[dict]]:
    """The rows to translate, and the records the format cannot read (rejected with its reason)."""
    items, unreadable = [], []
    for number, (row, place) in enumerate(rows):
        if isinstance(row, Unreadable):
            detail = f"{place}: not a readable {fmt} row: {row.error.detail or row.error.reason}"
            raw = {"place": place, "record": row.record}
            unreadable.append(_rejected(str(row.id or f"row-{number:07d}"), row.error.reason, detail, raw))
            continue
        row_id = str(row["id"]) if is_id(row.get("id")) else f"row-{number:07d}"
        items.append(Item(row_id, row, place, fields.fields_of(row, kind, regenerate)))
    return items, unreadable


def _check_template(template: PromptTemplate, target: str) -> None:
    """A prompt that never shows the text would be sent for every field and rejected for all."""
    probe = "curate-probe-7f3a1c"
    shown = template.render(
        text=probe, target_language=name(target), target_code=target, source_language="", source_code=""
    )
    if probe not in shown:
        raise UserError(
            f"the translation prompt {template.path or ''} never shows {{{{ text }}}}, the text to translate"
        )


def _tool_turns(row: dict) -> bool:
    return bool(row.get("tools")) or any(m["role"] not in ("system", "user", "assistant") for m in row["messages"])


def _texts(
    items: list[Item],
    template: PromptTemplate,
    target: str,
    source_lang: str,
    settings: TranslateSettings,
    langid: checks.LanguageId,
) -> dict[str, Text]:
    """One request per distinct field text, in the order the texts first appear; a text that
    is in the target language already (checks.in_target_already) is kept as it is, unasked."""
    texts: dict[str, Text] = {}
    variables = {
        "target_language": name(target),
        "target_code": target,
        "source_language": name(source_lang) if source_lang != AUTO else "",
        "source_code": source_lang if source_lang != AUTO else "",
    }
    sampling = settings.sampling
    for item in items:
        for _, source in item.fields:
            if source in texts:
                continue
            if checks.in_target_already(source, target, langid):
                texts[source] = Text(source, None, [], translation=source)
                continue
            masked, blocks = spans.mask_code_blocks(source)
            messages = (("user", template.render(text=masked, **variables)),)
            max_tokens = min(sampling.max_tokens, MAX_TOKENS_BASE + MAX_TOKENS_PER_CHAR * len(masked))
            # the seed comes from the request's own text: its cache key is the same in any batch
            seed = derived_seed(json.dumps([settings.seed, messages], ensure_ascii=False, separators=(",", ":")))
            request = ChatRequest(
                messages, Sampling(sampling.temperature, sampling.top_p, max_tokens, seed, sampling.stop)
            )
            texts[source] = Text(source, request, blocks)
    return texts


def _complete(
    backend: CachedBackend, requests: list[ChatRequest], what: str, unit: str, progress: bool
) -> list[Completion]:
    completions = backend.complete_with_bar(requests, what, unit, progress)
    require_answers(completions, f"translate ({what})")
    return completions


def _judge(text: Text, completion: Completion, target: str, langid: checks.LanguageId, min_ratio: float | None) -> None:
    text.translation = spans.unmask_code_blocks(checks.unwrapped(completion.text), text.blocks)
    if text.translation:  # the source's leading and trailing whitespace, which models drop
        source = text.source
        text.translation = (
            source[: len(source) - len(source.lstrip())] + text.translation + source[len(source.rstrip()) :]
        )
    text.verdict = checks.field_verdict(text.source, completion, text.translation, target, langid, min_ratio)


def _source_langs(items: list[Item], given: str, langid: checks.LanguageId) -> None:
    """Each row's source language: the one given, else fastText's for the row's fields; a row with
    too little prose to tell ("Banana") gets the language most rows were found in."""
    if given != AUTO:
        for item in items:
            item.source_lang = given
        return
    for item in items:
        prose = spans.prose("\n".join(text for _, text in item.fields))
        script = script_language(prose) or "en"
        if checks.word_letters(prose) >= checks.MIN_LANGID_LETTERS * chars_per_english_char(script):
            item.source_lang = langid.top(prose)[0][0]
    found = Counter(item.source_lang for item in items if item.source_lang)
    usual = found.most_common(1)[0][0] if found else "und"
    for item in items:
        item.source_lang = item.source_lang or usual


def _rows(
    items: list[Item], texts: dict[str, Text], kind: str, meta: dict, regenerate: bool
) -> tuple[list[tuple[dict, Item]], list[dict]]:
    """The translated rows (Parquet rows, or with `regenerate` the prompts' rows) and the rejected."""
    kept, rejected = [], []
    for item in items:
        failed = [(name, texts[text].verdict) for name, text in item.fields if texts[text].verdict.reason is not None]
        translations = {name: texts[text].translation for name, text in item.fields}
        if failed:
            field_name, verdict = failed[0]
            more = f"; {len(failed) - 1} more fields failed" if len(failed) > 1 else ""
            detail = f"{item.place}: {field_name}: {verdict.detail}{more}"
            rejected.append(_rejected(item.id, verdict.reason, detail, {"row": item.row, "translations": translations}))
            continue
        if regenerate and _tool_turns(item.row):
            detail = (
                f"{item.place}: --regenerate-answers answers plain conversations; this row has tool calls or results"
            )
            rejected.append(_rejected(item.id, "has_tool_turns", detail, {"row": item.row}))
            continue
        if regenerate:  # a new conversation: the source row's meta (hints about its messages) stays behind
            prompt = {
                "messages": fields.prompt_messages(item.row, translations),
                "meta": {**meta, "source_lang": item.source_lang},
            }
            kept.append((prompt, item))
            continue
        row_meta = {**item.row.get("meta", {}), **meta, "source_lang": item.source_lang}
        previous = item.row.get("meta", {}).get("model")
        if previous is not None and previous != meta["model"]:
            row_meta["source_model"] = previous  # the model that wrote the source rows, e.g. a generate teacher
        row = fields.translated_row(item.row, kind, translations) | {"id": item.id, "meta": row_meta}
        if kind == formats.SFT and not fields.is_alpaca(row) and [m["role"] for m in row["messages"]] == ONE_TURN:
            row |= derived_alpaca_keys(row["messages"])  # one instruction: Alpaca's columns too, as generate writes
        try:
            kept.append((formats.to_arrow_row(row, LAYOUTS[kind], source=SOURCE, alpaca_columns=True), item))
        except formats.Unconvertible as error:  # e.g. chosen and rejected translated alike
            detail = f"{item.place}: the translated row is not a valid {kind} row: {error}"
            rejected.append(_rejected(item.id, error.reason, detail, {"row": item.row, "translations": translations}))
    return kept, rejected


def _answer(
    prompts: list[tuple[dict, Item]], backend: CachedBackend, model: str, settings: TranslateSettings, progress: bool
) -> tuple[list[tuple[dict, Item]], list[dict]]:
    """The translated conversations answered anew, as `curate generate` answers prompts."""
    asked = [cand.Prompt(item.id, prompt["messages"], place=item.place) for prompt, item in prompts]
    requests = cand.requests_for(asked, 1, settings.answer_sampling, settings.seed)
    completions = _complete(backend, requests, "answer", "answer", progress)
    kept, dropped = [], []
    for number, ((prompt, item), question) in enumerate(zip(prompts, asked)):
        rows, rejected = answer_rows([question], completions[number : number + 1], 1, model)
        for row in rows:
            row["source"] = SOURCE
            row["meta"] = formats.meta_text({**prompt["meta"], "answer_model": model})
            kept.append((row, item))
        dropped += rejected
    for row in dropped:
        row["source"] = SOURCE
        row["detail"] = f"answer: {row['detail']}"
    return kept, dropped


def _examples(
    kept: list[tuple[dict, Item]], texts: dict[str, Text], regenerate: bool
) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Some kept rows' fields beside their translations (and a new answer beside nothing)."""
    examples = []
    for row, item in kept[: report.EXAMPLES]:
        pairs = [(name, source, texts[source].translation) for name, source in item.fields]
        if regenerate:
            pairs.append(("new answer", "", row["messages"][-1]["content"]))
        examples.append((item.id, pairs))
    return examples


def _rejected(row_id: str, reason: str, detail: str, raw: dict) -> dict:
    return formats.rejected_row(row_id, SOURCE, reason, detail, raw)
