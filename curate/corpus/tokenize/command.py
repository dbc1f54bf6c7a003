"""`curate tokenize`: a corpus into token ids for pretraining, over the executor.

Two stages, both resumable and independent of the worker count:

1. The executor's tasks (one per input file) run `TokenizeStep`: each batch of documents goes
   through the `tokenizers` library's batch encoder (Rust, its own threads) and the kept rows
   are written to `data/` as Parquet with an `input_ids` column (the document's ids without
   EOS) in place of `text`: a pre-tokenised dataset `datasets` loads as is, and the resumable
   per-task store of the run. Documents with no token go to rejected/ as `tokenize:empty`.
2. Once every task is done (the job's `finishing`, before the manifest), the documents are
   read back in input order (or a seeded permutation with --shuffle), an EOS appended to each,
   cut at exactly --max-tokens, and written as fixed-size `tokens/shard-NNNNN.bin` shards with
   Megatron `.idx` indexes (shards.py) and `tokens/index.json`. They are built under `.curate/`
   and moved into place whole, so a run killed at any point resumes to the same bytes.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain, pairwise
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.corpus.tokenize.shards import DTYPES, ShardWriter, with_eos
from curate.errors import UserError
from curate.io import markdown
from curate.io.manifest import read_json, write_json_atomic
from curate.io.readers import ReaderOptions
from curate.io.sources import expand_inputs
from curate.io.writer import WriterOptions
from curate.pipeline import folder
from curate.pipeline.executor import run_job
from curate.pipeline.job import Job, JobResult
from curate.pipeline.step import Step, StepOutput

TOKENS = "tokens"  # the folder of .bin/.idx shards inside the dataset folder
EMPTY = "tokenize:empty"
SHOWN_SOURCES = 50  # input files report.md lists one by one


@dataclass(frozen=True)
class TokenizeSettings:
    tokenizer: Path  # a Hugging Face tokenizer folder (tokenizer.json) or a tokenizer.json
    eos_token: str | None = None  # default: the tokenizer's own eos_token
    dtype: str = "auto"  # auto | uint16 | uint32
    shard_tokens: int = 100_000_000
    shuffle: bool = False
    seed: int = 0
    max_tokens: int | None = None


@dataclass(frozen=True)
class LoadedTokenizer:
    json: str  # the tokenizer's serialised form, which workers load (a Tokenizer pickles as this)
    eos_token: str
    eos_id: int
    vocab_size: int  # highest id + 1, added tokens included
    dtype: str


def load_tokenizer(settings: TokenizeSettings) -> LoadedTokenizer:
    """The tokenizer, its EOS and the shard dtype; each mistake one line."""
    from tokenizers import Tokenizer

    path = Path(settings.tokenizer)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise UserError(
            f"--tokenizer {path}: no tokenizer.json there; give a Hugging Face tokenizer folder saved from a "
            "fast tokenizer (curate init-model, train-tokenizer, or save_pretrained) or its tokenizer.json"
        )
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as error:  # the library raises plain Exception on a malformed file
        raise UserError(f"--tokenizer {file} is not a tokenizer the tokenizers library reads: {error}") from None
    eos = settings.eos_token or _configured_eos(file.parent, tokenizer)
    if not eos:
        raise UserError(
            f"the tokenizer {path} names no eos_token (tokenizer_config.json); pass --eos-token TOKEN, "
            "the token written between documents"
        )
    eos_id = tokenizer.token_to_id(eos)
    if eos_id is None:
        raise UserError(f"EOS token {eos!r} is not in the vocabulary of {path}; pass --eos-token with one that is")
    vocab_size = max(tokenizer.get_vocab(with_added_tokens=True).values(), default=0) + 1
    dtype = settings.dtype if settings.dtype != "auto" else ("uint16" if vocab_size <= 1 << 16 else "uint32")
    if dtype == "uint16" and vocab_size > 1 << 16:
        raise UserError(f"--dtype uint16 holds ids up to 65,535, but {path} has {vocab_size:,} tokens; use uint32")
    return LoadedTokenizer(tokenizer.to_str(), eos, eos_id, vocab_size, dtype)


# A chat model's eos_token ends a turn, not a document; pretraining packs documents with the
# document-end token its family uses (Qwen2's and GPT-2's <|endoftext|>, Llama 3's <|end_of_text|>).
_TURN_ENDS = frozenset({"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|eom_id|>"})
_DOCUMENT_ENDS = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>")


def _configured_eos(folder_path: Path, tokenizer) -> str | None:
    """The token written between documents: the tokenizer's eos_token, unless that closes a chat
    turn and the vocabulary has a document-end token (a curate or Qwen2 tokenizer's <|endoftext|>)."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        value = (read_json(folder_path / name) or {}).get("eos_token")
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str) and value:
            if value in _TURN_ENDS:
                return next((token for token in _DOCUMENT_ENDS if tokenizer.token_to_id(token) is not None), value)
            return value
    return None


