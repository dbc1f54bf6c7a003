"""Secrets kept out of everything curate prints or writes.

Two things can carry a secret into curate's output: a server's reply (an error body that
echoes the request's headers, a proxy's error page) and a URL the user gave (`user:pass@` or
a token in the query string). So:

- `redact(text)` is applied where a server's text enters curate (the OpenAI client: every
  error it records or raises). It removes every secret this
  process has seen (the API key, a URL's password or token, and their JSON, URL and Basic
  encodings), the values of `Authorization`, `Bearer ...`, `api-key: ...` and other
  credential-looking fields, and the credentials of every URL in the text.
- `scrub(text)` is applied to every error curate prints (cli/__init__.py): the remembered
  secrets and URL credentials only, so ordinary messages keep their words.
- `redact_answer(text)` removes the remembered secrets (only) from a model's answer: an
  answer is data, so nothing else in it is touched.
- `redact_url(url)` is a URL as curate records it: without userinfo, every query value but
  the few known harmless ones replaced, for the manifest, the command line, report.md and
  the dataset card.
- `server_identity(url)` is the server a URL names (scheme, host, port, path), without any
  credential: part of the answer cache's key.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, unquote, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
URL_REDACTED = "REDACTED"  # inside a URL: no characters that need escaping
# query parameters that never hold a credential (Azure OpenAI's api-version); every other value is hidden
SAFE_QUERY_NAMES = frozenset({"api-version", "api_version", "version"})
SHORT_SECRET = 6  # shorter secrets are replaced only where they stand alone (not inside a longer word)
ANSWER_SECRET = 8  # shorter secrets are left in model answers: too likely to be ordinary words ("user")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_TEXT = 20_000  # characters of a reply kept for an error message (which shows far fewer)

_SECRETS: set[str] = set()

# "Authorization: Bearer x", '"api-key": "x"', "'x-api-key': 'x'", "token=x", "Cookie: x"...
_FIELD = re.compile(
    r"(?i)(?<![\w-])(?P<name>[\w-]*(?:api[-_]?key|apikey|key|token|secret|password|passwd|pwd|authorization|auth"
    r"|credentials?|cookie|session|signature|sig))(?P<separator>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?:(?:bearer|basic|digest|token)\s+)?(?:\[REDACTED\]|[^\s\"',;&}\]<>]+))"
)
# "Bearer x" anywhere; "Basic x", "Digest x" when x is not a plain lower-case word ("a basic error")
_SCHEME = re.compile(
    r"(?i)\b(?:(?P<bearer>bearer)(?P<space>\s+)[\w.~+/=:-]{3,}"
    r"|(?P<other>basic|digest)(?P<space2>\s+)(?-i:(?![a-z]+\b))[\w.~+/=:-]{3,})"
)
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>\\]+")


def remember(*secrets: str | None) -> None:
    """Secrets `redact` removes from now on, in this process (the API key, URL credentials)."""
    for secret in secrets:
        if secret:
            _SECRETS.add(secret)


def remember_url(url: str | None) -> None:
    """A URL's userinfo and query values, remembered as secrets (but the one- and two-letter
    ones, which would blank ordinary words of every message; the URL itself is always cut)."""
    remember(*(secret for secret in url_secrets(url) if len(secret) > 2))


def url_secrets(url: str | None) -> list[str]:
    if not url:
        return []
    if "@" in url:  # the userinfo as `_without_userinfo` cuts it, whatever urllib makes of the URL
        userinfo = url.partition("://")[2].rpartition("@")[0] if "://" in url else url.rpartition("@")[0]
        raw = [userinfo, *userinfo.split(":", 1)]
    else:
        raw = []
    if ";" in url:
        raw += [piece.partition("=")[2] or piece for piece in url.partition(";")[2].split("?")[0].split(";")]
    return [*(secret for secret in raw if secret), *_parsed_url_secrets(url)]


def _parsed_url_secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:
        return []
    found = []
    if username is not None or password is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        found += [userinfo, unquote(userinfo)]
        found += [unquote(value) for value in (username, password) if value]
        plain = f"{unquote(username or '')}:{unquote(password or '')}"
        found.append(base64.b64encode(plain.encode("utf-8")).decode("ascii"))  # the Basic credentials
    for name, value in _query(parts.query):
        if value and name.lower() not in SAFE_QUERY_NAMES:
            found += [value, unquote(value)]
    if parts.fragment:
        found.append(parts.fragment)
    return found


def _forms(secret: str) -> Iterator[str]:
    """The ways a secret shows up in a reply: as is, JSON-escaped, URL-encoded, base64."""
    yield secret
    yield json.dumps(secret, ensure_ascii=True)[1:-1]
    yield json.dumps(secret, ensure_ascii=False)[1:-1]
    yield quote(secret, safe="")
    yield base64.b64encode(secret.encode("utf-8")).decode("ascii")


def _without_secrets(text: str, secrets: Iterable[str], shortest: int) -> str:
    for form in sorted({form for secret in secrets for form in _forms(secret)}, key=len, reverse=True):
        if len(form) < shortest or form not in text:
            continue
        if len(form) >= SHORT_SECRET:
            text = text.replace(form, REDACTED)
        else:
            text = re.sub(rf"(?<![\w-]){re.escape(form)}(?![\w-])", REDACTED, text)
    return text


def redact(text: str | None, secrets: Iterable[str] = ()) -> str:
    """`text` (a server's reply, an error message) without secrets: those remembered and
    `secrets`, credential fields and schemes, and URL credentials."""
    if not text:
        return text or ""
    text = text[:MAX_TEXT]
    text = _without_secrets(text, [*_SECRETS, *(secret for secret in secrets if secret)], 1)
    text = redact_urls(text)
    text = _FIELD.sub(_field_redacted, text)
    return _SCHEME.sub(_scheme_redacted, text)


def _scheme_redacted(match: re.Match) -> str:
    if match["bearer"]:
        return match["bearer"] + match["space"] + REDACTED
    return match["other"] + match["space2"] + REDACTED


def _field_redacted(match: re.Match) -> str:
    if match["value"].endswith(REDACTED):
        return match.group(0)
    return match["name"] + match["separator"] + REDACTED


def redact_urls(text: str) -> str:
    """`text` (a command line) with every URL in it as `redact_url` records it; nothing else changed."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text) if "://" in text else text


def scrub(text: str) -> str:
    """Any message curate prints, without the remembered secrets and URL credentials; unlike
    `redact`, nothing that merely looks like a credential field ("unknown key: steps") is touched."""
    if not text:
        return text
    return redact_urls(_without_secrets(text, _SECRETS, 1) if _SECRETS else text)


def redact_answer(text: str) -> str:
    """A model's answer without the remembered secrets (a server that echoes the key into the
    content); nothing else is changed."""
    if not text or not _SECRETS:
        return text
    return _without_secrets(text, _SECRETS, ANSWER_SECRET)


def _without_userinfo(url: str) -> str:
    """`url` without whatever precedes its last `@` (after the scheme): a password holding `/`,
    `#` or `?` unescaped, or a URL without `://`, still loses it (an `@` in a path or query
    costs the URL's start, never a secret)."""
    if "@" not in url:
        return url
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    rest = rest.rpartition("@")[2]
    return f"{scheme}://{rest}" if separator else rest


def redact_url(url: str) -> str:
    """`url` as curate records it: no userinfo, query values and `;` parameters hidden (but
    `api-version`), no fragment."""
    url = _without_userinfo(url)
    if ";" in url:
        head, _, tail = url.partition(";")
        url = head + ";" + URL_REDACTED + ("?" + tail.split("?", 1)[1] if "?" in tail else "")
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:  # not a URL urllib can read ("http://[::1"): cut what may be credentials
        return re.sub(r"://[^/]*@", "://", url).split("?")[0].split("#")[0]
    if host == parts.netloc and not parts.query and not parts.fragment:
        return url  # nothing to hide: recorded exactly as given
    query = "&".join(
        URL_REDACTED if not name else f"{name}={_shown(name, value)}" for name, value in _query(parts.query)
    )
    fragment = URL_REDACTED if parts.fragment else ""
    return urlunsplit((parts.scheme, host, parts.path, query, fragment))


def _shown(name: str, value: str) -> str:
    return value if not value or name.lower() in SAFE_QUERY_NAMES else URL_REDACTED


def _query(query: str) -> list[tuple[str, str]]:
    """A query string's (name, value) pairs; a bare word (`?sk-123`, a token too) has the name ""."""
    pairs = []
    for piece in query.split("&"):
        if "=" in piece:
            name, _, value = piece.partition("=")
            pairs.append((name, value))
        elif piece:
            pairs.append(("", piece))
    return pairs


def looks_like_url(value: object) -> bool:
    return isinstance(value, str) and "://" in value


def server_identity(url: str) -> str:
    """The server `url` names, for the answer cache's key: scheme, host, port and path, lower-cased
    where case does not matter, without credentials, query or fragment."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or DEFAULT_PORTS.get(scheme)
    path = parts.path.rstrip("/")
    return f"{scheme}://{host}{f':{port}' if port else ''}{path}"
