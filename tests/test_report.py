"""report.md's funnel, its charts, and length histograms that add up across workers and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from curate.corpus.filters.clean import CleanText
from curate.errors import RunFailed
from curate.io.sources import expand_inputs
from curate.pipeline.executor import Job, run_job
from curate.pipeline.step import Step, StepOutput
from tests.conftest import run_cli, write_jsonl

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _docs(count: int, prefix: str = "") -> list[dict]:
    # lengths from a few characters to a few thousand; every seventh is whitespace only
    return [
        {"id": f"{prefix}{i}", "text": "  " if i % 7 == 3 else "word " * (1 + (i * 37) % 900)} for i in range(count)
    ]


def _report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def test_report_links_valid_png_charts_and_groups_drops_by_step(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", _docs(50))
    with open(source, "ab") as handle:
        handle.write(b'{"broken\n')
    run_cli("filter", source, "-o", tmp_path / "out", "--steps", "clean", "--workers", "1")

    markdown = (tmp_path / "out/report.md").read_text()
    assert "![funnel](funnel.png)" in markdown and "![lengths](lengths.png)" in markdown
    for name in ("funnel.png", "lengths.png"):
        data = (tmp_path / "out" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000
    # drops grouped under their stage, with the text they held
    assert "| **read** | all | **1** |" in markdown and "| | `unparseable:json` | 1 | 8 B |" in markdown
    assert "| **clean** | all | **7** | 14 B |" in markdown and "| | `clean:whitespace_only` | 7 | 14 B |" in markdown
    assert "| **kept** | | | **43** |" in markdown and "51 records in" in markdown

    report = _report(tmp_path / "out")
    lengths = report["lengths"]
    assert report["charts"] == ["funnel.png", "lengths.png"]
    assert len(lengths["edges"]) == len(lengths["read"]) + 1 == len(lengths["kept"]) + 1
    assert sum(lengths["read"]) == report["stages"][0]["docs_out"] == 50
    assert sum(lengths["kept"]) == report["counts"]["kept"] == 43
    assert report["stages"][1]["rejected_bytes"] == {"clean:whitespace_only": 14}


def test_histograms_and_charts_do_not_depend_on_workers(tmp_path):
    for number in range(3):
        write_jsonl(tmp_path / f"in/part-{number}.jsonl", _docs(40, f"{number}-"))
    for workers in ("1", "3"):
        run_cli("filter", tmp_path / "in", "-o", tmp_path / f"w{workers}", "--steps", "clean", "--workers", workers)
    one, three = _report(tmp_path / "w1"), _report(tmp_path / "w3")
    assert one["lengths"] == three["lengths"] and sum(one["lengths"]["read"]) == 120
    for name in ("funnel.png", "lengths.png"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w3" / name).read_bytes(), name
    # report.md differs in its command line and timings, not in what it counts
    first, second = (
        (tmp_path / folder / "report.md").read_text().split("## Dropped")[1].split("Ran in")[0]
        for folder in ("w1", "w3")
    )
    assert first == second and "`clean:whitespace_only` | 18 |" in first


class FailOnFlag(Step):
    """Fails on the file named by `source` while a flag file exists: a run that stops half-way."""

    name = "fail_on_flag"

    def __init__(self, flag: str, source: str) -> None:
        super().__init__()
        self.flag, self.source = flag, source

    def run(self, batch: pa.Table) -> StepOutput:
        if Path(self.flag).exists() and batch.column("source")[0].as_py() == self.source:
            raise RuntimeError("stopped on purpose")
        return StepOutput(batch)


def _job(inputs: Path, output: Path, flag: Path) -> Job:
    files = expand_inputs([str(inputs)])
    steps = [CleanText(), FailOnFlag(str(flag), files[2].source)]
    return Job("filter", output, files, steps, {"inputs": [str(inputs)]}, "report resume test")


def test_histograms_survive_resume(tmp_path):
    for number in range(4):
        write_jsonl(tmp_path / f"in/part-{number}.jsonl", _docs(30, f"{number}-"))
    flag = tmp_path / "flag"
    run_job(_job(tmp_path / "in", tmp_path / "reference", flag), workers=1, progress=False)

    flag.touch()
    with pytest.raises(RunFailed, match="stopped on purpose"):
        run_job(_job(tmp_path / "in", tmp_path / "out", flag), workers=1, progress=False)
    flag.unlink()
    result = run_job(_job(tmp_path / "in", tmp_path / "out", flag), workers=1, progress=False)
    assert result.manifest["timings"]["resumed_tasks"] == 2

    resumed, reference = _report(tmp_path / "out"), _report(tmp_path / "reference")
    assert resumed["lengths"] == reference["lengths"] and sum(resumed["lengths"]["read"]) == 120
    assert resumed["stages"][1]["rejected_bytes"] == reference["stages"][1]["rejected_bytes"]
    for name in ("funnel.png", "lengths.png"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "reference" / name).read_bytes()
