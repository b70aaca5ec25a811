"""The only data format that crosses the sandbox trust boundary.

Frames are a 4-byte big-endian length followed by UTF-8 JSON. The JSON value model is deliberately
small:

* ``None``, ``bool``, ``int``, ``float``, ``str`` -- plain JSON, except non-finite floats, which are
  tagged ``{"__float__": "nan" | "inf" | "-inf"}`` (JSON itself has no spelling for them).
* ``list`` -- a JSON array.
* ``tuple`` -- ``{"__tuple__": [...]}`` so it decodes back to a tuple.
* ``dict`` with ``str`` keys -- ``{"__dict__": {...}}`` (tagged so a student dict can never be
  mistaken for one of our tags).
* numpy arrays of bool/int/uint/float/complex dtype -- ``{"__nd__": {"dtype": "<f8", "shape": [...],
  "b64": "..."}}`` holding the C-order bytes. numpy scalars encode as the matching Python scalar
  (``np.float32(1.5)`` -> ``1.5``); 0-d arrays stay 0-d arrays.

``decode`` validates strictly (tags, dtypes, shapes against byte counts, depth, element counts,
total size) and raises :class:`WireError` on anything else. No pickle, no marshal, ever.

This module imports only the standard library and numpy because it also runs inside the sandbox;
it binds everything it needs at import time so later monkeypatching of ``json``/``base64``/numpy
by student code in the same process cannot change how frames are built.
"""
from __future__ import annotations

import base64 as _base64
import binascii as _binascii
import json as _json
import math as _math
import struct as _struct

import numpy as _np

__all__ = ["WireError", "encode", "decode", "pack", "unpack", "write_frame", "read_frame",
           "MAX_FRAME_BYTES", "MAX_DEPTH", "MAX_ELEMENTS", "MAX_REPLY_BYTES", "reply_limit"]

MAX_FRAME_BYTES = 64 * 1024 * 1024   # one frame, after JSON encoding
MAX_DEPTH = 64                       # container nesting
MAX_ELEMENTS = 1_000_000             # list/tuple/dict entries in one value (arrays count as one)
MAX_ARRAY_BYTES = 48 * 1024 * 1024   # raw bytes of all arrays in one value
# What the TRUSTED side decodes from one sandbox reply: far below MAX_FRAME_BYTES, so a forged but valid
# frame cannot grow the grader (decoding n bytes of JSON can take ~20 n bytes of Python objects). A larger
# reply is read and dropped unparsed and fails that call only (bad_output). Override with the environment
# variable DEEPGRADE_MAX_REPLY_BYTES.
MAX_REPLY_BYTES = 4 * 1024 * 1024

# Private bindings captured at import time (see module docstring).
_dumps = _json.dumps
_loads = _json.loads
_b2a_base64 = _binascii.b2a_base64
_b64decode = _base64.b64decode
_ndarray = _np.ndarray
_np_generic = _np.generic
_np_dtype = _np.dtype
_np_frombuffer = _np.frombuffer
_np_asarray = _np.asarray
_np_bool = _np.bool_
_np_integer = _np.integer
_np_floating = _np.floating
_np_complexfloating = _np.complexfloating
_isfinite = _math.isfinite
_pack_len = _struct.Struct(">I").pack
_unpack_len = _struct.Struct(">I").unpack
_int, _float, _str, _bool, _list, _tuple, _dict, _bytes = int, float, str, bool, list, tuple, dict, bytes
_type, _len, _isinstance = type, len, isinstance

_ALLOWED_KINDS = frozenset("biufc")
_TAGS = frozenset({"__nd__", "__tuple__", "__dict__", "__float__"})
_SPECIAL_FLOATS = {"nan": _math.nan, "inf": _math.inf, "-inf": -_math.inf}


class WireError(ValueError):
    """Raised for any value or frame that is not valid wire data."""


class _Budget:
    """Counts elements and array bytes while walking one value."""

    __slots__ = ("elements", "array_bytes")

    def __init__(self) -> None:
        self.elements = 0
        self.array_bytes = 0

    def add(self, n_elements: int = 0, n_bytes: int = 0) -> None:
        self.elements += n_elements
        self.array_bytes += n_bytes
        if self.elements > MAX_ELEMENTS:
            raise WireError(f"too many elements (> {MAX_ELEMENTS})")
        if self.array_bytes > MAX_ARRAY_BYTES:
            raise WireError(f"arrays too large (> {MAX_ARRAY_BYTES} bytes)")


# ----------------------------------------------------------------------------------- encoding
def _enc_float(x: float):
    x = _float(x)
    if _isfinite(x):
        return x
    if x != x:
        return {"__float__": "nan"}
    return {"__float__": "inf" if x > 0 else "-inf"}


