"""One grading command per course at a time: an exclusive ``fcntl.flock`` on ``<course>/.deepgrade.lock``.

The kernel drops the lock when the holder exits, even on ``kill -9``, so a crashed run never leaves a
stale lock behind. The file records the holder's pid/command/start time for the refusal message.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import sys
import time
from pathlib import Path
from typing import Iterator

LOCK_NAME = ".deepgrade.lock"


class CourseLocked(RuntimeError):
    """Another grading command holds the course lock."""


def lock_path(course_dir: str | Path) -> Path:
    return Path(course_dir).resolve() / LOCK_NAME


@contextlib.contextmanager
def course_lock(course_dir: str | Path, *, wait: bool = False, timeout: float | None = None,
                what: str = "grading") -> Iterator[Path]:
    """Hold the course's grading lock for the ``with`` block.

    ``wait=False``: raise :class:`CourseLocked` at once if another process holds it.
    ``wait=True``: block until it is free (or ``timeout`` seconds, then :class:`CourseLocked`).
    """
    path = lock_path(course_dir)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"course directory {path.parent} does not exist")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown process"
                if not wait or (deadline is not None and time.monotonic() >= deadline):
                    raise CourseLocked(
                        f"another grading command is running on course {path.parent} ({holder}); "
                        f"wait for it to finish, or pass --wait to queue behind it") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        os.pwrite(fd, f"pid {os.getpid()}, {what}, started {stamp}: {' '.join(sys.argv)[:300]}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
