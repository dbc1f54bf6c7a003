"""Files other trainers need beside a dataset folder's `data/*.parquet` shards.

- dataset_info.json: a LLaMA-Factory dataset entry (set `dataset_dir` to the folder);
- axolotl.yaml: an Axolotl `datasets:` snippet (with `rl: dpo` for preference data);
- README.md: a Hugging Face dataset card.

A format a trainer cannot read gets no file for that trainer; the card says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from curate.instruct.formats import format_kind, output_schema
from curate.io.atomic import atomic_path

DATA_DIR = "data"
DATA_GLOB = f"{DATA_DIR}/*.parquet"

_SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
_MESSAGES_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "observation_tag": "tool",
    "function_tag": "function_call",
    "system_tag": "system",
}
_LLAMAFACTORY = {
    "alpaca": {
        "formatting": "alpaca",
        "columns": {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "system": "system",
            "history": "history",
            "tools": "tools",
        },
    },
    "prompt-completion": {
        "formatting": "alpaca",
        "columns": {"prompt": "prompt", "response": "completion", "tools": "tools"},
    },
    "messages": {
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "tools": "tools"},
        "tags": _MESSAGES_TAGS,
    },
    "sharegpt": {
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": _SHAREGPT_TAGS,
    },
    "sharegpt-preference": {
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
        "tags": _SHAREGPT_TAGS,
    },
}
_LLAMAFACTORY_CANNOT = {
    "preference": "its chosen/rejected columns are message lists, and LLaMA-Factory's ranking "
    "data wants one message object each; write `--to sharegpt-preference` for it",
    "hh-rlhf": "the prompt is only implicit in the chosen/rejected transcripts; "
    "write `--to sharegpt-preference` for it",
}

_AXOLOTL_CANNOT = {
    "hh-rlhf": "no Axolotl DPO type reads transcripts without a prompt field; "
    "write `--to preference` or `--to sharegpt-preference` for it",
}
_TOOLS_NOTE = (
    "`tools` holds JSON text; Axolotl's chat_template wants a list of objects there, so parse it "
    "first (or drop the column) when rows carry tools. function_call turns need a role your chat "
    "template knows."
)
_FORMAT_SUMMARY = {
    "alpaca": "Alpaca records: `instruction`, `input`, `output`, with optional `system` and `history` "
    "([user, assistant] pairs, LLaMA-Factory's convention).",
    "messages": "OpenAI-style chat: `messages` is a list of {role, content}; roles are system, user, "
    "assistant, function_call and tool.",
    "sharegpt": "ShareGPT conversations: `conversations` is a list of {from, value} with from in human, gpt, "
    "function_call, observation; the system prompt is the `system` column.",
    "prompt-completion": "One exchange per row: `prompt` and `completion` strings (TRL's standard "
    "prompt-completion type).",
    "preference": "TRL conversational preference: `prompt` is a list of messages ending with the user, "
    "`chosen` and `rejected` each hold one assistant message.",
    "sharegpt-preference": "LLaMA-Factory ranking ShareGPT: `conversations` is the prompt (a system "
    "prompt is its first turn), `chosen` and `rejected` are one {from: gpt, value} turn each.",
    "hh-rlhf": "Anthropic HH-RLHF transcripts: `chosen` and `rejected` are whole "
    "'\\n\\nHuman: ...\\n\\nAssistant: ...' conversations sharing everything but the last answer.",
}
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
}


def write_interop_files(folder: Path, fmt: str, name: str, counts: dict, command_line: str) -> list[Path]:
    """Write dataset_info.json, axolotl.yaml and README.md into `folder`; return the files written."""
    folder = Path(folder)
    entry = llamafactory_entry(fmt)
    axolotl = axolotl_config(fmt, folder)
    texts = {
        "dataset_info.json": None if entry is None else json.dumps({name: entry}, indent=2) + "\n",
        "axolotl.yaml": None if axolotl is None else _axolotl_yaml(fmt, axolotl),
        "README.md": dataset_card(folder, fmt, name, counts, command_line),
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


def llamafactory_entry(fmt: str) -> dict | None:
    """The dataset_info.json entry for data in `fmt`, or None when LLaMA-Factory cannot read it."""
    format_kind(fmt)
    template = _LLAMAFACTORY.get(fmt)
    if template is None:
        return None
    # file_name is relative to LLaMA-Factory's dataset_dir: a folder of same-typed files.
    return {"file_name": DATA_DIR, "ranking": template.get("ranking", False), **template}


def axolotl_config(fmt: str, folder: Path) -> dict | None:
    """The Axolotl config (top-level keys) for data in `fmt`, or None when Axolotl cannot read it."""
    if format_kind(fmt) == "preference":
        dataset = _axolotl_preference_dataset(fmt)
        if dataset is None:
            return None
        return {"rl": "dpo", "datasets": [{**_axolotl_source(folder), **dataset}]}
    return {"datasets": [{**_axolotl_source(folder), **_axolotl_sft_dataset(fmt)}]}


def _axolotl_source(folder: Path) -> dict:
    return {"path": str((folder / DATA_DIR).resolve()), "ds_type": "parquet", "split": "train"}


def _axolotl_sft_dataset(fmt: str) -> dict:
    if fmt == "alpaca":
        return {"type": "alpaca"}
    if fmt == "prompt-completion":
        # A user-defined instruct type: the prompt verbatim, loss on the completion only.
        return {
            "type": {
                "field_instruction": "prompt",
                "field_output": "completion",
                "format": "{instruction}",
                "no_input_format": "{instruction}",
            }
        }
    # messages' roles are Axolotl's own names, so only sharegpt needs them mapped.
    return {"type": "chat_template", **_axolotl_messages(fmt, roles=fmt != "messages"), "roles_to_train": ["assistant"]}


def _axolotl_preference_dataset(fmt: str) -> dict | None:
    if fmt not in ("preference", "sharegpt-preference"):
        return None
    messages = _axolotl_messages(fmt, roles=True)
    return {
        "type": "chat_template.default",
        "field_messages": messages.pop("field_messages"),
        "field_chosen": "chosen",
        "field_rejected": "rejected",
        **messages,
    }


# The column holding each chat format's messages (the prompt, for preference data) and its tags.
_MESSAGE_LAYOUT = {
    "messages": ("messages", _MESSAGES_TAGS),
    "sharegpt": ("conversations", _SHAREGPT_TAGS),
    "preference": ("prompt", _MESSAGES_TAGS),
    "sharegpt-preference": ("conversations", _SHAREGPT_TAGS),
}
_AXOLOTL_ROLE_TAGS = {
    "user": "user_tag",
    "assistant": "assistant_tag",
    "system": "system_tag",
    "tool": "observation_tag",
}


def _axolotl_messages(fmt: str, roles: bool) -> dict:
    """Axolotl's keys for where `fmt` keeps its messages and how their roles are written."""
    column, tags = _MESSAGE_LAYOUT[fmt]
    keys = {
        "field_messages": column,
        "message_property_mappings": {"role": tags["role_tag"], "content": tags["content_tag"]},
    }
    if roles:
        keys["roles"] = {role: [tags[tag]] for role, tag in _AXOLOTL_ROLE_TAGS.items()}
    return keys


