"""Start and talk to a sandboxed worker that runs untrusted student code.

Modes (see :func:`sandbox_mode`):

``bwrap``   bubblewrap with new pid/net/ipc/uts/cgroup/mount namespaces, a seccomp filter
            (:mod:`.seccomp`), a minimal read-only root (/usr, the Python install, an allow-listed view
            of each site-packages folder -- :mod:`.packages` -- and the worker at /opt/deepgrade), private
            size-capped tmpfs at /tmp and /dev/shm (cwd /tmp/work, holding read-only binds of the
            assignment's student files; the whole folder also at /course); nothing else writable.
            As root: all capabilities are dropped except SETUID/SETGID, which the worker uses once,
            before any student code, to become a fresh unprivileged uid -- that is what makes
            RLIMIT_NPROC bite (the kernel never enforces it for uid 0). As an ordinary user
            (:func:`privileged` is False): ``--unshare-user``; the sandbox keeps the grader's uid inside
            its own user namespace (RLIMIT_NPROC is counted per user namespace), and the watchdog finds
            its processes by pid namespace. If bwrap cannot run, grading is refused
            (:class:`SandboxUnavailable`) unless ``DEEPGRADE_SANDBOX`` names a weaker mode:
``unshare`` ``unshare --net`` + rlimits (no filesystem isolation!).
``rlimit``  rlimits only (no network or filesystem isolation!).

Only :mod:`autograder.sandbox.wire` frames cross the boundary; every reply is re-validated here.
Wall-clock limits are enforced here: on expiry the whole sandbox is SIGKILLed (bwrap's pid 1 takes
every process in the pid namespace with it) and the session is dead. While a reply is pending, a
watchdog sums the memory of every process of the sandbox (RSS, open memfd files, its /tmp and
/dev/shm) -- RLIMIT_AS is per process and misses memory no mapping shows.

RLIMIT_NPROC as root (measured, kernel 6.x, bwrap 0.8): the kernel never enforces NPROC for uid 0,
and a bwrap user namespace created by root maps the sandbox to kernel uid 0 as well; privileged
bwrap + an in-sandbox setuid to a fresh uid does work. For an ordinary user the user namespace's own
count does (a fork loop stops at the limit, EAGAIN). NPROC counts threads too, hence 512 for
TensorFlow. An unprivileged grader needs an interpreter it can read (not /root/.pyenv, mode 0700).

Measured on the 2-core dev box with ``python -m autograder.sandbox`` (quiet / busy machine):
session start (bwrap + python + numpy) 0.14-0.18 / 0.33-0.38 s; TensorFlow session start 4.3-5.4 s;
a session forked from a zygote 8 ms (numpy) / 30 ms (TF; the first TF op then costs ~0.25 s);
ping 0.09 ms; call with a 10x10 array 0.19 ms; an 8 MB array each way ~0.9 s busy (JSON + base64,
~25-50 ms per MB); close 1-6 ms. Issue 17 (allow-listed site-packages view, /dev/shm tmpfs,
remount-ro): session start unchanged within noise (interleaved on a busy box: 290-430 ms vs
360-550 ms before); the hard-link view is built once per machine (~3.5 s, 35k links with
TensorFlow); binding the ~100 entries one by one instead (view folder not writable) adds ~0.2 s.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from . import layout, processes, seccomp, wire
from . import packages as _packages
from .layout import privileged
from .policy import SandboxPolicy
from .zygote import Zygote, shared_zygote

__all__ = ["StudentSession", "StudentError", "LoadReport", "CellStatus", "sandbox_mode",
           "SandboxUnavailable", "TrustedContentVisible", "privileged",
           "ERROR_KINDS"]

log = logging.getLogger(__name__)

ERROR_KINDS = frozenset({"missing", "exception", "timeout", "memory", "crashed", "bad_output"})
_WATCH_INTERVAL_S = 0.2         # how often the memory watchdog looks while a reply is pending
_MEMORY_CHECK_EVERY_S = 0.25   # between requests, the watchdog looks at most this often
_KILL_GRACE_S = 2.0              # extra wall time before a soft (in-worker) timeout becomes a kill
_READ_CHUNK = 1 << 16            # per read of replies: a 1 MiB request made malloc map and unmap a fresh
                                 # buffer for every reply (most are under 1 KiB)


class StudentError(Exception):
    """Student code failed. ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, kind: str, message: str, *, error_type: str = "", traceback: str = "",
                 stdout: str = "", stderr: str = "") -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown StudentError kind {kind!r}")
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.error_type = error_type
        self.traceback = traceback
        self.stdout = stdout
        self.stderr = stderr


