"""Zygotes: one sandbox imports the common modules once and forks a fresh child per session.

Importing TensorFlow costs ~4 s per process, matplotlib + scipy + scikit-learn 2-6 s, NumPy alone
~0.1 s; forking a process that imported them (but never ran a TF op -- children of a parent that ran
ops hang) costs ~0.01-0.05 s. The zygote runs inside the same bubblewrap sandbox as a fresh session
(no network, nothing of the checkout mounted, only allow-listed site-packages); it keeps only
CAP_SETUID/SETGID/SYS_ADMIN/NET_ADMIN/KILL and runs no student code. It imports numpy, :func:`preload_modules`
(where installed) and, for TensorFlow sessions, TensorFlow.

Each child gets what bubblewrap gives a fresh sandbox before any student code runs (worker.py,
``_child_init``): it starts as pid 1 of its own pid namespace (no sibling and not the zygote is
visible in its /proc) with its own mount, network (only ``lo``), IPC and UTS namespaces, fresh
size-capped tmpfs at /tmp and /dev/shm, the student files bound read-only at /tmp/work and /course
(passed as detached read-only mounts, so one zygote serves every assignment); its worker (pid 2) applies the
rlimits, switches to its OWN fresh uid (which drops every capability; siblings cannot signal, ptrace
or read each other, RLIMIT_NPROC counts per child) and installs the seccomp filter; the global
NumPy generator is reseeded from the OS like a fresh interpreter's. RLIMIT_AS and the memory budget
grow by what the pre-imports added, so a student has the headroom of a fresh sandbox. Zygotes need
a root grader (fresh uids); an unprivileged grader starts one sandbox per session instead.

Trusted side <-> zygote: a SOCK_SEQPACKET socketpair. ``spawn`` sends the child's config plus the
two pipe ends (requests, replies) and the file descriptors with SCM_RIGHTS; the child then speaks the
normal worker protocol on those pipes. The trusted side kills a child (and everything it forked) by
uid from the host.
"""
from __future__ import annotations

import atexit
import base64
import ctypes
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import layout, processes
from .policy import SandboxPolicy

__all__ = ["Zygote", "ZygoteError", "shared_zygote", "close_shared_zygotes", "preload_modules"]

#: environment setting: modules the zygote imports once besides numpy (comma-separated)
PRELOAD_ENV = "DEEPGRADE_ZYGOTE_PRELOAD"
#: none by default. The grader binds a notebook's top-level heavy imports lazily (autograder/imports.py)
#: and the course's helpers import matplotlib and h5py on first use, so a graded session of this course
#: never imports them; pre-importing matplotlib, scipy and scikit-learn cost every worker's zygote 2-4
#: CPU s at start and saved nothing (a 1-notebook run: 4.98 -> 1.35 s, 10 notebooks on 2 workers:
#: 5.36 -> 2.85 s; issue 15). A course whose graded code does import them can list them here.
DEFAULT_PRELOAD: tuple[str, ...] = ()
_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def preload_modules() -> tuple[str, ...]:
    """The modules zygotes pre-import: ``$DEEPGRADE_ZYGOTE_PRELOAD`` if set, else :data:`DEFAULT_PRELOAD`."""
    raw = os.environ.get(PRELOAD_ENV)
    if raw is None:
        return DEFAULT_PRELOAD
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    bad = [n for n in names if not _MODULE_NAME.match(n)]
    if bad:
        raise ZygoteError(f"{PRELOAD_ENV}={raw!r}: not module names: {bad}")
    return names


PRECOMPILE_MAX_BYTES = 512 * 1024   # helper sources per request (the zygote reads 1 MiB messages)
MAX_FILES = 250        # student files per child (SCM_RIGHTS carries at most 253 descriptors)
_SYS_OPEN_TREE, _SYS_MOUNT_SETATTR = 428, 442          # x86-64 (the new mount API, Linux >= 5.12)
_OPEN_TREE_CLONE, _AT_RECURSIVE, _AT_EMPTY_PATH, _AT_FDCWD = 1, 0x8000, 0x1000, -100
_MOUNT_ATTR_RO_NOSUID_NODEV = 1 | 2 | 4
_LIBC = ctypes.CDLL(None, use_errno=True)