# dtypes already found allowed, by dtype object (encoding) and by their string (decoding): the checks
# below cost ~5 us per array, and a call carries a dozen arrays (issue 15). Filled only by those checks.
_ENC_DTYPES: dict = {}
_DEC_DTYPES: dict = {}


def _enc_dtype(dt) -> str:
    text = _ENC_DTYPES.get(dt)
    if text is None:
        if dt.kind not in _ALLOWED_KINDS or dt.fields is not None or dt.subdtype is not None:
            raise WireError(f"array dtype {dt.str!r} is not allowed (bool/int/uint/float/complex only)")
        text = _ENC_DTYPES[dt] = dt.str
    return text


def _enc_array(a, budget: _Budget):
    dts = _enc_dtype(a.dtype)
    raw = _ndarray.tobytes(a, order="C")
    budget.add(1, _len(raw))
    # (an exact ndarray's shape holds Python ints; b2a_base64 is what base64.b64encode calls)
    return {"__nd__": {"dtype": dts, "shape": _list(a.shape), "b64": _b2a_base64(raw, newline=False).decode("ascii")}}


def _enc(x, depth: int, budget: _Budget):
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH}")
    t = _type(x)
    if x is None or t is _bool or t is _str:
        return x
    if t is _int:
        return x
    if t is _float:
        return _enc_float(x)
    if t is _list or t is _tuple:
        budget.add(_len(x))
        items = [_enc(v, depth + 1, budget) for v in x]
        return items if t is _list else {"__tuple__": items}
    if t is _dict:
        budget.add(_len(x))
        out = {}
        for k, v in x.items():
            if _type(k) is not _str:
                raise WireError(f"dict key {k!r} is a {_type(k).__name__}, only str keys are allowed")
            out[k] = _enc(v, depth + 1, budget)
        return {"__dict__": out}
    if t is _ndarray:
        return _enc_array(x, budget)
    if _isinstance(x, _np_generic):
        if _isinstance(x, _np_bool):
            return _bool(x)
        if _isinstance(x, _np_integer):
            return _int(x)
        if _isinstance(x, _np_floating):
            return _enc_float(x)
        if _isinstance(x, _np_complexfloating):
            return _enc_array(_np_asarray(x), budget)
    raise WireError(f"cannot send a value of type {t.__module__}.{t.__qualname__}")


def encode(value) -> bytes:
    """Encode a plain-data value to UTF-8 JSON bytes (no length prefix)."""
    try:
        tree = _enc(value, 0, _Budget())
    except RecursionError as exc:  # pragma: no cover - depth check normally fires first
        raise WireError("value nested too deeply") from exc
    data = _dumps(tree, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    if _len(data) > MAX_FRAME_BYTES:
        raise WireError(f"encoded value is {_len(data)} bytes (> {MAX_FRAME_BYTES})")
    return data


# ----------------------------------------------------------------------------------- decoding
def _dec_dtype(dts):
    dt = _DEC_DTYPES.get(dts) if _type(dts) is _str else None
    if dt is not None:
        return dt
    if _type(dts) is not _str or _len(dts) > 8:
        raise WireError("malformed __nd__ dtype")
    try:
        dt = _np_dtype(dts)
    except TypeError as exc:
        raise WireError(f"unknown dtype {dts!r}") from exc
    if dt.kind not in _ALLOWED_KINDS or dt.fields is not None or dt.subdtype is not None \
            or dt.str != dts:
        raise WireError(f"array dtype {dts!r} is not allowed")
    _DEC_DTYPES[dts] = dt
    return dt


def _dec_array(spec, budget: _Budget):
    if _type(spec) is not _dict or _len(spec) != 3 or "dtype" not in spec or "shape" not in spec \
            or "b64" not in spec:
        raise WireError("malformed __nd__ (needs exactly dtype, shape, b64)")
    dts, shape, b64 = spec["dtype"], spec["shape"], spec["b64"]
    dt = _dec_dtype(dts)
    if _type(shape) is not _list or _len(shape) > 32:
        raise WireError("malformed __nd__ shape")
    count = 1
    for n in shape:
        if _type(n) is not _int or n < 0:
            raise WireError("malformed __nd__ shape")
        count *= n
    if _type(b64) is not _str:
        raise WireError("malformed __nd__ b64")
    nbytes = count * dt.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise WireError(f"array of {nbytes} bytes is too large")
    try:
        raw = _b64decode(b64.encode("ascii"), validate=True)
    except (ValueError, UnicodeError) as exc:
        raise WireError("malformed __nd__ base64") from exc
    if _len(raw) != nbytes:
        raise WireError(f"__nd__ has {_len(raw)} bytes, shape {shape} of {dts} needs {nbytes}")
    budget.add(1, nbytes)
    return _np_frombuffer(raw, dtype=dt).reshape(_tuple(shape)).copy()


def _dec(x, depth: int, budget: _Budget):
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH}")
    t = _type(x)
    if x is None or t is _bool or t is _str or t is _int:
        return x
    if t is _float:
        if not _isfinite(x):
            raise WireError("bare non-finite float")
        return x
    if t is _list:
        budget.add(_len(x))
        return [_dec(v, depth + 1, budget) for v in x]
    if t is _dict:
        if _len(x) != 1:
            raise WireError("untagged JSON object")
        (tag, body), = x.items()
        if tag == "__tuple__":
            if _type(body) is not _list:
                raise WireError("malformed __tuple__")
            budget.add(_len(body))
            return _tuple(_dec(v, depth + 1, budget) for v in body)
        if tag == "__dict__":
            if _type(body) is not _dict:
                raise WireError("malformed __dict__")
            budget.add(_len(body))
            return {k: _dec(v, depth + 1, budget) for k, v in body.items()}
        if tag == "__nd__":
            return _dec_array(body, budget)
        if tag == "__float__":
            if body not in _SPECIAL_FLOATS:
                raise WireError(f"malformed __float__ {body!r}")
            return _SPECIAL_FLOATS[body]
        raise WireError(f"unknown tag {tag[:40]!r}")
    raise WireError(f"unexpected JSON type {t.__name__}")


