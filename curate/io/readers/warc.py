"""WARC (`.warc.gz`, `.warc`): each HTTP `response` whose content type is HTML becomes a
document whose text is the page's HTML, decoded by its charset; every other record is a
rejected row with its reason. The `extract` step (corpus/extract/) turns the HTML into text.

A response whose HTTP status is not 2xx (an error page, a redirect) is rejected as
`extract:http_status`. The charset is the HTTP header's (but a page's own `<meta>` is
tried before a header saying ISO-8859-1, the default many servers send for any page), else
the page's own (a byte order mark, `<meta charset>` or `<meta http-equiv>` within its first
1024 bytes, the HTML standard's prescan), else
detected from the bytes (uchardet through resiliparse); the first that decodes the page
without error wins. A page none of them decodes, or whose bytes no detector recognises as
text, is rejected as `extract:undecodable`.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Iterator
from dataclasses import replace

from curate.io.input_file import InputFile
from curate.io.readers.batch import RAW_PREFIX_BYTES, BatchBuilder, ReadBatch, ReaderOptions, json_dumps
from curate.io.streams import CHUNK_BYTES, TruncatedInput, compression_of, open_chunks

HTML_TYPES = ("text/html", "application/xhtml+xml")
NOT_RESPONSE = "extract:not_response"
NOT_HTML = "extract:not_html"
UNDECODABLE = "extract:undecodable"
HTTP_STATUS = "extract:http_status"
HTML_PER_TEXT = 10
# A page decoded with its best charset may hold a few bytes that charset lacks (a stray
# Windows quote in an ISO-8859-1 page): up to this share of replaced characters it is kept.
MAX_REPLACED_SHARE = 0.01

_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([a-zA-Z0-9_.:-]+)", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def read_warc(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    """WARC: every record a document (an HTML response) or a rejected row saying why not."""
    # warcio, not fastwarc: fastwarc reads a little faster but takes a cut gzip member for the
    # end of the file without a word, and its Rust core panics on the non-seekable stream that
    # would let streams.py notice it; reading is a small part of extraction's time anyway.
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    if options.max_doc_chars:
        # --max-doc-chars bounds a document's text; a page's HTML is several times its text
        # (scripts, markup), so the page may be HTML_PER_TEXT times longer before it is refused
        options = replace(options, max_doc_chars=options.max_doc_chars * HTML_PER_TEXT)
    builder = BatchBuilder(input_file.source, options)
    number = 0
    with open(input_file.path, "rb") as raw:
        stream = _ChunkReader(open_chunks(raw, compression_of(input_file.path)))
        try:
            for record in ArchiveIterator(stream):
                number += 1
                _add_record(builder, record, number)
                if builder.full:
                    yield builder.flush(raw.tell())
        except TruncatedInput as error:
            builder.reject(error.reason, b"", {"record": number + 1})
        except (ArchiveLoadFailed, EOFError, OSError, zlib.error, ValueError) as error:
            builder.reject("unparseable:warc", str(error).encode(), {"record": number + 1})
        yield from builder.finish(raw.tell())


class _ChunkReader:
    """The decompressed bytes as the file object warcio reads, which raises TruncatedInput where
    the file breaks. Hand-written because io.BufferedReader drops the bytes it gathered when a
    later read raises (losing the records before the break), and streams.DecompressedStream
    copies the rest of its 4 MiB chunk on every one of warcio's 16 KiB reads."""

    def __init__(self, chunks) -> None:
        self._chunks, self._chunk, self._at = chunks, b"", 0

    def read(self, size: int = -1) -> bytes:
        if self._at >= len(self._chunk):
            self._chunk, self._at = self._chunks.read(CHUNK_BYTES), 0
        end = len(self._chunk) if size is None or size < 0 else self._at + size
        data = self._chunk[self._at : end]
        self._at += len(data)
        return data