def detached_readonly_tree(path: Path | str) -> int:
    """A descriptor of a detached, read-only (nosuid, nodev) bind mount of ``path`` (file or folder).

    Made on the host (root), passed to the zygote, attached by a child in its own mount namespace
    with ``move_mount``: one zygote can serve every assignment folder without ever mounting them.
    Raises OSError where the kernel lacks the new mount API.
    """
    fd = _LIBC.syscall(_SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(str(path)),
                       _OPEN_TREE_CLONE | _AT_RECURSIVE | os.O_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"open_tree({path}): {os.strerror(err)}")
    attr = (ctypes.c_uint64 * 4)(_MOUNT_ATTR_RO_NOSUID_NODEV, 0, 0, 0)
    if _LIBC.syscall(_SYS_MOUNT_SETATTR, fd, b"", _AT_EMPTY_PATH | _AT_RECURSIVE,
                     ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"mount_setattr({path}): {os.strerror(err)}")
    return fd


class ZygoteError(OSError):
    """The zygote could not be started or stopped answering."""


def _backoff():
    """Pauses while waiting for a killed child: 1, 2, 4, 8 ms, then 10 ms (a fixed 10 ms pause cost
    every notebook ~15 ms of wall time at close)."""
    yield from (0.001, 0.002, 0.004, 0.008)
    while True:
        yield 0.01


