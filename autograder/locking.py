"""One grading command per course — and per shared gradebook — at a time.

* The course folder: an exclusive ``fcntl.flock`` on ``<course>/.deepgrade.lock`` (mode 0600). The
  kernel drops it when the holder exits, even on ``kill -9``. Forked grading workers never keep it
  (:mod:`autograder.forksafe` replaces the descriptor in every forked child), so a killed run never
  leaves a stale lock behind. The file names the holder (pid, command with any password hidden).
* A PostgreSQL gradebook (which several machines or course copies may share): a session-level
  advisory lock (``pg_try_advisory_lock``) on a dedicated connection, held by the server for as long
  as that connection lives — it ends with the holder's process, whatever kills it. SQLite gradebooks
  live in one folder and keep the file lock only.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from autograder import forksafe
from autograder.gradebook import GradebookError, redact_url

LOCK_NAME = ".deepgrade.lock"
ADVISORY_KEY = 0x6465_6570_6772_6164 & 0x7FFF_FFFF_FFFF_FFFF     # "deepgrad", as a signed bigint
APP_NAME = "deepgrade-grading"


class CourseLocked(RuntimeError):
    """Another grading command holds the course lock (or the shared gradebook's lock)."""


def lock_path(course_dir: str | Path) -> Path:
    return Path(course_dir).resolve() / LOCK_NAME


def _holder_line(what: str, db_url: str | None) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    command = redact_url(" ".join(sys.argv)[:300], db_url)
    return f"pid {os.getpid()} on {socket.gethostname()}, {what}, started {stamp}: {command}\n"


def _wait_loop(try_once, describe_holder, where: str, wait: bool, timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while not try_once():
        if not wait or (deadline is not None and time.monotonic() >= deadline):
            raise CourseLocked(
                f"another grading command is running on {where} ({describe_holder()}); "
                f"wait for it to finish, or pass --wait to queue behind it")
        time.sleep(0.2)


@contextlib.contextmanager
def _file_lock(course_dir: str | Path, wait: bool, timeout: float | None, what: str,
               db_url: str | None) -> Iterator[Path]:
    path = lock_path(course_dir)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"course directory {path.parent} does not exist")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    forksafe.track_fd(fd)
    try:
        os.fchmod(fd, 0o600)               # an older world-readable lock file becomes private

        def try_once() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        _wait_loop(try_once, lambda: os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown process",
                   f"course {path.parent}", wait, timeout)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _holder_line(what, db_url).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        forksafe.untrack_fd(fd)
        os.close(fd)


def is_shared_database(db_url: str | None) -> bool:
    """True for a PostgreSQL gradebook (locked in the server, not in the course folder)."""
    if not db_url:
        return False
    try:
        return make_url(db_url).get_backend_name() == "postgresql"
    except Exception:  # noqa: BLE001 - not a URL: the gradebook will say so
        return False


@contextlib.contextmanager
def _database_lock(db_url: str, wait: bool, timeout: float | None, what: str) -> Iterator[None]:
    holder = f"{APP_NAME} pid {os.getpid()} on {socket.gethostname()}"[:63]
    engine = create_engine(db_url, poolclass=NullPool, connect_args={"application_name": holder})
    try:
        try:
            conn = engine.connect()
        except Exception as exc:  # noqa: BLE001 - one clear line, password hidden
            first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise GradebookError(redact_url(f"cannot reach the gradebook {db_url}: {first}", db_url)) from None
        try:
            conn.execution_options(isolation_level="AUTOCOMMIT")

            def try_once() -> bool:
                return bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())

            def describe() -> str:
                row = conn.execute(text(
                    "SELECT a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k LIMIT 1"), {"k": ADVISORY_KEY}).first()
                return f"{row[0]} from {row[1] or 'a local socket'}" if row else "another session"

            _wait_loop(try_once, describe, f"the shared gradebook {redact_url(db_url, db_url)}", wait, timeout)
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                except Exception:  # noqa: BLE001 - a lost connection released the lock already
                    pass
        finally:
            conn.close()
    finally:
        engine.dispose()


@contextlib.contextmanager
def course_lock(course_dir: str | Path, *, wait: bool = False, timeout: float | None = None,
                what: str = "grading", db_url: str | None = None) -> Iterator[Path]:
    """Hold the course's grading lock (and, for a PostgreSQL gradebook ``db_url``, the database's) for
    the ``with`` block.

    ``wait=False``: raise :class:`CourseLocked` at once if another process holds it.
    ``wait=True``: block until it is free (or ``timeout`` seconds, then :class:`CourseLocked`).
    """
    with _file_lock(course_dir, wait, timeout, what, db_url) as path:
        if is_shared_database(db_url):
            with _database_lock(db_url, wait, timeout, what):
                yield path
        else:
            yield path
