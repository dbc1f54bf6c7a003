"""Common Crawl WET (`.warc.wet.gz`): each `conversion` record is a document; URL and date go to `meta`."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator

from curate.io.input_file import InputFile
from curate.io.readers.batch import BatchBuilder, ReadBatch, ReaderOptions, json_dumps
from curate.io.streams import BOM, DecompressedStream, TruncatedInput, compression_of, peek


def read_wet(input_file: InputFile, options: ReaderOptions) -> Iterator[ReadBatch]:
    """Common Crawl WET: each `conversion` record is a document; URL and date go to `meta`."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    builder = BatchBuilder(input_file.source, options)
    number = 0
    with open(input_file.path, "rb") as raw:
        # warcio reads a file's gzip members itself, but knows no byte order mark
        stream = raw
        if peek(input_file.path, len(BOM), keep_bom=True) == BOM:
            stream = io.BufferedReader(DecompressedStream(raw, compression_of(input_file.path)))
        try:
            for record in ArchiveIterator(stream):
                if record.rec_type != "conversion":
                    continue  # warcinfo and metadata records describe the crawl, not documents
                number += 1
                headers = record.rec_headers
                payload = record.content_stream().read()
                meta = {"url": headers.get_header("WARC-Target-URI"), "date": headers.get_header("WARC-Date")}
                language = headers.get_header("WARC-Identified-Content-Language")
                if language:
                    meta["content_language"] = language
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    builder.reject("unparseable:utf8", payload, {"record": number, **meta})
                    continue
                record_id = (headers.get_header("WARC-Record-ID") or "").strip("<>") or None
                builder.add(record_id, text, json_dumps(meta), where={"record": number, **meta}, raw=payload)
                if builder.full:
                    yield builder.flush(raw.tell())
        except TruncatedInput as error:
            builder.reject(error.reason, b"", {"record": number + 1})
        except (ArchiveLoadFailed, EOFError, OSError, zlib.error, ValueError) as error:
            builder.reject("unparseable:warc", str(error).encode(), {"record": number + 1})
        yield from builder.finish(raw.tell())