@dataclass
class CellStatus:
    """Outcome of one notebook cell. ``status`` is ok | error | timeout | not_run."""

    index: int
    status: str
    error_type: str = ""
    message: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0


@dataclass
class LoadReport:
    """Result of :meth:`StudentSession.load`. ``alive`` is False if the sandbox had to be killed."""

    cells: list[CellStatus]
    defined: set[str]
    alive: bool = True
    duration_s: float = 0.0

    @property
    def errors(self) -> list[CellStatus]:
        """Cells that did not finish cleanly (error, timeout or not run)."""
        return [c for c in self.cells if c.status != "ok"]


# ================================================================================ mode detection
_MODE: str | None = None






class TrustedContentVisible(RuntimeError):
    """The sandbox could see trusted content (reference, hidden checks, quiz banks): never grade."""


def _trusted_paths() -> list[str]:
    """Host folders of deepgrade's trusted packages (found without importing them)."""
    out = []
    for name in _packages.TRUSTED_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        for loc in (getattr(spec, "submodule_search_locations", None) or []) if spec else []:
            out.append(str(Path(loc).resolve()))
    return out


_PROBE = """import importlib.util, json, os, sys
cfg = json.loads(sys.argv[1]); sys.path[:0] = cfg["path"]
seen = [n for n in cfg["names"] if importlib.util.find_spec(n) is not None]
seen += [p for p in cfg["files"] if os.path.exists(p)]
if seen:
    sys.stderr.write("TRUSTED-VISIBLE %r" % (seen,)); sys.exit(3)
if cfg["uid"]:
    os.setgroups([]); os.setgid(cfg["uid"]); os.setuid(cfg["uid"])
"""


