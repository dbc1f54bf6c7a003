"""Protected spans: the parts of a text a translation must keep exactly as they are.

Found in this order, each on the text left after the spans before it (so a URL inside a
code block is part of the block, not a URL of its own):

  code       fenced code blocks (``` or ~~~, to the closing fence or the end of the text)
             and inline code (`x`, ``x``)
  tag        HTML/XML tags with their attributes (<b>, </a>, <img src="x"/>) and <!-- comments -->
  url        http(s)://, ftp:// and www. addresses (ASCII only, so a Korean particle written
             against one is not part of it; trailing punctuation and an unmatched ")" left out)
  email      name@domain.tld
  link       a Markdown link or image target: the `target` of [text](target)
  placeholder  {name}, {0}, {}, {{ x }}, {% if x %}, %s, %d, %(name)s, %5.2f, $VAR, ${VAR}
  number     a run of digits; commas before exactly three digits join it (1,000 and 1000
             are the same number), any other separator splits it (3.14 is 3 and 14, so
             3,14 matches it too)

A translation keeps its source's spans when every span of the source occurs in it at least as
often (a multiset): spans may move, and a translation may add one, but none may go missing.
Spans are compared by their text, numbers by their digits.

Fenced code blocks are sent masked, as `<code-block-N/>` (a tag a model keeps), and put back
in the reply; a mask the model lost is a code block lost, found by the same comparison.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_FENCED = re.compile(
    r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(?:.*?\n)??[ \t]*\1[`~]*[ \t]*$"  # to its closing fence
    r"|^[ \t]*(?:`{3,}[^`\n]*|~{3,}[^\n]*)\n.*\Z",  # or, never closed, to the end of the text
    re.M | re.S,
)
_INLINE_CODE = re.compile(r"``[^\n]+?``|`[^`\n]+`")
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]"
_URL = re.compile(
    rf"(?<![A-Za-z0-9])(?:https?|ftp)://{_URL_CHARS}+|(?<![A-Za-z0-9.])www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/{_URL_CHARS}*)?"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_LINK_TARGET = re.compile(r"\]\(\s*([^\s()\x00]+)")
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9:_.-]*(?:\s+[^<>]*?)?\s*/?>", re.S)
_PLACEHOLDER = re.compile(
    r"\{\{.*?\}\}|\{%.*?%\}"
    r"|\{(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]{}\s]*\])*|\d*)(?:![rsa])?(?::[^{}\s]*)?\}"
    r"|%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[-+0#]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[sdifFeEgGxXoc](?![A-Za-z])"
    r"|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*",
    re.S,
)
_NUMBER = re.compile(r"\d+(?:,\d{3}(?!\d))*")
_TRAILING = ".,;:!?'\""
_OPENER = {")": "(", "]": "["}
_MASK = re.compile(r"<code-block-(\d+)\s*/?>")
MASK_PREFIX = "<code-block-"


@dataclass(frozen=True)
class Span:
    kind: str
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        """What two spans are compared by: the digits of a number, the text of anything else."""
        return f"number:{self.text.replace(',', '')}" if self.kind == "number" else f"{self.kind}:{self.text}"


def _url_end(text: str, start: int, end: int) -> int:
    """Where a URL found at text[start:end] ends once trailing punctuation is left out."""
    while end > start:
        last = text[end - 1]
        unmatched = last in _OPENER and text.count(_OPENER[last], start, end) < text.count(last, start, end)
        if last not in _TRAILING and not unmatched:
            break
        end -= 1
    return end


def protected_spans(text: str) -> list[Span]:
    """Every protected span of `text`, in order of position (see the module docstring)."""
    masked = text
    spans: list[Span] = []

    def take(kind: str, start: int, end: int) -> None:
        nonlocal masked
        if end > start:
            spans.append(Span(kind, text[start:end], start, end))
            masked = masked[:start] + "\x00" * (end - start) + masked[end:]

    for kind, pattern in (("code", _FENCED), ("code", _INLINE_CODE), ("tag", _TAG)):
        for found in list(pattern.finditer(masked)):
            if "\x00" not in found.group():
                take(kind, found.start(), found.end())
    for found in list(_URL.finditer(masked)):
        take("url", found.start(), _url_end(text, found.start(), found.end()))
    for found in list(_EMAIL.finditer(masked)):
        take("email", found.start(), found.end())
    for found in list(_LINK_TARGET.finditer(masked)):
        take("link", found.start(1), found.end(1))
    for kind, pattern in (("placeholder", _PLACEHOLDER), ("number", _NUMBER)):
        for found in list(pattern.finditer(masked)):
            if "\x00" not in found.group():
                take(kind, found.start(), found.end())
    return sorted(spans, key=lambda span: span.start)


def lost_spans(source: str, translation: str) -> list[Span]:
    """The spans of `source` that `translation` lacks (as many times as it lacks them), in order."""
    have = Counter(span.key for span in protected_spans(translation))
    lost = []
    for span in protected_spans(source):
        if have[span.key] > 0:
            have[span.key] -= 1
        else:
            lost.append(span)
    return lost


def prose(text: str) -> str:
    """`text` without its protected spans, whitespace collapsed: what is read for its language and length."""
    pieces, at = [], 0
    for span in protected_spans(text):
        pieces.append(text[at : span.start])
        at = span.end
    pieces.append(text[at:])
    return " ".join(" ".join(pieces).split())


def mask_code_blocks(text: str) -> tuple[str, list[str]]:
    """`text` with each fenced code block replaced by `<code-block-N/>`, and the blocks; a text
    that already holds such a marker is left whole."""
    if MASK_PREFIX in text:
        return text, []
    blocks: list[str] = []

    def mask(found: re.Match) -> str:
        blocks.append(found.group())
        return f"{MASK_PREFIX}{len(blocks)}/>"

    return _FENCED.sub(mask, text), blocks


def unmask_code_blocks(text: str, blocks: list[str]) -> str:
    """The reply with its masks replaced by the code blocks they stand for (an unknown number stays)."""
    if not blocks:
        return text

    def unmask(found: re.Match) -> str:
        number = int(found.group(1))
        return blocks[number - 1] if 1 <= number <= len(blocks) else found.group()

    return _MASK.sub(unmask, text)


def shown(span: Span, limit: int = 60) -> str:
    """A span as a rejection's detail names it: its kind and its text, cut to `limit` characters."""
    flat = " ".join(span.text.split())
    return f"{span.kind} {flat[: limit - 1] + '…' if len(flat) > limit else flat!r}"
