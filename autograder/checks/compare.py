"""Structured comparison of outputs (structure first, then values) and trusted-side data helpers.

``diff(got, expected)`` returns None or one learner-facing sentence naming exactly what differs:
container type, tuple length, dict keys (missing/extra named), array shapes, then the first value
outside ``atol + rtol * |expected|``. TF markers (``tf_variable``/``tf_constant``) ask the sandbox for
TensorFlow arguments; ``unwrap_markers`` gives the trusted NumPy side the plain arrays.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import re
from typing import Any, Iterator

import numpy as np

__all__ = ["TF_MARKERS", "describe_inputs", "describe_value", "diff", "how_far", "missing_key_note", "normalize",
           "salted_numpy_seed", "structure_diff", "tf_constant", "tf_variable", "unwrap_markers", "value_diff"]

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


def how_far(got: float, expected: float) -> str:
    """How a wrong number relates to the expected one, in words that do not give the number away.

    A ratio with one significant digit ("about 2 times the expected value") or a band of relative error
    tells a learner what kind of mistake to look for (a missing 1/2, a wrong sign, a small epsilon
    effect) without handing out a value that would pass the tolerance."""
    if not np.isfinite(got):
        return f"is {got}, not a finite number"
    if expected == 0:
        return "should be 0"
    if got == 0:
        return "is 0 but should not be"
    ratio = got / expected
    if ratio < 0:
        return "has the wrong sign"
    rel = abs(ratio - 1)
    if rel < 0.01:
        return "is off by less than 1%"
    if rel < 0.1:
        return "is off by a few percent"
    if rel < 0.5:
        return "is off by tens of percent"
    if ratio >= 10:
        return "is more than 10 times the expected value"
    if ratio < 0.1:
        return "is less than a tenth of the expected value"
    return f"is about {ratio:.1g} times the expected value"


def value_diff(got: Any, expected: Any, path: str = "output", rtol: float = 1e-5,
               atol: float = 1e-7, reveal: bool = True) -> str | None:
    """First value difference (after ``structure_diff`` passed) as a sentence, or None.

    Numeric leaves must satisfy ``|got - expected| <= atol + rtol * |expected|`` elementwise.
    ``reveal``: name the expected number (only for inputs the course shows); otherwise the sentence
    says where and roughly how far the output is off (:func:`how_far`), never the value to copy.
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
            if reveal:
                return f"`{path}` is {float(g):.6g}; expected {float(e):.6g}"
            return f"`{path}` {how_far(float(g), float(e))}"
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        head = f"`{path}` differs from the expected values in {int(bad.sum())} of {e.size} entries"
        if not reveal:
            return f"{head} (e.g. the entry at index {idx} {how_far(float(g[idx]), float(e[idx]))})"
        gaps = np.abs(g - e)[bad]
        worst = float(np.nanmax(gaps)) if np.isfinite(gaps).any() else math.inf
        return (f"{head} (e.g. at index {idx}: {g[idx]:.6g} instead of {e[idx]:.6g}; largest difference {worst:.3g})")
    if ke == "sequence":
        for i, (g, e) in enumerate(zip(got, expected)):
            d = value_diff(g, e, f"{path}[{i}]", rtol, atol, reveal)
            if d:
                return d
        return None
    if ke == "dict":
        for k in expected:
            d = value_diff(got[k], expected[k], f"{path}[{k!r}]", rtol, atol, reveal)
            if d:
                return d
        return None
    if got != expected:
        return f"`{path}` is {got!r}; expected {expected!r}" if reveal else f"`{path}` is not the expected value"
    return None


def diff(got: Any, expected: Any, path: str = "output", rtol: float = 1e-5, atol: float = 1e-7,
         strict_keys: bool = True, reveal: bool = True) -> str | None:
    """Structure first, then values; None when ``got`` matches ``expected``."""
    return structure_diff(got, expected, path, strict_keys) or value_diff(got, expected, path, rtol, atol, reveal)


# --------------------------------------------------------------------------------------------------
# inputs in plain words (for messages about failed calls)
# --------------------------------------------------------------------------------------------------