def _bwrap_available() -> bool:
    """Self-test: bubblewrap starts, and trusted content is neither importable nor on disk inside.

    Raises :class:`TrustedContentVisible` if the sandbox could see trusted content.
    """
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    try:
        probe = {"path": layout.site_plan()[1], "names": list(_packages.TRUSTED_PACKAGES),
                 "files": _trusted_paths(), "uid": layout.UID_BASE if privileged() else 0}
        cmd = layout.bwrap_prefix(None, SandboxPolicy(), workdir_binds=[]) + [
            str(layout.python_install()[0]), "-I", "-S", "-c", _PROBE, json.dumps(probe)]
        r = subprocess.run(cmd, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("bwrap self-test failed: %s", exc)
        return False
    err = r.stderr.decode(errors="replace")
    if r.returncode == 3 and "TRUSTED-VISIBLE" in err:
        raise TrustedContentVisible(
            f"the bubblewrap sandbox can see trusted content ({err[-300:]}); refusing to grade")
    if r.returncode != 0:
        log.warning("bwrap self-test failed: %s", err[-500:])
    return r.returncode == 0


_SECCOMP_OK: bool | None = None


def seccomp_active(policy: SandboxPolicy) -> bool:
    """Whether bwrap sessions under ``policy`` get the seccomp filter (self-tested once)."""
    global _SECCOMP_OK
    if not policy.seccomp or not seccomp.supported():
        return False
    if _SECCOMP_OK is None:
        fd = seccomp.write_program_fd()
        try:
            cmd = layout.bwrap_prefix(None, SandboxPolicy(), workdir_binds=[]) + [
                "--seccomp", str(fd), str(layout.python_install()[0]), "-I", "-S", "-c",
                "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
                "assert libc.unshare(0x10000000) == -1 and ctypes.get_errno() == 1; "
                "assert os.fork() or os._exit(0)"]
            r = subprocess.run(cmd, capture_output=True, timeout=20, pass_fds=(fd,))
            _SECCOMP_OK = r.returncode == 0
            if not _SECCOMP_OK:
                log.warning("seccomp filter self-test failed; sandboxes run without it: %s",
                            r.stderr.decode(errors="replace")[-300:])
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("seccomp filter self-test failed (%s); sandboxes run without it", exc)
            _SECCOMP_OK = False
        finally:
            os.close(fd)
    return _SECCOMP_OK


def _seccomp_args(policy: SandboxPolicy) -> tuple[list[str], list[int]]:
    """bwrap arguments and fds that install the seccomp filter (empty when not active)."""
    if not seccomp_active(policy):
        return [], []
    fd = seccomp.write_program_fd()
    return ["--seccomp", str(fd)], [fd]


def _unshare_available() -> bool:
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "--net", "--", "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class SandboxUnavailable(RuntimeError):
    """No file-hiding sandbox can run here and the instructor did not opt into a weaker one."""


def sandbox_mode() -> str:
    """The isolation mode sessions use: "bwrap" | "unshare" | "rlimit" (detected once, cached).

    Only "bwrap" hides the reference, the hidden checks and other students' work. If it cannot run,
    grading is refused (:class:`SandboxUnavailable`) unless the instructor explicitly chose a weaker
    mode with ``DEEPGRADE_SANDBOX=unshare`` or ``DEEPGRADE_SANDBOX=rlimit`` (then a one-time
    RuntimeWarning says what is not isolated). ``DEEPGRADE_SANDBOX=bwrap`` (or unset) never falls
    back. Raises :class:`TrustedContentVisible` if bwrap runs but could see trusted content.
    """
    global _MODE
    if _MODE is not None:
        return _MODE
    forced = os.environ.get("DEEPGRADE_SANDBOX", "").strip().lower()
    if forced and forced not in ("bwrap", "unshare", "rlimit"):
        raise ValueError(f"DEEPGRADE_SANDBOX={forced!r}: expected bwrap, unshare or rlimit")
    if forced in ("", "bwrap"):
        if not _bwrap_available():    # (not cached: the instructor may fix it and retry)
            raise SandboxUnavailable(
                "deepgrade: the bubblewrap sandbox cannot run here (install bubblewrap; as a "
                "non-root user it also needs unprivileged user namespaces, e.g. sysctl "
                "kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0). Without it "
                "student code could read the reference solutions and hidden checks, so grading is "
                "refused. To grade trusted code anyway, set DEEPGRADE_SANDBOX=unshare (no network, "
                "no file isolation) or DEEPGRADE_SANDBOX=rlimit (resource limits only).")
        _MODE = "bwrap"
        return _MODE
    mode = forced
    if mode == "unshare" and not _unshare_available():
        mode = "rlimit"
    msg = (f"deepgrade sandbox: DEEPGRADE_SANDBOX={forced} chosen; using the '{mode}' mode "
           f"({'network off, ' if mode == 'unshare' else ''}rlimits only, NO filesystem "
           f"isolation: student code can read the reference). Use only for trusted code.")
    warnings.warn(msg, RuntimeWarning, stacklevel=2)
    log.warning(msg)
    _MODE = mode
    return mode


def _reset_mode_cache() -> None:
    """Forget the detected mode (tests)."""
    global _MODE
    _MODE = None


# ================================================================================ command lines












# ================================================================================ zygote setting
ZYGOTE_SETTINGS = {"all": ("", "all", "1", "on", "yes", "true"), "tf": ("tf", "tensorflow"),
                   "off": ("0", "off", "no", "false", "none", "fresh")}


def zygote_setting() -> str:
    """``DEEPGRADE_ZYGOTE`` as "all" (default: every session forks from a zygote), "tf" (TensorFlow
    sessions only) or "off" (a fresh sandbox per session). Zygotes need privileged bubblewrap; an
    unprivileged grader always starts a fresh sandbox per session."""
    raw = os.environ.get("DEEPGRADE_ZYGOTE", "").strip().lower()
    for setting, spellings in ZYGOTE_SETTINGS.items():
        if raw in spellings:
            return setting
    raise ValueError(f"DEEPGRADE_ZYGOTE={raw!r}: expected all, tf or off")


# ================================================================================ process handles
#: ``_kill`` reasons that mean the session already ended by itself (its exit status says why)
_DIED_BY_ITSELF = frozenset({"exited", "stdin closed"})


class _PopenHandle:
    """A sandbox started directly with subprocess (one process tree per session)."""

    def __init__(self, proc: subprocess.Popen, errfile) -> None:
        self.proc = proc
        self.errfile = errfile
        self.wfd = proc.stdin.fileno()
        self.rfd = proc.stdout.fileno()
        os.set_blocking(self.wfd, False)   # a stuck worker must never block the trusted side

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def poll(self) -> int | None:
        return self.proc.poll()

    def known_exit(self) -> int | None:
        """The exit status if the session is known to have ended (cheap: waitpid WNOHANG)."""
        return self.proc.poll()

    def kill(self, died: bool = False) -> None:
        proc = self.proc
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)   # bwrap's own session; --die-with-parent
            except ProcessLookupError:                 # takes the pid namespace down with it
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass

    def stderr_tail(self, n: int = 800) -> str:
        if self.errfile is None:
            return ""
        try:
            self.errfile.seek(0, os.SEEK_END)
            size = self.errfile.tell()
            self.errfile.seek(max(0, size - n))
            return self.errfile.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        if self.errfile is not None:
            self.errfile.close()
            self.errfile = None


