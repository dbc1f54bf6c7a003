"""How well tokenizers fit a held-out split: `report.md` and `fertility.png` of `curate train-tokenizer`.

For each tokenizer (the new one and each `--compare` folder) and each language of the
held-out documents:

    tokens/word   fertility: tokens per whitespace-separated word (an eojeol in Korean)
    tokens/char   tokens per character; 1.0 means one token a character
    unknown       share of tokens that are the unknown token (text the tokenizer lost)
    byte          share of byte tokens: SentencePiece's `<0x..>` byte fallback, or a byte-level
                  token that holds only part of a character (a UTF-8 sequence cut short)
    vocab used    share of the vocabulary seen on these documents

A document's language is the one its record names (`lang` or `language`, normalised to
ISO 639-1 for English and Korean), else a guess from its letters: Korean when at least 30%
of its letters are Hangul, English when at least half are Latin, otherwise `other`. That is
all the report needs (a split by script), and costs a regex per document instead of a
language-identification model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from curate.corpus.languages import language_code
from curate.corpus.tokenize.texts import Document
from curate.errors import UserError
from curate.io.atomic import atomic_path
from curate.io.markdown import cell
from curate.llm.devices import first_line

REPORT = "report.md"
CHART = "fertility.png"
BATCH = 256  # texts per tokenizer call

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")
_NAMES = {"english": "en", "korean": "ko"}
_ORDER = {"en": 0, "ko": 1}
# What only a tokenizer folder holds (a fast tokenizer, its config, a SentencePiece model), and
# the vocabularies a BPE or WordPiece one may hold instead.
TOKENIZER_MARKERS = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
_TOKENIZER_FILES = (*TOKENIZER_MARKERS, "vocab.json", "vocab.txt")
_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def language(document: Document) -> str:
    """The document's language: the one its record names, else a guess from its script."""
    if document.lang:
        return _NAMES.get(document.lang) or language_code(document.lang)  # ko-KR, kor_Hang: ko
    text = " ".join(document.texts)
    letters = sum(1 for char in text if char.isalpha())
    if not letters:
        return "other"
    if len(_HANGUL.findall(text)) >= 0.3 * letters:
        return "ko"
    return "en" if len(_LATIN.findall(text)) >= 0.5 * letters else "other"


def is_tokenizer_folder(path: str | Path) -> bool:
    """A folder holding a tokenizer's own files (not merely a vocab.txt, which a corpus may hold)."""
    folder = Path(path)
    return folder.is_dir() and any((folder / name).is_file() for name in TOKENIZER_MARKERS)


def load_tokenizers(folders: Sequence[str]) -> list[tuple[str, object]]:
    """The `--compare` tokenizers, named by their folders; a folder that is not one is refused."""
    from transformers import AutoTokenizer

    loaded, names = [], set()
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            what = "is not a folder" if path.exists() else "does not exist"
            raise UserError(f"--compare {folder} {what}; give a local tokenizer folder (AutoTokenizer's)")
        if not any((path / name).is_file() for name in _TOKENIZER_FILES):
            raise UserError(f"--compare {folder} holds no tokenizer ({', '.join(_TOKENIZER_FILES[:3])}...)")
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        # transformers raises OSError, ValueError, KeyError, TypeError... for folders it cannot read
        except Exception as error:
            raise UserError(
                f"--compare {folder} is not a tokenizer folder AutoTokenizer can load: {first_line(error)}"
            ) from None
        try:  # before any training: a tokenizer that cannot encode fails now, in one line
            tokenizer(["A probe sentence. 한국어 문장입니다."], add_special_tokens=False)
        except Exception as error:
            raise UserError(f"--compare {folder}: the tokenizer cannot encode text: {first_line(error)}") from None
        name = path.resolve().name or str(path)
        while name in names:
            name += "'"
        names.add(name)
        loaded.append((name, tokenizer))
    return loaded


