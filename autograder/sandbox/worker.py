"""Sandbox worker: runs INSIDE the sandbox and executes untrusted student code.

Started as ``python -I -S worker.py <config-json>`` by :mod:`autograder.sandbox.launcher`. Imports only
the standard library, numpy and :mod:`wire` (TensorFlow only when the config enables it).

Protocol (see wire.py for the frame format):

* requests arrive on the original stdin, replies leave on the original stdout. Both descriptors are
  duplicated to private, close-on-exec fds at start-up; fd 0 is then pointed at /dev/null and fds 1/2
  at in-memory capture files, and ``sys.stdout``/``sys.stderr`` at size-capped buffers -- so nothing
  a student prints can ever land in the reply stream.
* the first reply is ``{"ok": True, "hello": {...}}`` once start-up (numpy/TF import) is done.
* ops: ``load``, ``call``, ``get``, ``defined``, ``ping``. ``load`` streams ``{"event": "preamble"}``
  and then one ``{"event": "cell"}`` frame per cell before its final reply, so the trusted side can
  give every cell its own deadline and knows which cell hung if it must kill us.
* zygote mode (``{"zygote": true}``): import numpy, the modules in ``preload`` (+ TensorFlow) once,
  then fork one child per request on a control socket; each child gets the namespaces, scratch,
  files, rlimits, uid and seccomp filter of a fresh sandbox (see :func:`zygote_loop` and
  autograder/sandbox/zygote.py).

Student code runs in this process, so it *could* write to the reply fd deliberately; the trusted side
therefore treats every reply as untrusted data and re-validates it (it only ever contains data the
student controls anyway). Everything the worker itself needs is bound at import time, before any
student code runs, so monkeypatching numpy/json/builtins from a cell does not change the worker.
"""
import builtins as _builtins_mod
import json as _json
import os as _os
import signal as _signal
import sys as _sys

_CONFIG = _json.loads(_sys.argv[1]) if len(_sys.argv) > 1 else {}
_sys.argv = [""]                 # as in a notebook kernel: student code sees no worker arguments
_sys.dont_write_bytecode = True
for _p in reversed(_CONFIG.get("sys_path", [])):
    if _p not in _sys.path:
        _sys.path.insert(0, _p)

import io as _io  # noqa: E402
import linecache as _linecache  # noqa: E402
import re as _re  # noqa: E402
import resource as _resource  # noqa: E402
import time as _time  # noqa: E402
import types as _types  # noqa: E402
import traceback as _traceback  # noqa: E402

# ------------------------------------------------------------------ start-up of one worker
_REQ_FD = _REPLY_FD = _FD_OUT = _FD_ERR = -1


def _apply_rlimits(limits):
    for name, (soft, hard) in limits.items():
        res = getattr(_resource, name)
        cur_hard = _resource.getrlimit(res)[1]
        if cur_hard != _resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
        _resource.setrlimit(res, (min(soft, hard), hard))


def _bootstrap(cfg, req_fd, reply_fd):
    """Make this process a worker: private protocol fds, capture fds, rlimits, uid drop, cwd.

    Runs before any student code. ``req_fd``/``reply_fd`` are the trusted side's pipes; they are
    duplicated to close-on-exec descriptors and fds 0/1/2 are pointed elsewhere, so neither prints
    nor child processes can touch the protocol stream by accident.
    """
    global _REQ_FD, _REPLY_FD, _FD_OUT, _FD_ERR, OUTPUT_CAP
    _REQ_FD = _os.dup(req_fd)        # os.dup() returns non-inheritable (close-on-exec) descriptors
    _REPLY_FD = _os.dup(reply_fd)
    devnull = _os.open(_os.devnull, _os.O_RDONLY)
    _os.dup2(devnull, 0)
    _os.close(devnull)
    _FD_OUT = _os.memfd_create("dg-stdout", 0)
    _FD_ERR = _os.memfd_create("dg-stderr", 0)
    _os.dup2(_FD_OUT, 1)
    _os.dup2(_FD_ERR, 2)
    for fd in (req_fd, reply_fd):
        if fd > 2:
            _os.close(fd)
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)   # oversize writes fail with EFBIG, not a kill
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    _apply_rlimits(cfg.get("rlimits", {}))
    drop = cfg.get("drop_to")
    if drop:
        _os.setgroups([])
        _os.setgid(int(drop[1]))
        _os.setuid(int(drop[0]))        # from uid 0: also drops every capability
        if _os.getuid() == 0 or _os.geteuid() == 0:   # pragma: no cover - defensive
            _os._exit(97)
    if cfg.get("seccomp"):               # zygote child: the filter bwrap gives other sessions
        _install_seccomp(bytes.fromhex(cfg["seccomp"]))
    _os.umask(0o077)
    workdir = cfg.get("cwd")
    if workdir:
        _os.chdir(workdir)
        if workdir not in _sys.path:
            _sys.path.insert(0, workdir)
    OUTPUT_CAP = int(cfg.get("output_cap", OUTPUT_CAP))


_LIBC = []


def _libc():
    """(ctypes, libc), loaded once (the zygote loads it before forking; fresh workers on demand)."""
    if not _LIBC:
        import ctypes
        _LIBC.extend((ctypes, ctypes.CDLL(None, use_errno=True)))
    return _LIBC[0], _LIBC[1]


_SOCK_FPROG = []


def _sock_fprog():
    """ctypes ``struct sock_fprog``, defined once (the zygote defines it before forking: a ctypes
    structure class costs every child ~0.1 ms to make)."""
    if not _SOCK_FPROG:
        ctypes, _libc_ = _libc()

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
        _SOCK_FPROG.append(SockFprog)
    return _SOCK_FPROG[0]