# ================================================================================ the session
class StudentSession:
    """One sandboxed Python process holding one submission's namespace.

    Use as a context manager. ``load`` executes cells; ``call``/``get`` return plain data only
    (numbers, str, numpy arrays and lists/tuples/dicts of them) or raise :class:`StudentError`.
    After a timeout or crash the session is dead (later calls raise ``crashed`` at once);
    :meth:`restart` starts a fresh sandbox and reloads the same cells, skipping cells that hung.

    ``zygote``: ``None`` (default) follows :func:`zygote_setting` (``DEEPGRADE_ZYGOTE``): ``all``
    (default) forks every session from the process-wide shared zygote (see :mod:`.zygote`; NumPy:
    ~0.01 s instead of ~0.2-0.35 s, plus no re-import of matplotlib/scipy/scikit-learn), ``tf``
    TensorFlow sessions only, ``off`` never. ``True`` forces the shared zygote, ``False`` one
    sandbox per session, or pass a ``Zygote``. Without root every session gets a fresh sandbox.

    Threads: bwrap's --die-with-parent fires when the *thread* that started the sandbox ends, so
    start a session in the thread that uses it (or one that outlives it). Shared zygotes are
    started from their own keeper thread and are not affected.
    """

    def __init__(self, assignment_dir: Path | str | None, policy: SandboxPolicy | None = None,
                 use_tensorflow: bool = False, mode: str | None = None,
                 zygote: Any = None) -> None:
        self.assignment_dir = Path(assignment_dir).resolve() if assignment_dir else None
        self.use_tensorflow = use_tensorflow
        self.policy = (policy or SandboxPolicy()).resolved(use_tensorflow)
        self.mode = mode or sandbox_mode()
        if self.mode not in ("bwrap", "unshare", "rlimit"):
            raise ValueError(f"unknown sandbox mode {self.mode!r}")
        if zygote is None:     # auto: fork from a shared zygote (NumPy 0.2 s -> 0.01 s, TF 4 s -> 0.05 s)
            setting = zygote_setting()
            zygote = setting == "all" or (use_tensorflow and setting == "tf")
            self._zygote_auto = True
        else:
            self._zygote_auto = False
        if zygote and (self.mode != "bwrap" or not privileged()):
            zygote = False     # zygotes need privileged bubblewrap (a fresh uid per child);
            #                    otherwise every session starts its own sandbox
        self.zygote = zygote   # False | True (the process-wide shared zygote) | a Zygote
        self.uid: int | None = None
        self._memory_allowance = 0   # extra budget: memory a zygote child shares with its zygote
        self.start_s: float = 0.0
        self.last_output: dict[str, str] = {"stdout": "", "stderr": ""}
        self._h: Any = None    # _PopenHandle | zygote child handle
        self._buf = bytearray()
        self._dead_reason: str | None = None
        self._deadline = 0.0
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._cells: list[dict[str, Any]] | None = None
        self._preamble = ""
        self._skip: set[int] = set()
        self._defined: set[str] = set()
        self._last_memory_check = 0.0

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "StudentSession":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._h is not None and self._dead_reason is None and self._h.poll() is None

    def start(self) -> None:
        """Start the sandboxed worker and wait for its hello (idempotent while alive)."""
        if self._h is not None:
            return
        t0 = time.monotonic()
        if not self._deadline:     # the submission budget spans restarts
            self._deadline = t0 + self.policy.submission_timeout_s
        if t0 >= self._deadline:
            self._dead_reason = "submission time limit reached"
            raise StudentError("timeout", "the submission's time budget is used up")
        self._dead_reason = None
        if self.zygote:
            self._h = self._spawn_from_zygote()
        else:
            self._h = self._spawn_process()
        self._buf.clear()
        hello = self._read(min(self._deadline, t0 + self.policy.startup_timeout_s), "start-up")
        if not (isinstance(hello, dict) and hello.get("ok") and isinstance(hello.get("hello"), dict)):
            self._kill("bad hello")
            raise StudentError("crashed", f"sandbox sent a bad hello: {str(hello)[:200]}")
        self.start_s = time.monotonic() - t0

    def _spawn_process(self) -> _PopenHandle:
        cmd, cwd, fds = self._command()
        errfile = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=errfile, cwd=cwd, bufsize=0,
                                    start_new_session=True, close_fds=True, pass_fds=fds,
                                    env=None if self.mode == "bwrap" else layout.sandbox_env(cwd))
        except OSError as exc:
            errfile.close()
            raise StudentError("crashed", f"could not start the sandbox: {exc}") from exc
        finally:
            for fd in fds:
                os.close(fd)
        return _PopenHandle(proc, errfile)

    def _spawn_from_zygote(self) -> Any:
        """A child forked from the zygote (shared or given); in auto mode a fresh sandbox if that fails.

        The shared zygote may have died or been retired since the last session: one fresh try.
        """
        zyg = self.zygote
        try:
            if zyg is True:
                zyg = shared_zygote(self.policy, self.use_tensorflow)
                try:
                    return self._fork_child(zyg)
                except OSError:
                    if zyg.alive:        # the zygote is fine: this fork failed
                        raise
                    zyg = shared_zygote(self.policy, self.use_tensorflow)
            return self._fork_child(zyg)
        except OSError as exc:      # ZygoteError included: an infrastructure failure, never the student's
            if not self._zygote_auto:
                raise StudentError("crashed", f"could not start a sandbox from the zygote: {exc}") from exc
            log.warning("zygote unavailable (%s); starting one sandbox per session", exc)
            self.zygote = False
            self.uid = None
            self._memory_allowance = 0
            return self._spawn_process()

    def _fork_child(self, zyg: Zygote) -> Any:
        """Ask ``zyg`` for a child with this session's uid, limits, filter and student files."""
        self.uid = layout.new_uid()
        files = layout.student_files(self.assignment_dir) if self.assignment_dir else []
        config = {
            "rlimits": self.policy.rlimits(self.use_tensorflow),
            "output_cap": self.policy.max_output_bytes,
            "drop_to": [self.uid, self.uid],
            "cwd": layout.WORK_IN, "files": [p.name for p in files],
            "scratch_bytes": int(self.policy.scratch_bytes),   # its own /tmp and /dev/shm
        }
        if seccomp_active(self.policy):    # the zygote runs unfiltered; each child filters itself
            config["seccomp"] = seccomp.program().hex()
        handle = zyg.spawn(config, self.uid, files)
        self._memory_allowance = zyg.preload_rss     # pages every child shares with the zygote
        return handle

    def close(self) -> None:
        """Kill the sandbox (if running) and free its resources. Safe to call twice."""
        if self._h is not None:
            self._kill("closed")
            self._h.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def restart(self) -> LoadReport | None:
        """Start a fresh sandbox and reload the last loaded cells (minus cells that hung)."""
        self.close()
        self._h = None
        self.start()
        if self._cells is None:
            return None
        cells = [c for c in self._cells if c["index"] not in self._skip]
        return self.load(cells, self._preamble, _remember=False)

    # ------------------------------------------------------------------ ops
    def load(self, cells: Iterable[Any], preamble: str = "", *, _remember: bool = True) -> LoadReport:
        """Execute ``cells`` (dicts with index/source, or objects with .index/.source) in order.

        Each cell is isolated: an error or per-cell timeout in one does not stop the next. The trusted
        ``preamble`` runs first; if it fails, ``StudentError("exception")`` is raised.
        """
        cell_list = [_cell_dict(c) for c in cells]
        if _remember:
            self._cells, self._preamble, self._skip = cell_list, preamble, set()
        self._ensure_alive()
        t0 = time.monotonic()
        self._send({"op": "load", "cells": cell_list, "preamble": preamble,
                    "cell_timeout": self.policy.cell_timeout_s})
        done: list[CellStatus] = []
        per_frame = self.policy.cell_timeout_s + _KILL_GRACE_S   # one progress frame per cell
        preamble_done = False
        while True:
            try:
                msg = self._read(min(self._deadline, time.monotonic() + per_frame), "load")
            except StudentError as err:
                if preamble and not preamble_done:
                    raise StudentError(err.kind, f"assignment preamble: {err.message}") from None
                # the sandbox is dead: blame the cell that was running, skip it on restart()
                hung = cell_list[len(done)] if len(done) < len(cell_list) else None
                statuses = list(done)
                if hung is not None:
                    self._skip.add(hung["index"])
                    statuses.append(CellStatus(hung["index"], err.kind if err.kind == "timeout"
                                               else "error", error_type=err.kind.title(),
                                               message=err.message))
                statuses += [CellStatus(c["index"], "not_run") for c in cell_list[len(statuses):]]
                return LoadReport(statuses, set(), alive=False,
                                  duration_s=time.monotonic() - t0)
            if isinstance(msg, dict) and msg.get("event") == "cell":
                done.append(_cell_status(msg.get("cell")))
                continue
            if isinstance(msg, dict) and msg.get("event") == "preamble":
                preamble_done = True
                continue
            if not isinstance(msg, dict) or not msg.get("ok"):
                self._raise_reply(msg)
            value = msg.get("value")
            if not isinstance(value, dict):
                raise StudentError("crashed", "malformed load reply")
            if value.get("n_cells") != len(done) or len(done) != len(cell_list):
                self._kill("inconsistent load reply")
                raise StudentError("crashed", "the sandbox's load reply does not match its cells")
            defined = value.get("defined")
            self._defined = {n for n in defined if isinstance(n, str)} \
                if isinstance(defined, list) else set()
            self._last_memory_check = 0.0    # check what the cells left behind before the next call
            return LoadReport(done, set(self._defined), alive=True,
                              duration_s=time.monotonic() - t0)

    def call(self, fn: str, *args: Any, _seed: int | None = None, _timeout: float | None = None,
             _seed_salt: int | None = None, **kwargs: Any) -> Any:
        """Call student function ``fn`` with plain-data arguments; return its plain-data result.

        ``_seed``: seed NumPy/random/TF before the call; ``_seed_salt``: during the call
        ``np.random.seed(s)`` seeds with ``(s + salt) mod 2**32`` (hidden checks of functions that seed
        themselves, see ``autograder.checks.compare.salted_numpy_seed``)."""
        if not isinstance(fn, str):
            raise TypeError("fn must be the function's name (str)")
        request = {"op": "call", "fn": fn, "args": list(args), "kwargs": kwargs, "seed": _seed}
        if _seed_salt is not None:
            request["seed_salt"] = int(_seed_salt)
        return self._roundtrip(request, _timeout or self.policy.call_timeout_s)

    def get(self, name: str, _timeout: float | None = None) -> Any:
        """A namespace value (e.g. a quiz answer variable) as plain data."""
        return self._roundtrip({"op": "get", "name": name}, _timeout or self.policy.call_timeout_s)

    def defined(self) -> set[str]:
        """Names of callables currently defined in the student namespace."""
        names = self._roundtrip({"op": "defined"}, self.policy.call_timeout_s)
        return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()

    def ping(self) -> float:
        """Round-trip time of a no-op request, in seconds."""
        t0 = time.monotonic()
        self._roundtrip({"op": "ping"}, self.policy.call_timeout_s)
        return time.monotonic() - t0

    # ------------------------------------------------------------------ plumbing
    def _roundtrip(self, request: dict, timeout: float) -> Any:
        self._ensure_alive()
        if time.monotonic() - self._last_memory_check >= _MEMORY_CHECK_EVERY_S:
            self._check_memory()      # memory held between calls (e.g. in memfd files) counts too
        self._send(request)
        reply = self._read(min(self._deadline, time.monotonic() + timeout + 0.05), request["op"])
        if not isinstance(reply, dict):
            self._kill("malformed reply")
            raise StudentError("crashed", "malformed reply from sandbox")
        self.last_output = {"stdout": _s(reply.get("stdout")), "stderr": _s(reply.get("stderr"))}
        if reply.get("ok") is True and "value" in reply:
            return reply["value"]
        self._raise_reply(reply)

    def _raise_reply(self, reply: Any) -> None:
        if not isinstance(reply, dict):
            raise StudentError("crashed", "malformed reply from sandbox")
        kind = reply.get("kind")
        if kind not in ERROR_KINDS:
            kind = "crashed"
        raise StudentError(kind, _s(reply.get("message")) or kind,
                           error_type=_s(reply.get("error_type")), traceback=_s(reply.get("traceback")),
                           stdout=_s(reply.get("stdout")), stderr=_s(reply.get("stderr")))

    def _ensure_alive(self) -> None:
        if self._h is None:
            self.start()
        if self._dead_reason is not None:
            raise StudentError("crashed", f"sandbox is dead ({self._dead_reason})")
        if self._h.known_exit() is not None:
            self._dead_reason = f"exited with {self._h.returncode}"
            raise StudentError("crashed", f"sandbox is dead ({self._dead_reason})")

    def _send(self, request: dict) -> None:
        try:
            data = wire.pack(request)
        except wire.WireError as exc:
            raise TypeError(f"argument cannot cross the sandbox boundary: {exc}") from exc
        view = memoryview(data)
        writable = True                  # the pipe is non-blocking: try first, wait only when it is full
        try:
            while view:
                if not writable:
                    remaining = self._deadline - time.monotonic()
                    if remaining <= 0:
                        self._kill("timeout")
                        raise StudentError("timeout", "submission time limit reached; sandbox killed")
                    _, ready, _ = select.select([], [self._h.wfd], [], remaining)
                    if not ready:
                        continue
                try:
                    view = view[os.write(self._h.wfd, view[: 1 << 16]):]
                    writable = True
                except BlockingIOError:
                    writable = False
        except OSError:   # BrokenPipeError: the worker is gone
            self._kill("stdin closed")
            raise StudentError("crashed", self._death_message()) from None

    def _read(self, deadline: float, what: str) -> Any:
        """Read one reply frame before ``deadline`` or kill the sandbox and raise."""
        fd = self._h.rfd
        while True:
            if len(self._buf) >= 4:
                n = int.from_bytes(self._buf[:4], "big")
                if n > wire.MAX_FRAME_BYTES:
                    self._kill("oversize frame")
                    raise StudentError("bad_output", f"sandbox reply of {n} bytes is too large")
                if n > wire.reply_limit():            # never decoded: dropped as it arrives
                    self._drop(4 + n, deadline, what)
                    raise StudentError("bad_output", f"the reply was {n} bytes, over the grader's limit of "
                                                     f"{wire.reply_limit()} bytes per call")
                if len(self._buf) >= 4 + n:
                    body = bytes(self._buf[4:4 + n])
                    del self._buf[:4 + n]
                    try:
                        return wire.decode(body)
                    except wire.WireError as exc:
                        self._kill("undecodable reply")
                        raise StudentError("bad_output", f"invalid reply from sandbox: {exc}") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                over_budget = time.monotonic() >= self._deadline
                self._kill("timeout")
                raise StudentError("timeout", f"{what} exceeded the "
                                   f"{'submission' if over_budget else 'time'} limit; sandbox killed")
            ready, _, _ = select.select([fd], [], [], min(remaining, _WATCH_INTERVAL_S))
            if not ready:
                self._check_memory()
                continue
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                self._kill("exited")
                raise StudentError(*self._death_kind())
            self._buf += chunk

    def _drop(self, n: int, deadline: float, what: str) -> None:
        """Read and discard the next ``n`` bytes of the reply stream (never more than 1 MiB held)."""
        taken = min(n, len(self._buf))
        del self._buf[:taken]
        n -= taken
        while n > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill("timeout")
                raise StudentError("timeout", f"{what} exceeded the time limit; sandbox killed")
            ready, _, _ = select.select([self._h.rfd], [], [], min(remaining, _WATCH_INTERVAL_S))
            if ready:
                chunk = os.read(self._h.rfd, min(n, 1 << 20))
                if not chunk:
                    self._kill("exited")
                    raise StudentError(*self._death_kind())
                n -= len(chunk)

    def _check_memory(self) -> None:
        """Kill the sandbox if all its processes together use more than the memory budget.

        RLIMIT_AS bounds each process; this bounds the sum (several forked processes each just
        under RLIMIT_AS could otherwise exhaust the host), including memory no RSS shows: memfd
        files and the sandbox's /tmp and /dev/shm. Polled while waiting for a reply, and before a
        request at most every ``_MEMORY_CHECK_EVERY_S`` (always before the first call after a load).
        """
        self._last_memory_check = time.monotonic()
        pids = self._pids()
        used = processes.rss_bytes(pids) + processes.unmapped_shared_bytes(pids, scratch=self.mode == "bwrap")
        limit = self.policy.max_total_memory_bytes + self._memory_allowance
        if used > limit:
            self._kill("memory")
            raise StudentError("memory", f"sandbox processes used {used >> 20} MiB in total "
                               f"(limit {limit >> 20} MiB); sandbox killed")
        if self.mode != "bwrap" and self.uid is None and len(pids) > self.policy.max_processes:
            # fallback as root: RLIMIT_NPROC is not enforced for uid 0, so count ourselves
            self._kill("too many processes")
            raise StudentError("crashed", f"sandbox started {len(pids)} processes (limit "
                               f"{self.policy.max_processes}); sandbox killed")

    def _pids(self) -> list[int]:
        """Host pids of every process of this sandbox (by uid, pid namespace or session id)."""
        if self.uid is not None:
            return processes.uid_processes(self.uid)
        if isinstance(self._h, _PopenHandle):
            if self.mode == "bwrap":       # unprivileged: the sandbox's own pid namespace
                return processes.namespace_processes(self._h.proc.pid)
            return processes.session_processes(self._h.proc.pid)
        return []

    def _death_kind(self) -> tuple[str, str]:
        rc = self._h.returncode if self._h else None
        msg = self._death_message()
        # bwrap reports a killed child as 128+signal; a bare process as -signal
        sig = -rc if rc is not None and rc < 0 else (rc - 128 if rc and rc > 128 else None)
        if sig in (signal.SIGXCPU,):
            return "timeout", f"CPU time limit exceeded ({self.policy.cpu_seconds} s); {msg}"
        if sig == signal.SIGKILL:
            return "crashed", f"killed (SIGKILL; possibly out of memory); {msg}"
        return "crashed", msg

    def _death_message(self) -> str:
        rc = self._h.returncode if self._h else None
        tail = self._h.stderr_tail() if self._h else ""
        return f"sandbox process ended (exit status {rc})" + (f": {tail}" if tail else "")

    def _kill(self, reason: str) -> None:
        if self._dead_reason is None:
            self._dead_reason = reason
        if self._h is None:
            return
        if self.mode != "bwrap" and self.uid is None and isinstance(self._h, _PopenHandle):
            sid = self._h.proc.pid         # forks that left the process group: kill by session id,
            end = time.monotonic() + 5     # repeatedly, since a fork loop may still be spawning
            while time.monotonic() < end:
                pids = processes.session_processes(sid)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.01)
        self._h.kill(died=reason in _DIED_BY_ITSELF)
        if self.mode != "bwrap" and self.uid is not None:
            processes.kill_uid(self.uid)

    # ------------------------------------------------------------------ command construction
    def _command(self) -> tuple[list[str], str, list[int]]:
        exe, base, site = layout.python_install()
        pol = self.policy
        self.uid = layout.new_uid()
        config: dict[str, Any] = {
            "rlimits": pol.rlimits(self.use_tensorflow),
            "output_cap": pol.max_output_bytes,
            "tensorflow": self.use_tensorflow,
        }
        student_files = layout.student_files(self.assignment_dir) if self.assignment_dir else []
        if self.mode == "bwrap":
            config.update(sys_path=[layout.WORK_IN, layout.WORKER_DIR_IN, *layout.site_plan()[1]],
                          unlist_paths=[layout.WORKER_DIR_IN], cwd=layout.WORK_IN)
            if privileged():
                config["drop_to"] = [self.uid, self.uid]
            else:    # separation by user/pid namespace; processes found by pid namespace
                self.uid = None
            binds = [(str(p), f"{layout.WORK_IN}/{p.name}") for p in student_files]
            if self.assignment_dir:
                binds_course = [(str(p), f"{layout.COURSE_IN}/{p.name}") for p in student_files]
            else:
                binds_course = []
            cmd = layout.bwrap_prefix(layout.WORK_IN, pol, binds + binds_course)
            env = layout.sandbox_env(layout.WORK_IN)
            for key, val in env.items():
                cmd += ["--setenv", key, val]
            sc_args, sc_fds = _seccomp_args(pol)
            cmd += sc_args
            cmd += [str(exe), "-I", "-S", f"{layout.WORKER_DIR_IN}/worker.py", json.dumps(config)]
            return cmd, "/", sc_fds
        # weaker modes: private scratch folder with links to the student files
        self._scratch = tempfile.TemporaryDirectory(prefix="deepgrade-sbx-")
        scratch = self._scratch.name
        for p in student_files:
            os.symlink(p, os.path.join(scratch, p.name))
        config.update(sys_path=[scratch, str(layout.HERE), str(site)], unlist_paths=[str(layout.HERE)],
                      cwd=scratch)
        # Drop to the fresh uid only if it can still read the interpreter, site-packages, the worker
        # and the student files (e.g. not when Python lives under /root, mode 0700).
        needed = [exe, base, site, layout.HERE] + student_files
        if os.geteuid() == 0 and all(layout.world_readable(p) for p in needed):
            os.chown(scratch, self.uid, self.uid)
            config["drop_to"] = [self.uid, self.uid]
        else:
            self.uid = None
        cmd = [str(exe), "-I", "-S", str(layout.HERE / "worker.py"), json.dumps(config)]
        if self.mode == "unshare":
            cmd = ["unshare", "--net", "--"] + cmd
        return cmd, scratch, []


# ================================================================================ helpers
def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _cell_dict(cell: Any) -> dict[str, Any]:
    if isinstance(cell, dict):
        index, source = cell.get("index"), cell.get("source")
    else:
        index, source = getattr(cell, "index", None), getattr(cell, "source", None)
    if isinstance(source, list):
        source = "".join(source)
    if not isinstance(index, int) or not isinstance(source, str):
        raise TypeError(f"a cell needs an int index and str source, got {cell!r:.100}")
    return {"index": index, "source": source}


def _cell_status(raw: Any) -> CellStatus:
    if not isinstance(raw, dict):
        return CellStatus(-1, "error", message="malformed cell status")
    index = raw.get("index")
    status = raw.get("status")
    duration = raw.get("duration_s")
    return CellStatus(
        index=index if isinstance(index, int) else -1,
        status=status if status in ("ok", "error", "timeout") else "error",
        error_type=_s(raw.get("error_type")), message=_s(raw.get("message")),
        traceback=_s(raw.get("traceback")), stdout=_s(raw.get("stdout")),
        stderr=_s(raw.get("stderr")),
        duration_s=float(duration) if isinstance(duration, (int, float)) else 0.0)


















