"""The main-text extractors the `extract` step can run, one line each in EXTRACTORS.

An extractor is named by `module:function` (a function from an HTML string to its main
text) because it runs in the step's child process (worker.py), which imports it by name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extractor:
    target: str  # "module:function", importable in the child process
    summary: str  # for --help


def resiliparse_text(html: str) -> str:
    """DCLM's choice: resiliparse's main-content heuristics, block structure kept as line breaks."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLParserException

    try:
        return extract_plain_text(html, preserve_formatting=True, main_content=True, alt_texts=False)
    except HTMLParserException as error:
        # lexbor (resiliparse's parser) reports a failed allocation as status 2 rather than
        # raising MemoryError: under the child's memory limit that is running out of memory
        if "(Error 2)" in str(error):
            raise MemoryError(str(error)) from None
        raise


def trafilatura_text(html: str) -> str:
    """FineWeb's choice: trafilatura favouring precision, without comments, repeated lines dropped."""
    import trafilatura

    return trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True) or ""


EXTRACTORS: dict[str, Extractor] = {
    "resiliparse": Extractor(f"{__name__}:resiliparse_text", "resiliparse main content (DCLM's; fast)"),
    "trafilatura": Extractor(f"{__name__}:trafilatura_text", "trafilatura, precision first (FineWeb's; slower)"),
}
