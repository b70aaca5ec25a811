"""The wire format: what round-trips exactly, and everything decode() must refuse."""
import json
import math
import struct

import numpy as np
import pytest

from autograder.sandbox import wire
from autograder.sandbox.wire import WireError


def roundtrip(value):
    return wire.unpack(wire.pack(value))


def same(a, b):
    """Deep equality that also checks container types, array dtypes/shapes and NaN positions."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2 ** 80, 1.5, -0.0, "", "héllo ✓", [], (), {},
    [1, (2, 3), {"a": [None, (4.5,)]}],
    {"nested": {"deeper": ((1, 2), [3, {"x": ()}])}},
    (1,),
])
def test_plain_values_roundtrip(value):
    same(roundtrip(value), value)


@pytest.mark.parametrize("x", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_roundtrip(x):
    same(roundtrip([x, {"v": x}]), [x, {"v": x}])


@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int32", "int64", "uint8", "uint64",
                                   "float16", "float32", "float64", "complex64", "complex128", ">f8"])
def test_arrays_roundtrip_dtype_and_shape(dtype):
    a = (np.arange(24) % 3).reshape(2, 3, 4).astype(dtype)
    same(roundtrip(a), a)


def test_special_arrays_roundtrip():
    a = np.array([[np.nan, np.inf], [-np.inf, 0.0]])
    same(roundtrip(a), a)
    same(roundtrip(np.zeros((0, 3))), np.zeros((0, 3)))
    zero_d = np.array(2.5)
    out = roundtrip(zero_d)
    assert out.shape == () and out.dtype == np.float64 and out == 2.5
    same(roundtrip(np.arange(6).reshape(2, 3).T), np.arange(6).reshape(2, 3).T.copy())


def test_decoded_arrays_are_writable_copies():
    out = roundtrip(np.ones(3))
    out[0] = 5.0
    assert out[0] == 5.0


def test_numpy_scalars_become_python_scalars():
    out = roundtrip([np.float32(1.5), np.int64(3), np.bool_(True), np.uint8(7), np.float64(np.nan)])
    assert [type(v) for v in out] == [float, int, bool, int, float]
    assert out[:4] == [1.5, 3, True, 7] and math.isnan(out[4])
    c = roundtrip(np.complex64(1 + 2j))     # no Python complex on the wire: a 0-d array
    assert isinstance(c, np.ndarray) and c.shape == () and c.dtype == np.complex64


@pytest.mark.parametrize("bad", [
    np.array([object()], dtype=object),
    np.array(["a", "b"]),
    np.zeros(2, dtype=[("a", "f8")]),
    np.array(["2020-01-01"], dtype="datetime64[D]"),
    object(),
    {1: "int key"},
    {(1, 2): "tuple key"},
    b"bytes",
    {1, 2},
    1 + 2j,
    np.str_("x"),
])
def test_encode_rejects_non_plain_data(bad):
    with pytest.raises(WireError):
        wire.encode(bad)


def test_encode_rejects_subclasses_of_containers():
    class D(dict):
        pass
    with pytest.raises(WireError):
        wire.encode(D(a=1))


def test_depth_limit():
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(WireError, match="deeper"):
        wire.encode(deep)
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(WireError):
        wire.decode(text.encode())


def test_element_and_size_limits(monkeypatch):
    monkeypatch.setattr(wire, "MAX_ELEMENTS", 100)
    with pytest.raises(WireError, match="too many elements"):
        wire.encode(list(range(101)))
    monkeypatch.setattr(wire, "MAX_ARRAY_BYTES", 1000)
    with pytest.raises(WireError, match="too large"):
        wire.encode(np.zeros(200))
    monkeypatch.setattr(wire, "MAX_FRAME_BYTES", 50)
    with pytest.raises(WireError, match="bytes"):
        wire.encode("x" * 100)
    with pytest.raises(WireError, match="too large"):
        wire.decode(b'"' + b"x" * 100 + b'"')


def _nd(dtype="<f8", shape=(2,), payload=None):
    import base64
    raw = payload if payload is not None else np.zeros(shape, dtype=dtype).tobytes()
    return {"__nd__": {"dtype": dtype, "shape": list(shape), "b64": base64.b64encode(raw).decode()}}


@pytest.mark.parametrize("tree, why", [
    ({"__pickle__": "x"}, "unknown tag"),
    ({"a": 1}, "unknown tag"),
    ({"__tuple__": [1], "__dict__": {}}, "untagged"),
    ({"__tuple__": "notalist"}, "tuple"),
    ({"__dict__": [1]}, "dict"),
    ({"__float__": "1e999"}, "float"),
    (_nd(dtype="|O8"), "dtype"),
    (_nd(dtype="<U4"), "dtype"),
    (_nd(dtype="f8"), "dtype"),                 # not in canonical form
    (_nd(shape=(3,), payload=b"\0" * 16), "needs"),
    ({"__nd__": {"dtype": "<f8", "shape": [-1], "b64": ""}}, "shape"),
    ({"__nd__": {"dtype": "<f8", "shape": [1], "b64": "!!!"}}, "base64"),
    ({"__nd__": {"dtype": "<f8", "shape": [1]}}, "malformed"),
    ({"__nd__": {"dtype": "<f8", "shape": [10 ** 9, 10 ** 9], "b64": ""}}, "too large"),
])
def test_decode_rejects_malformed_trees(tree, why):
    with pytest.raises(WireError, match=why):
        wire.decode(json.dumps(tree).encode())


@pytest.mark.parametrize("data", [b"{not json", b"\xff\xfe", b"NaN", b"[Infinity]", b"", "x".encode()])
def test_decode_rejects_bad_json(data):
    with pytest.raises(WireError):
        wire.decode(data)


def test_decode_requires_bytes():
    with pytest.raises(WireError):
        wire.decode('"str"')


def test_frames():
    frame = wire.pack({"a": (1, 2)})
    assert struct.unpack(">I", frame[:4])[0] == len(frame) - 4
    assert wire.unpack(frame) == {"a": (1, 2)}
    with pytest.raises(WireError, match="length"):
        wire.unpack(frame[:-1])
    with pytest.raises(WireError):
        wire.unpack(b"\0\0")


def test_fd_frames(tmp_path):
    import os
    r, w = os.pipe()
    try:
        wire.write_frame(w, [np.arange(3), "x"])
        out = wire.read_frame(r)
        assert out[1] == "x" and out[0].tolist() == [0, 1, 2]
        os.close(w)
        w = None
        with pytest.raises(EOFError):
            wire.read_frame(r)
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


def test_wire_imports_only_stdlib_and_numpy():
    import ast
    import sys
    from pathlib import Path
    tree = ast.parse(Path(wire.__file__).read_text())
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mods.add((node.module or "").split(".")[0])
    mods.discard("__future__")
    assert mods - set(sys.stdlib_module_names) == {"numpy"}
