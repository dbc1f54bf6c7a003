"""Errors a user can fix. The CLI prints them as one line, without a traceback."""


class UserError(Exception):
    """A problem with the user's input or options: bad path, bad folder, bad option value."""

    exit_code = 2


class RunFailed(Exception):
    """A run could not finish for a reason that is not a usage mistake (exit code 1)."""

    exit_code = 1
