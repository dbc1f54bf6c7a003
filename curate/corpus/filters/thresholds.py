"""Per-language thresholds of the heuristic steps: the shipped table, a user's overrides, their checks.

A table is `{language: {step: {key: value}}}`. A step's own settings (its command-line options,
datatrove's values by default) are the row of English and of every language the table does not
name; a language's row replaces only the keys it gives. `--thresholds FILE.yaml` is merged over
the shipped table (thresholds.yaml, fitted by bench/fit_thresholds.py) per language and per key;
`--thresholds none` drops the table, so every language is judged by the step's settings.
A value of null turns the rule off for that language.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import click

from curate.corpus.languages import language_code
from curate.errors import UserError

SHIPPED_TABLE = Path(__file__).with_name("thresholds.yaml")
NO_TABLE = "none"

# The labels of fastText's lid.176, the langid step's default model: the languages a row may name.
LANGUAGES = frozenset(
    """af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co cs cv
    cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he hi hif hr hsb ht hu hy
    ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk
    ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru
    rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls
    vo wa war wuu xal xmf yi yo yue zh""".split()
)

# What a row may set for each step, and the kind of value: count (whole number), number (>= 0),
# fraction (0 to 1), words (a list of strings), ngrams (a mapping n -> fraction).
STEP_KEYS: dict[str, dict[str, str]] = {
    "gopher_quality": {
        "min_doc_words": "count",
        "max_doc_words": "count",
        "min_avg_word_length": "number",
        "max_avg_word_length": "number",
        "max_symbol_word_ratio": "number",
        "max_bullet_lines_ratio": "fraction",
        "max_ellipsis_lines_ratio": "fraction",
        "min_alpha_words_ratio": "fraction",
        "min_stop_words": "count",
        "stop_words": "words",
    },
    "gopher_repetition": {
        "dup_line_frac": "fraction",
        "dup_para_frac": "fraction",
        "dup_line_char_frac": "fraction",
        "dup_para_char_frac": "fraction",
        "top_n_grams": "ngrams",
        "dup_n_grams": "ngrams",
    },
    "c4": {"min_num_sentences": "count", "min_words_per_line": "count", "max_word_length": "count"},
    "fineweb": {
        "line_punct_thr": "fraction",
        "short_line_thr": "fraction",
        "short_line_length": "count",
        "char_duplicates_ratio": "fraction",
        "new_line_ratio": "number",
    },
}

Table = dict[str, dict[str, dict[str, object]]]
NGrams = tuple[tuple[int, "float | None"], ...]


def check_table(document: object, source: str) -> Table:
    """The table in `document` with its values normalised; a one-line UserError names the first mistake."""
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise UserError(
            f"{source}: a thresholds table maps languages to steps to values (got {type(document).__name__})"
        )
    table: Table = {}
    for label, steps in document.items():
        if isinstance(label, bool):
            raise UserError(
                f"{source}: a language key reads as {str(label).lower()} (YAML takes no, yes, on, off for "
                "booleans): quote it, as 'no':"
            )
        language = language_code(str(label))  # ko-KR, kor and KO are ko
        if language not in LANGUAGES:
            raise UserError(f"{source}: unknown language {label!r} (a lid.176 code such as en, ko, zh, ja)")
        if language in table:
            raise UserError(f"{source}: {label!r} names {language}, which has a row already")
        if not isinstance(steps, dict):
            raise UserError(f"{source}: {language}: expected step names ({', '.join(STEP_KEYS)}) with their values")
        table[language] = {}
        for step, values in steps.items():
            keys = STEP_KEYS.get(str(step))
            if keys is None:
                raise UserError(f"{source}: {language}: unknown step {step!r} (steps: {', '.join(STEP_KEYS)})")
            if not isinstance(values, dict):
                raise UserError(f"{source}: {language}.{step}: expected keys ({', '.join(keys)}) with their values")
            row = table[language][str(step)] = {}
            for key, value in values.items():
                if str(key) not in keys:
                    raise UserError(f"{source}: {language}.{step}: unknown key {key!r} (keys: {', '.join(keys)})")
                row[str(key)] = _value(value, keys[str(key)], f"{source}: {language}.{step}.{key}")
            _check_bounds(row, f"{source}: {language}.{step}")
    return table


def _check_bounds(row: dict, where: str) -> None:
    """A lower limit above its upper one in the same row would reject every document."""
    for low, high in (("min_doc_words", "max_doc_words"), ("min_avg_word_length", "max_avg_word_length")):
        if row.get(low) is not None and row.get(high) is not None and row[low] > row[high]:
            raise UserError(f"{where}: {low} {row[low]} is above {high} {row[high]}; every document would be rejected")


def _value(value: object, kind: str, where: str) -> object:
    if value is None:
        return None
    if kind == "words":
        if not isinstance(value, list) or not all(isinstance(word, str) and word.strip() for word in value):
            raise UserError(f"{where}: expected a list of words, got {value!r}")
        if not value:
            raise UserError(f"{where}: an empty list would reject every document; null turns the rule off")
        return tuple(value)
    if kind == "ngrams":
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping like {{2: 0.2, 3: 0.18}}, got {value!r}")
        # a size given null is dropped from the sizes the language inherits (merge_ngrams)
        return tuple(
            sorted(
                (_ngram_size(n, where), None if limit is None else _fraction(limit, where))
                for n, limit in value.items()
            )
        )
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"{where}: expected a whole number >= 0 or null, got {value!r}")
        return value
    if kind == "fraction":
        return _fraction(value, where)
    return _number(value, where)


def _fraction(value: object, where: str) -> float:
    number = _number(value, where)
    if number > 1:
        raise UserError(f"{where}: a share from 0 to 1, got {value!r}")
    return number


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise UserError(f"{where}: expected a number >= 0 or null, got {value!r}")
    return float(value)


def _ngram_size(n: object, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
        raise UserError(f"{where}: n-gram sizes are whole numbers from 1 to 20, got {n!r}")
    return n


def merge_ngrams(base: NGrams | None, override: NGrams | None) -> NGrams | None:
    """`override`'s limits over `base`'s, per n-gram size; a size set to None is dropped, and a
    whole mapping of None (the rule off) stays None."""
    if override is None:
        return None
    limits = dict(base or ())
    limits.update(override)
    return tuple(sorted((n, limit) for n, limit in limits.items() if limit is not None))


def merge(base: Table, override: Table) -> Table:
    """`override` over `base`, per language, step and key (and per size for n-gram limits)."""
    merged = {language: {step: dict(values) for step, values in steps.items()} for language, steps in base.items()}
    for language, steps in override.items():
        for step, values in steps.items():
            row = merged.setdefault(language, {}).setdefault(step, {})
            for key, value in values.items():
                if STEP_KEYS[step][key] == "ngrams" and key in row:
                    # keep the Nones that drop a size: the step's own sizes are merged later
                    value = None if value is None else tuple(sorted({**dict(row[key] or ()), **dict(value)}.items()))
                row[key] = value
    return merged


@lru_cache(maxsize=1)
def shipped_table() -> Table:
    import yaml

    return check_table(yaml.safe_load(SHIPPED_TABLE.read_text(encoding="utf-8")), str(SHIPPED_TABLE))


def load_table(choice: str | Path | None) -> Table:
    """The table for `--thresholds`: the shipped one (None), none at all ("none"), or a file over the shipped one."""
    if choice is None:
        return shipped_table()
    if str(choice) == NO_TABLE:
        return {}
    from curate.io.yaml_limits import load_yaml

    return merge(shipped_table(), check_table(load_yaml(Path(choice), "thresholds table"), str(choice)))


def step_rows(table: Table | None, step: str) -> dict[str, dict[str, object]]:
    """Each language's values for one step (None: the shipped table's)."""
    if table is None:
        table = shipped_table()
    return {language: dict(steps[step]) for language, steps in table.items() if steps.get(step)}


def from_params(params: dict, step: str) -> dict[str, dict[str, object]]:
    """The rows of `step` for the command's --thresholds (a small file, so read again per step)."""
    return step_rows(load_table(params.get("thresholds")), step)


THRESHOLDS_OPTION = click.option(
    "--thresholds",
    default=None,
    metavar="FILE.yaml|none",
    help="Per-language thresholds of gopher_quality, gopher_repetition, c4 and fineweb, merged over the shipped "
    "table (docs/filter-rules.md); 'none': every language gets the options' values.",
)
