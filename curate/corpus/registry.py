"""The registry of the corpus steps `curate filter` runs: their names, CLI options and constructors.

Each step module exposes a `FilterSpec` (spec.py). The filter command gathers every spec's options,
so a step's settings have the same names on the command line and in a recipe YAML.
"""

from __future__ import annotations

from collections.abc import Callable

from curate.corpus.extract import step as extract
from curate.corpus.filters import badwords, c4, clean, fineweb, gopher, langid, pii, quality, url
from curate.corpus.filters.spec import FilterSpec
from curate.errors import UserError
from curate.pipeline.step import Step

# Every step of `curate filter`, in the default order; a new one is a module and one line here.
FILTERS: dict[str, FilterSpec] = {
    spec.name: spec
    for spec in (
        extract.SPEC,
        clean.SPEC,
        url.SPEC,
        langid.SPEC,
        gopher.REPETITION_SPEC,
        gopher.QUALITY_SPEC,
        c4.SPEC,
        fineweb.SPEC,
        badwords.SPEC,
        pii.SPEC,
        quality.SPEC,
    )
}


def parse_step_names(value: str | None) -> list[str] | None:
    """`--steps a,b,c` as a list, checked against the registry; None means the default."""
    if value is None or not value.strip():
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in FILTERS]
    if unknown:
        raise UserError(f"--steps: unknown step {', '.join(unknown)}; the steps are {', '.join(FILTERS)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"--steps: {', '.join(repeated)} named more than once")
    return names


def build_steps(params: dict) -> list[Step]:
    """The steps to run: exactly those named in --steps, else every step that applies."""
    from curate.corpus.segment import resolve_korean_segmenter

    # resolved once here (auto -> kiwi or space) so no step sees "auto"
    params = {**params, "ko_segmenter": resolve_korean_segmenter(params.get("ko_segmenter", "auto"))}
    names = parse_step_names(params.get("steps"))
    if names is None:
        names = [name for name, spec in FILTERS.items() if spec.applies(params)]
    elif names[0] != "extract" and extract.reads_warc(params):
        # a WARC record's row is the page's raw HTML: filtering it would keep markup as text
        suggestion = ",".join(["extract", *(name for name in names if name != "extract")])
        raise UserError(
            f"--steps: the inputs hold WARC files, whose rows are raw HTML; start with extract "
            f"(--steps {suggestion}) or run `curate extract` first"
        )
    return [FILTERS[name].build(params) for name in names]


def all_step_options() -> list[Callable]:
    return [option for spec in FILTERS.values() for option in spec.options]