class TokenizeStep(Step):
    """Each document's token ids (no special tokens added) as `input_ids`, its text dropped."""

    name = "tokenize"
    rejected_columns: ClassVar[Mapping[str, pa.DataType]] = {
        "text": pa.string()
    }  # an empty document is rejected with its (empty) text

    def __init__(self, tokenizer: LoadedTokenizer) -> None:
        super().__init__()
        self.tokenizer_json = tokenizer.json
        self.value_type = pa.uint16() if tokenizer.dtype == "uint16" else pa.uint32()
        self._encoder = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_encoder": None}  # workers load it again from the JSON

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        if schema.get_field_index("text") != -1:
            schema = schema.remove(schema.get_field_index("text"))
        if schema.get_field_index("input_ids") != -1:
            schema = schema.remove(schema.get_field_index("input_ids"))
        return schema.append(pa.field("input_ids", pa.list_(self.value_type)))

    def describe(self) -> dict:
        return {"value_type": str(self.value_type)}

    def run(self, batch: pa.Table) -> StepOutput:
        if self._encoder is None:
            from tokenizers import Tokenizer

            self._encoder = Tokenizer.from_str(self.tokenizer_json)
            # a document's text is text: a literal "<|endoftext|>" in a web page is encoded as its
            # characters, never as the separator (nanoGPT's encode_ordinary), so splitting the
            # shards at EOS gives back the documents
            self._encoder.encode_special_tokens = True
        texts = batch.column("text").to_pylist()
        # encode_batch_fast: the batch encoder without character offsets, which nothing here reads
        ids = [encoding.ids for encoding in self._encoder.encode_batch_fast(texts, add_special_tokens=False)]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        values = np.fromiter(chain.from_iterable(ids), dtype=np.uint32, count=int(lengths.sum()))
        offsets = np.zeros(len(ids) + 1, dtype=np.int32)  # a batch holds at most 32 MB of text
        np.cumsum(lengths, out=offsets[1:])
        column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values).cast(self.value_type))
        nonempty = lengths > 0
        kept_rows = pa.array(nonempty)
        kept = batch.drop_columns([name for name in ("text", "input_ids") if name in batch.column_names])
        kept = kept.append_column("input_ids", column).filter(kept_rows)
        self.counters["documents"] += int(nonempty.sum())
        self.counters["tokens"] += int(lengths.sum())
        if nonempty.all():
            return StepOutput(kept)
        rejected = batch.filter(pc.invert(kept_rows))
        return StepOutput(kept, rejected.append_column("reason", pa.array([EMPTY] * rejected.num_rows, pa.string())))