_LAYER_KEY = re.compile(r"^(d?)([Wb])(\d+)$")


def _network_layers(d: dict) -> int | None:
    """L when ``d`` holds W1, b1, ..., WL, bL (or their gradients dW1, ...), else None."""
    if not d or not all(isinstance(k, str) and _LAYER_KEY.match(k) for k in d):
        return None
    return max(int(_LAYER_KEY.match(k).group(3)) for k in d)


def describe_value(x: Any) -> str:
    """One argument in plain words: shapes for arrays, layer counts for parameter dicts."""
    x = unwrap_markers(x)
    if isinstance(x, np.ndarray):
        return f"an array of shape {tuple(x.shape)}"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.3g}"
    if isinstance(x, dict):
        L = _network_layers(x)
        shapes = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in x.items())
        if L is not None:
            kind = "dW/db entries" if all(str(k).startswith("d") for k in x) else "parameters"
            return f"{kind} of a {L}-layer network ({shapes})"
        return f"a dict with keys {list(map(str, x))}"
    if isinstance(x, (list, tuple)):
        if x and all(isinstance(v, (int, float, np.number)) for v in x) and len(x) <= 12:
            return f"the {type(x).__name__} {list(x)}"
        if x and len(x) <= 16 and all(isinstance(v, np.ndarray) for v in x):
            return f"a {type(x).__name__} of {len(x)} arrays of shapes {', '.join(str(v.shape) for v in x)}"
        return f"a {type(x).__name__} of {len(x)} items"
    return "None" if x is None else f"a {type(x).__name__}"


def describe_inputs(reference: Any, args: tuple, kwargs: dict) -> str:
    """``"X: an array of shape (3, 5); parameters: parameters of a 3-layer network (W1 (2, 3), ...)"``.

    Names come from ``reference``'s signature when the arguments bind to it, else positions."""
    try:
        bound = inspect.signature(reference).bind(*args, **kwargs)
        items = list(bound.arguments.items())
    except (TypeError, ValueError):
        items = [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
    if not items:
        return "no arguments"
    return "; ".join(f"{name}: {describe_value(v)}" for name, v in items)


def missing_key_note(error_message: str, args: tuple, kwargs: dict) -> str:
    """For ``KeyError: 'W2'`` on a network without layer 2: a sentence saying how many layers it has."""
    m = re.search(r"KeyError: '(d?[Wb](\d+))'", error_message)
    if not m:
        return ""
    layers = [L for v in list(args) + list(kwargs.values()) if isinstance(v, dict)
              for L in [_network_layers(unwrap_markers(v))] if L is not None]
    if not layers or int(m.group(2)) <= max(layers):
        return ""
    L = max(layers)
    return (f" The network it was given has {L} layer{'s' if L != 1 else ''}, so there is no "
            f"'{m.group(1)}': loop over the layers that are there (L = len(parameters) // 2) instead of "
            "assuming a fixed number.")


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


@contextlib.contextmanager
def salted_numpy_seed(salt: int | None) -> Iterator[None]:
    """While active, ``np.random.seed(s)`` seeds with ``(s + salt) mod 2**32``, and so does
    ``np.random.RandomState(s)`` (``salt=None``: no change).

    The sandbox worker does the same around a call made with ``_seed_salt`` (``worker.op_call``), so a
    function that must seed NumPy itself (``np.random.seed(1)``) draws different numbers in every
    randomized check while the reference, run under the same salt here, stays comparable. A constant
    or memorised answer cannot follow."""
    if salt is None:
        yield
        return
    original, original_state = np.random.seed, np.random.RandomState

    def salted(s: Any) -> Any:
        return None if s is None else (int(s) + int(salt)) % 2**32

    def seed(s: Any = None) -> None:
        original(salted(s))

    class SaltedRandomState(original_state):
        def __init__(self, s: Any = None):
            super().__init__(salted(s))

    np.random.seed, np.random.RandomState = seed, SaltedRandomState
    try:
        yield
    finally:
        np.random.seed, np.random.RandomState = original, original_state