def _install_seccomp(program):
    """Load a classic-BPF seccomp filter (``struct sock_filter`` array) for this process."""
    ctypes, libc = _libc()
    prog = _sock_fprog()(len(program) // 8, program)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0 or \
            libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(prog), 0, 0) != 0:
        _os._exit(96)                    # never run student code without the filter


OUTPUT_CAP = 64 * 1024
_ZYGOTE = bool(_CONFIG.get("zygote"))
if not _ZYGOTE:
    _bootstrap(_CONFIG, 0, 1)

import numpy as _np  # noqa: E402

import wire as _wire  # noqa: E402  (found via sys_path; the launcher mounts it beside us)

for _p in _CONFIG.get("unlist_paths", []):   # the worker's own dir: students need not import us
    while _p in _sys.path:
        _sys.path.remove(_p)

_TF = None
if _CONFIG.get("tensorflow"):
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as _TF  # noqa: E402,F811

# private references captured before student code runs
_np_seed = _np.random.seed
_np_RandomState = _np.random.RandomState
_np_asarray = _np.asarray
_ndarray = _np.ndarray
_np_generic = _np.generic
_write_frame = _wire.write_frame
_read_frame = _wire.read_frame
_WireError = _wire.WireError
_encode = _wire.encode
_exec = _builtins_mod.exec
_compile = _builtins_mod.compile
_callable = _builtins_mod.callable
_isinstance = _builtins_mod.isinstance
_type = type
_str, _int, _float, _bool = str, int, float, bool
_list, _tuple, _dict, _len, _repr, _bytes = list, tuple, dict, len, repr, bytes
_BaseException = BaseException
_monotonic = _time.monotonic
_setitimer = _signal.setitimer
_os_read, _os_lseek, _os_ftruncate = _os.read, _os.lseek, _os.ftruncate
_format_exception_only = _traceback.format_exception_only
_extract_tb = _traceback.extract_tb
import random as _random_mod  # noqa: E402
_py_seed = _random_mod.seed

MESSAGE_CAP = 2000


# ------------------------------------------------------------------ output capture
class _CappedWriter(_io.TextIOBase):
    """A text stream that keeps the first ``cap`` characters and silently drops the rest."""

    def __init__(self, cap):
        self._cap = cap
        self._parts = []
        self._size = 0
        self.truncated = False

    def writable(self):
        return True

    def write(self, s):
        s = _str(s)
        room = self._cap - self._size
        if room > 0:
            piece = s[:room]
            self._parts.append(piece)
            self._size += _len(piece)
        if _len(s) > max(room, 0):
            self.truncated = True
        return _len(s)

    def flush(self):
        pass

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"

    def getvalue(self):
        return "".join(self._parts)

    @property
    def buffer(self):
        """Binary view (``sys.stdout.buffer.write(b"...")``), decoded into the same capped text."""
        return _BinaryView(self)


class _BinaryView:
    def __init__(self, text):
        self._text = text

    def write(self, b):
        self._text.write(_bytes(b).decode("utf-8", "replace"))
        return _len(b)

    def flush(self):
        pass


def _drain_fd(fd, cap):
    """Read up to ``cap`` bytes written to a capture memfd, then empty it."""
    try:
        size = _os_lseek(fd, 0, _os.SEEK_END)
        if not size:                 # the usual case: nothing written (one system call, not five)
            return ""
        _os_lseek(fd, 0, _os.SEEK_SET)
        data = _os_read(fd, min(size, cap))
        _os_ftruncate(fd, 0)
        _os_lseek(fd, 0, _os.SEEK_SET)
        text = data.decode("utf-8", "replace")
        return text + ("\n[... output truncated]" if size > cap else "")
    except OSError:
        return ""


class _Capture:
    """Per-op capture of sys.stdout/sys.stderr (Python level) and fds 1/2 (C level)."""

    def __enter__(self):
        self.out = _CappedWriter(OUTPUT_CAP)
        self.err = _CappedWriter(OUTPUT_CAP)
        _sys.stdout, _sys.stderr = self.out, self.err
        return self

    def __exit__(self, *exc):
        _sys.stdout = _sys.__stdout__ = self.out
        _sys.stderr = _sys.__stderr__ = self.err
        return False

    def result(self):
        out = self.out.getvalue() + ("\n[... output truncated]" if self.out.truncated else "")
        err = self.err.getvalue() + ("\n[... output truncated]" if self.err.truncated else "")
        fd_out = _drain_fd(_FD_OUT, OUTPUT_CAP)
        fd_err = _drain_fd(_FD_ERR, OUTPUT_CAP)
        return {"stdout": (out + fd_out)[: OUTPUT_CAP + 40], "stderr": (err + fd_err)[: OUTPUT_CAP + 40]}


# ------------------------------------------------------------------ IPython syntax neutralizer
_PY_BODY_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_SHELL_ASSIGN = _re.compile(r"^(\s*[A-Za-z_][\w\s,\.\[\]]*=\s*)[!%]")
_HELP_LINE = _re.compile(r"^\s*[?]*[A-Za-z_][\w\.]*\s*\?{1,2}\s*$")


def _scan_line(line, state):
    """Advance the (bracket depth, open string delimiter) state over one physical line."""
    depth, in_str = state
    i, n = 0, _len(line)
    while i < n:
        ch = line[i]
        if in_str:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(in_str, i):
                i += _len(in_str)
                in_str = None
                continue
            i += 1
            continue
        if ch == "#":
            break
        if ch in "\"'":
            triple = line[i:i + 3]
            if triple in ('"""', "'''"):
                in_str = triple
                i += 3
                continue
            in_str = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    if in_str in ('"', "'"):          # a single-quoted string cannot span lines
        in_str = None
    return depth, in_str


