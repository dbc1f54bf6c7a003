"""English words: a rule tokenizer that splits like spaCy's blank English pipeline.

datatrove 0.10 counts words with spaCy's English tokenizer, and the Gopher and FineWeb
rules are ratios over those words, so matching its splits is what keeps our decisions in
parity with datatrove's. spaCy itself costs about 2 ms per 3 KB document here, more than
our whole budget for four filters, and is a large dependency; this module follows the same
published algorithm (split on whitespace, then peel prefixes and suffixes, keep special
cases and URLs whole, split infixes) with our own rule tables, and memoises the result per
whitespace-separated chunk: web text repeats its chunks, so most lookups are dict hits.

Where our tables differ from spaCy's (rare emoticons, a few abbreviations), the docs
list the effect on decisions: see docs/filter-parity.md.
"""

from __future__ import annotations

import regex

# ------------------------------------------------------------------ character classes

_PUNCT_CHARS = "… …… , : ; ! ? ¿ ؟ ¡ ( ) [ ] { } < > _ # * & 。 ？ ！ ， 、 ； ： ～ · । ، ۔ ؛ ٪".split()
_QUOTE_CHARS = "' \" ” “ ` ‘ ´ ’ ‚ , „ » « 「 」 『 』 （ ） 〔 〕 【 】 《 》 〈 〉 〈 〉 ⟦ ⟧".split()
_CURRENCIES = "$ £ € ¥ ฿ US$ C$ A$ ₽ ﷼ ₴ ₠ ₡ ₢ ₣ ₤ ₥ ₦ ₧ ₨ ₩ ₪ ₫ ₭ ₮ ₯ ₰ ₱ ₲ ₳ ₵ ₶ ₷ ₸ ₹ ₺ ₻ ₼ ₾ ₿".split()
_UNITS = (
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz "
    "m/s km/h kmh mph hPa Pa mbar mb MB kb KB gb GB tb TB T G M K %"
).split()
_HYPHENS = ["---", "--", "——", "-", "–", "—", "~"]

_LOWER = r"\p{Ll}\p{Lo}"  # uncased scripts (CJK, Hangul...) count as both cases
_UPPER = r"\p{Lu}\p{Lo}"
_ALPHA = r"\p{L}"
_SYMBOL = r"\p{So}"  # pictographs, dingbats and the degree sign


def _alternation(pieces: list[str]) -> str:
    return "|".join(pieces)


def _literal(items: list[str]) -> list[str]:
    return [regex.escape(item) for item in items]


_ELLIPSES = [r"\.\.+", "…"]
_QUOTE_CLASS = regex.escape("".join(_QUOTE_CHARS))
_PUNCT_CLASS = regex.escape("".join(_PUNCT_CHARS))

# The first alternative that matches wins, as in spaCy, so the order of pieces matters.
_PREFIX = regex.compile(
    _alternation(
        "^" + piece
        for piece in _literal(["§", "%", "=", "—", "–"])
        + [r"\+(?![0-9])"]
        + _literal(_PUNCT_CHARS)
        + _ELLIPSES
        + _literal(_QUOTE_CHARS)
        + _literal(_CURRENCIES)
        + [_SYMBOL]
    )
)
# A suffix search finds the leftmost position from which some piece reaches the end.
_SUFFIX = regex.compile(
    _alternation(
        piece + "$"
        for piece in _literal(_PUNCT_CHARS)
        + _ELLIPSES
        + _literal(_QUOTE_CHARS)
        + [_SYMBOL]
        + _literal(["'s", "'S", "’s", "’S", "—", "–"])
        + [
            r"(?<=[0-9])\+",
            r"(?<=°[FfCcKk])\.",
            r"(?<=[0-9])(?:" + _alternation(_literal(_CURRENCIES)) + ")",
            r"(?<=[0-9])(?:" + _alternation(_literal(_UNITS)) + ")",
            # a period after a digit, a lower-case letter, a sign, a bracket or a quote
            rf"(?<=[0-9{_LOWER}%²\-+|(?:){_PUNCT_CLASS}{_QUOTE_CLASS}])\.",
            # ...or after two capitals ("USA."), but not after one ("J." stays whole)
            rf"(?<=[{_UPPER}][{_UPPER}])\.",
        ]
    )
)
_INFIX = regex.compile(
    _alternation(
        _ELLIPSES
        + [
            _SYMBOL,
            r"(?<=[0-9])[+\-*^](?=[0-9-])",
            rf"(?<=[{_LOWER}{_QUOTE_CLASS}])\.(?=[{_UPPER}{_QUOTE_CLASS}])",
            rf"(?<=[{_ALPHA}]),(?=[{_ALPHA}])",
            rf"(?<=[{_ALPHA}0-9])(?:" + _alternation(_literal(_HYPHENS)) + rf")(?=[{_ALPHA}])",
            rf"(?<=[{_ALPHA}0-9])[:<>=/](?=[{_ALPHA}])",
        ]
    )
)
_HOST_CHAR = "A-Za-z0-9\u00a1-\uffff"
_URL = regex.compile(
    r"^(?:[\w+\-.]{2,}://)?"  # scheme
    r"(?:\S+(?::\S*)?@)?"  # user:password@
    r"(?:"
    r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4])"
    rf"|(?:(?:[{_HOST_CHAR}][{_HOST_CHAR}_-]{{0,62}})?[{_HOST_CHAR}]\.)+[{_LOWER}]{{2,63}}"  # host.tld
    r")"
    r"(?::\d{2,5})?(?:[/?#]\S*)?$"
)

