"""The dedup section of report.md: counts, the cluster-size chart, and the largest clusters."""

from __future__ import annotations

from pathlib import Path

from curate.io.markdown import cell, code
from curate.pipeline.plots import write_cluster_sizes


def _settings_line(described: dict) -> str:
    parts = []
    if described["exact"]:
        parts.append("exact (NFC, lower case, whitespace)")
    if described["minhash"]:
        parts.append(
            f"MinHash over word {described['ngram']}-grams (character {described['char_ngram']}-grams for ko, zh, ja, th), "
            f"{described['num_perm']} hash functions, {described['bands']} bands x {described['rows']} rows "
            f"(LSH threshold about {described['lsh_threshold']:.2f}), seed {described['seed']}, keep {described['keep']}, "
            f"pairs kept at similarity >= {described['jaccard_threshold']:.2f} "
            + ("(exact shingle Jaccard, --verify)" if described["verify"] else "(signature estimate)")
        )
    if described["lines"]:
        parts.append(
            f"lines seen more than {described['line_threshold']} times in the kept documents cut from all of them"
        )
    return "; ".join(parts)


def dedup_section(described: dict, snippets: dict[str, str], line_counts: dict[str, int], folder: Path) -> list[str]:
    result = described.get("result")
    if not result:
        return []
    lines = ["## Duplicates", "", _settings_line(described) + ".", ""]
    lines += [
        f"- documents: {result['documents']:,}",
        f"- exact duplicates: {result['exact_duplicates']:,}",
        f"- near duplicates: {result['near_duplicates']:,}",
        f"- clusters (a kept document and its duplicates): {result['clusters']:,}, "
        f"holding {result['documents_in_clusters']:,} documents",
    ]
    if "candidate_pairs" in result:
        lines.append(f"- LSH candidate pairs: {result['candidate_pairs']:,}")
    if "pairs_below_threshold" in result:
        how = "exact shingle Jaccard" if described.get("verify") else "signature estimate"
        lines.append(
            f"- candidate pairs below the similarity threshold ({how}), not joined: {result['pairs_below_threshold']:,}"
        )
    if "component_rounds" in result:
        lines.append(
            f"- found by {result['partitions']:,} partition tasks a stage; clusters settled in "
            f"{result['component_rounds']} rounds of large-star and small-star"
        )
    if described["lines"]:
        lines.append(
            f"- frequent lines cut: {line_counts['lines_removed']:,} ({line_counts['line_chars_removed']:,} characters) "
            f"from {line_counts['docs_with_lines_removed']:,} kept documents"
        )
    if "seconds" in result:
        lines.append(
            f"- hashing {result['seconds']['hashing']:.1f} s, clustering {result['seconds']['clustering']:.1f} s"
        )
    if result.get("documents_without_tokens"):
        lines.append(
            f"- documents without a word (no MinHash; exact match only): {result['documents_without_tokens']:,}"
        )
    sizes = {int(size): count for size, count in result["cluster_sizes"].items()}
    chart = write_cluster_sizes(folder, sizes)
    if chart:
        lines += ["", f"![cluster sizes]({chart})"]
    if sizes:
        lines += ["", "| cluster size | clusters |", "|---:|---:|"]
        lines += [f"| {size:,} | {count:,} |" for size, count in sorted(sizes.items())]
    if result["largest"]:
        lines += ["", f"### The {len(result['largest'])} largest clusters", ""]
        for number, cluster in enumerate(result["largest"], start=1):
            members = cluster["members"]
            more = cluster["size"] - len(members)
            lines += [
                f"**{number}. {cluster['size']:,} documents**" + (f" ({more:,} more not shown)" if more else ""),
                "",
                "| id | decision | text |",
                "|---|---|---|",
            ]
            for member in members:
                text = snippets.get(str(member["ordinal"]), "")
                lines.append(f"| {code(member['id'])} | {cell(member['decision'])} | {cell(text)} |")
            lines.append("")
    return lines