def neutralize_ipython(source):
    """Rewrite IPython-only syntax into harmless Python, keeping line numbers.

    Valid Python is returned unchanged (``get_ipython()`` itself resolves to a no-op stub in the
    namespace). Otherwise, at the start of a logical line (not inside brackets, a string or after a
    backslash): ``%line`` magics, ``!shell`` lines and ``obj?`` help become ``pass``; ``x = !cmd`` /
    ``x = %magic`` become ``x = None``. A ``%%magic`` cell keeps its Python body for
    %%time/%%timeit/%%capture/%%prun and is blanked otherwise.
    """
    try:
        _compile(source, "<check>", "exec")
        return source
    except _BaseException:
        pass
    lines = source.split("\n")
    first = lines[0].lstrip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(None, 1)[0] if first[2:].strip() else ""
        if magic in _PY_BODY_CELL_MAGICS:
            lines[0] = "pass"
        else:
            return "\n".join("pass" if i == 0 else "" for i in range(_len(lines)))
    out = []
    state = (0, None)
    continued = False
    for line in lines:
        at_start = state == (0, None) and not continued
        stripped = line.lstrip()
        indent = line[: _len(line) - _len(stripped)]
        if at_start:
            if stripped.startswith(("%", "!")):
                out.append(indent + "pass")
                continue
            m = _SHELL_ASSIGN.match(line)
            if m and "==" not in m.group(1):
                out.append(m.group(1) + "None")
                continue
            if _HELP_LINE.match(line):
                out.append(indent + "pass")
                continue
        out.append(line)
        state = _scan_line(line, state)
        continued = state[1] is None and line.rstrip().endswith("\\")
    return "\n".join(out)


class _NoOp:
    """Stand-in for the IPython shell: every attribute is a callable returning itself."""

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __bool__(self):
        return False


_NOOP = _NoOp()


# ------------------------------------------------------------------ timeouts inside the worker
class CellTimeout(_BaseException):
    """Raised by SIGALRM when a cell exceeds its time budget (BaseException: harder to swallow)."""


def _on_alarm(signum, frame):
    _setitimer(_signal.ITIMER_REAL, 0.2)   # keep firing if the cell swallows it
    raise CellTimeout()


_signal.signal(_signal.SIGALRM, _on_alarm)


def _disarm():
    _setitimer(_signal.ITIMER_REAL, 0)


# ------------------------------------------------------------------ builtins guard
_BUILTINS_SNAPSHOT = _dict(_builtins_mod.__dict__)
_BUILTIN_NAMES = _tuple(_BUILTINS_SNAPSHOT)
_BUILTIN_VALUES = _tuple(_BUILTINS_SNAPSHOT.values())
_any, _map = any, map
from operator import is_not as _is_not  # noqa: E402


def _restore_builtins():
    """Undo student monkeypatching of builtins (isinstance, len, ...) before the worker runs again.

    Stdlib code the worker relies on looks builtins up at call time, so a patched ``isinstance``
    would otherwise break the worker itself. Names students *added* are left alone. Runs ~3 times per
    call: the usual case (nothing patched) is one identity comparison per name in C (~3 µs instead of
    ~20 µs).
    """
    d = _builtins_mod.__dict__
    if not _any(_map(_is_not, _map(d.get, _BUILTIN_NAMES), _BUILTIN_VALUES)):
        return
    for k, v in _dict.items(_BUILTINS_SNAPSHOT):
        if _dict.get(d, k) is not v:
            _dict.__setitem__(d, k, v)


# ------------------------------------------------------------------ errors and plain data
def _short(text, cap=MESSAGE_CAP):
    text = _str(text)
    return text if _len(text) <= cap else text[:cap] + "...[truncated]"


