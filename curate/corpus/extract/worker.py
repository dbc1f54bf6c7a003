"""The child process that extracts text, so a page that hangs or eats memory costs one page.

The step (step.py) sends one page at a time and waits for its text under a deadline; a
child past its deadline is killed (SIGKILL, then reaped) and a fresh one started for the
next page. The child runs under an address-space limit (RLIMIT_AS), where an allocation
past it raises MemoryError: the child answers "out of memory" and exits. It also dies with
its parent (Linux's PR_SET_PDEATHSIG), so a killed run leaves no orphan.

The deadline counts the child's CPU time, not the clock's, so a page rejected on a busy
machine is the page rejected on an idle one; a child that blocks without using the CPU is
stopped after WALL_FACTOR deadlines of wall time.

Messages on the pipes are a 4-byte length and the bytes; an answer starts with its status.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import select
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass

OK, FAILED, OUT_OF_MEMORY = b"k", b"f", b"m"
_LENGTH = struct.Struct("<I")
WALL_FACTOR = 5
STARTUP_SECONDS = 120.0  # importing trafilatura on a loaded machine takes seconds, not minutes


@dataclass(frozen=True)
class Outcome:
    text: str | None  # None when the page failed
    rule: str | None = None  # timeout, out_of_memory, failed, crashed


class ExtractorProcess:
    """One child running `target` ("module:function", HTML -> text), restarted as needed."""

    def __init__(self, target: str, timeout: float, memory_bytes: int | None) -> None:
        self.target, self.timeout, self.memory_bytes = target, timeout, memory_bytes
        self.process: subprocess.Popen | None = None
        self.starts = 0  # the first start and every restart after a killed child

    def extract(self, html: str) -> Outcome:
        if self.process is None:
            self._start()
        process = self.process
        try:
            _write(process.stdin, html.encode("utf-8", "surrogatepass"))
        except BrokenPipeError:
            self.close()
            return Outcome(None, "crashed")
        try:
            answer = self._answer(process)
        except NoAnswer as stop:
            self.close()
            return Outcome(None, stop.rule)
        status, body = answer[:1], answer[1:]
        if status == OK:
            return Outcome(body.decode("utf-8", "surrogatepass"))
        if status == OUT_OF_MEMORY:
            self.close()  # the child exits after a MemoryError; its heap is not to be trusted
            return Outcome(None, "out_of_memory")
        return Outcome(None, "failed")

    def close(self) -> None:
        """Kill the child and reap it (no zombie, no orphan); the next page starts a new one."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()

    def _start(self) -> None:
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        memory = str(self.memory_bytes or 0)
        command = [sys.executable, "-m", __name__, self.target, memory, str(os.getpid())]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment)
        try:
            ready = _read_within(self.process, STARTUP_SECONDS, cpu_limit=None)
        except NoAnswer:
            ready = None
        if ready != OK:
            self.close()
            raise RuntimeError(f"the extractor process for {self.target} did not start")
        self.starts += 1

    def _answer(self, process: subprocess.Popen) -> bytes:
        return _read_within(process, max(WALL_FACTOR * self.timeout, self.timeout + 1.0), cpu_limit=self.timeout)


class NoAnswer(Exception):
    """The child gave no answer: `rule` is "timeout" (out of time) or "crashed" (its pipe closed)."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


def _read_within(process: subprocess.Popen, wall_seconds: float, cpu_limit: float | None) -> bytes:
    """One message from the child; NoAnswer if it dies first or runs past `cpu_limit` seconds of
    CPU or `wall_seconds` of wall time. The reason comes from what was seen on the pipe (end of
    file or silence), not from polling the process, whose exit may not be visible yet."""
    fd = process.stdout.fileno()  # read with os.read only: a buffered read would hide bytes from select
    clock = _Deadline(process.pid, wall_seconds, cpu_limit)

    def read(size: int) -> bytes:
        if not clock.wait_readable(fd):
            raise NoAnswer("timeout")
        chunk = os.read(fd, size)
        if not chunk:
            raise NoAnswer("crashed")
        return chunk

    header = b""
    while len(header) < _LENGTH.size:
        header += read(_LENGTH.size - len(header))
    (size,) = _LENGTH.unpack(header)
    parts, left = [], size
    while left:
        parts.append(read(min(left, 1 << 20)))
        left -= len(parts[-1])
    return b"".join(parts)


class _Deadline:
    def __init__(self, pid: int, wall_seconds: float, cpu_limit: float | None) -> None:
        self.pid, self.wall_seconds, self.cpu_limit = pid, wall_seconds, cpu_limit
        self.started, self.cpu_start = time.monotonic(), _cpu_seconds(pid)

    def wait_readable(self, fd: int) -> bool:
        """Whether `fd` has bytes before the child runs out of time."""
        while True:
            elapsed = time.monotonic() - self.started
            if self.cpu_limit is not None and elapsed >= self.cpu_limit:
                wait = 0.05  # past the deadline on the clock: look at the CPU time now and then
            else:
                wait = (self.cpu_limit if self.cpu_limit is not None else self.wall_seconds) - elapsed
            if select.select([fd], [], [], max(0.0, min(wait, self.wall_seconds - elapsed)))[0]:
                return True
            elapsed = time.monotonic() - self.started
            if elapsed >= self.wall_seconds:
                return False
            if self.cpu_limit is not None and elapsed >= self.cpu_limit:
                used = _cpu_seconds(self.pid)
                if used is None or self.cpu_start is None or used - self.cpu_start >= self.cpu_limit:
                    return False  # over its CPU budget (or no CPU clock here: the wall clock rules)


def _cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) process `pid` has used, from /proc; None where there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _write(stream, data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_exactly(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def _die_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def main(target: str, memory_bytes: int, parent: int) -> None:
    """The child: answer pages from stdin on stdout until stdin closes."""
    _die_with(parent)
    module, _, function = target.partition(":")
    extract = getattr(importlib.import_module(module), function)
    if memory_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # an extractor's prints must not corrupt the answers
    _write(stdout, OK)
    while (header := _read_exactly(stdin, _LENGTH.size)) is not None:
        html = _read_exactly(stdin, _LENGTH.unpack(header)[0])
        if html is None:
            return
        try:
            text = extract(html.decode("utf-8", "surrogatepass"))
            answer = OK + str(text or "").encode("utf-8", "surrogatepass")
        except MemoryError:
            _write(stdout, OUT_OF_MEMORY)
            os._exit(3)
        except Exception:  # an extractor's bug on one page is that page's rejection
            answer = FAILED
        _write(stdout, answer)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
