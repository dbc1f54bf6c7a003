"""The texts of a corpus for training a tokenizer: any input curate reads, one document at a time.

Files, folders and globs of JSONL, JSON, Parquet, text and WET (a curate dataset folder means
its kept rows). A JSON record without the text field gives every string it holds (Alpaca
tasks, chat messages, preference pairs), so `init-model` can learn from instruction data
too. Each document carries the language its record names (a `lang` or `language` field, in
the record or its meta), which the held-out report uses before guessing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from curate.errors import UserError
from curate.io import remote
from curate.io.fingerprint import input_fingerprint
from curate.io.input_file import InputFile
from curate.io.readers import READERS, ReaderOptions, read_file
from curate.io.sources import WARC, Inputs, SkippedInput, expand_inputs, print_skipped

# Keys of a record that hold bookkeeping, not text (curate's columns, and chat roles).
_NOT_TEXT_KEYS = frozenset({"id", "source", "meta", "role", "reason", "duplicate_of"})
_LANG_KEYS = ("lang", "language")


@dataclass
class CorpusStats:
    """What reading the corpus found: kept for the folder's JSON and for error messages."""

    files: list[dict] = field(default_factory=list)  # fingerprints, in reading order
    records: int = 0  # documents or records read (each counts towards max_documents)
    with_text: int = 0  # of them, those that gave at least one non-empty text
    texts: int = 0  # strings given to the tokenizer trainer
    characters: int = 0
    unreadable: int = 0  # records the readers could not parse (skipped)
    truncated: bool = False  # stopped at max_documents
    skipped: list[dict] = field(default_factory=list)  # files in the corpus folders not read, with why


@dataclass
class Document:
    """One document or record of the corpus: its non-empty texts, and the language its
    record names (a `lang` or `language` field, in the record or its meta), if any."""

    texts: list[str]
    lang: str | None = None


def record_texts(record: object, text_field: str = "text") -> list[str]:
    """The texts of one JSON record: its `text_field` if that is a string, else every
    string it holds (instruction, output, messages' contents...), bookkeeping left out."""
    if isinstance(record, dict) and isinstance(record.get(text_field), str):
        return [record[text_field]]
    found: list[str] = []
    stack = [record]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            stack.extend(item for key, item in reversed(value.items()) if key not in _NOT_TEXT_KEYS)
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return found


def _lang_of(record: object) -> str | None:
    """The language a record (or its `meta`) names, lower-cased; None when it names none."""
    for holder in (record, record.get("meta") if isinstance(record, dict) else None):
        if isinstance(holder, dict):
            for key in _LANG_KEYS:
                if isinstance(holder.get(key), str) and holder[key].strip():
                    return holder[key].strip().lower()
    return None


def _meta_lang(meta: str | None) -> str | None:
    if not meta or "lang" not in meta:  # most metas name no language: skip parsing them
        return None
    try:
        return _lang_of(orjson.loads(meta))
    except orjson.JSONDecodeError:
        return None


def _has_column(item: InputFile, name: str) -> bool:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = remote.parquet_schema(item.url) if item.url else pq.read_schema(item.path)
        return name in schema.names
    except (pa.ArrowException, OSError):
        return True  # unreadable: the reader reports it as one unreadable record


def _rejected(batch) -> Iterator[Document | None]:
    """A reader's rejected rows: no text (an empty file, a record without text) or unreadable (None)."""
    if batch.rejected is not None:
        for reason in batch.rejected.column("reason").to_pylist():
            yield Document([]) if reason.startswith(("empty:", "missing:", "invalid:")) else None


