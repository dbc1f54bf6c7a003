"""`curate inspect`: what a dataset folder or a data file holds."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.errors import UserError
from curate.io.input_file import InputFile, path_text
from curate.io.manifest import MANIFEST, read_json, read_manifest
from curate.io.readers import READERS, ReaderOptions, read_file
from curate.io.sources import detect_format
from curate.pipeline import counts
from curate.pipeline.folder import KEPT, REJECTED, STATE

TEXT_PREVIEW = 160
SAMPLE_BATCH = 1024  # rows read at a time for the sample, however many are asked for


def _preview(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\n", "⏎")
    return text if len(text) <= TEXT_PREVIEW else text[:TEXT_PREVIEW] + f"… ({len(text):,} chars)"


def _rows_block(rows: list[dict]) -> list[str]:
    lines = []
    for number, row in enumerate(rows):
        lines.append(f"  [{number}]")
        lines += [f"    {key}: {_preview(value)}" for key, value in row.items() if value is not None]
    return lines


def _parquet_sample(paths: list[Path], count: int) -> list[dict]:
    rows: list[dict] = []
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=min(count, SAMPLE_BATCH) or 1):
            if len(rows) >= count:
                return rows
            rows += batch.to_pylist()[: count - len(rows)]
    return rows


def _parquet_files(paths: list[Path], count: int, title: str) -> list[str]:
    try:
        return _parquet_lines(paths, count, title)
    except (pa.ArrowException, OSError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{title}: a file is not readable Parquet ({detail})") from None


def _parquet_lines(paths: list[Path], count: int, title: str) -> list[str]:
    total = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
    schema = pq.read_schema(paths[0])
    lines = [
        f"{title}: {total:,} rows in {len(paths)} file(s), {sum(p.stat().st_size for p in paths):,} bytes",
        "schema:",
    ]
    lines += [f"  {field.name}: {field.type}" for field in schema]
    sample = _parquet_sample(paths, count)
    if sample:
        lines += [f"sample rows ({len(sample)} of {total:,}):", *_rows_block(sample)]
    return lines


def _dataset_folder(folder: Path, count: int) -> list[str]:
    manifest = read_manifest(folder)
    try:
        return _manifest_lines(folder, manifest, count)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        # a manifest edited by hand or planted: its shape is not the one curate writes
        raise UserError(
            f"{path_text(folder / MANIFEST)} is not a manifest curate wrote (fields missing or of the wrong type); "
            "re-run the command that made the folder"
        ) from None


def _manifest_lines(folder: Path, manifest: dict | None, count: int) -> list[str]:
    tally = manifest["counts"]
    shards = manifest["shards"]
    lines = [
        f"{path_text(folder)}: curate dataset folder, "
        + ("DRY RUN (report.md only, no shards)" if manifest.get("dry_run") else "finished")
        + (f", sampled: first {manifest['sample']:,} documents" if manifest.get("sample") else ""),
        f"made by: {manifest['command_line']}",
        f"rows: {tally['in']:,} in, {tally['kept']:,} kept in {len(shards[KEPT])} shard(s), "
        f"{tally['rejected']:,} rejected in {len(shards[REJECTED])} shard(s)"
        + (f" ({tally['unreadable']:,} unreadable)" if tally.get("unreadable") else ""),
    ]
    if tally["by_reason"]:
        lines.append("rejected by reason:")
        lines += [f"  {reason}: {rows:,}" for reason, rows in tally["by_reason"].items()]
    timings = manifest.get("timings", {})
    if timings:
        lines.append(
            f"finished {timings.get('finished')} in {timings.get('seconds')} s with {timings.get('workers')} worker(s)"
        )
    data = [folder / shard["path"] for shard in shards[KEPT]]
    missing = [path for path in data if not path.is_file()]
    if missing:
        raise UserError(
            f"{path_text(folder)}: {path_text(missing[0].relative_to(folder))} is listed in the manifest but not on "
            "disk; the folder was changed after curate wrote it: re-run the command that made it with --overwrite"
        )
    if data:
        lines += _parquet_files(data, count, f"data of {path_text(folder)}")
    return lines


def _unfinished_folder(folder: Path) -> list[str]:
    job = read_json(folder / STATE / "job.json") or {}
    done = len(list((folder / STATE / "done").glob("task-*.json")))
    return [
        f"{path_text(folder)}: curate dataset folder, UNFINISHED ({done} of {job.get('tasks', '?')} input tasks done)",
        f"made by: {job.get('command', '?')}",
        "re-run that command to resume it.",
    ]


def _data_file(path: Path, count: int) -> list[str]:
    file_format = detect_format(path)
    if file_format == "parquet":
        return _parquet_files([path], count, path_text(path))
    if file_format not in READERS:  # a name no reader claims
        raise UserError(
            f"cannot tell the format of {path_text(path)}; curate inspects dataset folders and {', '.join(READERS)} files"
        )
    records = docs = 0
    reasons: dict[str, int] = {}
    sample: list[dict] = []
    for batch in read_file(InputFile(path, file_format), ReaderOptions()):
        records += batch.records
        docs += batch.docs.num_rows
        counts.merge(reasons, counts.reason_counts(batch.rejected))
        if len(sample) < count:
            sample += batch.docs.slice(0, count - len(sample)).to_pylist()
    lines = [f"{path_text(path)}: {file_format}, {records:,} records, {docs:,} readable documents (text field 'text')"]
    if reasons:
        lines.append("unreadable or without text:")
        lines += [f"  {reason}: {rows:,}" for reason, rows in sorted(reasons.items())]
    if sample:
        lines += [f"sample documents ({len(sample)}):", *_rows_block(sample)]
    return lines


def describe(path: Path, count: int = 3) -> str:
    if not path.exists():
        raise UserError(f"{path_text(path)} does not exist")
    if not path.is_dir() and not path.is_file():
        raise UserError(f"{path_text(path)} is not a file or folder (a pipe, socket or device); inspect reads files")
    if path.is_dir():
        if (path / MANIFEST).is_file():
            lines = _dataset_folder(path, count)
        elif (path / STATE).is_dir():
            lines = _unfinished_folder(path)
        else:
            parquet = sorted(path.rglob("*.parquet"))
            if not parquet:
                raise UserError(f"{path_text(path)} is neither a curate dataset folder nor a folder of Parquet files")
            lines = _parquet_files(parquet, count, path_text(path))
    else:
        lines = _data_file(path, count)
    return "\n".join(lines)
