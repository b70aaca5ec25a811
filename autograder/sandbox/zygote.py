"""TensorFlow zygote: one sandbox imports TensorFlow once and forks a fresh worker per submission.

Importing TensorFlow costs ~4 s per process; forking a process that has imported it (but never ran a
TF op -- children of a parent that ran ops hang) costs well under 0.1 s. The zygote runs inside the
same bubblewrap sandbox as a normal session (no network, nothing of the checkout mounted); it keeps
only CAP_SETUID/SETGID/SYS_ADMIN and runs no student code. Each child, before running any student
code, enters its own mount namespace with fresh size-capped tmpfs at /tmp and /dev/shm (so no child
sees another's files or can fill their space), applies its rlimits, switches to its OWN fresh uid
(which drops every capability; children cannot signal, ptrace or read each other, and RLIMIT_NPROC
counts per child), and installs the same seccomp filter bwrap gives other sessions. Zygotes need a
root grader (fresh uids); an unprivileged grader starts one sandbox per session instead.

Trusted side <-> zygote: a SOCK_SEQPACKET socketpair. ``spawn`` sends the child's config plus the
two pipe ends (requests, replies) with SCM_RIGHTS; the child then speaks the normal worker protocol
on those pipes. The trusted side kills a child (and everything it forked) by uid from the host.

Differences from one-process-per-session (documented trade-offs): all children of one zygote share
the pid and IPC namespaces (other uids' processes are visible in /proc but not accessible; System V
IPC is refused by the filter). The runner grades one submission at a time per worker process, so in
practice a zygote has one child at a time.
"""
from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .launcher import (_COURSE_IN, _WORKER_DIR_IN, _bwrap_prefix, _kill_uid, _python_install,
                       _sandbox_env, _site_plan, _student_files, _uid_processes)
from .policy import SandboxPolicy

__all__ = ["Zygote", "shared_zygote", "close_shared_zygotes"]


class ZygoteError(OSError):
    """The zygote could not be started or stopped answering."""


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

    def kill(self) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            _kill_uid(self.uid)
            if not _uid_processes(self.uid):
                break
            time.sleep(0.01)
        for _ in range(50):        # let the zygote reap it so the exit status is known
            if self.poll() is not None:
                break
            time.sleep(0.01)
        self.zygote._release(self.pid)
        for fd in (self.wfd, self.rfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.wfd = self.rfd = -1

    def stderr_tail(self, n: int = 800) -> str:
        return ""

    def close(self) -> None:
        pass


class Zygote:
    """A sandboxed process that has imported numpy (and TensorFlow) and forks workers on request."""

    def __init__(self, assignment_dir: Path | str | None, policy: SandboxPolicy | None = None,
                 use_tensorflow: bool = True) -> None:
        self.assignment_dir = Path(assignment_dir).resolve() if assignment_dir else None
        self.use_tensorflow = use_tensorflow
        self.policy = (policy or SandboxPolicy()).resolved(use_tensorflow)
        self._lock = threading.Lock()
        self._active: set[int] = set()       # children handed out and not yet killed
        self.last_used = time.monotonic()
        self._owner_pid = os.getpid()    # a forked copy of this object must not kill the zygote
        self._errfile = tempfile.TemporaryFile()
        t0 = time.monotonic()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        exe = _python_install()[0]
        config = {"zygote": True, "control_fd": theirs.fileno(), "tensorflow": use_tensorflow,
                  "sys_path": [_WORKER_DIR_IN, *_site_plan()[1]], "unlist_paths": [_WORKER_DIR_IN]}
        files = _student_files(self.assignment_dir) if self.assignment_dir else []
        # CAP_SYS_ADMIN: each child mounts its own /tmp and /dev/shm before it drops to its uid
        # (which clears every capability) and installs the seccomp filter itself
        cmd = _bwrap_prefix("/tmp", self.policy,
                            [(str(p), f"{_COURSE_IN}/{p.name}") for p in files],
                            extra_caps=("CAP_SYS_ADMIN",))
        for key, val in _sandbox_env("/tmp").items():
            cmd += ["--setenv", key, val]
        cmd += [str(exe), "-I", "-S", f"{_WORKER_DIR_IN}/worker.py", json.dumps(config)]
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._errfile,
                                          stderr=self._errfile, pass_fds=(theirs.fileno(),),
                                          start_new_session=True)
        finally:
            theirs.close()
        self._sock.settimeout(self.policy.startup_timeout_s)
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

    def spawn(self, config: dict[str, Any], uid: int) -> _ChildHandle:
        """Fork a worker child with ``config``; returns its handle (the child then says hello)."""
        if not self.alive:
            raise ZygoteError("the zygote is not running")
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        try:
            reply = self._request({"op": "spawn", "config": config}, [req_r, rep_w])
        except (OSError, ValueError) as exc:
            for fd in (req_w, rep_r):
                os.close(fd)
            raise ZygoteError(f"zygote spawn failed: {exc}") from None
        finally:
            os.close(req_r)
            os.close(rep_w)
        pid = reply.get("pid")
        if not isinstance(pid, int):
            os.close(req_w)
            os.close(rep_r)
            raise ZygoteError(f"zygote spawn failed: {reply!r}")
        self._active.add(pid)
        self.last_used = time.monotonic()
        return _ChildHandle(self, pid, uid, req_w, rep_r)

    def _release(self, pid: int) -> None:
        self._active.discard(pid)
        self.last_used = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last child was handed out or released; 0 while children are in use."""
        return 0.0 if self._active else time.monotonic() - self.last_used

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


def _start_in_keeper_thread(assignment_dir: Path | None, policy: SandboxPolicy,
                            use_tensorflow: bool) -> Zygote:
    """Start a Zygote from a long-lived daemon thread.

    bwrap's --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that started
    it ends; a zygote shared by many threads must not die with whichever worker thread came first.
    """
    result: dict[str, Any] = {}
    ready = threading.Event()

    def keeper() -> None:
        try:
            result["zygote"] = Zygote(assignment_dir, policy, use_tensorflow)
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


def shared_zygote(assignment_dir: Path | None, policy: SandboxPolicy,
                  use_tensorflow: bool = True) -> Zygote:
    """The process-wide zygote for this assignment folder and policy (started on first use)."""
    policy = policy.resolved(use_tensorflow)
    key = (os.getpid(), str(assignment_dir), policy, use_tensorflow)   # never share across fork
    with _SHARED_LOCK:
        zyg = _SHARED.get(key)
        if zyg is None or not zyg.alive:
            zyg = _SHARED[key] = _start_in_keeper_thread(assignment_dir, policy, use_tensorflow)
        return zyg


def close_shared_zygotes() -> None:
    """Stop every shared zygote (also registered with atexit)."""
    with _SHARED_LOCK:
        for zyg in _SHARED.values():
            zyg.close()
        _SHARED.clear()


atexit.register(close_shared_zygotes)