def _add_record(builder: BatchBuilder, record, number: int) -> None:
    headers = record.rec_headers
    where = {
        "record": number,
        "warc_type": record.rec_type,
        "url": headers.get_header("WARC-Target-URI"),
        "date": headers.get_header("WARC-Date"),
    }
    record_id = (headers.get_header("WARC-Record-ID") or "").strip("<>") or None
    if record.rec_type != "response" or record.http_headers is None:
        # warcinfo, request, metadata, revisit...: they describe the crawl, not a page
        builder.reject(NOT_RESPONSE, record.content_stream().read(RAW_PREFIX_BYTES), where, record_id)
        return
    http = record.http_headers
    content_type = http.get_header("Content-Type") or ""
    mime = content_type.split(";")[0].strip().lower()
    where["http_status"] = status = _status(http.get_statuscode())
    payload = record.content_stream().read()
    if status is not None and not 200 <= status < 300:
        # an error page (404, 500) or a redirect's stub: the server's words, not the page's
        builder.reject(HTTP_STATUS, payload[:RAW_PREFIX_BYTES], where, record_id)
        return
    if not mime and _looks_like_html(payload):
        mime = "text/html"  # no Content-Type at all: the bytes say what the server did not
    where["content_type"] = mime
    if mime not in HTML_TYPES:
        builder.reject(NOT_HTML, payload[:RAW_PREFIX_BYTES], where, record_id)
        return
    decoded = decode_html(payload, _header_charset(content_type))
    if decoded is None:
        builder.reject(UNDECODABLE, payload[:RAW_PREFIX_BYTES], where, record_id)
        return
    html, charset, charset_from = decoded
    meta = {**where, "charset": charset, "charset_from": charset_from}
    del meta["record"], meta["warc_type"]
    builder.add(record_id, html, json_dumps(meta), where=where, raw=payload)


def _status(code: str | None) -> int | None:
    try:
        return int(code) if code else None
    except ValueError:
        return None


def _looks_like_html(payload: bytes) -> bool:
    head = payload[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _header_charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def meta_charset(payload: bytes) -> str | None:
    """The charset a `<meta charset>` or `<meta http-equiv=Content-Type content=...>` names in
    the first 1024 bytes (where the HTML standard's prescan looks), or None."""
    found = _META_CHARSET.search(payload[:1024])
    return found.group(1).decode("ascii") if found else None


def codec_name(label: str | None) -> str | None:
    """A charset label as the WHATWG encoding standard reads it (iso-8859-1 means windows-1252,
    ks_c_5601-1987 means euc-kr...), as a name Python decodes; None for an unknown label."""
    if not label:
        return None
    from resiliparse.parse.encoding import map_encoding_to_html5

    name = map_encoding_to_html5(label, fallback_utf8=False)
    if name is None:
        try:
            name = codecs.lookup(label).name  # a Python-only name (cp949, which uchardet reports)
        except LookupError:
            return None
    if codecs.lookup(name).name == "euc_kr":
        name = "cp949"  # browsers decode "EUC-KR" as its superset, Windows-949 (the standard's rule)
    return name


def decode_html(payload: bytes, header_charset: str | None) -> tuple[str, str, str] | None:
    """(text, charset, where the charset came from: bom, http, meta or detected), or None when
    no charset decodes the page."""
    from resiliparse.parse.encoding import detect_encoding

    for bom, name in _BOMS:
        if payload.startswith(bom):
            return payload[len(bom) :].decode(name, "replace"), name, "bom"
    tried: list[tuple[str, str]] = []
    candidates = [(header_charset, "http"), (meta_charset(payload), "meta")]
    if codec_name(header_charset) == "cp1252" and candidates[1][0]:
        # ISO-8859-1 is many servers' default, sent whatever the page is, and it decodes any
        # byte: a page that names its own charset (a Korean EUC-KR page) is read by that first
        candidates.reverse()
    for label, source in candidates:
        name = codec_name(label)
        if name is not None and name not in (seen for seen, _ in tried):
            tried.append((name, source))
            text = _strict(payload, name)
            if text is not None:
                return text, name, source
    # uchardet with the standard's renaming off: with it on, an unrecognised page would be
    # called UTF-8 and cp949 (Korean) would fall back to UTF-8 too
    detected = codec_name(detect_encoding(payload, html5_compatible=False))
    if detected is not None and detected not in (seen for seen, _ in tried):
        text = _strict(payload, detected)
        if text is not None:
            return text, detected, "detected"
        tried.append((detected, "detected"))
    for name, source in tried:  # none decodes every byte: the first whose losses are few
        text = payload.decode(name, "replace")
        if "\x00" not in text and text.count("\ufffd") <= MAX_REPLACED_SHARE * max(len(text), 1):
            return text, name, source
    return None


def _strict(payload: bytes, name: str) -> str | None:
    try:
        text = payload.decode(name)
    except (UnicodeDecodeError, LookupError):
        return None
    # a NUL is no character of any web page: a binary file sent as text/html
    return None if "\x00" in text else text
