"""One spelling for a document's language: the ISO 639-1 code the per-language rules are keyed by.

Language labels arrive spelt many ways: fastText's `__label__en`, GlotLID's and NLLB's
`kor_Hang`, BCP 47 tags with a region or script (`ko-KR`, `zh-Hans`), three-letter codes
(`kor`, `cmn`) and capitals (`ZH`). The `langcodes` library knows the standard's mappings
(individual languages to their macrolanguage, three letters to two), so `ko-KR`, `kor_Hang`
and `kor` all find the Korean thresholds and word splitting.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def language_code(label: str) -> str:
    """The base language of `label` as the shortest standard code, lower case (`zh-Hans` -> `zh`,
    `kor_Hang` -> `ko`, `cmn` -> `zh`); a label langcodes cannot parse is returned lower-cased."""
    import langcodes

    tag = label.strip().removeprefix("__label__").replace("_", "-")
    try:
        standard = langcodes.standardize_tag(tag, macro=True)
    except (ValueError, langcodes.tag_parser.LanguageTagError):
        return tag.lower()
    return standard.split("-", 1)[0].lower()
