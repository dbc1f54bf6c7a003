"""`curate init-model`: a tokenizer trained here and a randomly initialised Llama, no download.

For tests, the demo, and anyone who wants to run the whole journey (self-instruct with a
local model, train-sft, train-dpo) on a laptop without fetching weights. The weights are
random: the text such a model writes is noise until it is trained.

The tokenizer is a byte-level BPE (the `tokenizers` library) trained on the corpus. Its
256 byte tokens are always in the vocabulary, so any UTF-8 text (Korean, emoji, code)
encodes and decodes back to itself; text is split before merging with the Qwen2 /
Llama-3 pattern (single digits, words with their leading space, newline runs), with no
normaliser, so `decode(encode(text)) == text` for every string.

Special tokens, always the first ids of the vocabulary:

    0 <|endoftext|>  bos_token: a document's start (the separator when raw text is packed);
                     `generate()` with no prompt starts from it. Generation also stops at
                     it (generation_config), for raw-text continuation.
    1 <|im_start|>   opens a ChatML turn (an extra special token).
    2 <|im_end|>     eos_token: closes a turn, so generation stops at the end of the
                     assistant's answer; the model learns to emit it in SFT.
    3 <|pad|>        pad_token: padding only, never in real text. Not the eos: collators
                     that mask padding in the labels (labels == pad -> -100) would then
                     also mask every <|im_end|> and the model would never learn to stop;
                     and Llama zeroes the pad row of the embedding (padding_idx), which
                     must not be a token the model reads.
    unk_token        none: every byte has a token, so nothing is ever unknown.

The tokenizer adds no token by itself (`encode(text)` is the text's tokens), so a
conversation rendered with the chat template tokenises to exactly the template's text, as
with Qwen2. The chat template is the shipped `templates/chatml.jinja`, and
`apply_chat_template` renders the same text as `load_template("chatml").render(...)`.

Sizes (Llama: RMSNorm, SwiGLU, RoPE theta 10000, grouped-query attention, 2048 positions,
tied input and output embeddings as small models do: SmolLM, Qwen2.5-0.5B, Llama-3.2-1B).
Parameters measured with the default 8,000-token vocabulary (each 1,000 tokens more add
64,000 to tiny and 512,000 to small):

    tiny   hidden 64, 2 layers, 4 heads (2 kv), MLP 128:       586,048 parameters
           (512,000 of them the embedding); 2.3 MB of float32 safetensors
    small  hidden 512, 8 layers, 8 heads (4 kv), MLP 1536:  29,270,528 parameters
           (4,096,000 of them the embedding); 117 MB of float32 safetensors

Measured on sample_data/ (100k characters, CPU): the tokenizer trains and either model is
built and saved in under half a second; `curate init-model` takes 5-6 s in all, nearly
all of it importing torch and transformers.

A model is deterministic: the same corpus, options and seed give byte-identical
`model.safetensors` and `tokenizer.json` (with the same torch, transformers and tokenizers).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from curate.errors import UserError
from curate.io.atomic import atomic_path
from curate.io.fingerprint import fingerprint
from curate.io.input_file import InputFile
from curate.io.readers import READERS, ReaderOptions, read_file
from curate.io.sources import expand_inputs, print_skipped
from curate.train.model_folder import check_model_folder, write_model_folder

BOS = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|pad|>"
# In id order: these are ids 0, 1, 2, 3 of every tokenizer made here.
SPECIAL_TOKENS = (BOS, IM_START, IM_END, PAD)
BYTE_TOKENS = 256

# How text is cut before BPE merges (Qwen2's pattern; Llama-3's with single digits):
# contractions, a word with at most one leading non-letter, each digit alone, punctuation
# runs, newline runs, and spaces. No merge crosses these boundaries.
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Keys of a record that hold bookkeeping, not text (curate's columns, and chat roles).
_NOT_TEXT_KEYS = frozenset({"id", "source", "meta", "role", "reason", "duplicate_of"})


@dataclass(frozen=True)
class ModelSize:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    tie_word_embeddings: bool = True


SIZES = {
    # For tests: builds in about a second, forward passes in milliseconds.
    "tiny": ModelSize(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128
    ),
    # For the demo: ~29M parameters with an 8k vocabulary. A training step of 8 x 256 tokens
    # (AdamW, float32) took 2.3 s on 2 CPU cores; the loss starts at ln(vocab), 9.1 for 8k.
    "small": ModelSize(
        hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4, intermediate_size=1536
    ),
}
MAX_POSITIONS = 2048
ROPE_THETA = 10000.0


# ------------------------------------------------------------------------------ corpus


@dataclass
class CorpusStats:
    """What reading the corpus found: kept for `curate_init.json` and for error messages."""

    files: list[dict] = field(default_factory=list)  # fingerprints, in reading order
    records: int = 0  # documents or records read (each counts towards max_documents)
    with_text: int = 0  # of them, those that gave at least one non-empty text
    texts: int = 0  # strings given to the tokenizer trainer
    characters: int = 0
    unreadable: int = 0  # records the readers could not parse (skipped)
    truncated: bool = False  # stopped at max_documents
    skipped: list[dict] = field(default_factory=list)  # files in the corpus folders not read, with why


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


def _has_column(item: InputFile, name: str) -> bool:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return name in pq.read_schema(item.path).names
    except (pa.ArrowException, OSError):
        return True  # unreadable: the reader reports it as one unreadable record


def _rejected(batch) -> Iterator[list[str] | None]:
    """A reader's rejected rows: no text (an empty file, a record without text) or unreadable (None)."""
    if batch.rejected is not None:
        for reason in batch.rejected.column("reason").to_pylist():
            yield [] if reason.startswith(("empty:", "missing:", "invalid:")) else None


