"""The languages `curate translate` translates into and from: their names and how long their text runs.

A language is named by its ISO 639-1 code, as lid.176 labels it: the codes here are the
two-letter labels of lid.176, so every target can be checked by language ID. The name goes
into the translation prompt. `CHARS_PER_ENGLISH_CHAR` is how many characters a language
takes to say what English says in one (Korean about 0.45, Chinese about 0.3): it sets the
default length-ratio floor of each pair and how many letters make a text long enough to check.
"""

from __future__ import annotations

from curate.corpus.languages import language_code
from curate.errors import UserError

NAMES = {
    "af": "Afrikaans", "am": "Amharic", "an": "Aragonese", "ar": "Arabic", "as": "Assamese", "av": "Avaric",
    "az": "Azerbaijani", "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian", "bh": "Bihari", "bn": "Bengali",
    "bo": "Tibetan", "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "ce": "Chechen", "co": "Corsican",
    "cs": "Czech", "cv": "Chuvash", "cy": "Welsh", "da": "Danish", "de": "German", "dv": "Dhivehi", "el": "Greek",
    "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "fy": "Western Frisian", "ga": "Irish", "gd": "Scottish Gaelic",
    "gl": "Galician", "gn": "Guarani", "gu": "Gujarati", "gv": "Manx", "he": "Hebrew", "hi": "Hindi",
    "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian", "hy": "Armenian", "ia": "Interlingua",
    "id": "Indonesian", "ie": "Interlingue", "io": "Ido", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "jv": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada", "ko": "Korean",
    "ku": "Kurdish", "kv": "Komi", "kw": "Cornish", "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish",
    "li": "Limburgish", "lo": "Lao", "lt": "Lithuanian", "lv": "Latvian", "mg": "Malagasy", "mk": "Macedonian",
    "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese",
    "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian", "oc": "Occitan", "or": "Odia",
    "os": "Ossetian", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "qu": "Quechua",
    "rm": "Romansh", "ro": "Romanian", "ru": "Russian", "sa": "Sanskrit", "sc": "Sardinian", "sd": "Sindhi",
    "sh": "Serbo-Croatian", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "so": "Somali", "sq": "Albanian",
    "sr": "Serbian", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu",
    "tg": "Tajik", "th": "Thai", "tk": "Turkmen", "tl": "Tagalog", "tr": "Turkish", "tt": "Tatar", "ug": "Uyghur",
    "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese", "vo": "Volapük", "wa": "Walloon",
    "yi": "Yiddish", "yo": "Yoruba", "zh": "Chinese",
}  # fmt: skip
# Codes people type for a country instead of its language.
LIKELY_MEANT = {"kr": "ko", "jp": "ja", "cn": "zh", "tw": "zh", "gr": "el", "dk": "da", "se": "sv", "ua": "uk"}
AUTO = "auto"

# Characters per English character of the same meaning; 1.0 for the languages not listed.
CHARS_PER_ENGLISH_CHAR = {"ko": 0.45, "ja": 0.5, "zh": 0.3}


def checked_code(value: str, option: str) -> str:
    """`value` as a known ISO 639-1 code (`ko-KR` and `kor` read as `ko`), or a one-line UserError."""
    code = language_code(value) if value.strip() else ""
    if code in NAMES:
        return code
    hint = f"; {value} is a country, did you mean {LIKELY_MEANT[code]}?" if code in LIKELY_MEANT else ""
    raise UserError(
        f"{option}: {value!r} is not an ISO 639-1 code of a language the language-ID model knows "
        f"(e.g. ko Korean, en English, ja Japanese, zh Chinese){hint}"
    )


def name(code: str) -> str:
    return NAMES.get(code, code)


def chars_per_english_char(code: str) -> float:
    return CHARS_PER_ENGLISH_CHAR.get(code, 1.0)


def script_language(text: str) -> str | None:
    """ko, ja or zh when most letters of `text` are Hangul, kana (with Han) or Han; else None
    (an alphabet, whose length runs like English)."""
    hangul = kana = han = letters = 0
    for char in text:
        if not char.isalpha():
            continue
        letters += 1
        point = ord(char)
        if 0xAC00 <= point <= 0xD7A3 or 0x1100 <= point <= 0x11FF or 0x3130 <= point <= 0x318F:
            hangul += 1
        elif 0x3040 <= point <= 0x30FF:
            kana += 1
        elif 0x4E00 <= point <= 0x9FFF or 0x3400 <= point <= 0x4DBF:
            han += 1
    if not letters:
        return None
    if hangul * 2 > letters:
        return "ko"
    if kana and (kana + han) * 2 > letters:
        return "ja"
    return "zh" if han * 2 > letters else None
