"""The thin client of the warm grading service (``deepgrade service``; the service: ``grading_service.py``).

Standard library only, and nothing of deepgrade's heavy modules: ``deepgrade grade`` pays this module
(~0.02 s) instead of ~3 s of imports before it knows whether a service can take the command.

* Where: a private per-user folder (:func:`service_dir`: ``$DEEPGRADE_SERVICE_DIR``, else
  ``$XDG_RUNTIME_DIR/deepgrade``, else ``~/.cache/deepgrade``), mode 0700 and ours, holding the Unix socket
  (0600), the pid file and the service's log. Both ends check the other's uid (``SO_PEERCRED``).
* Freshness: :func:`fingerprint` hashes what a process's imported state depends on (interpreter, its
  ``sys.path`` and those folders' mtimes, deepgrade's version, every file of our packages (code, and data read at import) by mtime
  and size, the environment variables read at import time, uid/gid/groups, resource limits). The service
  computes it when it starts, each client before it forwards; they must be equal.
* Protocol: newline-separated JSON over the stream socket. A grade request carries argv, cwd, environment,
  umask and fingerprint, with the client's descriptors 0, 1, 2 (``SCM_RIGHTS``). Replies: ``{"pid": n}``
  (the child grading it), then ``{"exit": code}`` or ``{"signal": n}``; or ``{"stale": true}`` (the service
  then exits; the client runs the command itself). The client forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT as
  ``{"signal": n}``; the service sends them to the child's process group.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import resource
import signal
import socket
import struct
import sys

SERVICE_ENV = "DEEPGRADE_SERVICE"           # "off": never forward
DIR_ENV = "DEEPGRADE_SERVICE_DIR"
SOCKET_NAME, PIDFILE_NAME, LOG_NAME = "grading.sock", "grading.pid", "grading.log"
START_LOCK_NAME = "start.lock"              # held by `deepgrade service start` while it starts one
INPUTS_NAME = "fingerprint.json"            # the service's fingerprint inputs: which one changed
PACKAGES = ("autograder", "reference", "quizzes")
#: environment variables a process reads while importing (ours, Python's, BLAS/OpenMP thread counts,
#: matplotlib, Jupyter paths, Dask's config, TensorFlow, locale, temporary folder); compared by value
ENV_PREFIXES = ("DEEPGRADE_", "PYTHON", "OMP_", "OPENBLAS_", "MKL_", "KMP_", "NUMEXPR_", "VECLIB_", "MPL",
                "JUPYTER", "JPY_", "IPYTHON", "NBGRADER", "TF_", "DASK_", "SQLALCHEMY", "LC_")
ENV_NAMES = ("PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR", "TEMP", "TMP", "VIRTUAL_ENV", "XDG_CONFIG_HOME",
             "XDG_CACHE_HOME", "XDG_DATA_HOME")
ENV_IGNORED = (SERVICE_ENV, DIR_ENV)        # where the service is, and whether to use it: not its state
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_CRED = struct.Struct("3i")                 # struct ucred: pid, uid, gid


class ServiceError(RuntimeError):
    """The service folder is unsafe, or the service broke off a request."""


# --- where ---------------------------------------------------------------------------------------


def service_dir(environ=os.environ) -> str:
    if environ.get(DIR_ENV):
        return os.path.abspath(environ[DIR_ENV])
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "deepgrade")
    return os.path.join(os.path.expanduser("~"), ".cache", "deepgrade")


def private_dir(create: bool = False, environ=os.environ) -> str:
    """The service folder, checked: a real directory (no symlink), owned by us, mode 0700 (created so
    with ``create``). Raises :class:`ServiceError` otherwise (FileNotFoundError if absent)."""
    path = service_dir(environ)
    if create:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    st = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path):
        raise ServiceError(f"{path} is not a directory")
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ServiceError(f"{path} must be owned by uid {os.getuid()} with mode 0700 "
                           f"(is uid {st.st_uid}, mode {st.st_mode & 0o777:o}): not using it")
    return path


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket (``SO_PEERCRED``)."""
    return _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))[1]


# --- freshness -----------------------------------------------------------------------------------


def installed_version(path) -> str | None:
    """deepgrade's version from its ``.dist-info``/``.egg-info`` folder name on ``path`` (what
    importlib.metadata reads, without its ~0.05 s import)."""
    for entry in path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in sorted(names):
            if name.startswith("deepgrade-") and name.endswith((".dist-info", ".egg-info")):
                return name[len("deepgrade-"):].rsplit(".", 1)[0]
    return None