def _file_documents(item: InputFile, text_field: str) -> Iterator[list[str] | None]:
    """Each document or record of a file as its texts; None for one the reader could not parse."""
    if not READERS[item.format].records or (item.format == "parquet" and _has_column(item, text_field)):
        options = ReaderOptions(text_field=text_field)
        for batch in read_file(item, options):
            for text in batch.docs.column("text").to_pylist():
                yield [text] if text is not None else []
            yield from _rejected(batch)
        return
    # JSON records (and Parquet without the text column): whole records, so that files with
    # no text field (Alpaca tasks, chat messages, preference pairs) still give their text.
    options = ReaderOptions(text_field=text_field, records=True)
    for batch in read_file(item, options):
        for raw in batch.docs.column("text").to_pylist():
            try:
                yield record_texts(orjson.loads(raw), text_field)
            except orjson.JSONDecodeError:
                yield None
        yield from _rejected(batch)


def corpus_texts(
    corpus: list[str], stats: CorpusStats, text_field: str = "text", max_documents: int | None = None
) -> Iterator[str]:
    """The non-empty texts of the corpus inputs (files, folders, globs; JSONL, JSON, Parquet,
    text, WET; a curate dataset folder means its kept rows), in input order, counting into
    `stats`. A JSON record without `text_field` gives every string it holds."""
    inputs = expand_inputs(list(corpus))
    stats.skipped = [entry.to_json() for entry in inputs.skipped]
    print_skipped(inputs.skipped, see="curate_init.json")
    for item in inputs:
        stats.files.append(fingerprint(item.path))
        for texts in _file_documents(item, text_field):
            if max_documents is not None and stats.records >= max_documents:
                stats.truncated = True
                return
            stats.records += 1
            if texts is None:
                stats.unreadable += 1
                continue
            texts = [text for text in texts if text]
            if texts:
                stats.with_text += 1
            for text in texts:
                stats.texts += 1
                stats.characters += len(text)
                yield text


# ------------------------------------------------------------------------------ tokenizer


def check_vocab_size(vocab_size: int, specials: int) -> None:
    smallest = BYTE_TOKENS + specials
    if vocab_size < smallest:
        raise UserError(
            f"vocab size {vocab_size} is too small: the {BYTE_TOKENS} byte tokens and {specials} "
            f"special tokens alone take {smallest}; pass --vocab-size {smallest} or more"
        )


def chatml_template() -> str:
    """The source of the shipped ChatML template (templates/chatml.jinja)."""
    from curate.instruct.templates import load_template

    return load_template("chatml").source


def train_bpe_tokenizer(
    texts: Iterable[str], vocab_size: int, special_tokens: Iterable[str] = (), chat_template: str | None = None
):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `texts`, with the ChatML template.

    The vocabulary is `SPECIAL_TOKENS` (ids 0-3), then `special_tokens` (extra markers such
    as `<think>`, each one token that text never merges into), then the 256 bytes, then
    merges up to `vocab_size` in all. A small corpus may run out of merges first: the
    vocabulary is then smaller (`len(tokenizer)` is the truth). `chat_template` defaults to
    the shipped ChatML template. See the module docstring for the special tokens' roles.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = list(dict.fromkeys([*SPECIAL_TOKENS, *special_tokens]))
    check_vocab_size(vocab_size, len(specials))
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    # Adds nothing; keeps character offsets untrimmed (Qwen2's setting) for offset mappings.
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    extra = [token for token in specials if token not in (BOS, IM_END, PAD)]
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=IM_END,
        pad_token=PAD,
        additional_special_tokens=extra,
        model_max_length=MAX_POSITIONS,
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = chat_template if chat_template is not None else chatml_template()
    return wrapped


def _portable_tokenizer_config(folder: Path) -> None:
    """Spell tokenizer_config.json so transformers 4.x loads it too, not only 5.x.

    transformers 5 writes `"tokenizer_class": "TokenizersBackend"` and a list under
    `extra_special_tokens`, which 4.x cannot read (vLLM, TRL and many servers still run it);
    `PreTrainedTokenizerFast` and `additional_special_tokens` are read by both.
    """
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    extra = config.pop("extra_special_tokens", None)
    if isinstance(extra, list):
        config["additional_special_tokens"] = extra
    elif extra:
        config["extra_special_tokens"] = extra
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------ model


