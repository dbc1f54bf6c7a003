"""The `url` step: drop documents by their URL, as FineWeb's URL filter does.

A blocklist in the format of the UT1 lists (one domain or URL a line, `#` comments) blocks
a document whose host, or a domain above it up to its registered domain (tldextract, with
the public suffix list it ships, never fetched), is listed, or whose URL is. Word lists then
look at the URL's words: one banned word, or `--url-soft-threshold` soft-banned ones, or a
banned subword anywhere in the URL's letters and digits rejects it. A document without a URL
is kept and counted.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from curate.corpus.filters.spec import FilterSpec
from curate.errors import UserError
from curate.pipeline.step import Step, StepOutput, split_by_rule

# Small default lists of our own (adult-content words, the bulk of what FineWeb's lists
# catch); a file replaces a list. Words match whole URL words; subwords match anywhere.
BANNED_WORDS = ("porn", "porno", "pornhub", "xxx", "xvideos", "xhamster", "xnxx", "hentai", "nsfw", "camgirl")
SOFT_BANNED_WORDS = (
    "sex",
    "sexy",
    "nude",
    "nudes",
    "naked",
    "erotic",
    "fetish",
    "milf",
    "boobs",
    "hardcore",
    "escort",
    "escorts",
    "stripper",
    "horny",
    "adult",
    "cams",
)
BANNED_SUBWORDS = ("porn", "xvideo", "xhamster", "hentai")

_NOT_WORD = re.compile(r"[\W_]+")
# where readers and converters put a document's URL in `meta`: WET and extract (`url`),
# Dolma (`metadata.url`), RedPajama (`meta.url`), datatrove's WARC reader's names
_URL_KEYS = ("url", "warc_target_uri", "WARC-Target-URI")
_NESTED = ("metadata", "meta")


def document_url(meta: str | None) -> str | None:
    """The URL a document's `meta` JSON holds, or None."""
    if not meta or not ("url" in meta.lower() or "uri" in meta.lower()):
        return None  # most metas say nothing of a URL: not worth parsing
    try:
        fields = orjson.loads(meta)
    except orjson.JSONDecodeError:
        return None
    for holder in (fields, *(fields.get(key) for key in _NESTED if isinstance(fields, dict))):
        if isinstance(holder, dict):
            for key in _URL_KEYS:
                value = holder.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return None


def column_urls(batch: pa.Table) -> list[str | None]:
    """Each row's URL from a column of its own (Parquet keeps its columns: FineWeb's `url`, or a
    `metadata` struct holding one, as Dolma's), else None."""
    for name in _URL_KEYS:
        if name in batch.column_names and pa.types.is_string(batch.schema.field(name).type):
            return _urls(batch.column(name).to_pylist())
    for name in _NESTED:
        if name in batch.column_names and pa.types.is_struct(batch.schema.field(name).type):
            struct = batch.schema.field(name).type
            for key in _URL_KEYS:
                if struct.get_field_index(key) != -1 and pa.types.is_string(struct.field(key).type):
                    return _urls(pc.struct_field(batch.column(name), key).to_pylist())
    return [None] * batch.num_rows


def _urls(values: list) -> list[str | None]:
    return [value.strip() if isinstance(value, str) and value.strip() else None for value in values]


def _split(url: str):
    return urlsplit(url if "://" in url or url.startswith("//") else "//" + url)


def ascii_host(host: str) -> str:
    """A host as lists and URLs may both spell it: lower case, no trailing dot, international
    names in their ASCII (punycode) form, so `bücher.de` and `xn--bcher-kva.de` are one."""
    host = host.strip().strip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def url_key(url: str, parts=None) -> str:
    """What the blocklist compares: host in lower case without `www.`, path without its
    trailing slash, query; no scheme, port or fragment. `parts`: `url` already split."""
    parts = parts or _split(url.strip())
    key = ascii_host(parts.hostname or "").removeprefix("www.") + parts.path.rstrip("/")
    return f"{key}?{parts.query}" if parts.query else key


def url_words(url: str) -> list[str]:
    return [word for word in _NOT_WORD.split(unquote(url).lower()) if word]


