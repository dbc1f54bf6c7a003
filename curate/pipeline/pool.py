"""Worker processes: run a list of tasks in this process or in a pool, with one progress bar.

A task is any picklable object with `index` and `input` (an InputFile, named in errors); the
function that runs it must be importable by name and reports progress with
`report_progress`. Which process ran a task never changes what it writes.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager

from tqdm import tqdm

from curate.errors import RunFailed, UserError
from curate.io.fingerprint import input_size
from curate.pipeline import plots


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _no_progress(records: int, nbytes: int) -> None:
    pass


_progress: Callable[[int, int], None] = _no_progress


def report_progress(records: int, nbytes: int) -> None:
    """Tell the progress bar that a task function has done `records` records and `nbytes` input bytes."""
    _progress(records, nbytes)


def _die_with_parent(main_pid: int) -> None:
    """Linux: have the kernel SIGKILL this worker when the main process dies.

    Without it, `kill -9` of the main process leaves workers that finish their task and
    write into a folder that a resumed run is already rewriting.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != main_pid:  # the main process died before prctl took effect
        os._exit(1)


def _init_worker(progress_queue, main_pid: int) -> None:
    global _progress
    _die_with_parent(main_pid)
    _progress = lambda records, nbytes: progress_queue.put((records, nbytes))  # noqa: E731


class Progress:
    def __init__(self, total_bytes: int | None, label: str, enabled: bool) -> None:
        self.records = 0
        self.started = time.perf_counter()
        self.bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=label,
            disable=not enabled,
            dynamic_ncols=True,
            file=sys.stderr,
        )

    def update(self, records: int, nbytes: int) -> None:
        self.records += records
        self.bar.update(nbytes)
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.records:,} docs, {self.records / elapsed:,.0f} docs/s", refresh=False)

    def close(self) -> None:
        self.bar.close()


def run_here(function: Callable, task, progress: Progress) -> dict:
    """Run one task in this process, on a fresh copy as a worker would get: step state and
    counters never carry from one task to the next."""
    global _progress
    _progress = progress.update
    try:
        return _run_guarded(function, pickle.loads(pickle.dumps(task)))
    finally:
        _progress = _no_progress


def _task_failed(task, error: BaseException) -> RunFailed | UserError:
    """Name the input file: a worker's traceback alone would not."""
    if isinstance(error, UserError):  # the user can fix it (a template the sandbox stopped): exit 2
        return UserError(f"{task.input.source}: {error}")
    detail = str(error) if isinstance(error, RunFailed) else f"{type(error).__name__}: {error}"
    return RunFailed(f"failed on {task.input.source}: {detail}")


def _run_guarded(function: Callable, task) -> dict:
    try:
        return function(task)
    except Exception as error:
        raise _task_failed(task, error) from error


_executor: tuple[str, object] = ("local", None)


def use_executor(kind: str, settings: object = None) -> None:
    """Run the tasks of the commands that follow on `kind`: "local" (worker processes here) or
    "ray" (`settings`: a RaySettings). Which one never changes what a task writes."""
    global _executor
    _executor = (kind, settings)


def run_tasks(function: Callable, tasks: list, workers: int, progress: Progress) -> None:
    """Run `function(task)` for every task: in this process for one worker, else in a pool
    (or as Ray tasks with `use_executor("ray")`, whatever the worker count).

    A task has `index` and `input` (an InputFile, named in errors); `function` must be
    importable by name, and reports progress with `report_progress`.
    """
    if _executor[0] == "ray" and tasks:
        _run_ray(function, tasks, workers, progress)
    elif workers == 1 or len(tasks) <= 1:
        for task in sorted(tasks, key=lambda item: item.index):
            run_here(function, task, progress)
    else:
        _run_pool(function, tasks, workers, progress)


class _Pool:
    """Worker processes with the queue they report progress on."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # fork is unsafe with threads in the parent
        self.workers = workers
        self.progress_queue = context.Queue()
        self.executor = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(self.progress_queue, os.getpid())
        )


_sharing = False
_shared: _Pool | None = None


@contextmanager
def shared_pool() -> Iterator[None]:
    """Let every `run_tasks` inside use the same worker processes, started on first use.

    A command with several passes (dedup) then pays for starting workers once: a spawned
    worker takes about a second to import numpy, pyarrow and numba.
    """
    global _sharing, _shared
    _sharing, _shared = True, None
    try:
        yield
    finally:
        if _shared is not None:
            # Idle workers exit on their own; not waiting lets that overlap the sealing and the
            # report (about 0.3 s). They are joined at the latest when the interpreter exits.
            _shared.executor.shutdown(wait=False, cancel_futures=True)
        _sharing, _shared = False, None


def _pool(workers: int) -> tuple[_Pool, bool]:
    """The shared pool inside `shared_pool()` (started if needed), else a new one; and whether it is shared."""
    global _shared
    if not _sharing:
        return _Pool(workers), False
    if _shared is None or _shared.workers != workers:
        if _shared is not None:
            _shared.executor.shutdown(wait=True)
        _shared = _Pool(workers)
    return _shared, True


def _run_pool(function: Callable, tasks: list, workers: int, progress: Progress) -> None:
    """Run tasks on `workers - 1` worker processes and in this process, which is the last worker.

    This process starts working at once, while a spawned worker first spends about a
    second importing numpy, pyarrow and numba: on short jobs that start-up is most of
    what a second worker would add. Workers take tasks from the front of the list, this
    process from the back; which process ran a task never changes what it writes.
    """
    handle, shared = _pool(workers - 1)
    pool, progress_queue = handle.executor, handle.progress_queue
    waiting = list(tasks)
    futures: dict[Future, object] = {}

    def feed_workers() -> None:
        while waiting and sum(not future.done() for future in futures) < 2 * handle.workers:
            task = waiting.pop(0)
            futures[pool.submit(function, task)] = task

    def check(done) -> None:
        _drain(progress_queue, progress)
        for future in done:
            error = future.exception()
            if error is not None:
                raise _task_failed(futures[future], error) from error

    try:
        feed_workers()
        while waiting:
            run_here(function, waiting.pop(), progress)
            check([future for future in futures if future.done()])
            feed_workers()
        pending = {future for future in futures if not future.done()}
        if pending:
            # This process now only waits: import the chart library meanwhile (about half a
            # second of serial time otherwise; started earlier it would slow its own tasks).
            threading.Thread(target=plots.chart_library_available, daemon=True).start()
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            check(done)
        check(futures)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        if not shared:
            pool.shutdown(wait=True)


def _drain(progress_queue, progress: Progress) -> None:
    while True:
        try:
            records, nbytes = progress_queue.get_nowait()
        except queue.Empty:
            return
        progress.update(records, nbytes)


def _run_ray(function: Callable, tasks: list, workers: int, progress: Progress) -> None:
    from curate.pipeline import ray_executor

    ray_executor.connect(_executor[1])

    def done(task, result) -> None:  # a Ray worker cannot reach this bar: a task counts when it ends
        read = (result.get("counts") or {}).get("read") or {} if isinstance(result, dict) else {}
        progress.update(int(read.get("docs", 0) or 0), input_size(task.input))

    ray_executor.run_on_ray(function, tasks, workers, done, _task_failed)