class _ChildHandle:
    """One forked worker, seen from the trusted side."""

    def __init__(self, zygote: "Zygote", pid: int, uid: int, wfd: int, rfd: int) -> None:
        self.zygote = zygote
        self.pid = pid            # pid inside the zygote's pid namespace
        self.uid = uid            # unique: used to kill the child and all it forked
        self.wfd = wfd
        self.rfd = rfd
        self.returncode: int | None = None
        os.set_blocking(self.wfd, False)

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.status(self.pid)
        return self.returncode

    def known_exit(self) -> int | None:
        """The exit status if already known, without asking the zygote: before every call that round
        trip cost ~1 ms of both processes (20+ per notebook). A child that died is found anyway: its
        pipes give EPIPE on the request and EOF on the reply."""
        return self.returncode

    def kill(self, died: bool = False) -> None:
        """End the session. ``died``: it ended by itself (EOF): its own exit status is awaited first
        (e.g. 128 + SIGXCPU for a CPU limit), rather than replaced by the kill's."""
        if self.returncode is None:
            status = self.zygote.kill_child(self.pid, grace_s=0.5 if died else 0.0, wait=died)
            if status == "signalled":     # a finished session: its status is not needed
                status = -9
            self.returncode = status if isinstance(status, int) else None
        if self.returncode is None:       # the zygote could not: kill by uid from the host
            self._kill_by_uid()
        self.zygote._release(self.pid)
        for fd in (self.wfd, self.rfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.wfd = self.rfd = -1

    def _kill_by_uid(self) -> None:
        deadline = time.monotonic() + 5
        for pause in _backoff():
            processes.kill_uid(self.uid)
            if not processes.uid_processes(self.uid) or time.monotonic() > deadline:
                break
            time.sleep(pause)
        reap_deadline = time.monotonic() + 0.5
        for pause in _backoff():   # let the zygote reap it so the exit status is known
            if self.poll() is not None or time.monotonic() > reap_deadline:
                break
            time.sleep(pause)

    def stderr_tail(self, n: int = 800) -> str:
        return ""        # the zygote's log is shared by every child: never shown in one's message

    def close(self) -> None:
        pass


class Zygote:
    """A sandboxed process that has imported numpy, :func:`preload_modules` (and TensorFlow) and forks
    session children on request. ``assignment_dir`` is accepted for compatibility and unused: each
    child gets its student files at :meth:`spawn`."""

    def __init__(self, assignment_dir: Path | str | None = None, policy: SandboxPolicy | None = None,
                 use_tensorflow: bool = True) -> None:
        self.use_tensorflow = use_tensorflow
        self.policy = (policy or SandboxPolicy()).resolved(use_tensorflow)
        self._lock = threading.Lock()
        self._active: set[int] = set()       # children handed out and not yet killed
        self.last_used = time.monotonic()
        self._owner_pid = os.getpid()    # a forked copy of this object must not kill the zygote
        self._errfile = tempfile.TemporaryFile()
        self.preload_rss = 0             # resident bytes the pre-imports added (shared by children)
        self.preloaded: list[str] = []
        self._compiled: set[tuple[str, int, int]] = set()   # (host path, mtime, size) the zygote compiled
        t0 = time.monotonic()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        exe = layout.python_install()[0]
        config = {"zygote": True, "control_fd": theirs.fileno(), "tensorflow": use_tensorflow,
                  "sys_path": [layout.WORKER_DIR_IN, *layout.site_plan()[1]],
                  "unlist_paths": [layout.WORKER_DIR_IN], "preload": list(preload_modules())}
        # CAP_SYS_ADMIN: each child makes its namespaces and mounts; CAP_NET_ADMIN: it brings up lo.
        # Both go when it drops to its uid; it installs the seccomp filter itself. CAP_KILL: the zygote
        # ends a child (its init runs as nobody) at close; it only sees its own pid namespace.
        cmd = layout.bwrap_prefix(layout.WORK_IN, self.policy, [],
                                  extra_caps=("CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_KILL"),
                                  extra_dirs=(layout.COURSE_IN,))
        for key, val in layout.sandbox_env(layout.WORK_IN).items():
            cmd += ["--setenv", key, val]
        cmd += [str(exe), "-I", "-S", f"{layout.WORKER_DIR_IN}/worker.py", json.dumps(config)]
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._errfile,
                                          stderr=self._errfile, pass_fds=(theirs.fileno(),),
                                          start_new_session=True)
        finally:
            theirs.close()
        # the pre-imports take 2-6 s on a busy machine (TensorFlow more)
        self._sock.settimeout(max(self.policy.startup_timeout_s, 60.0))
        try:
            reply = self._request({"op": "ping"})
        except (OSError, ValueError) as exc:
            tail = self._tail()            # read the log BEFORE close() discards it
            self.close()
            raise ZygoteError(f"zygote did not start: {exc}; {tail}") from None
        if not reply.get("ready"):
            tail = self._tail()
            self.close()
            raise ZygoteError(f"zygote sent {reply!r}; {tail}")
        rss, names = reply.get("preload_rss"), reply.get("preloaded")
        self.preload_rss = rss if isinstance(rss, int) and 0 <= rss < (4 << 30) else 0
        self.preloaded = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
        self._sock.settimeout(10)
        self.start_s = time.monotonic() - t0

    # ------------------------------------------------------------------ control channel
    def _request(self, msg: dict, fds: list[int] | None = None) -> dict:
        with self._lock:
            data = json.dumps(msg).encode()
            if fds:
                socket.send_fds(self._sock, [data], fds)
            else:
                self._sock.send(data)
            raw = self._sock.recv(1 << 16)
        if not raw:
            raise ZygoteError("zygote closed its control socket")
        reply = json.loads(raw)
        if not isinstance(reply, dict):
            raise ZygoteError("malformed zygote reply")
        return reply

    def _tail(self) -> str:
        if self._errfile is None:          # already closed
            return ""
        try:
            self._errfile.seek(0, os.SEEK_END)
            size = self._errfile.tell()
            self._errfile.seek(max(0, size - 800))
            return self._errfile.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    @property
    def alive(self) -> bool:
        return (os.getpid() == self._owner_pid and self._proc is not None
                and self._proc.poll() is None)

    def spawn(self, config: dict[str, Any], uid: int, files: list[Path] = ()) -> _ChildHandle:
        """Fork a session child with ``config`` and read-only ``files`` (host paths, bound at
        /tmp/work and /course); returns its handle (the child then says hello)."""
        if not self.alive:
            raise ZygoteError("the zygote is not running")
        if len(files) > MAX_FILES:
            raise ZygoteError(f"{len(files)} student files: a zygote child takes at most {MAX_FILES}")
        config = {**config, "files": [Path(p).name for p in files]}
        self._precompile(files, str(config.get("cwd", layout.WORK_IN)))
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        file_fds: list[int] = []
        try:
            for p in files:
                file_fds.append(detached_readonly_tree(p))
            reply = self._request({"op": "spawn", "config": config}, [req_r, rep_w, *file_fds])
        except (OSError, ValueError) as exc:
            for fd in (req_w, rep_r):
                os.close(fd)
            raise ZygoteError(f"zygote spawn failed: {exc}") from None
        finally:
            for fd in (req_r, rep_w, *file_fds):
                os.close(fd)
        pid = reply.get("pid")
        if not isinstance(pid, int):
            os.close(req_w)
            os.close(rep_r)
            raise ZygoteError(f"zygote spawn failed: {reply!r}")
        self._active.add(pid)
        self.last_used = time.monotonic()
        return _ChildHandle(self, pid, uid, req_w, rep_r)

    def _precompile(self, files, workdir: str) -> None:
        """Have the zygote compile the ``.py`` student files (trusted helpers of the assignment folder)
        it has not compiled yet, so children import them without compiling (worker.py, ``_precompile``).
        Best effort: a file that cannot be read or sent is compiled by each child as before."""
        sources: dict[str, str] = {}
        for p in map(Path, files):
            if p.suffix != ".py" or not p.is_file() or p.is_symlink():
                continue
            st = p.stat()
            key = (str(p), st.st_mtime_ns, st.st_size)
            if key in self._compiled or st.st_size > PRECOMPILE_MAX_BYTES:
                continue
            self._compiled.add(key)
            sources[f"{workdir}/{p.name}"] = base64.b64encode(p.read_bytes()).decode()
        if sources and sum(map(len, sources.values())) <= PRECOMPILE_MAX_BYTES:
            try:
                self._request({"op": "precompile", "sources": sources})
            except (OSError, ValueError):
                pass

    def _release(self, pid: int) -> None:
        self._active.discard(pid)
        self.last_used = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last child was handed out or released; 0 while children are in use."""
        return 0.0 if self._active else time.monotonic() - self.last_used

    def kill_child(self, pid: int, grace_s: float = 0.0, wait: bool = True) -> int | str | None:
        """Kill a child (and its whole pid namespace) from inside the zygote: its exit status once
        reaped, "signalled" when ``wait`` is False and SIGKILL was sent (the zygote reaps it later),
        None if that failed (the caller then kills by uid). One round trip instead of scanning /proc
        twice per notebook."""
        if not self.alive:
            return None
        try:
            status = self._request({"op": "kill", "pid": pid, "grace_s": grace_s, "wait": wait}).get("status")
        except (OSError, ValueError):
            return None
        return status if isinstance(status, int) or status == "signalled" else None

    def status(self, pid: int) -> int | None:
        """Exit status of a child once the zygote has reaped it (-signal if killed), else None."""
        if not self.alive:
            return -9
        try:
            status = self._request({"op": "status", "pid": pid}).get("status")
        except (OSError, ValueError):
            return -9
        return status if isinstance(status, int) else None

    def close(self) -> None:
        """Kill the zygote and, with its pid namespace, every child it forked."""
        if os.getpid() != self._owner_pid:      # inherited through fork: not ours to kill
            return
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, 9)
            except ProcessLookupError:
                pass
            self._proc.wait(timeout=5)
        try:
            self._sock.close()
        except OSError:
            pass
        if self._errfile is not None:
            self._errfile.close()
            self._errfile = None

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SHARED: dict[tuple, Zygote] = {}
_SHARED_LOCK = threading.Lock()


def _start_in_keeper_thread(policy: SandboxPolicy, use_tensorflow: bool) -> Zygote:
    """Start a Zygote from a long-lived daemon thread.

    bwrap's --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that started
    it ends; a zygote shared by many threads must not die with whichever worker thread came first.
    """
    result: dict[str, Any] = {}
    ready = threading.Event()

    def keeper() -> None:
        try:
            result["zygote"] = Zygote(None, policy, use_tensorflow)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result["error"] = exc
        ready.set()
        zyg = result.get("zygote")
        idle_s = float(os.environ.get("DEEPGRADE_ZYGOTE_IDLE_S", "300"))
        while zyg is not None and zyg.alive:
            time.sleep(min(1.0, idle_s / 4))
            if zyg.idle_for() > idle_s:          # unused for a while: give the memory back
                with _SHARED_LOCK:
                    for key, value in list(_SHARED.items()):
                        if value is zyg:
                            del _SHARED[key]
                zyg.close()

    threading.Thread(target=keeper, name="deepgrade-zygote-keeper", daemon=True).start()
    ready.wait()
    if "error" in result:
        raise result["error"]
    return result["zygote"]


def shared_zygote(policy: SandboxPolicy, use_tensorflow: bool = True) -> Zygote:
    """The process-wide zygote for NumPy or TensorFlow sessions (started on first use).

    One per process and kind: children get their limits and files per spawn, so one zygote serves
    every assignment and policy (``policy`` sizes only the zygote's own sandbox and start-up time).
    """
    key = (os.getpid(), bool(use_tensorflow))      # never share across fork
    with _SHARED_LOCK:
        zyg = _SHARED.get(key)
        if zyg is None or not zyg.alive:
            zyg = _SHARED[key] = _start_in_keeper_thread(policy.resolved(use_tensorflow),
                                                         use_tensorflow)
        return zyg


def close_shared_zygotes() -> None:
    """Stop every shared zygote (also registered with atexit)."""
    with _SHARED_LOCK:
        for zyg in _SHARED.values():
            zyg.close()
        _SHARED.clear()


atexit.register(close_shared_zygotes)