# ------------------------------------------------------------------ special cases

_ABBREVIATIONS = (
    # titles, companies, months, US states, Latin: written with a period, one word
    "Mr. Mrs. Ms. Messrs. Dr. Prof. Rev. Gen. Gov. Sen. Rep. Adm. St. Mt. Jr. Bros. "
    "Inc. Ltd. Co. co. Corp. Ph.D. D.C. "
    "Jan. Feb. Mar. Apr. Jun. Jul. Aug. Sep. Sept. Oct. Nov. Dec. "
    "Ak. Ala. Ariz. Ark. Calif. Colo. Conn. Del. Fla. Ga. Ia. Id. Ill. Ind. Kan. Kans. Ky. La. "
    "Mass. Md. Mich. Minn. Miss. Mo. Mont. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev. Okla. "
    "Ore. Pa. S.C. Tenn. Va. Wash. Wis. "
    "e.g. E.g. E.G. i.e. I.e. I.E. a.m. p.m. vs. v.s. ._. "
    "C++ and/or w/o ’’ o'clock O'clock ma'am Ma'am o’clock O’clock ma’am Ma’am"
).split()
_ONE_LETTER = [letter + "." for letter in "abcdefghijklmnopqrstuvwxyzäöü"]
_EMOTICONS = (
    ":) :-) :)) :-)) :))) :-))) :( :-( :(( :-(( :((( :-((( ;) ;-) :D :-D ;D ;-D =D 8D 8-D XD XDD "
    ":P :-P :p :-p :O :-O :o :-o :0 :-0 :/ :-/ :| :-| :] :-] :} :-} :> :-> :* :-* :3 :-3 :x :-x :X "
    ":-X :'( :') :'-( :'-) :’( :’) :’-( :’-) =) =( =] =[ =| =/ =3 <3 <33 <333 </3 ^_^ ^__^ ^___^ "
    "-_- -__- o.O O.o O.O o.o 0.0 0_0 O_O o_O O_o o_o 0_o o.0 V.V V_V >.< <.< >.> >:( >:o ;_; @_@ "
    "(: (-: ): )-: (; (-; (= [: [-: [= ]= 8) 8-) (o: :o) :1 :() (^_^) (-_-) (>_<) (*_*) (._.) (¬_¬)"
).split()
_DROPPED_G = "doin goin havin lovin nothin nuthin somethin".split()

_NEGATED = (
    "ai are ca could dare did does do had has have is may might must need ought sha should was were wo would".split()
)
# Which clitics each pronoun takes: "he's" but not "he're", "you're" but not "you's".
_ALL_PRONOUNS = "i you he she it we they who what where when why how there that this these those".split()
_CLITICS = {
    "s": "he she it that there what who how when where why this".split(),
    "re": "you we they who what there these those how when where why".split(),
    "ve": "i you we they who what where when why how there these those".split(),
    "d": _ALL_PRONOUNS,
    "ll": _ALL_PRONOUNS,
    "m": ["i"],
}
# pronoun + clitic written without an apostrophe that is an ordinary word as a whole
_NOT_CONTRACTIONS = {"hell", "ill", "its", "shed", "shell", "well", "were", "whore"}


def _variants(word: str) -> set[str]:
    return {word, word[:1].upper() + word[1:]}