def package_dirs() -> list[str]:
    """Folders of our installed packages, found without importing them (their ``__init__`` aside)."""
    dirs = []
    for name in PACKAGES:
        spec = sys.modules[name].__spec__ if name in sys.modules else importlib.util.find_spec(name)
        if spec is not None:
            dirs.extend(spec.submodule_search_locations or ())
    return sorted(set(dirs))


def package_files(dirs) -> list:
    """[path, mtime_ns, size] of every file under ``dirs`` but compiled ones: the code, and the data some
    modules read at import (reference/assignments/*.toml, quizzes' YAML, templates)."""
    out = []
    for top in dirs:
        for folder, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for name in sorted(files):
                if not name.endswith((".pyc", ".pyo")):
                    p = os.path.join(folder, name)
                    try:
                        st = os.stat(p)
                    except OSError:
                        continue
                    out.append([p, st.st_mtime_ns, st.st_size])
    return out


def tracked_env(environ=os.environ) -> dict:
    return {k: v for k, v in environ.items()
            if (k.startswith(ENV_PREFIXES) or k in ENV_NAMES) and k not in ENV_IGNORED}


def _mtime(path: str):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def startup_path() -> list[str]:
    """``sys.path`` before the heavy imports (which append to it): the console script's, else ours."""
    entry = sys.modules.get("autograder.entry")
    return list(getattr(entry, "STARTUP_PATH", sys.path))


def fingerprint_inputs(path=None, environ=os.environ) -> dict:
    path = [os.path.abspath(p) if p == "" or not os.path.isabs(p) and os.path.exists(p) else p
            for p in (startup_path() if path is None else path)]     # '' and relative folders: the cwd's
    limits = {name: resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
              if name.startswith("RLIMIT_")}
    return {"python": sys.executable, "version": sys.version, "deepgrade": installed_version(path),
            "path": path, "path_mtimes": [_mtime(p) for p in path], "files": package_files(package_dirs()),
            "env": tracked_env(environ), "ids": [os.getuid(), os.getgid(), sorted(os.getgroups())],
            "rlimits": limits}


def fingerprint(path=None, environ=os.environ, inputs=None) -> str:
    """sha256 of :func:`fingerprint_inputs`: equal in a client and the service iff the service's imported
    state is what the client would import itself."""
    inputs = fingerprint_inputs(path, environ) if inputs is None else inputs
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=list).encode()).hexdigest()


def changed_inputs(recorded: dict, current: dict) -> list[str]:
    """Names of the fingerprint inputs that differ (for files and environment variables: which ones)."""
    out = []
    for key in sorted(set(recorded) | set(current)):
        a, b = recorded.get(key), current.get(key)
        if key == "files" and a != b:
            was, now = {f[0]: f[1:] for f in a or ()}, {f[0]: f[1:] for f in b or ()}
            out += [f"file {p}" for p in sorted(set(was) | set(now)) if was.get(p) != now.get(p)]
        elif key == "env" and a != b:
            out += [f"${k}" for k in sorted(set(a or {}) | set(b or {})) if (a or {}).get(k) != (b or {}).get(k)]
        elif json.loads(json.dumps(a, default=list)) != json.loads(json.dumps(b, default=list)):
            out.append(key)
    return out


# --- talking to the service ----------------------------------------------------------------------


def _lines(sock: socket.socket):
    """Yield the JSON messages the service sends, until it closes the connection."""
    buf = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield json.loads(line)


def remove_stale(folder: str) -> None:
    for name in (SOCKET_NAME, PIDFILE_NAME):
        try:
            os.unlink(os.path.join(folder, name))
        except FileNotFoundError:
            pass


def _remove_unless_starting(folder: str) -> None:
    """Remove a dead service's socket and pid file, unless ``deepgrade service start`` is running (it
    holds ``start.lock``; its new socket may be bound and not yet listening)."""
    try:
        with open(os.path.join(folder, START_LOCK_NAME), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            remove_stale(folder)
    except OSError:
        pass


def connect(timeout: float | None = 5.0) -> socket.socket | None:
    """A connection to this user's running service, or None (none running; a dead one's socket and pid
    file are removed). The service must run under our own uid."""
    try:
        folder = private_dir()
    except (OSError, ServiceError):
        return None
    path = os.path.join(folder, SOCKET_NAME)
    if not os.path.exists(path):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):    # nobody listens: a dead service's leftovers
        sock.close()
        _remove_unless_starting(folder)
        return None
    except OSError:
        sock.close()
        return None
    if peer_uid(sock) != os.getuid():
        sock.close()
        return None
    return sock


