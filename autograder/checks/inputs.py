"""Input generators shared by the hidden checks (trusted side only).

All functions draw from the Generator they are given (per-check, per-submission seeded), except
``fixed_rng`` (edge cases: the same for everyone) and the ``course_*`` ones, which rebuild the fixed inputs the course shows from NumPy's legacy seeded stream
(without touching the global generator).
Shapes follow the course: activations ``(n_units, m)``, ``Wl: (n_l, n_{l-1})``, ``bl: (n_l, 1)``.
"""
from __future__ import annotations

import zlib

import numpy as np


def layer_dims(rng: np.random.Generator, n_layers: int = 3, sizes: tuple[int, int] = (2, 7)) -> list[int]:
    """Random ``[n_0, ..., n_L]`` with exactly ``n_layers`` layers, sizes in ``sizes`` (inclusive) and
    adjacent sizes distinct.

    The layer count is fixed and no layer has one unit, so code written for a fixed number of layers,
    or that mixes up n_l and n_{l-1}, fails on every draw (one-layer and one-unit networks are
    deterministic edge cases of the checks instead)."""
    dims = [int(rng.integers(sizes[0], sizes[1] + 1))]
    while len(dims) < n_layers + 1:
        n = int(rng.integers(sizes[0], sizes[1] + 1))
        if n != dims[-1]:
            dims.append(n)
    return dims


def parameters(rng: np.random.Generator, dims: list[int], scale: float = 1.0) -> dict:
    """``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}`` with normal entries times ``scale``."""
    out = {}
    for l in range(1, len(dims)):
        out[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * scale
        out[f"b{l}"] = rng.standard_normal((dims[l], 1)) * scale
    return out


def like(rng: np.random.Generator, params: dict, prefix: str = "d", scale: float = 1.0) -> dict:
    """A dict of random arrays shaped like ``params`` with keys prefixed (gradients: "dW1", ...)."""
    return {prefix + k: rng.standard_normal(v.shape) * scale for k, v in params.items()}


def positive_like(rng: np.random.Generator, params: dict, prefix: str = "d") -> dict:
    """Like :func:`like` but with positive entries (second-moment accumulators ``s``)."""
    return {prefix + k: rng.uniform(0.01, 1.0, v.shape) for k, v in params.items()}


def binary_labels(rng: np.random.Generator, m: int) -> np.ndarray:
    """``(1, m)`` integer labels with both classes present."""
    Y = rng.integers(0, 2, size=(1, m))
    Y[0, 0], Y[0, -1] = 0, 1
    return Y


def probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Entries strictly inside (0, 1), away from the edges."""
    return rng.uniform(0.05, 0.95, size=shape)


def three_layer_net(rng: np.random.Generator, n_x: tuple[int, int] = (2, 5),
                    hidden: tuple[int, int] = (2, 6), m: tuple[int, int] = (7, 12)):
    """``(X (n_x, m), Y (1, m), parameters)`` for LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID.

    The number of examples ``m`` is larger than every layer size, so code that takes m from the wrong
    axis fails on every draw; adjacent layer sizes differ."""
    nx = int(rng.integers(n_x[0], n_x[1] + 1))
    dims = [nx] + layer_dims(rng, 2, hidden)[1:] + [1]
    while dims[1] == nx:
        dims[1] = int(rng.integers(hidden[0], hidden[1] + 1))
    mm = int(rng.integers(m[0], m[1] + 1))
    X = rng.standard_normal((nx, mm))
    return X, binary_labels(rng, mm), parameters(rng, dims)


def fixed_rng(name: str) -> np.random.Generator:
    """A generator that depends only on ``name``: the inputs of deterministic edge cases."""
    return np.random.default_rng(zlib.crc32(name.encode()))


