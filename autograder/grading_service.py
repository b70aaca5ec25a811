"""The warm grading service: one long-lived per-user process that has imported the grading code once and
forks a fresh child for each forwarded ``deepgrade grade`` (the client: ``service_client.py``).

A cold ``deepgrade grade`` spends ~3 s importing nbgrader, nbconvert, SQLAlchemy, our runner... before it
grades anything; through the service the command starts grading after ~0.1 s. The child runs exactly the
cold command's code (``autograder.cli.main``) with the client's argv, cwd, environment, umask and
descriptors 0/1/2, so it takes the course lock, opens the gradebook and forks its own pool as a cold
command would; its exit code is the client's.

What the service holds: imported modules and pure data (nbformat's compiled schema), frozen out of the
collector (``gc.freeze``). Never a thread, a pool, a zygote, a sandbox or a database connection: those
are created in each child. The service is single-threaded (``selectors``), so forking it is safe; it
never runs student code. It listens on a Unix socket in a 0700 folder of its user, refuses peers of
another uid (``SO_PEERCRED``), exits after ``idle_timeout`` seconds without a request, and exits when a
client's fingerprint differs from its own (the code or the environment changed since it started).
"""
from __future__ import annotations

import atexit
import fcntl
import gc
import importlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

from autograder import service_client as client
from autograder.service_client import LOG_NAME, PIDFILE_NAME, SOCKET_NAME, ServiceError

#: imported once in the service: what ``deepgrade grade`` imports before and while it grades (measured by
#: diffing ``sys.modules`` around a grading run of gradient_checking on 2 workers)
WARM_MODULES = ("autograder.cli", "autograder.runner", "autograder.engine", "autograder.nbgrader_plugin",
                "autograder.feedback_html", "autograder.checks.inputs", "concurrent.futures.process",
                "multiprocessing.connection", "multiprocessing.queues", "multiprocessing.synchronize",
                "multiprocessing.popen_fork", "sqlite3", "sqlalchemy.dialects.sqlite", "rich.progress",
                "difflib", "latex2mathml.converter", "nbformat.validator")
KILL_GRACE_S = 5.0             # SIGTERM to a child whose client went away; SIGKILL after this
START_TIMEOUT_S = 120.0


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {message}", file=sys.stderr, flush=True)


def _loggable(argv: list[str]) -> list[str]:
    """``argv`` without the value of ``--db-url`` (it may hold a password; the log file outlives it)."""
    out, hide = [], False
    for arg in argv:
        out.append("***" if hide else "--db-url=***" if arg.startswith("--db-url=") else arg)
        hide = arg == "--db-url"
    return out


def peer_allowed(cred: bytes, own_uid: int) -> bool:
    """Accept-side check: ``cred`` is the ``SO_PEERCRED`` value (struct ucred) of a connection."""
    _pid, uid, _gid = client._CRED.unpack(cred)
    return uid == own_uid


# --- the child: one forwarded command --------------------------------------------------------------


def _std_streams() -> None:
    """New ``sys.stdin/stdout/stderr`` over the received descriptors, buffered as Python's start-up
    makes them (line-buffered stdout on a terminal only, stderr always)."""
    # the encoding and error handler Python chose at start-up for the same locale (part of the fingerprint)
    enc, errors = (sys.__stdout__.encoding, sys.__stdout__.errors) if sys.__stdout__ else ("utf-8", "strict")
    sys.stdin = sys.__stdin__ = open(0, "r", encoding=enc, errors=errors, closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding=enc, errors=errors, closefd=False,
                                       buffering=1 if os.isatty(1) else -1)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding=enc, errors="backslashreplace", closefd=False,
                                       buffering=1)


def _reseed() -> None:
    """A cold process seeds NumPy's global generator from the OS; a forked one would share ours."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def run_child(req: dict, fds: list[int], service_fds: set[int]) -> int:
    """In the forked child: become the client's ``deepgrade`` process (its descriptors ``fds`` as 0, 1,
    2; the service's own ``service_fds`` closed) and run its command. Returns the exit code."""
    from autograder.cli import main
    from autograder.forksafe import die_with_parent

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    for sig in req.get("ignored_signals", ()):           # ignored by the client (nohup, a background job)
        if sig in client.FORWARDED_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    die_with_parent()                                  # the service dies: so does the command
    for fd in service_fds:
        os.close(fd)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(req["cwd"])
    os.umask(int(req["umask"]))
    os.environ.clear()
    os.environ.update(req["env"])
    sys.argv = [req["argv0"], *req["argv"]]
    _std_streams()
    _reseed()
    try:
        main.main(args=list(req["argv"]), standalone_mode=True)
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - what the interpreter prints for an uncaught exception
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - a closed terminal: the exit code still goes back
        pass
    return code


