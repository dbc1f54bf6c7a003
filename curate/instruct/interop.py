"""Files other trainers need beside a dataset folder's `data/*.parquet` shards.

- dataset_info.json: a LLaMA-Factory dataset entry (set `dataset_dir` to the folder);
- axolotl.yaml: an Axolotl `datasets:` snippet (with `rl: dpo` for preference data);
- README.md: a Hugging Face dataset card.

A format a trainer cannot read gets no file for that trainer; the card says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from curate.instruct.formats import SFT, get_format, output_schema
from curate.instruct.formats.base import Format, Layout
from curate.io import markdown
from curate.io.atomic import atomic_path

DATA_DIR = "data"
DATA_GLOB = f"{DATA_DIR}/*.parquet"

_COLUMN_NOTES = {
    "id": "row id (Alpaca seed tasks: `ID#i` for the i-th instance, i >= 1)",
    "source": "where the row came from",
    "meta": "JSON object: record fields the format has no column for, and hints to restore the input exactly",
    "tools": "tool schemas, JSON text",
    "system": "system prompt",
    "history": "earlier [user, assistant] turns",
    "score_chosen": "score of the chosen answer, when the input had one",
    "score_rejected": "score of the rejected answer, when the input had one",
    "instruction": "Alpaca instruction (kept from the input)",
    "input": "Alpaca input (kept from the input)",
    "output": "Alpaca output (kept from the input)",
    "messages": "the conversation, a list of {role, content}",
    "prompt": "the prompt (rendered folders: the text before the last answer, as the template writes it)",
    "completion": "the answer (rendered folders: the last assistant turn with its end-of-turn marker)",
    "text": "the whole conversation as the chat template writes it",
    "assistant_spans": "[start, end) characters of every assistant turn in `text`: what a model learns to write",
}


def write_interop_files(
    folder: Path, layout: str | Layout | Format, name: str, counts: dict, command_line: str
) -> list[Path]:
    """Write dataset_info.json, axolotl.yaml and README.md into `folder`, for data in `layout` (a
    format's name, a Format, or a render Layout); return the files written."""
    folder = Path(folder)
    spec = get_format(layout) if isinstance(layout, str) else layout
    entry = llamafactory_entry(spec)
    problem = axolotl_problem(spec, folder)
    texts = {
        "dataset_info.json": None if entry is None else json.dumps({name: entry}, indent=2) + "\n",
        "axolotl.yaml": None if problem is not None else _axolotl_yaml(spec, axolotl_config(spec, folder)),
        "README.md": dataset_card(folder, spec, name, counts, command_line, problem),
    }
    written = []
    for file_name, text in texts.items():
        path = folder / file_name
        if text is None:
            # A file left from an earlier run in another format would point a trainer at the wrong layout.
            path.unlink(missing_ok=True)
        else:
            written.append(_write_text(path, text))
    return written


def llamafactory_entry(spec: Layout | Format) -> dict | None:
    """The dataset_info.json entry for data in `spec`, or None when LLaMA-Factory cannot read it."""
    facts = spec.llamafactory
    if facts.entry is None:
        return None
    # file_name is relative to LLaMA-Factory's dataset_dir: a folder of same-typed files.
    return {"file_name": DATA_DIR, "ranking": facts.entry.get("ranking", False), **facts.entry}


def axolotl_config(spec: Layout | Format, folder: Path) -> dict:
    """The Axolotl config (top-level keys) for the data in `folder`, which Axolotl reads
    (`axolotl_problem` is None)."""
    facts = spec.axolotl
    source = {"path": str((folder / DATA_DIR).resolve()), "ds_type": "parquet", "split": "train"}
    config = {"datasets": [{**source, **facts.dataset}]}
    return {"rl": facts.rl, **config} if facts.rl else config


def axolotl_problem(spec: Layout | Format, folder: Path) -> str | None:
    """Why Axolotl cannot read the data in `folder` (the layout, or a null its loader trips on);
    None when it can."""
    if spec.axolotl.dataset is None:
        return spec.axolotl.cannot
    for column, advice in spec.axolotl.needs_values.items():
        nulls = _null_count(folder, column)
        if nulls:
            return f"{nulls:,} rows have no `{column}`: {advice}"
    return None


def _null_count(folder: Path, column: str) -> int:
    total = 0
    for shard in sorted((folder / DATA_DIR).glob("*.parquet")):
        parquet = pq.ParquetFile(shard)
        if column in parquet.schema_arrow.names:
            total += parquet.read(columns=[column]).column(column).null_count
    return total


def _axolotl_yaml(spec: Layout | Format, config: dict) -> str:
    header = [f"# Axolotl datasets for this folder ({spec.name}); merge into your training config."]
    header += [f"# {comment}" for comment in spec.axolotl.comments]
    return "\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------------------------------------
# The dataset card


def dataset_card(
    folder: Path, spec: Layout | Format, name: str, counts: dict, command_line: str, axolotl_problem: str | None
) -> str:
    """A Hugging Face dataset card (README.md) for a dataset folder in `spec`'s layout."""
    sections = [
        _front_matter(spec, name),
        f"# {markdown.cell(name)}\n\n{spec.summary} Written by curate in its `{spec.name}` {_what(spec)}.",
        _columns_section(folder, spec),
        _counts_section(counts),
        _made_section(command_line),
        _loading_section(),
        _trl_section(spec),
        _llamafactory_section(spec),
        _axolotl_section(spec, axolotl_problem),
    ]
    return "\n\n".join(sections) + "\n"


def _made_section(command_line: str) -> str:
    """The command line in a code block: URL credentials removed, and a fence longer than any run
    of backticks in it, so a path cannot end the block early."""
    from curate.llm.redact import redact_urls

    command_line = redact_urls(command_line)
    longest = max((len(run) for run in re.findall(r"`+", command_line)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"## How it was made\n\n{fence}\n{command_line}\n{fence}"


def _what(spec: Layout | Format) -> str:
    return "format" if isinstance(spec, Format) else "layout"


def _front_matter(spec: Layout | Format, name: str) -> str:
    tags = ["curate", spec.kind, spec.name]
    if spec.kind != SFT:
        tags.append("dpo")
    matter = {
        "pretty_name": name,
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": DATA_GLOB}]}],
        "task_categories": ["text-generation"],
        "tags": tags,
    }
    return "---\n" + yaml.safe_dump(matter, sort_keys=False, allow_unicode=True) + "---"


def _columns_section(folder: Path, spec: Layout | Format) -> str:
    schema = _shard_schema(folder) or (output_schema(spec.name) if isinstance(spec, Format) else pa.schema([]))
    lines = ["## Columns", "", "| column | type | |", "|---|---|---|"]
    for field in schema:
        lines.append(f"| `{field.name}` | `{field.type}` | {_COLUMN_NOTES.get(field.name, '')} |")
    return "\n".join(lines)


def _shard_schema(folder: Path) -> pa.Schema | None:
    shards = sorted((folder / DATA_DIR).glob("*.parquet"))
    return pq.read_schema(shards[0]) if shards else None


def _counts_section(counts: dict) -> str:
    lines = ["## Rows", "", "| | rows |", "|---|---:|"]
    for key in ("in", "kept", "rejected"):
        if key in counts:
            lines.append(f"| {key} | {counts[key]:,} |")
    by_reason = counts.get("by_reason") or {}
    if by_reason:
        lines += ["", "Rejected, by reason:", "", "| reason | rows |", "|---|---:|"]
        for reason, number in sorted(by_reason.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"| `{reason}` | {number:,} |")
    return "\n".join(lines)


def _loading_section() -> str:
    return (
        "## Loading\n\n```python\nimport json\n\nfrom datasets import load_dataset\n\n"
        f'dataset = load_dataset("parquet", data_files="{DATA_GLOB}", split="train")\n'
        'meta = json.loads(dataset[0]["meta"])\n```\n\n'
        "Run it from this folder, or give `data_files` the full path."
    )


def _trl_section(spec: Layout | Format) -> str:
    note = spec.trl or (
        f"TRL does not read the {spec.name} layout; write `--to {'messages' if spec.kind == SFT else 'preference'}` "
        "for TRL."
    )
    return f"## TRL\n\n{note}"


def _llamafactory_section(spec: Layout | Format) -> str:
    facts = spec.llamafactory
    if facts.entry is None:
        return f"## LLaMA-Factory\n\nNo `dataset_info.json` is written: {facts.cannot}."
    text = (
        "## LLaMA-Factory\n\n`dataset_info.json` here registers the data: set `dataset_dir` to this folder "
        "and `dataset` to the entry's name."
    )
    return f"{text} {facts.note}" if facts.note else text


def _axolotl_section(spec: Layout | Format, problem: str | None) -> str:
    facts = spec.axolotl
    if problem is not None:
        return f"## Axolotl\n\nNo `axolotl.yaml` is written: {problem}."
    text = "## Axolotl\n\n`axolotl.yaml` holds the `datasets:` entry (its path is this folder's `data/`)."
    return f"{text} {facts.note}" if facts.note else text


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