def _byte_token_ids(tokenizer) -> set[int]:
    """Ids of byte tokens: `<0x..>` byte-fallback pieces, or (byte-level tokenizers) tokens whose
    bytes are not whole UTF-8 characters."""
    vocab = tokenizer.get_vocab()
    found = {index for token, index in vocab.items() if _BYTE_PIECE.fullmatch(token)}
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    if type(decoder).__name__ != "ByteLevel":
        return found
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    byte_of = {char: byte for byte, char in bytes_to_unicode().items()}
    special = set(tokenizer.all_special_ids)
    for token, index in vocab.items():
        if index in special or any(char not in byte_of for char in token):
            continue
        try:
            bytes(byte_of[char] for char in token).decode("utf-8")
        except UnicodeDecodeError:
            found.add(index)
    return found


def _measure(tokenizer, documents: list[tuple[str, Document]]) -> dict:
    unknown = tokenizer.unk_token_id
    byte_ids = _byte_token_ids(tokenizer)
    size = len(tokenizer)
    counts: dict[str, dict] = {}
    seen: dict[str, set[int]] = {}
    texts = [(lang, text) for lang, document in documents for text in document.texts]
    for lang, _ in documents:
        entry = counts.setdefault(
            lang, dict.fromkeys(("documents", "words", "characters", "tokens", "unknown", "byte"), 0)
        )
        entry["documents"] += 1
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        # verbose=False: a held-out document longer than model_max_length is measured, not warned about
        encoded = tokenizer([text for _, text in batch], add_special_tokens=False, verbose=False)["input_ids"]
        for (lang, text), ids in zip(batch, encoded, strict=True):
            entry = counts[lang]
            entry["words"] += len(text.split())
            entry["characters"] += len(text)
            entry["tokens"] += len(ids)
            entry["unknown"] += sum(1 for index in ids if index == unknown) if unknown is not None else 0
            entry["byte"] += sum(1 for index in ids if index in byte_ids)
            seen.setdefault(lang, set()).update(ids)
    rows = {}
    for lang in sorted(counts, key=lambda name: (_ORDER.get(name, 2), name)):
        rows[lang] = _ratios(counts[lang], len(seen.get(lang, ())), size)
    total = {
        key: sum(entry[key] for entry in counts.values())
        for key in ("documents", "words", "characters", "tokens", "unknown", "byte")
    }
    rows["all"] = _ratios(total, len(set().union(*seen.values())) if seen else 0, size)
    return rows


def _ratios(entry: dict, seen: int, size: int) -> dict:
    tokens = entry["tokens"]
    return {
        **entry,
        "tokens_per_word": round(tokens / entry["words"], 4) if entry["words"] else None,
        "tokens_per_char": round(tokens / entry["characters"], 4) if entry["characters"] else None,
        "unknown_share": round(entry["unknown"] / tokens, 6) if tokens else None,
        "byte_share": round(entry["byte"] / tokens, 6) if tokens else None,
        "vocab_seen": seen,
        "vocab_used": round(seen / size, 4) if size else None,
    }


def evaluate(tokenizers: Sequence[tuple[str, object]], documents: Sequence[Document]) -> dict:
    """Each tokenizer's figures per language (and `all`) on `documents`, the first one the new tokenizer."""
    labelled = [(language(document), document) for document in documents]
    entries = []
    for index, (name, tokenizer) in enumerate(tokenizers):
        try:
            languages = _measure(tokenizer, labelled)
        # a --compare tokenizer's own code (a slow or remote-code tokenizer) may raise anything
        except Exception as error:
            if index == 0:
                raise
            raise UserError(
                f"--compare {name}: the tokenizer failed on the held-out text: {first_line(error)}"
            ) from None
        entries.append({"name": name, "new": index == 0, "vocab_size": len(tokenizer), "languages": languages})
    return {"held_out_documents": len(labelled), "tokenizers": entries}


# ------------------------------------------------------------------------------ report


