"""What `curate dedup` is asked to do."""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.corpus.dedup.hashing import MinHashSettings
from curate.errors import UserError


@dataclass(frozen=True)
class DedupSettings:
    exact: bool = True
    minhash: bool = True
    lines: bool = False  # remove lines that occur more than `line_threshold` times in the corpus
    line_threshold: int = 10
    minhash_settings: MinHashSettings = field(default_factory=MinHashSettings)
    language: str = "en"  # of documents without a `lang` value; picks word or character shingles
    keep: str = "first"  # which document of a near-duplicate cluster stays
    verify: bool = False  # keep only candidate pairs whose exact shingle Jaccard reaches `threshold`
    threshold: float | None = None  # None: the LSH threshold of the bands and rows

    def __post_init__(self) -> None:
        if not (self.exact or self.minhash or self.lines):
            raise UserError("nothing to do: --no-exact and --no-minhash without --lines")
        keep_column(self.keep)  # validates
        if not self.language or "," in self.language:
            raise UserError(
                f"--lang {self.language!r}: one language code, for documents without a lang column (e.g. ko); "
                "unlike filter's --lang, it does not choose which languages to keep"
            )
        if self.line_threshold < 1:
            raise UserError("--line-threshold must be at least 1")

    @classmethod
    def from_params(cls, params: dict) -> DedupSettings:
        """The settings of `curate dedup`'s parameters (the CLI's names; other keys are ignored):
        missing bands and rows are chosen from --threshold or the defaults (`lsh_bands_and_rows`)."""
        bands, rows = lsh_bands_and_rows(params["num_perm"], params["bands"], params["rows"], params["threshold"])
        hashing = MinHashSettings(
            ngram=params["ngram"],
            char_ngram=params["char_ngram"],
            num_perm=params["num_perm"],
            bands=bands,
            rows=rows,
            seed=params["seed"],
        )
        own = ("exact", "minhash", "lines", "line_threshold", "language", "keep", "verify")
        return cls(minhash_settings=hashing, threshold=params["threshold"], **{name: params[name] for name in own})

    @property
    def keep_column(self) -> str | None:
        """The column of `--keep highest:<column>`, else None."""
        return keep_column(self.keep)

    @property
    def jaccard_threshold(self) -> float:
        return self.threshold if self.threshold is not None else self.minhash_settings.threshold


def keep_column(keep: str) -> str | None:
    if keep in ("first", "longest"):
        return None
    if keep.startswith("highest:") and keep[len("highest:") :]:
        return keep[len("highest:") :]
    raise UserError(f"--keep {keep!r}: use first, longest or highest:<column> (e.g. highest:quality_score)")


def lsh_bands_and_rows(num_perm: int, bands: int | None, rows: int | None, threshold: float | None) -> tuple[int, int]:
    """Bands and rows as given; missing ones from the threshold (datasketch's optimiser) or the defaults.

    The defaults, 14 bands of 8 rows for 112 hash functions, are FineWeb's; with
    another --num-perm and no --bands, as many bands of `rows` as fit.
    """
    if bands is None and rows is None and threshold is not None:
        from datasketch.lsh import _optimal_param  # the optimiser behind MinHashLSH(threshold=...)

        return _optimal_param(threshold, num_perm, 0.5, 0.5)
    rows = rows or (num_perm // bands if bands else 8)
    bands = bands or max(1, num_perm // rows)
    if bands * rows > num_perm:
        raise UserError(
            f"--bands {bands} x --rows {rows} needs {bands * rows} hash functions; --num-perm is {num_perm}"
        )
    return bands, rows
