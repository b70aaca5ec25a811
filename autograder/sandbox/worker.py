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
* zygote mode (``{"zygote": true}``): import numpy (+ TensorFlow) once, then fork one worker per
  request on a control socket (see :func:`zygote_loop` and autograder/sandbox/zygote.py).

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
    if cfg.get("private_tmp_bytes"):     # zygote child: its own /tmp and /dev/shm
        _private_scratch(int(cfg["private_tmp_bytes"]))
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
        if cfg.get("make_cwd"):      # zygote child: a private scratch dir owned by our fresh uid
            _os.mkdir(workdir, 0o700)
            for name in cfg.get("link_files", []):
                _os.symlink(cfg["files_dir"] + "/" + name, workdir + "/" + name)
            _os.environ["HOME"] = workdir
            _os.environ["MPLCONFIGDIR"] = workdir + "/.mpl"
        _os.chdir(workdir)
        if workdir not in _sys.path:
            _sys.path.insert(0, workdir)
    OUTPUT_CAP = int(cfg.get("output_cap", OUTPUT_CAP))


def _libc():
    import ctypes
    return ctypes, ctypes.CDLL(None, use_errno=True)


def _private_scratch(size):
    """Give this process (a zygote child, still uid 0) a mount namespace with fresh tmpfs at /tmp
    and /dev/shm of ``size`` bytes each: no other child sees its files or shares its space."""
    ctypes, libc = _libc()
    ms_nosuid, ms_nodev, ms_rec, ms_private = 2, 4, 16384, 1 << 18

    def check(rc, what):
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {_os.strerror(err)}")

    check(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
    check(libc.mount(b"none", b"/", None, ms_rec | ms_private, None), "make / private")
    for target, mode in ((b"/tmp", b"1777"), (b"/dev/shm", b"1777")):
        opts = b"size=%d,mode=%s" % (size, mode)
        check(libc.mount(b"tmpfs", target, b"tmpfs", ms_nosuid | ms_nodev, opts), f"tmpfs on {target}")


def _install_seccomp(program):
    """Load a classic-BPF seccomp filter (``struct sock_filter`` array) for this process."""
    ctypes, libc = _libc()

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = SockFprog(len(program) // 8, program)
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
        _os_lseek(fd, 0, _os.SEEK_SET)
        data = _os_read(fd, min(size, cap)) if size else b""
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


def _restore_builtins():
    """Undo student monkeypatching of builtins (isinstance, len, ...) before the worker runs again.

    Stdlib code the worker relies on looks builtins up at call time, so a patched ``isinstance``
    would otherwise break the worker itself. Names students *added* are left alone.
    """
    d = _builtins_mod.__dict__
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


def _run_source(source, filename, timeout):
    """Execute one cell's source in NS; returns a status dict (never raises)."""
    status = {"status": "ok"}
    _linecache.cache[filename] = (_len(source), None, source.splitlines(True), filename)
    try:
        code = _compile(source, filename, "exec")
    except _BaseException as exc:
        name, message, tb = _describe(exc)
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
        source = neutralize_ipython(_str(cell.get("source", "")))
        with _Capture() as cap:
            t0 = _monotonic()
            st = _run_source(source, f"<cell {index}>", cell_timeout)
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


# ------------------------------------------------------------------ zygote (TensorFlow sessions)
_REAPED = {}
_CHILD_DIRS = {}     # pid -> (uid, scratch dir) of live children, cleaned up once reaped


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


def _clean_reaped_children():
    """Remove the scratch dirs of reaped children (as their uid: the zygote cannot read them)."""
    for pid in [p for p in _CHILD_DIRS if p in _REAPED]:
        uid, workdir = _CHILD_DIRS.pop(pid)
        if _os.fork() == 0:
            try:
                _os.setgroups([])
                _os.setgid(uid)
                _os.setuid(uid)
                import shutil
                shutil.rmtree(workdir, ignore_errors=True)
            finally:
                _os._exit(0)


def zygote_loop(control_fd):
    """Serve fork requests: each child becomes a fresh worker for one submission.

    The zygote imported numpy (and TensorFlow) but never ran a TensorFlow op, so forked children can
    use TF (a child of a parent that ran ops would hang). Requests on the SEQPACKET control socket:
    ``{"op": "spawn", "config": {...}}`` with two fds (requests read end, replies write end) ->
    ``{"pid": n}``; ``{"op": "status", "pid": n}`` -> ``{"status": exit code | None}``.
    The child applies its own rlimits, switches to its own uid and scratch dir, then runs main().
    """
    import socket
    _libc()                      # import ctypes once here, not in every child
    sock = socket.socket(fileno=control_fd)
    _signal.signal(_signal.SIGCHLD, _reap)
    _json_dumps = _json.dumps
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 2)
        except InterruptedError:   # pragma: no cover - PEP 475 retries
            continue
        if not msg:
            _os._exit(0)
        try:
            req = _json.loads(msg)
        except ValueError:
            req = {}
        if req.get("op") == "spawn" and _len(fds) == 2:
            pid = _os.fork()
            if pid == 0:
                try:
                    sock.close()
                    _bootstrap(req.get("config", {}), fds[0], fds[1])
                    main()
                finally:
                    _os._exit(1)
            for fd in fds:
                _os.close(fd)
            cfg = req.get("config", {})
            if cfg.get("make_cwd") and cfg.get("drop_to") and not cfg.get("private_tmp_bytes"):
                _CHILD_DIRS[pid] = (int(cfg["drop_to"][0]), cfg["cwd"])
            sock.send(_json_dumps({"pid": pid}).encode())
            _clean_reaped_children()
            continue
        for fd in fds:
            _os.close(fd)
        if req.get("op") == "status":
            _reap()
            sock.send(_json_dumps({"status": _REAPED.get(req.get("pid"))}).encode())
            _clean_reaped_children()
        else:
            sock.send(_json_dumps({"ready": True}).encode())


if __name__ == "__main__":
    if _ZYGOTE:
        zygote_loop(int(_CONFIG["control_fd"]))
    else:
        main()