def _axolotl_yaml(fmt: str, config: dict) -> str:
    header = [f"# Axolotl datasets for this folder ({fmt}); merge into your training config."]
    if fmt in ("messages", "sharegpt"):
        header.append(f"# {_TOOLS_NOTE}")
    if fmt == "alpaca":
        header.append(
            "# type: alpaca reads instruction/input/output only; for system prompts or history, "
            "write --to messages and use chat_template."
        )
    return "\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------------------------------------
# The dataset card


def dataset_card(folder: Path, fmt: str, name: str, counts: dict, command_line: str) -> str:
    """A Hugging Face dataset card (README.md) for a dataset folder in `fmt`."""
    sections = [
        _front_matter(fmt, name),
        f"# {name}\n\n{_FORMAT_SUMMARY[fmt]} Written by curate in its `{fmt}` format.",
        _columns_section(folder, fmt),
        _counts_section(counts),
        f"## How it was made\n\n```\n{command_line}\n```",
        _loading_section(),
        _trl_section(fmt),
        _llamafactory_section(fmt),
        _axolotl_section(fmt),
    ]
    return "\n\n".join(sections) + "\n"


def _front_matter(fmt: str, name: str) -> str:
    kind = format_kind(fmt)
    tags = ["curate", "sft" if kind == "sft" else "preference", fmt]
    if kind == "preference":
        tags.append("dpo")
    matter = {
        "pretty_name": name,
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": DATA_GLOB}]}],
        "task_categories": ["text-generation"],
        "tags": tags,
    }
    return "---\n" + yaml.safe_dump(matter, sort_keys=False, allow_unicode=True) + "---"


def _columns_section(folder: Path, fmt: str) -> str:
    schema = _shard_schema(folder) or output_schema(fmt)
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


def _trl_section(fmt: str) -> str:
    notes = {
        "messages": "`SFTTrainer` reads the `messages` column as conversational language modeling. "
        "Drop or parse `tools` (JSON text) if your chat template takes tools.",
        "prompt-completion": "`SFTTrainer` reads `prompt` and `completion` (standard prompt-completion; "
        "the loss is on the completion).",
        "preference": "`DPOTrainer` (and the other preference trainers) read `prompt`, `chosen` and "
        "`rejected` as conversational preference data.",
        "hh-rlhf": "This is TRL's standard preference type with an implicit prompt; `DPOTrainer` cuts "
        "`chosen` and `rejected` at their first differing character. For a prompt cut at the turn, "
        "write `--to preference`.",
    }
    note = notes.get(
        fmt,
        f"TRL does not read the {fmt} layout; write `--to "
        f"{'messages' if format_kind(fmt) == 'sft' else 'preference'}` for TRL.",
    )
    return f"## TRL\n\n{note}"


def _llamafactory_section(fmt: str) -> str:
    if fmt in _LLAMAFACTORY_CANNOT:
        return f"## LLaMA-Factory\n\nNo `dataset_info.json` is written: {_LLAMAFACTORY_CANNOT[fmt]}."
    text = (
        "## LLaMA-Factory\n\n`dataset_info.json` here registers the data: set `dataset_dir` to this folder "
        "and `dataset` to the entry's name."
    )
    if fmt == "alpaca":
        text += " LLaMA-Factory joins `instruction` and `input` with one newline (curate's messages use two)."
    return text


def _axolotl_section(fmt: str) -> str:
    if fmt in _AXOLOTL_CANNOT:
        return f"## Axolotl\n\nNo `axolotl.yaml` is written: {_AXOLOTL_CANNOT[fmt]}."
    text = "## Axolotl\n\n`axolotl.yaml` holds the `datasets:` entry (its path is this folder's `data/`)."
    if fmt in ("messages", "sharegpt"):
        text += f" {_TOOLS_NOTE}"
    return text


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