def _read_lines(path: Path, option: str) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UserError(f"{option}: cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{option}: {path} is not UTF-8 text ({error.reason})") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def load_blocklists(paths: list[Path]) -> tuple[set[str], set[str]]:
    """(domains, URL keys) of UT1-style files: a line with a path is a URL, else a domain."""
    domains: set[str] = set()
    urls: set[str] = set()
    for path in paths:
        for line in _read_lines(path, "--url-blocklist"):
            entry = line.lower().removeprefix("*.")
            if "/" not in entry and ":" not in entry:  # a bare domain, nearly every line of a UT1 list
                domains.add(ascii_host(entry).removeprefix("www."))
                continue
            try:
                parts = _split(entry)
                host = ascii_host(parts.hostname or "").removeprefix("www.")
            except ValueError:
                continue  # a malformed line of a downloaded list: nothing it could match
            if parts.path.strip("/") or parts.query:
                urls.add(url_key(entry))
            elif host:
                domains.add(host)
    return domains, urls


def load_words(path: Path, option: str) -> list[str]:
    """A word list, one a line; each entry keeps only its letters and digits, lower case."""
    return [word for line in _read_lines(path, option) if (word := _NOT_WORD.sub("", line.lower()))]


class UrlFilter(Step):
    """Rules: blocked_domain, blocked_url, banned_word, soft_banned_words, banned_subword,
    invalid_url (a URL that cannot be parsed).
    Counters: `no_url` (documents kept for want of a URL)."""

    name = "url"

    def __init__(
        self,
        blocked_domains: set[str] = frozenset(),
        blocked_urls: set[str] = frozenset(),
        banned_words: tuple[str, ...] = BANNED_WORDS,
        soft_banned_words: tuple[str, ...] = SOFT_BANNED_WORDS,
        banned_subwords: tuple[str, ...] = BANNED_SUBWORDS,
        soft_threshold: int = 2,
    ) -> None:
        super().__init__()
        self.blocked_domains = frozenset(blocked_domains)
        self.blocked_urls = frozenset(blocked_urls)
        self.banned_words = frozenset(banned_words)
        self.soft_banned_words = frozenset(soft_banned_words)
        self.banned_subwords = tuple(sorted(set(banned_subwords), key=lambda word: (-len(word), word)))
        self.soft_threshold = soft_threshold
        self._subwords = None  # an Aho-Corasick automaton of the subwords, built in the worker on first use
        self._extract = None  # tldextract, built in the worker on first use

    def __getstate__(self) -> dict:
        # tldextract's suffix tables are large, the automaton does not pickle: both rebuilt per worker
        return {**self.__dict__, "_extract": None, "_subwords": None}

    def _subword_found(self, letters: str) -> bool:
        if self._subwords is None:
            # Aho-Corasick (pyahocorasick, as datatrove): one pass over the URL whatever the
            # number of subwords, where a regex alternation of a hundred of them is ten times slower
            import ahocorasick

            automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            for index, word in enumerate(self.banned_subwords):
                automaton.add_word(word, index)
            automaton.make_automaton()
            self._subwords = automaton
        return next(self._subwords.iter(letters), None) is not None

    def describe(self) -> dict:
        return {
            "blocked_domains": len(self.blocked_domains),
            "blocked_urls": len(self.blocked_urls),
            "banned_words": len(self.banned_words),
            "soft_banned_words": len(self.soft_banned_words),
            "banned_subwords": len(self.banned_subwords),
            "soft_threshold": self.soft_threshold,
        }

    def _registered_domain(self, host: str) -> str:
        if self._extract is None:
            import tldextract

            # the suffix list tldextract ships; no URL to fetch and no cache to write
            self._extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
        return self._extract(host).top_domain_under_public_suffix

    def _domain_blocked(self, host: str) -> bool:
        if host in self.blocked_domains:
            return True
        # a listed domain covers its subdomains, down from the registered domain; a listed public
        # suffix (co.uk) covers nothing. Most URLs have no listed parent at all, so the suffix list
        # (tldextract, a tenth of the URL's time) is asked only when one is
        labels = host.split(".")
        listed = [start for start in range(1, len(labels) - 1) if ".".join(labels[start:]) in self.blocked_domains]
        if not listed:
            return False
        registered = self._registered_domain(host)
        if not registered or registered == host:
            return False
        return listed[0] <= len(labels) - (registered.count(".") + 1)

    def decide(self, url: str) -> str | None:
        try:
            parts = _split(url.strip())
            host = ascii_host(parts.hostname or "")
        except ValueError:  # e.g. an unclosed IPv6 bracket or a port that is not a number
            return "invalid_url"
        if self.blocked_domains and host and self._domain_blocked(host.removeprefix("www.")):
            return "blocked_domain"
        if self.blocked_urls:
            key = url_key(url, parts)  # a listed URL without a query covers it with any query
            if key in self.blocked_urls or key.partition("?")[0] in self.blocked_urls:
                return "blocked_url"
        words = url_words(url)
        found = set(words)
        if not found.isdisjoint(self.banned_words):
            return "banned_word"
        if self.soft_threshold and len(found & self.soft_banned_words) >= self.soft_threshold:
            return "soft_banned_words"
        if self.banned_subwords and self._subword_found("".join(words)):
            return "banned_subword"
        return None

    def run(self, batch: pa.Table) -> StepOutput:
        rules = []
        for column_url, meta in zip(column_urls(batch), batch.column("meta").to_pylist()):
            url = column_url or document_url(meta)
            if url is None:
                self.counters["no_url"] += 1
                rules.append(None)
            else:
                rules.append(self.decide(url))
        return split_by_rule(self.name, batch, rules)

    def task_notes(self) -> dict:
        return {"no_url": self.counters["no_url"]}

    def report_section(self, notes: list[dict], folder: Path) -> list[str]:
        missing = sum(note.get("no_url", 0) for note in notes)
        if not missing:
            return []
        return ["## URL filter", "", f"{missing:,} documents had no URL in `meta` and were kept unchecked."]


