"""Structured comparison of outputs (structure first, then values) and trusted-side data helpers.

``diff(got, expected)`` returns None or one learner-facing sentence naming exactly what differs:
container type, tuple length, dict keys (missing/extra named), array shapes, then the first value
outside ``atol + rtol * |expected|``. TF markers (``tf_variable``/``tf_constant``) ask the sandbox for
TensorFlow arguments; ``unwrap_markers`` gives the trusted NumPy side the plain arrays.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["TF_MARKERS", "diff", "normalize", "structure_diff", "tf_constant", "tf_variable", "unwrap_markers",
           "value_diff"]

# comparison
# --------------------------------------------------------------------------------------------------

_NUMBER = (int, float, np.integer, np.floating, np.bool_, bool)


def _kind(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return "array"
    if isinstance(x, _NUMBER):
        return "number"
    if isinstance(x, (list, tuple)):
        return "sequence"
    if isinstance(x, dict):
        return "dict"
    if x is None:
        return "None"
    if isinstance(x, str):
        return "str"
    return type(x).__name__


def _describe(x: Any) -> str:
    k = _kind(x)
    if k == "array":
        return f"an array of shape {tuple(x.shape)}"
    if k == "sequence":
        return f"a {type(x).__name__} of length {len(x)}"
    if k == "dict":
        return f"a dict with keys {sorted(map(str, x))}"
    if k == "number":
        return "a number"
    return "None" if x is None else f"a {type(x).__name__}"


def _as_scalar_array(x: Any) -> np.ndarray | None:
    """Numbers and size-1 arrays compare as scalars (a cost may be a float or a (1, 1) array)."""
    if isinstance(x, _NUMBER):
        return np.asarray(x, dtype=float)
    if isinstance(x, np.ndarray) and x.size == 1:
        return x.reshape(())
    return None


def structure_diff(got: Any, expected: Any, path: str = "output", strict_keys: bool = True) -> str | None:
    """First structural difference between ``got`` and ``expected`` as a sentence, or None.

    Checks container type, sequence length, dict keys (naming missing/extra keys), array shapes.
    A number and a size-1 array are treated as the same structure.
    """
    ke, kg = _kind(expected), _kind(got)
    if ke == "number" or (ke == "array" and expected.size == 1 and expected.ndim == 0):
        if _as_scalar_array(got) is None:
            return f"`{path}` should be a number, but it is {_describe(got)}"
        return None
    if ke == "array":
        if kg != "array" and not (kg == "number" and expected.size == 1):
            return f"`{path}` should be {_describe(expected)}, but it is {_describe(got)}"
        gshape = tuple(np.shape(got))
        if gshape != tuple(expected.shape):
            return f"`{path}` has shape {gshape}; expected {tuple(expected.shape)}"
        return None
    if ke == "sequence":
        if kg != "sequence":
            return f"`{path}` should be {_describe(expected)}, but it is {_describe(got)}"
        if len(got) != len(expected):
            return f"`{path}` has {len(got)} items; expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            d = structure_diff(g, e, f"{path}[{i}]", strict_keys)
            if d:
                return d
        return None
    if ke == "dict":
        if kg != "dict":
            return f"`{path}` should be {_describe(expected)}, but it is {_describe(got)}"
        missing = [k for k in expected if k not in got]
        if missing:
            return f"`{path}` is missing key(s) {missing}"
        extra = [k for k in got if k not in expected]
        if strict_keys and extra:
            return f"`{path}` has unexpected key(s) {sorted(map(str, extra))}"
        for k in expected:
            d = structure_diff(got[k], expected[k], f"{path}[{k!r}]", strict_keys)
            if d:
                return d
        return None
    if kg != ke:
        return f"`{path}` should be {_describe(expected)}, but it is {_describe(got)}"
    return None


def value_diff(got: Any, expected: Any, path: str = "output", rtol: float = 1e-5,
               atol: float = 1e-7) -> str | None:
    """First value difference (after ``structure_diff`` passed) as a sentence, or None.

    Numeric leaves must satisfy ``|got - expected| <= atol + rtol * |expected|`` elementwise.
    """
    ke = _kind(expected)
    if ke in ("number", "array"):
        g = np.asarray(got, dtype=float).reshape(np.shape(expected))
        e = np.asarray(expected, dtype=float)
        if g.shape != e.shape:
            g = g.reshape(e.shape)
        bad = ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
        if not bad.any():
            return None
        if e.ndim == 0:
            return f"`{path}` is {float(g):.6g}; expected {float(e):.6g}"
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        gaps = np.abs(g - e)[bad]
        worst = float(np.nanmax(gaps)) if np.isfinite(gaps).any() else math.inf
        return (f"`{path}` differs from the expected values in {int(bad.sum())} of {e.size} entries "
                f"(e.g. at index {idx}: {g[idx]:.6g} instead of {e[idx]:.6g}; largest difference {worst:.3g})")
    if ke == "sequence":
        for i, (g, e) in enumerate(zip(got, expected)):
            d = value_diff(g, e, f"{path}[{i}]", rtol, atol)
            if d:
                return d
        return None
    if ke == "dict":
        for k in expected:
            d = value_diff(got[k], expected[k], f"{path}[{k!r}]", rtol, atol)
            if d:
                return d
        return None
    if got != expected:
        return f"`{path}` is {got!r}; expected {expected!r}"
    return None


def diff(got: Any, expected: Any, path: str = "output", rtol: float = 1e-5, atol: float = 1e-7,
         strict_keys: bool = True) -> str | None:
    """Structure first, then values; None when ``got`` matches ``expected``."""
    return structure_diff(got, expected, path, strict_keys) or value_diff(got, expected, path, rtol, atol)


# --------------------------------------------------------------------------------------------------
# trusted-side helpers
# --------------------------------------------------------------------------------------------------

TF_MARKERS = ("__tf_variable__", "__tf_constant__", "__tf_tensor__")


def tf_variable(a: Any) -> dict:
    """Marker asking the sandbox to pass ``tf.Variable(a)`` to the student's function."""
    return {"__tf_variable__": np.asarray(a)}


def tf_constant(a: Any) -> dict:
    """Marker asking the sandbox to pass ``tf.constant(a)`` to the student's function."""
    return {"__tf_constant__": np.asarray(a)}


def unwrap_markers(obj: Any) -> Any:
    """Replace TF markers by their arrays (what the NumPy twin receives)."""
    if isinstance(obj, dict):
        if len(obj) == 1 and next(iter(obj)) in TF_MARKERS:
            return np.asarray(next(iter(obj.values())))
        return {k: unwrap_markers(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(unwrap_markers(v) for v in obj)
    return obj


def normalize(obj: Any) -> Any:
    """Trusted outputs as the wire would deliver them: NumPy scalars -> Python numbers, recursively."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: normalize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(normalize(v) for v in obj)
    return obj
