"""`-o` of the commands that write a dataset folder: a local path, or a store URL whose run is
staged in a local folder and committed to the store when it succeeds (io/remote.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import click

from curate.errors import RunFailed, UserError
from curate.io.remote import RemoteOutput, is_url, local_text


class OutputFolder(click.ParamType):
    """A local folder (a file:// URL is one), or an object-store URL (s3://, gs://, hf://...)."""

    name = "folder"

    def convert(self, value, param, ctx) -> Path | RemoteOutput:
        if isinstance(value, (Path, RemoteOutput)):
            return value
        if is_url(value):
            return RemoteOutput(str(value).rstrip("/"))
        return Path(local_text(str(value)))


def staged_output(function: Callable) -> Callable:
    """Run a command whose -o is a store URL into its local staging folder, then commit the
    finished folder to the store (io/remote.py); a failed run commits nothing."""

    @functools.wraps(function)
    def run(*args, **params):
        target = params.get("output")
        if not isinstance(target, RemoteOutput):
            return function(*args, **params)
        staging = target.prepare([str(item) for item in params.get("inputs") or ()])
        try:
            result = function(*args, **{**params, "output": staging})
        except (UserError, RunFailed) as error:  # named by the URL the user gave, not the staging folder
            raise type(error)(str(error).replace(str(staging), str(target))) from None
        if target.commit():
            click.echo(f"committed {staging} to {target}")
        else:
            click.echo(f"{target} already holds it")
        return result

    return run
