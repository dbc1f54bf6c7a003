"""Training a tokenizer on a corpus (`curate train-tokenizer`, and `curate init-model`'s tokenizer).

Three algorithms of the `tokenizers` library, each saved as a `PreTrainedTokenizerFast`:

    bpe        byte-level BPE (GPT-2, Llama-3, Qwen2): the 256 byte tokens are always in the
               vocabulary, so any UTF-8 text encodes and decodes back to itself; text is split
               before merging with the Qwen2 / Llama-3 pattern (single digits, words with their
               leading space, newline runs), with no normaliser. No unknown token.
    unigram    SentencePiece's unigram language model (T5, Llama-2, Gemma style) over
               `▁`-marked words, with byte fallback: a character outside the vocabulary
               becomes its UTF-8 bytes (`<0x..>` tokens, the last 256 ids), so it round-trips
               too. No prefix space is added, so `decode(encode(text)) == text`.
    wordpiece  BERT's WordPiece (`##` continuations) over whitespace and punctuation words;
               a word holding a character outside the vocabulary is one `<unk>`, and spaces
               are not kept (decode gives the words back with single spaces).

Special tokens, always the first ids of the vocabulary:

    0 <|endoftext|>  bos_token: a document's start (the separator when raw text is packed);
                     `generate()` with no prompt starts from it. Generation also stops at
                     it (init-model's generation_config), for raw-text continuation.
    1 <|im_start|>   opens a ChatML turn (an extra special token).
    2 <|im_end|>     eos_token: closes a turn, so generation stops at the end of the
                     assistant's answer; the model learns to emit it in SFT.
    3 <|pad|>        pad_token: padding only, never in real text. Not the eos: collators
                     that mask padding in the labels (labels == pad -> -100) would then
                     also mask every <|im_end|> and the model would never learn to stop;
                     and Llama zeroes the pad row of the embedding (padding_idx), which
                     must not be a token the model reads.
    4 <unk>          unk_token, unigram and wordpiece only (byte-level BPE has none).

then the extra special tokens asked for, then the chat template's markers not yet there
(llama3's `<|eot_id|>`, Gemma's `<end_of_turn>`, DeepSeek's `<｜User｜>`), each one token that
text never merges into. The eos_token is the marker the template writes after an answer
(`<|im_end|>` for ChatML, `<|eot_id|>` for Llama 3) unless --eos-token names another.
Unigram training is not byte-reproducible: the tokenizers trainer breaks ties between pieces
of equal score at its pruning boundary differently from run to run (BPE and WordPiece are).

The tokenizer adds no token by itself (`encode(text)` is the text's tokens), so a
conversation rendered with the chat template tokenises to exactly the template's text, as
with Qwen2. The chat template defaults to the shipped `templates/chatml.jinja`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from curate.corpus.tokenize.texts import CorpusStats, corpus_documents, no_text_error
from curate.errors import UserError
from curate.io.atomic import atomic_path
from curate.pipeline.staged_folder import StagedFolder

INFO_FILE = "curate_tokenizer.json"

BOS = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|pad|>"
UNK = "<unk>"
# In id order: these are ids 0, 1, 2, 3 of every tokenizer made here.
SPECIAL_TOKENS = (BOS, IM_START, IM_END, PAD)
BYTE_TOKENS = 256
ALGORITHMS = ("bpe", "unigram", "wordpiece")

# How text is cut before BPE merges (Qwen2's pattern; Llama-3's with single digits):
# contractions, a word with at most one leading non-letter, each digit alone, punctuation
# runs, newline runs, and spaces. No merge crosses these boundaries.
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# A chat template's marker tokens: <|im_start|>, <|eot_id|>, <|start_header_id|> (ChatML, Llama 3),
# DeepSeek's full-width <｜User｜>, <｜end▁of▁sentence｜>, Gemma's <start_of_turn>, <end_of_turn>
_TEMPLATE_MARKER = re.compile(r"<\|[A-Za-z0-9_.:-]{1,40}\|>|<｜[^<>｜\s]{1,40}｜>|<[a-z]+(?:_[a-z]+)+>")

# ------------------------------------------------------------------------------ tokenizer


def check_vocab_size(vocab_size: int, specials: int, byte_tokens: int = BYTE_TOKENS) -> None:
    smallest = byte_tokens + specials
    if vocab_size < smallest:
        held = (
            f"the {byte_tokens} byte tokens and {specials} special tokens"
            if byte_tokens
            else f"{specials} special tokens"
        )
        raise UserError(
            f"vocab size {vocab_size} is too small: {held} alone take {smallest}; pass --vocab-size {smallest} or more"
        )


def chatml_template() -> str:
    """The source of the shipped ChatML template (templates/chatml.jinja)."""
    from curate.instruct.templates import load_template

    return load_template("chatml").source


def turn_end_token(template) -> str:
    """The marker a chat template writes right after an assistant's answer (<|im_end|> for
    ChatML, <|eot_id|> for Llama 3, <end_of_turn> for Gemma): the token generation stops at.
    <|im_end|> when the template writes none or cannot be rendered here."""
    answer = "Paris is the capital."
    try:
        messages = [{"role": "user", "content": "Capital?"}, {"role": "assistant", "content": answer}]
        text = template.render(messages, bos_token="", eos_token="")  # their tokens are what is being chosen
    except Exception:  # a template that needs variables this sample lacks: the ChatML default
        return IM_END
    after = text[text.rfind(answer) + len(answer) :] if answer in text else ""
    found = _TEMPLATE_MARKER.search(after)
    return found.group() if found and not after[: found.start()].strip() else IM_END


def special_tokens_for(
    algorithm: str, extra: Iterable[str] = (), chat_template: str | None = None, eos_token: str = IM_END
) -> list[str]:
    """The special tokens in id order: the four defaults, `<unk>` (unigram, wordpiece), `extra`,
    the eos token, and the markers the chat template writes."""
    markers = _TEMPLATE_MARKER.findall(chat_template or "")
    unk = [UNK] if algorithm != "bpe" else []
    return list(dict.fromkeys([*SPECIAL_TOKENS, *unk, *extra, eos_token, *markers]))


def _byte_level_bpe(vocab_size: int, specials: list[str], progress: bool):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

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
        show_progress=progress,
    )
    return tokenizer, trainer


def _unigram(vocab_size: int, specials: list[str], progress: bool):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    # "never": no `▁` before the first word, so a text's leading space (or its absence) survives.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    tokenizer.decoder = decoders.Sequence(
        [decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="never")]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size - BYTE_TOKENS,  # the byte-fallback tokens are added after training
        special_tokens=specials,
        unk_token=UNK,
        max_piece_length=16,
        show_progress=progress,
    )
    return tokenizer, trainer


def _with_byte_fallback(tokenizer) -> None:
    """Append SentencePiece's 256 `<0x..>` byte tokens to a trained unigram model and turn byte
    fallback on (the trainer has no option for it). They score below every learned piece, so
    the model reaches for them only for characters it has no piece for."""
    from tokenizers import models

    model = json.loads(tokenizer.to_str())["model"]
    vocab = [(piece, score) for piece, score in model["vocab"]]
    known = {piece for piece, _ in vocab}
    lowest = min(score for _, score in vocab) - 10.0
    vocab += [(f"<0x{byte:02X}>", lowest) for byte in range(256) if f"<0x{byte:02X}>" not in known]
    tokenizer.model = models.Unigram(vocab, unk_id=model["unk_id"], byte_fallback=True)


def _wordpiece(vocab_size: int, specials: list[str], progress: bool):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    # BERT's cased setup: control characters dropped, CJK ideographs split, no lower-casing.
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=specials, continuing_subword_prefix="##", show_progress=progress
    )
    return tokenizer, trainer


_BUILDERS = {"bpe": _byte_level_bpe, "unigram": _unigram, "wordpiece": _wordpiece}


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    algorithm: str = "bpe",
    special_tokens: Iterable[str] = (),
    chat_template: str | None = None,
    eos_token: str = IM_END,
    progress: bool = False,
):
    """A `PreTrainedTokenizerFast` of `algorithm` trained on `texts`, with a chat template
    (`chat_template`'s source; the shipped ChatML one when None).

    The vocabulary is `special_tokens_for(...)` first, then (bpe) the 256 bytes and merges, or
    (unigram) pieces then 256 byte tokens, or (wordpiece) characters and pieces, up to
    `vocab_size` in all. A small corpus may run out of merges first: the vocabulary is then
    smaller (`len(tokenizer)` is the truth). A corpus whose characters alone do not fit in
    `vocab_size` (unigram and wordpiece keep every character) is refused.
    """
    from transformers import PreTrainedTokenizerFast

    if algorithm not in _BUILDERS:
        raise UserError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    template = chat_template if chat_template is not None else chatml_template()
    specials = special_tokens_for(algorithm, special_tokens, template, eos_token)
    check_vocab_size(vocab_size, len(specials), 0 if algorithm == "wordpiece" else BYTE_TOKENS)
    tokenizer, trainer = _BUILDERS[algorithm](vocab_size, specials, progress)
    try:
        tokenizer.train_from_iterator(texts, trainer)
    except Exception as error:  # the library raises a bare Exception for this one
        if "not large enough to contain all chars" not in str(error):
            raise
        raise UserError(
            f"vocab size {vocab_size} is too small for this corpus: {algorithm} keeps every character it saw, "
            f"beside the special tokens and {BYTE_TOKENS} byte tokens; pass a larger --vocab-size, or "
            "--algorithm bpe (byte-level)"
        ) from None
    if algorithm == "unigram" and tokenizer.get_vocab_size() > len(specials):
        _with_byte_fallback(tokenizer)
    if tokenizer.get_vocab_size() > vocab_size:
        raise UserError(
            f"vocab size {vocab_size} is too small for this corpus: {algorithm} keeps every character it "
            f"saw and they, with the special tokens, take {tokenizer.get_vocab_size():,}; pass "
            f"--vocab-size {tokenizer.get_vocab_size()} or more, or --algorithm bpe (byte-level)"
        )
    roles = {"bos_token": BOS, "eos_token": eos_token, "pad_token": PAD}
    if algorithm != "bpe":
        roles["unk_token"] = UNK
    extra = [token for token in specials if token not in roles.values()]
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        **roles,
        additional_special_tokens=extra,
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = template
    return wrapped


def train_bpe_tokenizer(
    texts: Iterable[str], vocab_size: int, special_tokens: Iterable[str] = (), chat_template: str | None = None
):
    """init-model's tokenizer: `train_tokenizer` with byte-level BPE (see the module docstring)."""
    return train_tokenizer(texts, vocab_size, "bpe", special_tokens, chat_template)


def portable_tokenizer_config(folder) -> None:
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


# ------------------------------------------------------------------------------ the command


def is_held_out(texts: list[str], seed: int, fraction: float) -> bool:
    """Whether a document goes to the held-out split: a hash of its text and the seed, so the
    split is the same on every run and in any input order, and copies of a text fall together."""
    import xxhash

    return xxhash.xxh3_64_intdigest("\x00".join(texts).encode("utf-8", "surrogatepass"), seed=seed) < fraction * 2**64


TOKENIZER_FOLDER = StagedFolder(
    INFO_FILE, ".train-tokenizer.tmp", "tokenizer folder", "curate train-tokenizer", "a tokenizer"
)


def train_tokenizer_folder(
    output: Path,
    corpus: list[str],
    algorithm: str = "bpe",
    vocab_size: int = 8000,
    special_tokens: Iterable[str] = (),
    chat_template: str = "chatml",
    eos_token: str | None = None,
    eval_fraction: float = 0.05,
    seed: int = 0,
    compare: Iterable[str] = (),
    text_field: str = "text",
    max_documents: int | None = None,
    text_lines: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Train a tokenizer on `corpus` less a held-out split, save it to `output` as a Hugging Face
    tokenizer folder, and write there `report.md` and `fertility.png`: the new tokenizer and
    the `compare` folders measured on the held-out documents (fertility.py). Returns what
    `curate_tokenizer.json` records."""
    from curate.corpus.tokenize import fertility
    from curate.instruct.templates import load_template

    output = Path(output)
    if not 0 <= eval_fraction <= 0.5:
        raise UserError(f"--eval-fraction must be between 0 and 0.5, not {eval_fraction}")
    special_tokens = [token for token in special_tokens if token]
    loaded = load_template(chat_template)
    template = loaded.source
    eos_token = eos_token or turn_end_token(loaded)
    specials = special_tokens_for(algorithm, special_tokens, template, eos_token)
    check_vocab_size(vocab_size, len(specials), 0 if algorithm == "wordpiece" else BYTE_TOKENS)
    TOKENIZER_FOLDER.check(output, overwrite)
    others = fertility.load_tokenizers(list(compare))  # a bad folder stops the run before training

    started = time.perf_counter()
    stats, held_out, trained_on = CorpusStats(), [], [0]

    def training_texts() -> Iterator[str]:
        # The progress bars are the tokenizers library's: texts read, then each training phase.
        for document in corpus_documents(corpus, stats, text_field, max_documents, INFO_FILE, text_lines):
            if eval_fraction and is_held_out(document.texts, seed, eval_fraction):
                held_out.append(document)
                continue
            trained_on[0] += 1
            yield from document.texts

    tokenizer = train_tokenizer(training_texts(), vocab_size, algorithm, special_tokens, template, eos_token, progress)
    if stats.texts == 0:
        raise no_text_error(corpus, stats, text_field)
    if trained_on[0] == 0:
        raise UserError(
            f"all {len(held_out)} document(s) fell in the held-out split; lower --eval-fraction or add text"
        )
    train_seconds = time.perf_counter() - started
    evaluation = fertility.evaluate([(output.name or "new", tokenizer), *others], held_out)
    info = {
        "command": "train-tokenizer",
        "algorithm": algorithm,
        "vocab_size": len(tokenizer),
        "vocab_size_asked": vocab_size,
        "special_tokens": {
            "bos_token": tokenizer.bos_token,
            "eos_token": tokenizer.eos_token,
            "pad_token": tokenizer.pad_token,
            "unk_token": tokenizer.unk_token,
            "ids": {token: tokenizer.convert_tokens_to_ids(token) for token in specials},
        },
        "chat_template": chat_template,
        "eval_fraction": eval_fraction,
        "seed": seed,
        "corpus": {
            "inputs": list(corpus),
            "text_field": text_field,
            "max_documents": max_documents,
            "text_lines": text_lines,
            "files": stats.files,
            "records": stats.records,
            "records_with_text": stats.with_text,
            "texts": stats.texts,
            "characters": stats.characters,
            "unreadable": stats.unreadable,
            "stopped_at_max_documents": stats.truncated,
            "skipped_inputs": stats.skipped,
            "trained_on_documents": trained_on[0],
            "held_out_documents": len(held_out),
        },
        "compare": list(compare),
        "evaluation": evaluation,
        "versions": versions(),
    }

    def save(folder: Path) -> None:
        tokenizer.save_pretrained(folder)
        portable_tokenizer_config(folder)
        fertility.write_report(folder, info)
        info["seconds"] = {"train": round(train_seconds, 3), "total": round(time.perf_counter() - started, 3)}

    TOKENIZER_FOLDER.write(output, info, save)
    info["output"] = str(output)
    return info


def versions() -> dict:
    import platform

    import tokenizers
    import transformers

    import curate

    return {
        "curate": curate.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


def summary(info: dict) -> list[str]:
    """What `curate train-tokenizer` made, one line each."""
    read, output = info["corpus"], info["output"]
    vocab = f"{info['vocab_size']:,}"
    if info["vocab_size"] < info["vocab_size_asked"]:
        vocab += f" (of {info['vocab_size_asked']:,} asked: the corpus has no more to learn)"
    lines = [
        f"train-tokenizer {info['algorithm']}: vocabulary {vocab}, trained on {read['trained_on_documents']:,} "
        f"documents ({read['characters']:,} characters read from {len(read['files'])} file(s)) "
        f"in {info['seconds']['train']:.1f} s; {read['held_out_documents']:,} held out"
    ]
    for entry in info["evaluation"]["tokenizers"]:
        fertility = ", ".join(
            f"{lang} {row['tokens_per_word']:.2f}"
            for lang, row in entry["languages"].items()
            if lang != "all" and row["tokens_per_word"] is not None
        )
        if fertility:
            lines.append(f"  {entry['name']}{' (new)' if entry['new'] else ''}: tokens/word {fertility}")
    lines.append(f"  wrote {output}/ (report.md; how it was made: {INFO_FILE})")
    return lines