def _file_documents(item: InputFile, text_field: str, text_lines: bool = False) -> Iterator[Document | None]:
    """Each document or record of a file; None for one the reader could not parse."""
    if not READERS[item.format].records or (item.format == "parquet" and _has_column(item, text_field)):
        options = ReaderOptions(text_field=text_field, text_lines=text_lines)
        for batch in read_file(item, options):
            texts = batch.docs.column("text").to_pylist()
            metas = batch.docs.column("meta").to_pylist()
            # a `lang` column (a Parquet file's own, or the one langid wrote) before meta's
            columns = [name for name in _LANG_KEYS if name in batch.docs.column_names]
            langs = batch.docs.column(columns[0]).to_pylist() if columns else [None] * len(texts)
            for text, meta, lang in zip(texts, metas, langs, strict=True):
                named = lang.strip().lower() if isinstance(lang, str) and lang.strip() else _meta_lang(meta)
                yield Document([text] if text is not None else [], named)
            yield from _rejected(batch)
        return
    # JSON records (and Parquet without the text column): whole records, so that files with
    # no text field (Alpaca tasks, chat messages, preference pairs) still give their text.
    options = ReaderOptions(text_field=text_field, records=True)
    for batch in read_file(item, options):
        for raw in batch.docs.column("text").to_pylist():
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                yield None
                continue
            yield Document(record_texts(record, text_field), _lang_of(record))
        yield from _rejected(batch)


def corpus_documents(
    corpus: list[str],
    stats: CorpusStats,
    text_field: str = "text",
    max_documents: int | None = None,
    see: str = "curate_init.json",
    text_lines: bool = False,
) -> Iterator[Document]:
    """The documents with text of the corpus inputs (files, folders, globs; JSONL, JSON,
    Parquet, text, WET; a curate dataset folder means its kept rows), in input order,
    counting into `stats`. A JSON record without `text_field` gives every string it holds.
    Skipped inputs are printed, pointing at `see`; `text_lines` makes each line of a text
    file a document."""
    inputs = _without_warc(expand_inputs(list(corpus)), corpus)
    stats.skipped = [entry.to_json() for entry in inputs.skipped]
    print_skipped(inputs.skipped, see=see)
    for item in inputs:
        stats.files.append(input_fingerprint(item))
        for document in _file_documents(item, text_field, text_lines):
            if max_documents is not None and stats.records >= max_documents:
                stats.truncated = True
                return
            stats.records += 1
            if document is None:
                stats.unreadable += 1
                continue
            document.texts = [text for text in document.texts if text]
            if document.texts:
                stats.with_text += 1
                stats.texts += len(document.texts)
                stats.characters += sum(map(len, document.texts))
                yield document


def _without_warc(inputs: Inputs, corpus: list[str]) -> Inputs:
    """A WARC holds HTML pages, not text to learn tokens from: one met in a folder is skipped
    with that advice, one named alone is refused."""
    pages = [item for item in inputs if item.format == "warc"]
    if not pages:
        return inputs
    if len(pages) == len(inputs):
        raise UserError(
            f"{pages[0].source} is a WARC of HTML pages: extract its text first "
            f"(curate extract {pages[0].source} -o OUT) and give OUT as the corpus"
        )
    advice = "HTML pages: extract their text first (curate extract)"
    skipped = [SkippedInput(item.path, WARC, advice, within=_argument(item.path, corpus)) for item in pages]
    return Inputs([item for item in inputs if item.format != "warc"], [*inputs.skipped, *skipped])


def _argument(path: Path, corpus: list[str]) -> str:
    """The corpus argument (a folder or glob) `path` was found under."""
    resolved = path.resolve()
    for argument in corpus:
        folder = Path(argument).resolve()
        if folder.is_dir() and resolved.is_relative_to(folder):
            return argument.rstrip("/") + "/"  # as expand_inputs names a folder it scanned
    return corpus[0]


def corpus_texts(
    corpus: list[str], stats: CorpusStats, text_field: str = "text", max_documents: int | None = None
) -> Iterator[str]:
    """The non-empty texts of `corpus_documents`, one after another."""
    for document in corpus_documents(corpus, stats, text_field, max_documents):
        yield from document.texts


def no_text_error(corpus: list[str], stats: CorpusStats, text_field: str) -> UserError:
    read = f"{stats.records:,} record(s) read" + (f", {stats.unreadable:,} unreadable" if stats.unreadable else "")
    return UserError(
        f"no text in the corpus {', '.join(corpus)} ({read}); pass files with a '{text_field}' field "
        "(or --text-field NAME), text files, or records holding strings"
    )