def llama_config(size: str, tokenizer, max_positions: int = MAX_POSITIONS):
    """The `LlamaConfig` of a size, with the tokenizer's vocabulary and special ids."""
    from transformers import LlamaConfig

    if size not in SIZES:
        raise UserError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    shape = SIZES[size]
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=max_positions,
        rope_theta=ROPE_THETA,
        tie_word_embeddings=shape.tie_word_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_model(tokenizer, size: str, seed: int = 0, max_positions: int = MAX_POSITIONS):
    """A randomly initialised `LlamaForCausalLM` (float32) for `tokenizer`; same seed, same weights."""
    import torch
    from transformers import LlamaForCausalLM

    config = llama_config(size, tokenizer, max_positions)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Stop at the end of a turn, and at the end of a document when continuing raw text.
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.bos_token_id]
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def parameter_count(model) -> int:
    """Parameters, tied embeddings counted once."""
    return sum(parameter.numel() for parameter in model.parameters())


# ------------------------------------------------------------------------------ folder


def _save(model, tokenizer, folder: Path) -> None:
    from transformers.utils import logging as transformers_logging

    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # "Writing model shards" for one small file
    try:
        model.save_pretrained(folder, safe_serialization=True)
    finally:
        if bars:
            transformers_logging.enable_progress_bar()
    tokenizer.save_pretrained(folder)
    _portable_tokenizer_config(folder)
    # safetensors writes its file as 0600; give every file the permissions the umask gives
    # the folder (less execute), so a server running as another user can read the model.
    mode = folder.stat().st_mode & 0o666
    for path in folder.iterdir():
        path.chmod(mode)


def _versions() -> dict:
    import tokenizers
    import torch
    import transformers

    import curate

    return {
        "curate": curate.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


def init_model(
    output: Path,
    corpus: list[str],
    size: str = "small",
    vocab_size: int = 8000,
    seed: int = 0,
    text_field: str = "text",
    max_documents: int | None = None,
    overwrite: bool = False,
) -> dict:
    """Train a tokenizer on `corpus`, build a random Llama of `size` for it, write both to `output`.

    `output` then loads with `AutoTokenizer.from_pretrained` and
    `AutoModelForCausalLM.from_pretrained`, offline. It also holds `curate_init.json`: how
    the model was made (size, vocabulary, corpus fingerprints, seed, parameters, versions),
    which is returned. The folder is written beside `output` and renamed into place, so
    `output` never holds half a model. A non-empty `output` is replaced only when it holds
    an earlier init-model (and `overwrite` is set); any other folder is never touched.
    """
    output = Path(output)
    if size not in SIZES:
        raise UserError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if max_documents is not None and max_documents < 1:
        raise UserError(f"--max-documents must be at least 1, not {max_documents}")
    check_vocab_size(vocab_size, len(SPECIAL_TOKENS))
    check_model_folder(output, overwrite)

    started = time.perf_counter()
    stats = CorpusStats()
    tokenizer = train_bpe_tokenizer(corpus_texts(corpus, stats, text_field, max_documents), vocab_size)
    if stats.texts == 0:
        read = f"{stats.records:,} record(s) read" + (f", {stats.unreadable:,} unreadable" if stats.unreadable else "")
        raise UserError(
            f"no text in the corpus {', '.join(corpus)} ({read}); pass files with a '{text_field}' field "
            "(or --text-field NAME), text files, or records holding strings"
        )
    tokenizer_seconds = time.perf_counter() - started

    model = build_model(tokenizer, size, seed)
    parameters = parameter_count(model)
    embedding = model.get_input_embeddings().weight.numel()
    info = {
        "command": "init-model",
        "size": size,
        "architecture": "LlamaForCausalLM",
        "shape": asdict(SIZES[size]),
        "max_position_embeddings": MAX_POSITIONS,
        "rope_theta": ROPE_THETA,
        "parameters": parameters,
        "embedding_parameters": embedding,
        "vocab_size": len(tokenizer),
        "vocab_size_asked": vocab_size,
        "special_tokens": {
            "bos_token": BOS,
            "eos_token": IM_END,
            "pad_token": PAD,
            "unk_token": None,
            "ids": {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS},
        },
        "chat_template": "chatml",
        "seed": seed,
        "corpus": {
            "inputs": list(corpus),
            "text_field": text_field,
            "max_documents": max_documents,
            "files": stats.files,
            "records": stats.records,
            "records_with_text": stats.with_text,
            "texts": stats.texts,
            "characters": stats.characters,
            "unreadable": stats.unreadable,
            "stopped_at_max_documents": stats.truncated,
            "skipped_inputs": stats.skipped,
        },
        "versions": _versions(),
    }

    def save(folder: Path) -> None:
        _save(model, tokenizer, folder)
        info["seconds"] = {"tokenizer": round(tokenizer_seconds, 3), "total": round(time.perf_counter() - started, 3)}

    write_model_folder(output, info, save)
    info["output"] = str(output)
    return info