def _describe(exc):
    """(type name, message, student-frame traceback) for an exception raised by student code."""
    try:
        name = _type(exc).__name__
        message = _short("".join(_format_exception_only(_type(exc), exc)).strip())
        frames = [f for f in _extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
        tb = "\n".join(f'  {f.filename}, line {f.lineno}, in {f.name}: {(f.line or "").strip()}'
                       for f in frames[-8:])
        return name, message, _short(tb)
    except _BaseException:  # the exception object itself may be hostile
        return "Exception", "<unprintable exception>", ""


class BadOutput(Exception):
    pass


def to_plain(value, depth=0):
    """Convert a student value into wire-encodable plain data, or raise BadOutput."""
    if depth > 64:
        raise BadOutput("value nested too deeply")
    t = _type(value)
    if value is None or t in (_bool, _int, _float, _str):
        return value
    if _isinstance(value, _ndarray):
        arr = _np_asarray(value)
        if arr.dtype.kind not in "biufc":
            raise BadOutput(f"numpy array of dtype {arr.dtype} (numeric arrays only)")
        return _ndarray.copy(arr)
    if _isinstance(value, _np_generic):
        if value.dtype.kind not in "biufc":
            raise BadOutput(f"numpy scalar of dtype {value.dtype}")
        return value
    if _isinstance(value, _bool):
        return _bool(value)
    if _isinstance(value, _int):
        return _int.__index__(value)
    if _isinstance(value, _float):
        return _float.__float__(value)
    if _isinstance(value, _str):
        return _str.__str__(value)
    if _isinstance(value, _tuple):
        return _tuple(to_plain(v, depth + 1) for v in _tuple.__iter__(value))
    if _isinstance(value, _list):
        return [to_plain(v, depth + 1) for v in _list.__iter__(value)]
    if _isinstance(value, _dict):
        out = {}
        for k, v in _dict.items(value):
            if _type(k) is not _str:
                raise BadOutput(f"dict key {_short(_repr(k), 80)} of type {_type(k).__name__} "
                                "(only str keys allowed)")
            out[k] = to_plain(v, depth + 1)
        return out
    numpy_method = getattr(t, "numpy", None)
    if _callable(numpy_method):
        return to_plain(_np_asarray(value.numpy()), depth + 1)
    raise BadOutput(f"returned a {t.__module__}.{t.__qualname__}, expected plain data "
                    "(numbers, str, numpy arrays, lists/tuples/dicts of them)")


def _materialize(value):
    """Turn TensorFlow markers in call arguments into tf.Variable / tf.constant.

    ``{"__tf_variable__": a}`` -> ``tf.Variable``; ``{"__tf_constant__": a}`` and
    ``{"__tf_tensor__": a}`` -> ``tf.constant``. Float arrays become float32.
    """
    t = _type(value)
    if t is _dict:
        if _len(value) == 1:
            (k, v), = value.items()
            if k in ("__tf_variable__", "__tf_constant__", "__tf_tensor__"):
                if _TF is None:
                    raise ValueError(f"{k} argument needs a TensorFlow session")
                arr = _np_asarray(v)
                if arr.dtype.kind == "f":
                    arr = arr.astype("float32")
                return _TF.Variable(arr) if k == "__tf_variable__" else _TF.constant(arr)
        return {k: _materialize(v) for k, v in value.items()}
    if t is _list:
        return [_materialize(v) for v in value]
    if t is _tuple:
        return _tuple(_materialize(v) for v in value)
    return value


# ------------------------------------------------------------------ the namespace and ops
# Like Jupyter, the student namespace IS the __main__ module (``import __main__`` gives the student
# namespace, not this worker); the wire module is dropped from sys.modules (we keep our references).
_main_module = _types.ModuleType("__main__")
NS = _main_module.__dict__
NS.update({"__builtins__": _builtins_mod, "get_ipython": lambda: _NOOP,
           "display": lambda *objs, **kwargs: None})     # IPython's display(): a no-op here
_HIDDEN = frozenset(NS)
_sys.modules["__main__"] = _main_module
_sys.modules.pop("wire", None)


def _defined():
    out = []
    for k, v in _list(NS.items()):
        if _type(k) is _str and k not in _HIDDEN and not k.startswith("__"):
            try:
                if _callable(v):
                    out.append(k)
            except _BaseException:
                pass
    return sorted(out)


def _reply(obj):
    try:
        _write_frame(_REPLY_FD, obj)
    except _WireError as exc:
        _write_frame(_REPLY_FD, {"ok": False, "kind": "bad_output", "message": _short(_str(exc))})


def _run_source(source, filename, timeout, ipython=False):
    """Execute one cell's source in NS; returns a status dict (never raises). ``ipython``: source that
    does not compile is run as :func:`neutralize_ipython` rewrites it (valid Python is compiled once)."""
    status = {"status": "ok"}
    code = failed = None
    try:
        try:
            code = _compile(source, filename, "exec")
        except _BaseException:
            if not ipython:
                raise
            source = neutralize_ipython(source)
            code = _compile(source, filename, "exec")
    except _BaseException as exc:
        failed = exc
    _linecache.cache[filename] = (_len(source), None, source.splitlines(True), filename)
    if failed is not None:
        name, message, tb = _describe(failed)
        return {"status": "error", "error_type": name, "message": message, "traceback": tb}
    try:
        if timeout:
            _setitimer(_signal.ITIMER_REAL, float(timeout))
        try:
            _exec(code, NS)
        finally:
            _disarm()
            _restore_builtins()
    except CellTimeout:
        _disarm()
        status = {"status": "timeout", "error_type": "Timeout",
                  "message": f"cell ran longer than {timeout:g} s"}
    except _BaseException as exc:
        _disarm()
        name, message, tb = _describe(exc)
        status = {"status": "error", "error_type": name, "message": message, "traceback": tb}
    return status


def op_load(req):
    cell_timeout = req.get("cell_timeout")
    results = []
    preamble = req.get("preamble") or ""
    if preamble:
        with _Capture() as cap:
            st = _run_source(preamble, "<preamble>", cell_timeout)
        st.update(cap.result())
        if st["status"] != "ok":
            return {"ok": False, "kind": "exception",
                    "message": f"assignment preamble failed: {st.get('message', '')}"}
        _reply({"event": "preamble"})
    for cell in req.get("cells", []):
        index = cell.get("index")
        source = _str(cell.get("source", ""))
        with _Capture() as cap:
            t0 = _monotonic()
            st = _run_source(source, f"<cell {index}>", cell_timeout, ipython=True)
            st["duration_s"] = round(_monotonic() - t0, 4)
        st.update(cap.result())
        st["index"] = index
        results.append(st)
        _reply({"event": "cell", "cell": st})
    return {"ok": True, "value": {"n_cells": _len(results), "defined": _defined()}}


def _lookup(name):
    if _type(name) is not _str or name not in NS or name in _HIDDEN:
        raise KeyError(name)
    return NS[name]


_SALT = [0]   # the seed salt of the call in progress (set only around calls that carry one)


def _salted(s):
    return None if s is None else (_int(s) + _SALT[0]) % 4294967296


def _salted_np_seed(s=None):
    """``np.random.seed`` during a call with a seed salt: seeds with ``(s + salt) mod 2**32``
    (autograder.checks.compare.salted_numpy_seed does the same on the trusted side)."""
    _np_seed(_salted(s))


class _SaltedRandomState(_np_RandomState):
    """``np.random.RandomState`` during a call with a seed salt (defined before student code runs)."""

    def __init__(self, s=None):
        _np_RandomState.__init__(self, _salted(s))


def op_call(req):
    name = req.get("fn")
    try:
        fn = _lookup(name)
    except KeyError:
        return {"ok": False, "kind": "missing", "message": f"function {name!r} is not defined"}
    if not _callable(fn):
        return {"ok": False, "kind": "missing", "message": f"{name!r} is not callable"}
    args = _materialize(req.get("args") or [])
    kwargs = _materialize(req.get("kwargs") or {})
    with _Capture() as cap:
        try:
            seed = req.get("seed")
            if seed is not None:
                _np_seed(seed)
                _py_seed(seed)
                if _TF is not None:
                    _TF.random.set_seed(seed)
            salt = req.get("seed_salt")
            salted = _type(salt) is _int
            if salted:
                _SALT[0] = salt
                _np.random.seed, _np.random.RandomState = _salted_np_seed, _SaltedRandomState
            try:
                result = fn(*args, **kwargs)
            finally:
                if salted:
                    _np.random.seed, _np.random.RandomState = _np_seed, _np_RandomState
                _restore_builtins()
            reply = {"ok": True, "value": to_plain(result)}
        except BadOutput as exc:
            reply = {"ok": False, "kind": "bad_output", "message": _short(exc)}
        except MemoryError as exc:
            reply = {"ok": False, "kind": "memory", "message": _describe(exc)[1]}
        except CellTimeout:
            reply = {"ok": False, "kind": "timeout", "message": "call timed out"}
        except _BaseException as exc:
            err_type, message, tb = _describe(exc)
            reply = {"ok": False, "kind": "exception", "error_type": err_type,
                     "message": message, "traceback": tb}
    _restore_builtins()
    reply.update(cap.result())
    return reply


def op_get(req):
    name = req.get("name")
    try:
        value = _lookup(name)
    except KeyError:
        return {"ok": False, "kind": "missing", "message": f"name {name!r} is not defined"}
    try:
        return {"ok": True, "value": to_plain(value)}
    except BadOutput as exc:
        return {"ok": False, "kind": "bad_output", "message": _short(exc)}


_OPS = {
    "load": op_load,
    "call": op_call,
    "get": op_get,
    "defined": lambda req: {"ok": True, "value": _defined()},
    "ping": lambda req: {"ok": True, "value": "pong"},
}


def main():
    _sys.stdout = _sys.__stdout__ = _CappedWriter(OUTPUT_CAP)
    _sys.stderr = _sys.__stderr__ = _CappedWriter(OUTPUT_CAP)
    _reply({"ok": True, "hello": {"pid": _os.getpid(), "uid": _os.getuid(),
                                  "numpy": _np.__version__,
                                  "tensorflow": getattr(_TF, "__version__", None)}})
    while True:
        try:
            req = _read_frame(_REQ_FD)
        except EOFError:
            _os._exit(0)
        except _WireError as exc:
            _reply({"ok": False, "kind": "crashed", "message": f"bad request: {exc}"})
            continue
        op = _OPS.get(req.get("op")) if _type(req) is _dict else None
        if op is None:
            _reply({"ok": False, "kind": "crashed", "message": "unknown op"})
            continue
        try:
            reply = op(req)
        except MemoryError as exc:
            reply = {"ok": False, "kind": "memory", "message": _describe(exc)[1]}
        except _BaseException as exc:
            reply = {"ok": False, "kind": "exception", "message": _describe(exc)[1]}
        _restore_builtins()
        try:
            _reply(reply)
        except MemoryError:
            _reply({"ok": False, "kind": "memory", "message": "out of memory while sending result"})
        except _BaseException as exc:   # never die silently: say what broke
            _reply({"ok": False, "kind": "crashed", "message": "worker failed to reply: "
                    + _short(_repr(exc), 300)})


# ------------------------------------------------------------------ zygote (forked sessions)
_REAPED = {}
_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_NOBODY = 65534
_PRELOAD = {"vsz": 0, "rss": 0, "modules": []}


def _reap(signum=None, frame=None):
    while True:
        try:
            pid, status = _os.waitpid(-1, _os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _REAPED[pid] = _os.waitstatus_to_exitcode(status)
        while _len(_REAPED) > 10000:
            _REAPED.pop(next(iter(_REAPED)))


def _kill_child(pid, grace_s=0.0, wait=True):
    """SIGKILL a child's pid-namespace init (the kernel then kills everything in its namespace and only
    lets init exit once they are gone) and reap it; its exit status, or None if not reaped within 1 s.
    ``grace_s``: first wait that long for it to exit by itself (its own status then tells why);
    ``wait=False``: return "signalled" once SIGKILL is sent, and reap later (the kernel's teardown of
    the child's namespaces takes ~10 ms, mostly waiting). A pid already reaped is never signalled (it
    may belong to a newer child)."""
    _reap()
    grace_end = _monotonic() + min(max(float(grace_s), 0.0), 2.0)
    while pid not in _REAPED and _monotonic() < grace_end:
        _time.sleep(0.002)
        _reap()
    if pid not in _REAPED:
        try:
            _os.kill(pid, _signal.SIGKILL)
            if not wait:
                return "signalled"
        except OSError:               # gone already, or not permitted: the trusted side kills by uid
            pass
    deadline = _monotonic() + 1.0
    pause = 0.0002
    while pid not in _REAPED and _monotonic() < deadline:
        _time.sleep(pause)
        pause = min(pause * 2, 0.01)
        _reap()
    return _REAPED.get(pid)


def _memory():
    """(virtual size, resident size) of this process in bytes."""
    with open("/proc/self/statm") as fh:
        size, resident = fh.read().split()[:2]
    page = _os.sysconf("SC_PAGE_SIZE")
    return _int(size) * page, _int(resident) * page


class _ProcessStateKept:
    """Zygote only: warnings filters, environment variables and NumPy's floating-point error modes
    that imports inside this block install are removed again, so a child starts with those of a fresh
    interpreter (e.g. scikit-learn sets KMP_* variables at import)."""

    def __enter__(self):
        import warnings
        self.warnings = warnings
        self.filters, self.env, self.np_err = _list(warnings.filters), _dict(_os.environ), _np.geterr()
        return self

    def __exit__(self, *exc):
        self.warnings.filters[:] = self.filters
        self.warnings._filters_mutated()
        for key in _list(_os.environ):
            if key not in self.env:
                del _os.environ[key]
        _os.environ.update(self.env)
        _np.seterr(**self.np_err)
        return False


def _freeze_heap():
    """Children's collections never walk (and so never copy) what the zygote holds now."""
    import gc
    gc.collect()
    gc.freeze()


def _preload(names):
    """Import what student code commonly imports, once for every child (zygote only, no student code).

    Missing modules are skipped; the process state the imports change is restored
    (:class:`_ProcessStateKept`). Records how much address space and resident memory the imports
    added: children get that much extra RLIMIT_AS (and the trusted side that much more memory
    budget), so a student has the same headroom as in a fresh sandbox that imported only numpy.
    """
    import importlib
    vsz0, rss0 = _memory()
    with _ProcessStateKept():
        for name in names:
            try:
                importlib.import_module(name)
                _PRELOAD["modules"].append(name)
            except Exception:       # noqa: BLE001 - not installed or broken here: children import it
                pass
    vsz1, rss1 = _memory()
    _PRELOAD["vsz"], _PRELOAD["rss"] = max(0, vsz1 - vsz0), max(0, rss1 - rss0)
    _freeze_heap()


#: set name -> {module name: module}: helper modules deepgrade build generated, imported by the zygote
#: (:func:`_warm_import`); a child gets its own set into ``sys.modules``
_WARM = {}


def _warm_import(key, modules):
    """Zygote only: import a set of the assignment's generated helper modules once, so that each child
    finds them in ``sys.modules`` instead of executing them (~7 ms per child for the course's
    ``<assignment>_utils``, ``dg_datasets`` and ``dg_plotting``). Returns the names imported.

    ``modules``: ``{module name: [path in the sandbox, base64 source]}``. The trusted side sends only
    files ``deepgrade build`` wrote (trusted, import-time pure: definitions only) and names the set by
    the hash of their bytes, so a child only ever gets modules made from the exact files bound into
    it. Each module is imported from the bytes sent, as if from its path (``__file__``, ``__spec__``,
    a plain ``SourceFileLoader`` for later reloads); a name already imported here (stdlib, numpy) is
    left out, as a fresh sandbox would import that module too. The set is all or nothing: if any
    helper fails to import, no child gets any and each imports them as before. Nothing the imports
    add stays in the zygote's ``sys.modules``.
    """
    import base64
    import importlib
    import importlib.util
    from importlib.machinery import SourceFileLoader
    sources = {}
    for name, entry in _dict.items(modules):
        if _type(name) is _str and name.isidentifier() and name not in _sys.modules:
            path, encoded = entry
            sources[name] = (_str(path), base64.b64decode(encoded))

    class _SentSource(SourceFileLoader):
        def get_data(self, path):
            if path == self.path:
                return sources[self.name][1]
            raise OSError(f"{path} is not read by the zygote")      # the .pyc: compiled from source

        def path_stats(self, path):
            return {"mtime": 0, "size": _len(sources[self.name][1])}

    class _SentFinder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name not in sources:
                return None
            return importlib.util.spec_from_file_location(name, sources[name][0],
                                                          loader=_SentSource(name, sources[name][0]))

    warm = {}
    _sys.meta_path.insert(0, _SentFinder)
    try:
        with _ProcessStateKept():
            for name in sources:
                importlib.import_module(name)
        for name, (path, _data) in sources.items():
            mod = _sys.modules[name]
            mod.__loader__ = mod.__spec__.loader = SourceFileLoader(name, path)
            warm[name] = mod
    except _BaseException:      # a helper that needs its folder (or exits): children import it
        warm = {}
    finally:
        _sys.meta_path.remove(_SentFinder)
        for name in sources:        # what the helpers imported besides (stdlib, numpy parts) stays warm
            _sys.modules.pop(name, None)
    _WARM[key] = warm
    _freeze_heap()
    return sorted(warm)


#: standard-library modules the course's helper files import (tempfile alone ~8 ms per fresh process)
_WARM_STDLIB = ("tempfile", "dataclasses", "typing", "pathlib", "shutil", "copy", "inspect")
_CODE_CACHE = {}        # (path in the sandbox, sha256 of the source bytes) -> code object


def _install_code_cache():
    """Zygote only: imports of a helper file the trusted side had the zygote compile (``precompile``)
    reuse that code object in every child instead of compiling the source again (~20 ms per child for
    the course's helper modules: the read-only assignment folder holds no ``__pycache__``). The key is
    the file's path AND the hash of the bytes being imported, so a child only ever gets the code of the
    exact source it reads."""
    import hashlib
    from importlib.machinery import SourceFileLoader
    compile_source = SourceFileLoader.source_to_code

    def source_to_code(self, data, path, *, _optimize=-1):
        if _optimize == -1 and _CODE_CACHE:
            code = _CODE_CACHE.get((path, hashlib.sha256(data).digest()))
            if code is not None:
                return code
        return compile_source(self, data, path, _optimize=_optimize)
    SourceFileLoader.source_to_code = source_to_code


def _precompile(sources):
    """Compile ``{path in the sandbox: base64 source}`` (no code runs) into :data:`_CODE_CACHE`; returns
    how many compiled."""
    import base64
    import hashlib
    done = 0
    for path, encoded in sources.items():
        try:
            data = base64.b64decode(encoded)
            code = compile(data, path, "exec", dont_inherit=True)
        except Exception:      # noqa: BLE001 - a broken helper (syntax, nesting too deep, ...) fails
            continue           # in the child as it would anywhere; the zygote carries on
        _CODE_CACHE[(path, hashlib.sha256(data).digest())] = code
        done += 1
    while _len(_CODE_CACHE) > 512:
        _CODE_CACHE.pop(next(iter(_CODE_CACHE)))
    return done


def _check(rc, what):
    if rc != 0:
        ctypes, _ = _libc()
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {_os.strerror(err)}")


def _mount(libc, source, target, fstype, flags, data=None):
    _check(libc.mount(source, target, fstype, flags, data), f"mount {target!r}")


def _loopback_up():
    """Bring up ``lo`` in this (new) network namespace, as bubblewrap does for a fresh sandbox."""
    import fcntl
    import socket
    import struct
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh", fcntl.ioctl(s, 0x8913, struct.pack("16sh", b"lo", 0)))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sh", b"lo", flags | 1))       # SIOCSIFFLAGS, IFF_UP


