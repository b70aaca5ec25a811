"""Typical inputs for every graded function, used to show that each known mistake changes the output.

``typical_inputs(assignment, function, seed) -> (args, kwargs)``: random but reproducible arguments of
the shapes the course uses (a private Generator; the global NumPy generator is untouched).
Each assignment's own inputs live in its mistakes module (``typical_inputs(function, rng)``), next to
its mistakes; this module holds the shared builders.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from reference import catalog, gradient_checking
from reference.tf_twin import glorot_variance

Args = tuple[tuple, dict[str, Any]]


def random_params(rng, dims, scale=1.0, bias_scale=0.5):
    out = {}
    for l in range(1, len(dims)):
        out[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * scale
        out[f"b{l}"] = rng.standard_normal((dims[l], 1)) * bias_scale
    return out


def random_grads(rng, params, scale=1.0):
    return {"d" + k: rng.standard_normal(v.shape) * scale for k, v in params.items()}


def random_moments(rng, params):
    return {"d" + k: rng.uniform(0.01, 1.0, v.shape) for k, v in params.items()}


def random_net_data(rng, n_x=3, m=7):
    X = rng.standard_normal((n_x, m))
    Y = rng.integers(0, 2, size=(1, m)).astype(float)
    Y[0, 0], Y[0, -1] = 0, 1
    return X, Y


def random_one_hot(rng, C, m):
    labels = rng.integers(0, C, size=m)
    labels[:C] = np.arange(min(C, m))
    return np.eye(C)[:, labels]


def gradient_check_n_case(rng, with_bugs=True) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """(parameters, gradients, X, Y) for the 4 -> 5 -> 3 -> 1 net; gradients from the planted-bug backward
    pass by default (so the relative difference is large and every formula mistake shows)."""
    parameters = {name: rng.standard_normal(shape) for name, shape in gradient_checking.NET_SHAPES}
    X = rng.standard_normal((4, 3))
    Y = np.array([[1.0, 1.0, 0.0]])
    _, cache = gradient_checking.forward_propagation_n(X, Y, parameters)
    backward = gradient_checking.backward_propagation_n_with_bugs if with_bugs else gradient_checking.backward_propagation_n
    return parameters, backward(X, Y, cache), X, Y


def typical_inputs(assignment: str, function: str, seed: int = 0) -> Args:
    """Reproducible typical arguments ``(args, kwargs)`` for ``assignment``'s graded ``function``: the
    ``typical_inputs(function, rng)`` of the assignment's declared mistakes module."""
    try:
        module = catalog.get(assignment).module("mistakes")
    except KeyError:
        module = None
    if module is None or not hasattr(module, "typical_inputs"):
        raise KeyError(f"no typical inputs for {(assignment, function)}")
    return module.typical_inputs(function, np.random.default_rng([seed, len(function)]))


def glorot_summary(parameters: dict) -> dict:
    """{name: (shape, whether the sample variance is within a factor 3 of 2 / (rows + cols))}.

    Values drawn by TensorFlow cannot be reproduced, so this is what is compared: equal summaries
    mean the same shapes and Glorot-like spreads.
    """
    out = {}
    for name, value in parameters.items():
        value = np.asarray(value, dtype=float)
        ratio = float(np.var(value)) / glorot_variance(value.shape) if value.ndim == 2 else float("nan")
        out[name] = (tuple(value.shape), bool(1 / 3 < ratio < 3))
    return out

