"""What a forked grading worker must not keep from its parent, and how it dies with it.

The runner forks its pool workers while the main process holds the course lock and may hold database
connections. A child that inherited them would keep the lock (``flock`` belongs to the open file, not
the process) and a PostgreSQL session open after its parent died. So:

* :func:`track_fd` registers a descriptor (the lock file); every database connection any SQLAlchemy
  pool opens is registered automatically. In a forked child, each is replaced by ``/dev/null``
  (``dup2``: the child's copy is gone, and a stray write by a finaliser goes nowhere), and the
  tracked engines forget their pooled connections without closing them (``dispose(close=False)``).
* Text streams: a thread of the parent may be writing to stderr (Dask's nanny logs while another of
  its threads forks a new worker), holding the stream's buffer lock, which no thread of the child
  will ever release: the child's first log line would wait forever. In a forked child,
  ``sys.stdout``/``sys.stderr`` and every logging ``StreamHandler`` get new text streams on the same
  descriptors; the inherited ones are never used, flushed or freed again (:func:`_fresh_streams`).
* :func:`die_with_parent` (a pool initializer) asks the kernel to SIGKILL the worker when its parent
  dies (``PR_SET_PDEATHSIG``), so ``kill -9``/SIGTERM of ``deepgrade grade`` leaves no orphan.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

PR_SET_PDEATHSIG = 1

_FDS: set[int] = set()
_CONNECTIONS: "weakref.WeakSet" = weakref.WeakSet()
_ENGINES: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def track_fd(fd: int) -> None:
    """Close ``fd`` in every process forked from now on (until :func:`untrack_fd`)."""
    _FDS.add(fd)


def untrack_fd(fd: int) -> None:
    _FDS.discard(fd)


def track_engine(engine: Engine) -> Engine:
    """Make forked children drop ``engine``'s pooled connections (without closing the parent's)."""
    _ENGINES.add(engine)
    return engine


@event.listens_for(Pool, "connect")
def _on_connect(dbapi_connection, _record) -> None:
    try:
        _CONNECTIONS.add(dbapi_connection)
    except TypeError:            # a driver connection that cannot be weakly referenced: no socket fd anyway
        pass


def _connection_fds() -> set[int]:
    fds = set()
    for conn in list(_CONNECTIONS):
        fileno = getattr(conn, "fileno", None)
        if fileno is None:          # sqlite3: file locks are per process, never inherited
            continue
        try:
            fds.add(int(fileno()))
        except Exception:  # noqa: BLE001 - a closed connection has no descriptor
            continue
    return fds


def _scrub_in_child() -> None:
    fds = _FDS | _connection_fds()
    if fds:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in fds:
            try:
                os.dup2(null, fd)
            except OSError:
                pass
        os.close(null)
    for engine in list(_ENGINES):
        engine.dispose(close=False)
    _FDS.clear()


os.register_at_fork(after_in_child=_scrub_in_child)

def _stream_like(old):
    """A new line-buffered text stream on ``old``'s descriptor, or None when it has none."""
    try:
        fd = old.fileno()
        return open(fd, "w", encoding=getattr(old, "encoding", None) or "utf-8",
                    errors=getattr(old, "errors", None) or "backslashreplace", buffering=1, closefd=False)
    except (AttributeError, OSError, ValueError, TypeError, LookupError):
        return None


def _fresh_streams() -> None:
    new: dict[int, object] = {}

    def replacement(old):
        if id(old) not in new:
            new[id(old)] = _stream_like(old)
            if new[id(old)] is not None:     # the inherited stream is never freed, so never flushed (locked)
                ctypes.pythonapi.Py_IncRef(ctypes.py_object(old))
        return new[id(old)]

    for name in ("stdout", "stderr"):
        old = getattr(sys, name, None)
        if old is not None and replacement(old) is not None:
            setattr(sys, name, replacement(old))
    for ref in list(getattr(logging, "_handlerList", ())):
        handler = ref()
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler) \
                and handler.stream is not None and replacement(handler.stream) is not None:
            try:
                handler.stream = replacement(handler.stream)       # (setStream would flush the old one)
            except AttributeError:      # logging's last-resort handler: its stream IS sys.stderr
                pass


os.register_at_fork(after_in_child=_fresh_streams)


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Pool initializer: the kernel sends ``sig`` to this process when its parent exits (Linux).
    If the parent is already gone (it died between fork and this call), exit at once."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):     # pragma: no cover - not Linux
        return
    if os.getppid() != parent or parent == 1:
        os._exit(1)