def _child_namespaces(cfg, file_fds):
    """Give a zygote child what bubblewrap gives a fresh sandbox (runs as its pid 1, still root).

    New mount, network (only ``lo``, up), IPC and UTS namespaces; /proc of its own pid namespace (no
    sibling and not the zygote is visible); fresh size-capped tmpfs at /tmp and /dev/shm; /tmp/work
    (mode 1777) and /course holding read-only binds of the student files, given as detached
    read-only mounts ``file_fds`` (open_tree) in the order of ``cfg["files"]``.
    """
    import stat
    _ctypes, libc = _libc()
    _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS), "unshare")
    _mount(libc, b"none", b"/", None, _MS_REC | _MS_PRIVATE)
    _mount(libc, b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    size = _int(cfg["scratch_bytes"])
    for target in (b"/tmp", b"/dev/shm"):
        _mount(libc, b"tmpfs", target, b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=%d,mode=1777" % size)
    workdir = cfg["cwd"]
    _os.mkdir(workdir)
    _os.chmod(workdir, 0o1777)
    names = cfg.get("files", [])
    if names:
        _mount(libc, b"tmpfs", b"/course", b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=1m,mode=0755")
    for name, fd in zip(names, file_fds):
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"bad student file name {name!r}")
        is_dir = stat.S_ISDIR(_os.fstat(fd).st_mode)
        for folder in ("/course", workdir):
            dest = f"{folder}/{name}"
            if is_dir:
                _os.mkdir(dest)
            else:
                _os.close(_os.open(dest, _os.O_CREAT | _os.O_WRONLY, 0o644))
        # the trusted side's detached read-only mount goes to /course; /tmp/work gets a bind of it
        _check(libc.syscall(429, fd, b"", -100, f"/course/{name}".encode(), 4), "move_mount")
        dest = f"{workdir}/{name}".encode()
        _mount(libc, f"/course/{name}".encode(), dest, None, _MS_BIND | _MS_REC)
        _mount(libc, None, dest, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    if names:
        _mount(libc, None, b"/course", None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    _loopback_up()


def _child_init(sock, own_pid_ns, cfg, fds):
    """Pid 1 of a zygote child's pid namespace: set up its namespaces, fork the worker, wait for it.

    The worker (pid 2, like under bubblewrap's init) bootstraps as a fresh sandbox's worker does:
    rlimits, its own uid, the seccomp filter. This init then drops to ``nobody`` and only reaps;
    when the worker ends it exits with the worker's status (128 + signal if killed), and the kernel
    kills whatever else is left in the namespace.
    """
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    sock.close()
    _os.close(own_pid_ns)
    _os.setsid()
    req_fd, reply_fd, file_fds = fds[0], fds[1], fds[2:]
    _child_namespaces(cfg, file_fds)
    for fd in file_fds:
        _os.close(fd)
    rlimits = cfg.get("rlimits", {})
    if "RLIMIT_AS" in rlimits:            # the same headroom as a fresh sandbox (see _preload)
        rlimits["RLIMIT_AS"] = [v + _PRELOAD["vsz"] for v in rlimits["RLIMIT_AS"]]
    warm = _WARM.get(cfg.get("warm")) if _type(cfg.get("warm")) is _str else None
    worker = _os.fork()
    if worker == 0:
        try:
            _os.setsid()                 # like bwrap --new-session: not even SIGCONT reaches init
            if warm:
                _sys.modules.update(warm)    # this child's generated helpers, imported by the zygote
            _bootstrap(cfg, req_fd, reply_fd)
            _np.random.seed()            # a fresh interpreter seeds the global generator from the OS
            main()
        finally:
            _os._exit(1)
    for fd in (req_fd, reply_fd):
        _os.close(fd)
    _os.setgroups([])
    _os.setgid(_NOBODY)
    _os.setuid(_NOBODY)
    while True:
        try:
            pid, status = _os.waitpid(-1, 0)
        except ChildProcessError:
            _os._exit(1)
        if pid == worker:
            if _os.WIFSIGNALED(status):
                _os._exit(128 + _os.WTERMSIG(status))
            _os._exit(_os.WEXITSTATUS(status) if _os.WIFEXITED(status) else 1)


def _spawn(sock, own_pid_ns, cfg, fds):
    """Fork a child into a new pid namespace (it becomes that namespace's pid 1); returns its pid."""
    _ctypes, libc = _libc()
    _check(libc.unshare(_CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    try:
        pid = _os.fork()
    except OSError:
        _check(libc.setns(own_pid_ns, _CLONE_NEWPID), "setns(own pid namespace)")
        raise
    if pid == 0:
        try:
            _child_init(sock, own_pid_ns, cfg, fds)
        except _BaseException as exc:       # the zygote's log says why (the session sees EOF)
            _os.write(2, f"zygote child set-up failed: {_repr(exc)}\n".encode())
        finally:
            _os._exit(1)
    # the zygote's next child must again start a pid namespace of its own
    _check(libc.setns(own_pid_ns, _CLONE_NEWPID), "setns(own pid namespace)")
    return pid


def zygote_loop(control_fd, preload=()):
    """Serve fork requests: each child becomes a fresh worker for one submission.

    The zygote imported numpy, ``preload`` (and TensorFlow) but never ran a TensorFlow op, so forked
    children can use TF (a child of a parent that ran ops would hang); it never runs student code.
    Requests on the SEQPACKET control socket: ``{"op": "spawn", "config": {...}}`` with fds (requests
    read end, replies write end, then one detached mount per name in ``config["files"]``) ->
    ``{"pid": n}`` or ``{"error": text}``; ``{"op": "status", "pid": n}`` -> ``{"status": exit code |
    None}``; ``{"op": "precompile", "sources": {path: base64}}`` -> ``{"compiled": n}``; ``{"op": "warm", "key":
    set name, "modules": {name: [path, base64]}}`` -> ``{"warm": [names]}`` (:func:`_warm_import`; a spawn
    config's ``"warm"`` names the set its child gets); ``{"op": "kill", "pid": n}``
    -> ``{"status": exit code | None}`` (:func:`_kill_child`); anything else -> ``{"ready": true, "preload_rss": bytes, "preloaded": [...]}``.
    """
    import fcntl  # noqa: F401  (with socket and struct: each child's _loopback_up, ~0.5 ms there)
    import importlib
    import socket
    import struct  # noqa: F401
    _libc()                      # import ctypes once here, not in every child
    _sock_fprog()
    for name in _WARM_STDLIB:
        importlib.import_module(name)
    _install_code_cache()
    _preload(preload)
    own_pid_ns = _os.open("/proc/self/ns/pid", _os.O_RDONLY | _os.O_CLOEXEC)
    sock = socket.socket(fileno=control_fd)
    _signal.signal(_signal.SIGCHLD, _reap)
    _json_dumps = _json.dumps
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 255)
        except InterruptedError:   # pragma: no cover - PEP 475 retries
            continue
        if not msg:
            _os._exit(0)
        try:
            req = _json.loads(msg)
        except ValueError:
            req = {}
        if req.get("op") == "spawn" and _len(fds) >= 2:
            cfg = req.get("config", {})
            try:
                if _len(cfg.get("files", [])) != _len(fds) - 2:
                    raise ValueError("one descriptor per student file expected")
                reply = {"pid": _spawn(sock, own_pid_ns, cfg, fds)}
                _REAPED.pop(reply["pid"], None)     # a reused pid: the old child's status is not this one's
            except (OSError, ValueError, TypeError, KeyError) as exc:
                reply = {"error": _short(_repr(exc), 300)}
            for fd in fds:
                _os.close(fd)
            sock.send(_json_dumps(reply).encode())
            continue
        for fd in fds:
            _os.close(fd)
        if req.get("op") == "precompile" and isinstance(req.get("sources"), dict):
            sock.send(_json_dumps({"compiled": _precompile(req["sources"])}).encode())
            continue
        if req.get("op") == "warm" and _type(req.get("key")) is _str and isinstance(req.get("modules"), dict):
            try:
                names = _warm_import(req["key"], req["modules"])
            except (ValueError, TypeError):       # malformed request: nothing warm for this set
                _WARM[req["key"]], names = {}, []
            sock.send(_json_dumps({"warm": names}).encode())
            continue
        if req.get("op") == "kill" and isinstance(req.get("pid"), int) and req["pid"] > 1:
            grace = req.get("grace_s", 0.0)
            grace = grace if isinstance(grace, (int, float)) and not isinstance(grace, bool) else 0.0
            sock.send(_json_dumps({"status": _kill_child(req["pid"], grace, req.get("wait") is not False)}).encode())
            continue
        if req.get("op") == "status":
            _reap()
            sock.send(_json_dumps({"status": _REAPED.get(req.get("pid"))}).encode())
        else:
            sock.send(_json_dumps({"ready": True, "preload_rss": _PRELOAD["rss"],
                                   "preloaded": _PRELOAD["modules"]}).encode())


if __name__ == "__main__":
    if _ZYGOTE:
        zygote_loop(int(_CONFIG["control_fd"]), _CONFIG.get("preload", ()))
    else:
        main()