def _number(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.2f}%" if percent else f"{value:.3f}"


def _table(evaluation: dict) -> list[str]:
    lines = [
        "| tokenizer | language | documents | words | characters | tokens | tokens/word | tokens/char "
        "| unknown | byte | vocab used |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for entry in evaluation["tokenizers"]:
        name = cell(entry["name"]) + (" (new)" if entry["new"] else "")
        for lang, row in entry["languages"].items():
            lines.append(
                f"| {name} | {cell(lang)} | {row['documents']:,} | {row['words']:,} | {row['characters']:,} "
                f"| {row['tokens']:,} | {_number(row['tokens_per_word'])} | {_number(row['tokens_per_char'])} "
                f"| {_number(row['unknown_share'], True)} | {_number(row['byte_share'], True)} "
                f"| {_number(row['vocab_used'], True)} ({row['vocab_seen']:,} of {entry['vocab_size']:,}) |"
            )
    return lines


def write_report(folder: Path, info: dict) -> list[str]:
    """Write report.md (and fertility.png when there is something to draw) into `folder`."""
    evaluation = info["evaluation"]
    corpus = info["corpus"]
    lines = [
        "# Tokenizer report",
        "",
        f"A {info['algorithm']} tokenizer of {info['vocab_size']:,} tokens ({info['vocab_size_asked']:,} asked), "
        f"trained on {corpus['trained_on_documents']:,} documents ({corpus['characters']:,} characters read) "
        f"and measured on {corpus['held_out_documents']:,} held-out documents "
        f"(--eval-fraction {info['eval_fraction']}, --seed {info['seed']}).",
        "",
        f"Special tokens: {cell(', '.join(info['special_tokens']['ids']))}. "
        f"Chat template: {cell(info['chat_template'])}.",
        "",
    ]
    written = [REPORT]
    if not evaluation["held_out_documents"]:
        lines += [
            "No document fell in the held-out split (a small corpus, or --eval-fraction 0): nothing measured.",
            "",
        ]
    else:
        lines += ["## On the held-out split", "", *_table(evaluation), ""]
        lines += [
            "tokens/word: tokens per whitespace-separated word (Korean: per eojeol); tokens/char: per "
            "character; unknown: share of unknown tokens; byte: share of byte tokens (byte fallback, "
            "or byte-level tokens holding part of a character); vocab used: share of the vocabulary "
            "these documents use. Languages are named by the records or guessed from the script.",
            "",
        ]
        if _chart(folder / CHART, evaluation):
            lines += [f"![fertility]({CHART})", ""]
            written.append(CHART)
    with atomic_path(folder / REPORT) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return written


def _chart(path: Path, evaluation: dict) -> bool:
    """Tokens per word and per character, a bar per tokenizer in each language's group."""
    from curate.pipeline.plots import chart_library_available, save_figure

    if not chart_library_available():
        return False
    from matplotlib.figure import Figure

    entries = evaluation["tokenizers"]
    languages = [lang for lang in entries[0]["languages"] if lang != "all"] + ["all"]
    figure = Figure(figsize=(10, 4), layout="constrained")
    width = 0.8 / len(entries)
    for axes, key, title in zip(
        figure.subplots(1, 2),
        ("tokens_per_word", "tokens_per_char"),
        ("tokens per word", "tokens per character"),
        strict=True,
    ):
        for index, entry in enumerate(entries):
            values = [(entry["languages"].get(lang) or {}).get(key) or 0 for lang in languages]
            positions = [place + (index - (len(entries) - 1) / 2) * width for place in range(len(languages))]
            label = entry["name"] + (" (new)" if entry["new"] else "")
            axes.bar(positions, values, width, label=label, color=_COLORS[index % len(_COLORS)])
        axes.set_xticks(range(len(languages)), languages)
        axes.set_title(f"{title} (held-out, lower is fewer tokens)")
    figure.axes[0].legend(fontsize="small")
    save_figure(figure, path)
    return True
