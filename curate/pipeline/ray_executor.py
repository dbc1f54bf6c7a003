"""`--executor ray`: the executor's tasks as Ray tasks, on an existing cluster or a local one.

Each task (one input file of a job, one file of dedup's hashing pass) is one Ray task, at most
`--workers` in flight. A task whose worker process or node dies is run again by Ray
(`max_retries`); an exception in curate's own code is not retried (`retry_exceptions=False`)
and fails the run with the input file named, as the local executor does. A task writes the
same bytes wherever it runs and writes its parts atomically, so a task run twice leaves what
one run leaves, and the folder's completion markers and resume are the local executor's.

The paths a task writes are the command's: on a cluster of several machines they must be
on storage every node sees (a shared file system), which `docs/ARCHITECTURE.md` says.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from curate.errors import RunFailed, UserError

# how many times Ray runs a task again after its worker process or node died
MAX_RETRIES = 3


@dataclass(frozen=True)
class RaySettings:
    address: str | None = None  # None: a Ray cluster of this machine, started for the run


def connect(settings: RaySettings) -> None:
    """Join the cluster at `settings.address` ("auto": the one `ray start` made here), or start
    a local one; once per process."""
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs the ray package: pip install 'curate[ray]'") from None
    if ray.is_initialized():
        return
    _check_reachable(settings.address)
    try:
        ray.init(
            address=settings.address,
            include_dashboard=False,
            log_to_driver=False,  # workers' output would interleave with the progress bar
            configure_logging=False,
            runtime_env={"env_vars": _worker_environment()},
        )
    except (ConnectionError, ValueError) as error:  # nothing there, or an address Ray cannot parse
        raise UserError(f"--ray-address {settings.address}: cannot join a Ray cluster there ({error})") from None


def _check_reachable(address: str | None, seconds: float = 5.0) -> None:
    """A HOST:PORT that answers no connection is one line now: Ray itself retries for minutes."""
    import socket

    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            return
    except ValueError:
        return  # not a port number: Ray's own check names it
    except OSError as error:
        raise UserError(
            f"--ray-address {address}: no Ray cluster answers there ({error.strerror or error}); "
            "start one with `ray start --head` or give its address"
        ) from None


def _worker_environment() -> dict[str, str]:
    """Workers import curate as this process does (the cluster's nodes have it installed) and
    see curate's own settings (CURATE_*); no other variable, so no key, leaves this machine."""
    import sys

    paths = [path for path in sys.path if path and os.path.isdir(path)]
    settings = {name: value for name, value in os.environ.items() if name.startswith("CURATE_")}
    return {"PYTHONPATH": os.pathsep.join(paths), **settings}


def _call(module: str, name: str, task) -> dict:
    """What a Ray worker runs: the task function, found by name as the local pool finds it."""
    return getattr(importlib.import_module(module), name)(task)


def run_on_ray(
    function: Callable,
    tasks: list,
    workers: int,
    on_done: Callable[[object, dict], None],
    failed: Callable[[object, BaseException], Exception],
) -> None:
    """Run `function(task)` for every task as Ray tasks, `workers` at a time, in task order;
    `on_done(task, result)` as each finishes; `failed(task, error)` makes the run's error."""
    import ray
    from ray.exceptions import RayError, RayTaskError, TaskCancelledError

    remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(_call)
    waiting = sorted(tasks, key=lambda item: item.index)
    running: dict = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                task = waiting.pop(0)
                running[remote.remote(function.__module__, function.__name__, task)] = task
            done, _ = ray.wait(list(running), num_returns=1)
            for reference in done:
                task = running.pop(reference)
                try:
                    result = ray.get(reference)
                except RayTaskError as error:  # curate's own exception, raised in the worker
                    cause = error.cause if isinstance(error.cause, BaseException) else error
                    raise failed(task, cause) from None
                except TaskCancelledError:
                    raise
                except RayError as error:  # its worker or node lost MAX_RETRIES + 1 times
                    raise RunFailed(
                        f"failed on {task.input.source}: its Ray worker was lost {MAX_RETRIES + 1} times "
                        f"({type(error).__name__}); re-run the command to resume"
                    ) from None
                on_done(task, result)
    finally:
        for reference in running:
            ray.cancel(reference, force=True)