def _special_cases() -> dict[str, tuple[str, ...]]:
    cases: dict[str, tuple[str, ...]] = {}
    for whole in _ABBREVIATIONS + _ONE_LETTER + _EMOTICONS + ["''"]:
        cases[whole] = (whole,)
    for stem in _DROPPED_G + ["ol"]:
        for form in _variants(stem):
            for ending in ("", "'", "’"):
                cases[form + ending] = (form + ending,)
    for apostrophe in ("'", "’"):
        for verb in _NEGATED:
            for form in _variants(verb):
                cases[f"{form}n{apostrophe}t"] = (form, f"n{apostrophe}t")
                cases[f"{form}n{apostrophe}t{apostrophe}ve"] = (form, f"n{apostrophe}t", f"{apostrophe}ve")
                cases[f"{form}nt"] = (form, "nt")
                cases[f"{form}ntve"] = (form, "nt", "ve")
        for clitic, pronouns in _CLITICS.items():
            for pronoun in pronouns:
                for form in _variants(pronoun):
                    cases[f"{form}{apostrophe}{clitic}"] = (form, f"{apostrophe}{clitic}")
                    if f"{pronoun}{clitic}" not in _NOT_CONTRACTIONS:
                        cases.setdefault(f"{form}{clitic}", (form, clitic))
                    if clitic in ("d", "ll"):
                        cases[f"{form}{apostrophe}{clitic}{apostrophe}ve"] = (
                            form,
                            f"{apostrophe}{clitic}",
                            f"{apostrophe}ve",
                        )
                        cases[f"{form}{clitic}ve"] = (form, clitic, "ve")
        for form in _variants("i"):
            cases[f"{form}{apostrophe}ma"] = (form, f"{apostrophe}m", "a")
            cases[f"{form}ma"] = (form, "m", "a")
        for verb in ("could", "might", "must", "should", "would", "not"):
            for form in _variants(verb):
                cases[f"{form}{apostrophe}ve"] = (form, f"{apostrophe}ve")
                cases[f"{form}ve"] = (form, "ve")
        for form in _variants("y"):
            cases[f"{form}{apostrophe}all"] = (f"{form}{apostrophe}", "all")
            cases[f"{form}all"] = (form, "all")
        cases[f"let{apostrophe}s"] = ("let", f"{apostrophe}s")
        cases[f"Let{apostrophe}s"] = ("Let", f"{apostrophe}s")
        for clitic in ("em", "cause", "cos", "coz", "cuz", "bout", "nuff", "d", "ll", "re", "s", "S"):
            cases[f"{apostrophe}{clitic}"] = (f"{apostrophe}{clitic}",)
    for form in _variants("cannot"):
        cases[form] = (form[:3], "not")
    for form, parts in (("gonna", ("gon", "na")), ("gotta", ("got", "ta"))):
        cases[form] = parts
        cases[form.capitalize()] = (parts[0].capitalize(), parts[1])
    for hour in range(1, 13):
        for suffix in ("am", "pm", "a.m.", "p.m."):
            cases[f"{hour}{suffix}"] = (str(hour), suffix)
    return cases


_SPECIAL = _special_cases()


def _infix_split(chunk: str, out: list[str]) -> None:
    offset = 0
    for match in _INFIX.finditer(chunk):
        start, end = match.span()
        if offset == 0 and start == 0:
            continue
        if start > offset:
            out.append(chunk[offset:start])
        if end > start:
            out.append(chunk[start:end])
        offset = end
    if offset < len(chunk):
        out.append(chunk[offset:])


# Fast paths for the commonest chunks: a bare word, or a word and one mark that is always
# a suffix. No prefix, suffix, URL or infix rule can apply to them (special cases aside).
_BARE_WORD = regex.compile(r"[^\W\d_]+")
_WORD_AND_MARK = regex.compile(r"([^\W\d_]+)([,;:!?)])")


def tokenize_chunk(chunk: str) -> tuple[str, ...]:
    """The tokens of one whitespace-free chunk, in order."""
    special = _SPECIAL.get(chunk)
    if special is not None:
        return special
    if _BARE_WORD.fullmatch(chunk):
        return (chunk,)
    match = _WORD_AND_MARK.fullmatch(chunk)
    if match and match.group(1) not in _SPECIAL:
        return match.groups()
    tokens: list[str] = []
    suffixes: list[str] = []
    rest = chunk
    while rest:
        special = _SPECIAL.get(rest)
        if special is not None:
            tokens.extend(special)
            break
        while True:
            prefix = _PREFIX.search(rest)
            suffix = _SUFFIX.search(rest)
            if prefix is None and suffix is None:
                break
            if rest in _SPECIAL:
                break
            if prefix is not None:
                split = prefix.end()
                if split == 0:
                    break
                tokens.append(rest[:split])
                rest = rest[split:]
                if rest in _SPECIAL:
                    continue
                suffix = _SUFFIX.search(rest)
            if suffix is not None:
                split = suffix.start()
                if split == len(rest):
                    break
                suffixes.append(rest[split:])
                rest = rest[:split]
        if not rest:
            break
        special = _SPECIAL.get(rest)
        if special is not None:
            tokens.extend(special)
        elif _URL.match(rest):
            tokens.append(rest)
        else:
            _infix_split(rest, tokens)
        break
    tokens.extend(reversed(suffixes))
    if len(tokens) > 1:
        _merge_split_specials(tokens)
    return tuple(tokens)


def _merge_split_specials(tokens: list[str]) -> None:
    """Re-join pieces that spell a one-token special case (":" + ")" is ":)"), longest first.

    Affix rules can cut a special case that is glued to other text ("right):"); spaCy
    matches special cases again over the tokens, and so do we.
    """
    start = 0
    while start < len(tokens) - 1:
        for end in range(min(len(tokens), start + 6), start + 1, -1):
            joined = "".join(tokens[start:end])
            if _SPECIAL.get(joined) == (joined,):
                tokens[start:end] = [joined]
                break
        start += 1
