"""WARC extraction speed: resiliparse and trafilatura on the same pages, curate's `extract`
end to end (WARC reader + child process) with each, and curate's WET reader, in one run.

The pages are the shared data's real WARC records (../shared/data/web/warc). Its WET file
holds the text of exactly one of them (whirlwind's an.wikipedia.org page), so the WET
comparison runs on that page: the whirlwind WARC and WET files each repeated --copies times
(gzip members concatenate, so the copies are valid files). The extractors are also timed on
every HTML page of the shared WARCs (the dolma samples have no WET).

    python bench/extract_vs_peers.py [--copies 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WARC_DIR = REPO.parent / "shared" / "data" / "web" / "warc"


def html_pages(paths: list[Path]) -> list[str]:
    """The decoded HTML of every page curate's WARC reader keeps."""
    from curate.io.input_file import InputFile
    from curate.io.readers import ReaderOptions, read_file

    pages = []
    for path in paths:
        for batch in read_file(InputFile(path, "warc"), ReaderOptions()):
            pages += batch.docs.column("text").to_pylist()
    return pages


def best_rate(count: int, run, repeat: int) -> float:
    """Documents per second of the fastest of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def read_all(path: Path, format_name: str) -> int:
    from curate.io.input_file import InputFile
    from curate.io.readers import ReaderOptions, read_file

    return sum(batch.docs.num_rows for batch in read_file(InputFile(path, format_name), ReaderOptions()))


def curate_extract(path: Path, extractor: str, output: Path) -> int:
    from curate.corpus.extract.command import extract_corpus
    from curate.corpus.extract.step import ExtractStep
    from curate.io.readers import ReaderOptions
    from curate.io.writer import WriterOptions

    result = extract_corpus(
        [str(path)],
        output,
        ExtractStep(extractor),
        options={"extractor": extractor, "bench": time.time_ns()},  # a new job every run
        command_line="bench",
        reader=ReaderOptions(),
        writer=WriterOptions(),
        workers=1,
        progress=False,
        overwrite=True,
    )
    import json

    stages = json.loads((output / "report.json").read_text())["stages"]
    STEP_SECONDS[extractor] = next(stage["seconds"] for stage in stages if stage["stage"] == "extract")
    return result.manifest["counts"]["kept"]


STEP_SECONDS: dict[str, float] = {}  # the extract step's own time in the last curate_extract run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=300, help="copies of the whirlwind page")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure; the fastest counts")
    args = parser.parse_args()
    if not WARC_DIR.is_dir():
        sys.exit(f"{WARC_DIR} is absent")
    from importlib.metadata import version

    from curate.corpus.extract.extractors import resiliparse_text, trafilatura_text

    names = ("resiliparse", "trafilatura", "warcio")
    print(", ".join(f"{name} {version(name)}" for name in names) + f"; Python {sys.version.split()[0]}; one process")
    warcs = sorted(path for path in WARC_DIR.glob("*.warc.gz") if not path.name.endswith(".wet.gz"))
    pages = html_pages(warcs)
    print(f"\n{len(pages)} HTML pages of {len(warcs)} shared WARC files, extractors in this process:")
    rates = {}
    for name, extract in (("resiliparse", resiliparse_text), ("trafilatura", trafilatura_text)):
        rates[name] = best_rate(len(pages), lambda extract=extract: [extract(page) for page in pages], args.repeat)
        print(f"  {name:<12} {rates[name]:>9,.0f} docs/s")
    print(f"  resiliparse / trafilatura: {rates['resiliparse'] / rates['trafilatura']:.1f}x")

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        warc, wet = folder / "whirlwind.warc.gz", folder / "whirlwind.warc.wet.gz"
        warc.write_bytes((WARC_DIR / "whirlwind.warc.gz").read_bytes() * args.copies)
        wet.write_bytes((WARC_DIR / "whirlwind.warc.wet.gz").read_bytes() * args.copies)
        print(f"\nthe page both the WARC and the WET file hold, {args.copies} copies:")
        whirl = html_pages([warc])
        measures = {
            "WET reader (curate, text only)": (args.copies, lambda: read_all(wet, "wet")),
            "WARC reader (curate, decoded HTML)": (args.copies, lambda: read_all(warc, "warc")),
            "resiliparse (in process)": (len(whirl), lambda: [resiliparse_text(page) for page in whirl]),
            "trafilatura (in process)": (len(whirl), lambda: [trafilatura_text(page) for page in whirl]),
            "curate extract, resiliparse": (args.copies, lambda: curate_extract(warc, "resiliparse", folder / "r")),
            "curate extract, trafilatura": (args.copies, lambda: curate_extract(warc, "trafilatura", folder / "t")),
        }
        found = {}
        for label, (count, run) in measures.items():
            found[label] = best_rate(count, run, args.repeat)
            print(f"  {label:<36} {found[label]:>9,.0f} docs/s")
        for extractor in ("resiliparse", "trafilatura"):
            step_rate = args.copies / STEP_SECONDS[extractor]
            print(f"  {'extract step alone (child), ' + extractor:<36} {step_rate:>9,.0f} docs/s (last run)")
        wet_rate = found["WET reader (curate, text only)"]
        for label, rate in found.items():
            if not label.startswith("WET"):
                print(f"  the WET reader is {wet_rate / rate:,.1f}x as fast as {label}")
        child = found["curate extract, resiliparse"] / found["resiliparse (in process)"]
        print(f"  curate extract (reader + child process + Parquet + report) / resiliparse alone: {child:.2f}x")


if __name__ == "__main__":
    main()