def _reject_constant(name):
    raise WireError(f"bare {name} is not valid wire JSON")


def decode(data: bytes):
    """Decode and validate bytes produced by :func:`encode`; raise WireError on anything else."""
    if _type(data) is not _bytes:
        raise WireError("wire data must be bytes")
    if _len(data) > MAX_FRAME_BYTES:
        raise WireError(f"frame of {_len(data)} bytes is too large")
    try:
        text = data.decode("utf-8")
        tree = _loads(text, parse_constant=_reject_constant)
    except WireError:
        raise
    except UnicodeDecodeError as exc:
        raise WireError(f"frame is not UTF-8: {exc}") from exc
    except ValueError as exc:  # json.JSONDecodeError
        raise WireError(f"frame is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise WireError("frame nested too deeply") from exc
    try:
        return _dec(tree, 0, _Budget())
    except RecursionError as exc:  # pragma: no cover
        raise WireError("value nested too deeply") from exc


# ----------------------------------------------------------------------------------- framing
def pack(value) -> bytes:
    """Encode ``value`` as one length-prefixed frame."""
    body = encode(value)
    return _pack_len(_len(body)) + body


def unpack(frame: bytes):
    """Decode one complete length-prefixed frame (as produced by :func:`pack`)."""
    if _len(frame) < 4:
        raise WireError("frame shorter than its length prefix")
    (n,) = _unpack_len(frame[:4])
    if n != _len(frame) - 4:
        raise WireError(f"frame length prefix says {n}, got {_len(frame) - 4} bytes")
    return decode(frame[4:])


def write_frame(fd: int, value, _write=__import__("os").write) -> None:
    """Write ``value`` as one frame to a raw file descriptor (handles short writes)."""
    data = memoryview(pack(value))
    while data:
        n = _write(fd, data)
        data = data[n:]


def read_exact(fd: int, n: int, _read=__import__("os").read) -> bytes:
    """Read exactly ``n`` bytes from ``fd``; raise EOFError if the stream ends first."""
    chunks = []
    while n > 0:
        chunk = _read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        n -= _len(chunk)
    return b"".join(chunks)


def read_frame(fd: int):
    """Blocking read of one frame from ``fd`` and decode it (EOFError at end of stream)."""
    (n,) = _unpack_len(read_exact(fd, 4))
    if n > MAX_FRAME_BYTES:
        raise WireError(f"incoming frame of {n} bytes is too large")
    return decode(read_exact(fd, n))


def reply_limit(_environ=__import__("os").environ) -> int:
    """Bytes the trusted side decodes from one reply: ``$DEEPGRADE_MAX_REPLY_BYTES`` or
    :data:`MAX_REPLY_BYTES`, never above :data:`MAX_FRAME_BYTES`."""
    raw = _environ.get("DEEPGRADE_MAX_REPLY_BYTES", "")
    try:
        value = _int(raw) if raw else MAX_REPLY_BYTES
    except ValueError:
        raise WireError(f"DEEPGRADE_MAX_REPLY_BYTES={raw!r} is not a number of bytes") from None
    return max(1024, min(value, MAX_FRAME_BYTES))
