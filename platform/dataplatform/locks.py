"""One writer at a time on one home: an advisory file lock (flock) that a second process waits
on, bounded, and that the kernel releases when its holder dies (SIGKILL included), so a killed
catch-up never leaves a stale lock behind."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_SECONDS = 0.2


class Busy(RuntimeError):
    """The lock is held by another process for longer than the caller would wait."""

    def __init__(self, what: str, holder: str):
        super().__init__(f"another {what} is running (pid {holder or '?'})")
        self.holder = holder


@contextmanager
def exclusive(path: Path, what: str, wait_seconds: float, on_wait=lambda holder: None) -> Iterator[None]:
    """Hold `path`'s lock for the block; wait up to `wait_seconds` for a holder to finish
    (`on_wait(holder pid)` once, when it starts waiting), then raise Busy naming the holder's
    pid (written into the file by whoever holds it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline, waited = time.monotonic() + wait_seconds, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                if time.monotonic() >= deadline:
                    raise Busy(what, holder) from None
                if waited is False:
                    on_wait(holder)
                    waited = True
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
