"""report.md of `curate translate`: counts by reason, requests, and translations beside their sources.

Every quoted text goes through curate.io.markdown, so a translation's HTML or Markdown shows as
the characters it holds and never as markup.
"""

from __future__ import annotations

from pathlib import Path

from curate.io import markdown

EXAMPLES = 3  # kept rows quoted side by side
CELL = 300  # characters of a quoted text


def write_report(
    output: Path, manifest: dict, examples: list[tuple[str, list[tuple[str, str, str]]]], rejected: list[dict]
) -> None:
    """`examples`: (row id, [(field, source, translation)]) of some kept rows."""
    counts, usage, stats = manifest["counts"], manifest["llm"], manifest["translate"]
    source = "detected per row" if stats["source_lang"] == "auto" else stats["source_lang"]
    languages = ", ".join(f"{lang} {rows:,}" for lang, rows in stats["source_langs"].items())
    lines = [
        "# curate translate",
        "",
        f"`{manifest['command_line']}`",
        "",
        f"- into {stats['target_lang']} from {source} ({languages}); model {manifest['model']['model']}"
        + (f", answers written anew by {manifest['model']['answer_model']}" if stats["regenerate_answers"] else ""),
        f"- rows read: {stats['rows']:,} {stats['kind']} ({stats['input_format']}); kept: {counts['kept']:,}; "
        f"rejected: {counts['rejected']:,}",
        f"- fields to translate: {stats['fields']:,}, distinct texts asked: {stats['texts']:,}",
        f"- requests sent: {usage['requests']:,}, answered from the cache: {usage['cache_hits']:,}, "
        f"retries: {usage['retries_total']:,}; tokens: {usage['prompt_tokens']:,} in, {usage['completion_tokens']:,} out",
    ]
    if counts["by_reason"]:
        lines += ["", "| reason | rows | example |", "|---|---:|---|"]
        first = {}
        for row in rejected:
            first.setdefault(row["reason"], row["detail"])
        lines += [
            f"| {markdown.cell(reason)} | {rows:,} | {markdown.cell(first.get(reason, ''), 160)} |"
            for reason, rows in counts["by_reason"].items()
        ]
    for row_id, pairs in examples[:EXAMPLES]:
        lines += ["", f"### {markdown.text(row_id)}", "", "| field | source | translation |", "|---|---|---|"]
        lines += [
            f"| {markdown.cell(field)} | {markdown.cell(source, CELL)} | {markdown.cell(translation, CELL)} |"
            for field, source, translation in pairs
        ]
    (output / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