def tokenize_corpus(
    inputs: list[str],
    output: Path,
    settings: TokenizeSettings,
    *,
    options: dict,
    command_line: str,
    reader: ReaderOptions | None = None,
    writer: WriterOptions | None = None,
    input_format: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> JobResult:
    """Tokenise `inputs` into the dataset folder `output`: `data/` per document, `tokens/` shards."""
    tokenizer = load_tokenizer(settings)  # before the folder is touched: a bad tokenizer leaves nothing
    job = Job(
        command="tokenize",
        output=output,
        inputs=expand_inputs(inputs, input_format),
        steps=[TokenizeStep(tokenizer)],
        options=options,
        command_line=command_line,
        reader=reader or ReaderOptions(),
        writer=writer or WriterOptions(),
        charts=False,  # kept rows hold ids, not text: the length charts would show nothing kept
        finishing=lambda out, manifest: write_tokens(out, manifest, settings, tokenizer),
    )
    return run_job(job, workers=workers, progress=progress, overwrite=overwrite)


def write_tokens(output: Path, manifest: dict, settings: TokenizeSettings, tokenizer: LoadedTokenizer) -> None:
    """Write `tokens/` from the sealed `data/` shards; add its summary to the manifest and report."""
    markers = [marker for _, marker in sorted(folder.finished_tasks(output).items())]
    work = folder.state_path(output, "tokenize")
    shutil.rmtree(work, ignore_errors=True)  # what a killed attempt left: built again, the same
    building = work / TOKENS
    building.mkdir(parents=True)
    shard_writer = ShardWriter(building, tokenizer.dtype, settings.shard_tokens, settings.max_tokens)
    data = [output / shard["path"] for shard in manifest["shards"][folder.KEPT]]
    per_task = [_step_counters(marker) for marker in markers]
    if settings.shuffle:
        written = _write_shuffled(data, work, shard_writer, settings.seed, tokenizer.eos_id, per_task)
    else:
        for values, lengths in _documents(data):
            shard_writer.write(*with_eos(values, lengths, tokenizer.eos_id))
            if shard_writer.full:
                break
        written = _written_in_order(per_task, settings.max_tokens)
    shards = shard_writer.close()
    sources = [
        {"input": marker["input"], **counters, "tokens_written": tokens}
        for marker, counters, tokens in zip(markers, per_task, written)
    ]
    summary = {
        "folder": TOKENS,
        "job_fingerprint": manifest["job_fingerprint"],
        "dtype": tokenizer.dtype,
        "megatron_index_version": 1,
        "tokenizer": str(settings.tokenizer),
        "vocab_size": tokenizer.vocab_size,
        "eos_token": tokenizer.eos_token,
        "eos_id": tokenizer.eos_id,
        "documents": sum(item["documents"] for item in per_task),
        "tokens": sum(item["tokens"] for item in per_task),  # without the EOS tokens
        "tokens_written": shard_writer.written,  # with them, after --max-tokens
        "budget_cut_a_document": shard_writer.truncated,
        "shard_tokens": settings.shard_tokens,
        "shuffle": settings.shuffle,
        "seed": settings.seed if settings.shuffle else None,
        "max_tokens": settings.max_tokens,
        "shards": shards,
    }
    write_json_atomic(building / "index.json", summary)
    _move_into_place(output, building, manifest["job_fingerprint"])
    shutil.rmtree(work, ignore_errors=True)
    manifest["tokens"] = {key: value for key, value in summary.items() if key != "shards"} | {
        "shards": len(shards),
        "by_source": sources,
    }
    with open(output / "report.md", "a", encoding="utf-8") as report:
        report.write("\n" + "\n".join(report_lines(manifest["tokens"])) + "\n")


def _step_counters(marker: dict) -> dict:
    counters = marker["counts"]["steps"][0].get("counters", {})
    return {"documents": int(counters.get("documents", 0)), "tokens": int(counters.get("tokens", 0))}


def _documents(data: list[Path]):
    """(token ids of many documents one after another, each document's length), in input order."""
    for path in data:
        for batch in pq.ParquetFile(path).iter_batches(columns=["input_ids"], batch_size=8192):
            column = batch.column(0)
            if len(column):
                yield column.flatten().to_numpy(), pc.list_value_length(column).to_numpy()


def _written_in_order(per_task: list[dict], budget: int | None) -> list[int]:
    """Tokens (EOS included) each input file put into the shards when they are written in order."""
    written, before = [], 0
    for counters in per_task:
        total = counters["tokens"] + counters["documents"]
        written.append(total if budget is None else max(0, min(total, budget - before)))
        before += total
    return written


SHUFFLE_CHUNK_TOKENS = 1 << 24  # 16M tokens: 128 MiB of int64 positions per gather


def _write_shuffled(
    data: list[Path], work: Path, shard_writer: ShardWriter, seed: int, eos: int, per_task: list[dict]
) -> list[int]:
    """Write the documents in a seeded permutation of input order; return tokens written per input.

    The documents go first to one flat file in input order, so the permutation reads them back
    by offset from a memory map, whatever the corpus's size."""
    flat = work / "input-order.bin"
    lengths = []
    with open(flat, "wb") as handle:
        for values, counts in _documents(data):
            tokens, with_eos_lengths = with_eos(values, counts, eos)
            handle.write(tokens.astype(DTYPES[shard_writer.dtype], copy=False).tobytes())
            lengths.append(with_eos_lengths)
    lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    if not len(lengths):
        return [0] * len(per_task)
    tokens = np.memmap(flat, dtype=DTYPES[shard_writer.dtype], mode="r")
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    order = np.random.default_rng(seed).permutation(len(lengths))
    # gather about SHUFFLE_CHUNK_TOKENS tokens at a time (at least one document): a token count,
    # not a document count, bounds the memory when documents are books
    ends = np.cumsum(lengths[order])
    cuts = np.searchsorted(ends, np.arange(SHUFFLE_CHUNK_TOKENS, int(ends[-1]), SHUFFLE_CHUNK_TOKENS), side="right")
    bounds = np.unique(np.concatenate([[0], np.maximum(cuts, 1), [len(order)]]))
    for first, last in pairwise(bounds):
        chosen = order[first:last]
        chosen_lengths = lengths[chosen]
        # every token position of the chosen documents, in their new order
        positions = np.repeat(starts[chosen] - np.cumsum(chosen_lengths) + chosen_lengths, chosen_lengths)
        positions += np.arange(positions.size)
        shard_writer.write(np.asarray(tokens[positions]), chosen_lengths)
        if shard_writer.full:
            break
    del tokens
    ordered = lengths[order]
    budget = shard_writer.budget if shard_writer.budget is not None else int(ordered.sum())
    kept = np.clip(budget - (np.cumsum(ordered) - ordered), 0, ordered)
    task_of = np.repeat(np.arange(len(per_task)), [counters["documents"] for counters in per_task])
    return [int(value) for value in np.bincount(task_of[order], weights=kept, minlength=len(per_task))]


def _move_into_place(output: Path, building: Path, identity: str) -> None:
    """Put the built `tokens/` in the dataset folder; one there already must be this job's."""
    target = output / TOKENS
    if target.exists() or target.is_symlink():
        earlier = read_json(target / "index.json") if target.is_dir() and not target.is_symlink() else None
        if earlier is None or earlier.get("job_fingerprint") != identity:
            raise UserError(f"{target} is not this run's token shards; move it out of the dataset folder and run again")
        shutil.rmtree(target)  # written by this same job before it was killed: built again, identical
    building.replace(target)
    job_file = folder.state_path(output, "job.json")
    job = read_json(job_file)
    if job is not None and TOKENS in job.get("foreign", ()):
        # a resumed run lists what it finds as the user's; this folder is the run's own
        write_json_atomic(job_file, {**job, "foreign": [name for name in job["foreign"] if name != TOKENS]})


def report_lines(tokens: dict) -> list[str]:
    """The report.md section on the token shards."""
    lines = [
        "## Token shards",
        "",
        f"{tokens['tokens']:,} tokens in {tokens['documents']:,} documents; "
        f"{tokens['tokens_written']:,} tokens written (an EOS {markdown.text(tokens['eos_token'])}, "
        f"id {tokens['eos_id']}, after each document"
        + (f", cut at --max-tokens {tokens['max_tokens']:,}" if tokens["max_tokens"] is not None else "")
        + f") in {tokens['shards']} shard(s) of {tokens['shard_tokens']:,} tokens under `tokens/`, "
        f"{tokens['dtype']} (vocabulary {tokens['vocab_size']:,}), "
        + (f"documents shuffled with seed {tokens['seed']}." if tokens["shuffle"] else "documents in input order."),
        "",
        "| input | documents | tokens | tokens written |",
        "|---|---:|---:|---:|",
    ]
    for item in tokens["by_source"][:SHOWN_SOURCES]:
        lines.append(
            f"| {markdown.cell(item['input'], 120)} | {item['documents']:,} | {item['tokens']:,} | "
            f"{item['tokens_written']:,} |"
        )
    if len(tokens["by_source"]) > SHOWN_SOURCES:
        lines.append(f"\n... and {len(tokens['by_source']) - SHOWN_SOURCES} more input files (see _manifest.json).")
    return lines


def token_summary(manifest: dict) -> str:
    """One line for the command's printout."""
    tokens = manifest.get("tokens")
    if not tokens:
        return ""
    return (
        f"  tokens: {tokens['tokens']:,} in {tokens['documents']:,} documents; {tokens['tokens_written']:,} written "
        f"(EOS included) to {tokens['shards']} {tokens['dtype']} shard(s) in {TOKENS}/"
    )
