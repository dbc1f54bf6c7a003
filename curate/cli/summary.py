"""What a dataset command prints when it is done: rows in, kept, rejected by reason, where."""

from __future__ import annotations

from pathlib import Path

from curate.pipeline.job import JobResult


def summary(result: JobResult) -> str:
    manifest = result.manifest
    counts = manifest["counts"]
    if result.skipped:
        return (
            f"{result.output}: already complete for these inputs and options "
            f"({counts['kept']:,} kept, {counts['rejected']:,} rejected); nothing to do"
        )
    lines = [
        f"{manifest['command']}: {counts['in']:,} in -> {counts['kept']:,} kept, {counts['rejected']:,} rejected"
        + (f" ({counts['unreadable']:,} unreadable input records kept verbatim)" if counts["unreadable"] else "")
    ]
    if counts["by_reason"]:
        lines.append("  rejected: " + ", ".join(f"{reason} {rows:,}" for reason, rows in counts["by_reason"].items()))
    timings = manifest["timings"]
    resumed = f", resumed {timings['resumed_tasks']} finished task(s)" if timings["resumed_tasks"] else ""
    lines.append(
        f"  wrote {result.output}/: {len(manifest['shards']['data'])} data shard(s), "
        f"{len(manifest['shards']['rejected'])} rejected shard(s), report.md "
        f"in {timings['seconds']:.1f} s with {timings['workers']} worker(s){resumed}"
    )
    return "\n".join(lines)


def llm_summary(result: JobResult, output: Path) -> str:
    """summary(), and for a finished run of a command that asked a model: the requests sent, the
    answers from the cache, and where the report is."""
    lines = [summary(result)]
    if not result.skipped:
        usage = result.manifest["llm"]
        lines.append(
            f"  {usage['requests']:,} requests sent, {usage['cache_hits']:,} from the cache; report: {output / 'report.md'}"
        )
    return "\n".join(lines)