def request(op: str, **fields) -> dict | None:
    """One control request (``status``, ``stop``) to the running service: its reply, or None."""
    sock = connect()
    if sock is None:
        return None
    with sock:
        try:
            sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            return next(_lines(sock), None)
        except OSError:
            return None


def forward(argv: list[str]) -> int | None:
    """Have the running service grade ``deepgrade`` ``argv`` with our cwd, environment and terminal.
    Returns the exit code, or None when no fresh service is available (the caller runs it itself)."""
    if os.environ.get(SERVICE_ENV, "").lower() in ("off", "0", "no", "false") or "--no-service" in argv:
        return None
    sock = connect()
    if sock is None:
        return None
    received, accepted = [], []            # our signals; whether the service took the command

    def pass_on(signum, _frame):
        received.append(signum)
        if accepted:
            _send_signal(sock, signum)

    ignored = [s for s in FORWARDED_SIGNALS if signal.getsignal(s) == signal.SIG_IGN]   # e.g. nohup, `&`
    previous = {s: signal.signal(s, pass_on) for s in FORWARDED_SIGNALS if s not in ignored}
    try:
        try:
            cwd = os.getcwd()
            mask = os.umask(0o022)
            os.umask(mask)
            message = json.dumps({"op": "grade", "argv": argv, "argv0": sys.argv[0], "cwd": cwd,
                                  "env": dict(os.environ), "umask": mask,
                                  "ignored_signals": ignored, "fingerprint": fingerprint()}).encode() + b"\n"
            sent = socket.send_fds(sock, [message], [0, 1, 2])
            sock.sendall(message[sent:])
            sock.settimeout(None)
            replies = _lines(sock)
            first = next(replies, None)
        except OSError:
            first = None
        if first is None or "pid" not in first:    # stale (the service exits) or refused: run it here
            return None
        accepted.append(first["pid"])
        for signum in received:                    # arrived while the service was forking
            _send_signal(sock, signum)
        code = _follow(replies, first["pid"], received)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()
        if not accepted:
            for signum in received:                # not forwarded: ours to act on, as without a service
                os.kill(os.getpid(), signum)
    if code > 128 and code - 128 in received:      # our signal ended the child: end us the same way
        signal.signal(code - 128, signal.SIG_DFL)
        os.kill(os.getpid(), code - 128)
    return code


def _send_signal(sock: socket.socket, signum: int) -> None:
    try:
        sock.sendall(json.dumps({"signal": signum}).encode() + b"\n")
    except OSError:
        pass


def _follow(replies, child: int, forwarded: list[int]) -> int:
    """Wait for the service's child ``child`` to end; its exit code becomes ours."""
    try:
        for reply in replies:
            if "exit" in reply:
                return int(reply["exit"])
            if "signal" in reply:
                sig = int(reply["signal"])
                if sig not in forwarded:
                    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
                    print(f"deepgrade: the grading process (pid {child}) of the grading service was killed "
                          f"by {name}. Nothing half-graded is kept: the next `deepgrade grade` grades what "
                          f"this one did not record.", file=sys.stderr)
                return 128 + sig
    except OSError:
        pass
    print(f"deepgrade: the grading service stopped while it ran this command (its process {child} is ended "
          f"with it). Nothing half-graded is kept: run the command again (`--no-service` grades in this "
          f"process).", file=sys.stderr)
    return 75                      # EX_TEMPFAIL: infrastructure, try again


def stale_because(status: dict) -> list[str]:
    """What differs between the running service (``status``) and this process: [] when it is fresh."""
    current = fingerprint_inputs()
    if fingerprint(inputs=current) == status["fingerprint"]:
        return []
    try:
        with open(os.path.join(private_dir(), INPUTS_NAME)) as f:
            return changed_inputs(json.load(f), current) or ["fingerprint"]
    except (OSError, ValueError, ServiceError):
        return ["fingerprint"]
