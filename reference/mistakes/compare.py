"""Structural comparison of function outputs: does a mistake's output differ from the reference's?

Mirrors what the hidden checks can observe: container types and lengths, dict keys, array shapes,
and values within ``rtol``/``atol`` (nan only equals nan; dtypes are not compared).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def first_difference(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-7, path: str = "output") -> str | None:
    """A description of the first place where ``a`` and ``b`` differ, or None if they match."""
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return f"{path}: dict vs {type(b if isinstance(a, dict) else a).__name__}"
        if set(a) != set(b):
            return f"{path}: keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            d = first_difference(a[key], b[key], rtol, atol, f"{path}[{key!r}]")
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
            return f"{path}: sequence vs scalar/array"
        if len(a) != len(b):
            return f"{path}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, rtol, atol, f"{path}[{i}]")
            if d:
                return d
        return None
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        return f"{path}: shape {x.shape} vs {y.shape}"
    if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
        if np.isnan(x).sum() != np.isnan(y).sum():
            return f"{path}: nan in {int(np.isnan(x).sum())} vs {int(np.isnan(y).sum())} entries"
        with np.errstate(invalid="ignore"):
            return f"{path}: values differ (max abs diff {np.nanmax(np.abs(x - y)):.3g})"
    return None


def outputs_differ(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
    """True when ``a`` and ``b`` differ in structure, shape or value."""
    return first_difference(a, b, rtol, atol) is not None
