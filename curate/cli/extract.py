"""`curate extract`: the main text of the HTML pages in WARC files, as a dataset folder."""

from __future__ import annotations

import click

from curate.cli.options import compose, executor_options, input_options, job_arguments, output_options
from curate.cli.summary import summary
from curate.corpus.extract.step import SPEC

_HELP = """Extract the main text of the HTML pages in WARC files (.warc.gz, .warc).

Each HTTP response whose content type is HTML is decoded by its charset (the HTTP
header's, else <meta>'s, else detected) and its main text extracted with resiliparse
(default; DCLM's) or trafilatura (FineWeb's) in a child process, under a CPU deadline
and a memory limit. Kept rows hold the text, with url, date, content_type, charset and
extractor in meta. Every other record goes to rejected/ with its reason:
extract:not_response (request, warcinfo, metadata...), extract:http_status (not 2xx:
an error page, a redirect), extract:not_html (a PDF...),
extract:undecodable, extract:empty, extract:timeout, extract:out_of_memory,
extract:failed (the extractor raised), extract:crashed (its process died).

The same step runs first in `curate filter` when an input is WARC.

\b
Examples:
  curate extract crawl/*.warc.gz -o out/text
  curate extract crawl/ -o out/text --extractor trafilatura --workers 8
  curate filter crawl/*.warc.gz -o out/clean        # extract, then every filter step
"""


@click.command("extract", help=_HELP)
@input_options
@output_options
@compose(*SPEC.options)
@executor_options
@click.pass_context
def extract_command(ctx: click.Context, **params) -> None:
    from curate.corpus.extract.command import extract_corpus

    result = extract_corpus(list(params["inputs"]), params["output"], SPEC.build(params), **job_arguments(ctx, params))
    click.echo(summary(result))