def _build(params: dict) -> UrlFilter:
    domains, urls = load_blocklists([Path(path) for path in params.get("url_blocklist") or ()])

    def words(option: str, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(load_words(Path(params[key]), option)) if params.get(key) else default

    return UrlFilter(
        domains,
        urls,
        banned_words=words("--url-banned-words", "url_banned_words", BANNED_WORDS),
        soft_banned_words=words("--url-soft-banned-words", "url_soft_banned_words", SOFT_BANNED_WORDS),
        banned_subwords=words("--url-banned-subwords", "url_banned_subwords", BANNED_SUBWORDS),
        soft_threshold=params.get("url_soft_threshold", 2),
    )


_WORD_FILES = ("url_banned_words", "url_soft_banned_words", "url_banned_subwords")

SPEC = FilterSpec(
    name="url",
    summary="URL filter (--url-blocklist FILE): blocked domains and URLs, banned words in the URL.",
    build=_build,
    applies=lambda params: bool(params.get("url_blocklist")) or any(params.get(key) for key in _WORD_FILES),
    options=[
        click.option(
            "--url-blocklist",
            type=click.Path(dir_okay=False),
            multiple=True,
            help="url: blocklist in UT1's format, one domain or URL a line (repeatable); subdomains are covered.",
        ),
        click.option(
            "--url-banned-words",
            type=click.Path(dir_okay=False),
            default=None,
            help="url: words that reject a URL holding one (one a line; replaces the built-in list).",
        ),
        click.option(
            "--url-soft-banned-words",
            type=click.Path(dir_okay=False),
            default=None,
            help="url: words that reject a URL holding --url-soft-threshold of them (replaces the built-in list).",
        ),
        click.option(
            "--url-banned-subwords",
            type=click.Path(dir_okay=False),
            default=None,
            help="url: strings that reject a URL whose letters and digits contain one (replaces the built-in list).",
        ),
        click.option(
            "--url-soft-threshold",
            type=click.IntRange(min=0),
            default=2,
            show_default=True,
            help="url: soft-banned words that reject a URL; 0 turns the rule off.",
        ),
    ],
)