# --- the service loop ------------------------------------------------------------------------------


class _Conn:
    """One client connection: its read buffer, received descriptors and the child grading for it."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf, self.fds = sock, b"", []
        self.child: int | None = None
        self.kill_at: float | None = None

    def send(self, message: dict) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(json.dumps(message).encode() + b"\n")
            self.sock.setblocking(False)
        except OSError:
            pass

    def close_fds(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


class Service:
    def __init__(self, folder: str, idle_timeout: float, fingerprint: str):
        self.folder, self.idle_timeout, self.fingerprint = folder, idle_timeout, fingerprint
        self.pid, self.started_at, self.requests = os.getpid(), time.time(), 0
        self.last_activity = time.monotonic()
        self.stopping = False
        self.conns: dict[int, _Conn] = {}
        self.children: dict[int, _Conn] = {}
        self.sel = selectors.DefaultSelector()
        self.path = os.path.join(folder, SOCKET_NAME)
        old = os.umask(0o177)                          # the socket is born 0600
        try:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, "listen")
        self.wake_r, self.wake_w = socket.socketpair()
        for s in (self.wake_r, self.wake_w):
            s.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno())
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop_signal)
        with open(os.path.join(folder, PIDFILE_NAME), "w") as f:
            json.dump({"pid": self.pid, "started_at": self.started_at, "fingerprint": fingerprint}, f)

    def _on_stop_signal(self, signum, _frame) -> None:
        log(f"signal {signum}: stopping")
        self.stop_listening()

    def status(self) -> dict:
        return {"pid": self.pid, "started_at": self.started_at, "fingerprint": self.fingerprint,
                "requests": self.requests, "active": len(self.children), "children": sorted(self.children),
                "idle_timeout": self.idle_timeout,
                "log": os.path.join(self.folder, LOG_NAME), "python": sys.executable}

    def stop_listening(self) -> None:
        """No new requests (new clients run cold); the service exits when its running children are done."""
        if self.stopping:
            return
        self.stopping = True
        try:
            self.sel.unregister(self.listener)
        except (KeyError, ValueError):
            pass
        self.listener.close()
        client.remove_stale(self.folder)

    def serve(self) -> None:
        try:
            while not (self.stopping and not self.children):
                idle_left = self.idle_timeout - (time.monotonic() - self.last_activity)
                if not self.conns and not self.children and idle_left <= 0:
                    log(f"idle for {self.idle_timeout:g} s: exiting")
                    break
                for key, _ in self.sel.select(timeout=max(0.05, min(1.0, idle_left))):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        try:
                            self.wake_r.recv(4096)
                        except BlockingIOError:
                            pass
                    else:
                        self._readable(key.data)
                self._reap()
                self._escalate()
        finally:
            if os.getpid() == self.pid:
                self.stop_listening()
                log("stopped")

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, OSError):
            return
        cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, client._CRED.size)
        if not peer_allowed(cred, os.getuid()):
            log(f"refused a connection from uid {client._CRED.unpack(cred)[1]}")
            sock.close()
            return
        sock.setblocking(False)
        conn = _Conn(sock)
        self.conns[sock.fileno()] = conn
        self.sel.register(sock, selectors.EVENT_READ, conn)
        self.last_activity = time.monotonic()

    def _close(self, conn: _Conn) -> None:
        conn.close_fds()
        self.conns.pop(conn.sock.fileno(), None)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def _readable(self, conn: _Conn) -> None:
        try:
            data, fds, _flags, _addr = socket.recv_fds(conn.sock, 1 << 20, 3)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        conn.fds.extend(fds)
        if not data:                                      # the client went away
            if conn.child is not None:
                self._signal(conn, signal.SIGTERM)
                conn.kill_at = time.monotonic() + KILL_GRACE_S
                self.sel.unregister(conn.sock)
            else:
                self._close(conn)
            return
        conn.buf += data
        while b"\n" in conn.buf:
            line, conn.buf = conn.buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                self._close(conn)
                return
            self._handle(conn, msg)
            if conn.sock.fileno() < 0:
                return

    def _signal(self, conn: _Conn, sig: int) -> None:
        try:
            os.killpg(conn.child, sig)
        except ProcessLookupError:
            pass

    def _handle(self, conn: _Conn, msg: dict) -> None:
        op = msg.get("op")
        if "signal" in msg and conn.child is not None:
            sig = int(msg["signal"])
            if sig in client.FORWARDED_SIGNALS:
                self._signal(conn, sig)
        elif op == "status":
            conn.send(self.status())
            self._close(conn)
        elif op == "stop":
            log("stop requested")
            conn.send({"stopping": True, "pid": self.pid, "active": len(self.children)})
            self._close(conn)
            self.stop_listening()
        elif op == "grade" and conn.child is None:
            self._grade(conn, msg)
        else:
            conn.send({"error": f"unknown request {op!r}"})
            self._close(conn)

    def _grade(self, conn: _Conn, req: dict) -> None:
        self.last_activity = time.monotonic()
        if req.get("fingerprint") != self.fingerprint:
            log("a client's fingerprint differs from ours (code or environment changed; "
                "`deepgrade service status` says what): exiting")
            conn.send({"stale": True})
            self._close(conn)
            self.stop_listening()
            return
        if len(conn.fds) != 3 or self.stopping:
            conn.send({"error": "refused"})
            self._close(conn)
            return
        service_fds = {self.wake_r.fileno(), self.wake_w.fileno(), self.sel.fileno(), *self.conns,
                *(fd for other in self.conns.values() if other is not conn for fd in other.fds)}
        if not self.stopping:
            service_fds.add(self.listener.fileno())
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:                                      # the child: never returns into the loop
            code = 1
            try:
                os.setpgid(0, 0)
                code = run_child(req, conn.fds, service_fds)
            except BaseException:  # noqa: BLE001 - e.g. the client's folder is gone
                traceback.print_exc()
            finally:
                os._exit(code)
        try:
            os.setpgid(pid, pid)                          # both sides set it: no race with a signal
        except OSError:
            pass
        conn.close_fds()
        conn.child = pid
        self.children[pid] = conn
        self.requests += 1
        log(f"request {self.requests}: pid {pid} deepgrade {' '.join(_loggable(req['argv']))} (cwd {req['cwd']})")
        conn.send({"pid": pid})

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            self.last_activity = time.monotonic()
            if conn is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            log(f"pid {pid} exited {code}")
            conn.send({"exit": code} if code >= 0 else {"signal": -code})
            self._close(conn)

    def _escalate(self) -> None:
        now = time.monotonic()
        for conn in list(self.children.values()):
            if conn.kill_at is not None and now >= conn.kill_at:
                self._signal(conn, signal.SIGKILL)
                conn.kill_at = None


def warm_sandbox_checks() -> None:
    """The sandbox's self-tests (bubblewrap runs and hides trusted content; the seccomp filter works:
    ~0.3 s of every grading command), run once here so each forked command inherits their result.
    Only for the default bubblewrap mode: a weaker mode an instructor chose warns in every command's
    own terminal. A failing self-test is not kept: each command runs it again and reports it."""
    if os.environ.get("DEEPGRADE_SANDBOX", "").strip().lower() not in ("", "bwrap"):
        return
    try:
        from autograder.sandbox import launcher
        launcher.sandbox_mode()
        launcher.seccomp_active(launcher.SandboxPolicy())
    except Exception as exc:  # noqa: BLE001 - SandboxUnavailable, TrustedContentVisible...: the command says
        log(f"warm-up: sandbox self-test: {exc}")


def warm_up() -> None:
    """Import what grading needs, build nbformat's schema validator, then freeze the heap. Python threads
    are refused; the one native thread is OpenBLAS's pool, started by importing NumPy, which OpenBLAS
    stops around every fork (``pthread_atfork``), as in a cold command that forks its workers."""
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a missing optional piece: the child imports it itself
            log(f"warm-up: {name}: {exc}")
    try:
        sys.modules["nbformat.validator"].get_validator(version=4)
    except Exception as exc:  # noqa: BLE001
        log(f"warm-up: nbformat validator: {exc}")
    warm_sandbox_checks()
    try:            # the gradebook's ORM mappings (nbgrader's and ours): 0.1 s at every command's first query
        sys.modules["sqlalchemy.orm"].configure_mappers()
    except Exception as exc:  # noqa: BLE001
        log(f"warm-up: ORM mappers: {exc}")
    gc.collect()
    gc.freeze()
    if threading.active_count() != 1:
        raise RuntimeError(f"the warm-up left {threading.active_count() - 1} thread(s): forking is unsafe")


def serve_main(folder: str, idle_timeout: float, ready_fd: int) -> None:
    """The service process (started by :func:`start`): fingerprint, warm up, listen, report ready."""
    inputs = client.fingerprint_inputs()            # before importing: a later change makes us stale
    fp = client.fingerprint(inputs=inputs)
    with open(os.path.join(folder, client.INPUTS_NAME), "w") as f:
        json.dump(inputs, f, default=list)
    try:
        warm_up()
        service = Service(folder, idle_timeout, fp)
    except BaseException as exc:
        os.write(ready_fd, f"error {exc}\n".encode())
        raise
    log(f"ready: {sys.executable}, idle timeout {idle_timeout:g} s, fingerprint {fp[:12]}")
    os.write(ready_fd, f"ready {os.getpid()}\n".encode())
    os.close(ready_fd)
    service.serve()


#: the service's interpreter: ``sys.path`` is the starting client's (given one entry a line) before anything
#: but the built-in ``sys`` is imported; no ``-P``, which child processes would inherit through the flags
BOOT = ("import sys; sys.path[:] = sys.argv[1].split('\\n'); "
        "from autograder.grading_service import serve_main; "
        "serve_main(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))")


def start(idle_timeout: float = 1800.0) -> tuple[dict, bool]:
    """Start this user's service in the background unless a fresh one runs (a stale one is stopped);
    returns (its status, started now).
    Raises ServiceError if it could not start (its log's last lines in the message)."""
    folder = client.private_dir(create=True)
    with open(os.path.join(folder, client.START_LOCK_NAME), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = client.request("status")
        if running is not None:
            changed = client.stale_because(running)
            if not changed:
                return running, False
            print(f"stopping the stale grading service {running['pid']} ({', '.join(changed[:3])} changed)",
                  file=sys.stderr)
            stop()
        client.remove_stale(folder)
        log_path = os.path.join(folder, LOG_NAME)
        read_fd, write_fd = os.pipe()
        with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-c", BOOT, "\n".join(client.startup_path()), folder, str(idle_timeout),
                 str(write_fd)],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, pass_fds=(write_fd,),
                start_new_session=True, cwd="/")
        os.close(write_fd)
        answer, deadline = b"", time.monotonic() + START_TIMEOUT_S
        with os.fdopen(read_fd, "rb") as pipe:
            while b"\n" not in answer and time.monotonic() < deadline:
                if select.select([pipe], [], [], 1.0)[0]:
                    chunk = os.read(pipe.fileno(), 4096)
                    if not chunk:
                        break
                    answer += chunk
        if not answer.startswith(b"ready"):
            if proc.poll() is None:
                proc.kill()
            raise ServiceError(f"the grading service did not start: {answer.decode(errors='replace').strip()}"
                               f"\n{_tail(log_path)}")
        status = client.request("status")
        if status is None:
            raise ServiceError(f"the grading service started but does not answer\n{_tail(log_path)}")
        return status, True


def stop(timeout: float = 30.0) -> dict | None:
    """Ask the running service to stop (it finishes running commands first) and wait up to ``timeout``
    seconds for it to exit. None if none runs; else its reply with ``exited`` (bool)."""
    reply = client.request("stop")
    if reply is None:
        return None
    deadline = time.monotonic() + timeout
    reply["exited"] = False
    while time.monotonic() < deadline and not reply["exited"]:
        try:
            reply["exited"] = bool(os.waitpid(reply["pid"], os.WNOHANG)[0])   # started by this process
        except ChildProcessError:
            reply["exited"] = not os.path.exists(f"/proc/{reply['pid']}")
        time.sleep(0 if reply["exited"] else 0.05)
    return reply


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


__all__ = ["Service", "ServiceError", "peer_allowed", "run_child", "serve_main", "start", "stop", "warm_up"]
