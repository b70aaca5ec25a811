"""Typical inputs for every graded function, used to show that each known mistake changes the output.

``typical_inputs(assignment, function, seed) -> (args, kwargs)``: random but reproducible arguments of
the shapes the course uses (a private Generator; the global NumPy generator is untouched).
``PROJECTIONS[(assignment, function)]`` maps an output to what may be compared when values are random
by nature (TensorFlow's initializer: shapes and variances only).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from reference import gradient_checking, nets, regularization
from reference.batchnorm import batchnorm_forward, softmax
from reference.tf_twin import glorot_variance

Args = tuple[tuple, dict[str, Any]]


def _params(rng, dims, scale=1.0, bias_scale=0.5):
    out = {}
    for l in range(1, len(dims)):
        out[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * scale
        out[f"b{l}"] = rng.standard_normal((dims[l], 1)) * bias_scale
    return out


def _grads(rng, params, scale=1.0):
    return {"d" + k: rng.standard_normal(v.shape) * scale for k, v in params.items()}


def _moments(rng, params):
    return {"d" + k: rng.uniform(0.01, 1.0, v.shape) for k, v in params.items()}


def _net_data(rng, n_x=3, m=7):
    X = rng.standard_normal((n_x, m))
    Y = rng.integers(0, 2, size=(1, m)).astype(float)
    Y[0, 0], Y[0, -1] = 0, 1
    return X, Y


def _one_hot(rng, C, m):
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


def _typical(assignment: str, function: str, rng: np.random.Generator) -> Args:
    key = (assignment, function)
    if assignment == "initialization":
        dims = [int(n) for n in rng.integers(2, 7, size=4)]
        while len(set(dims[:3])) < 3:       # distinct fan-in/fan-out so every scale mistake shows
            dims = [int(n) for n in rng.integers(2, 7, size=4)]
        return (dims,), {}
    if assignment == "regularization":
        X, Y = _net_data(rng)
        params = _params(rng, [3, 5, 4, 1])
        if function == "compute_cost_with_regularization":
            A3 = rng.uniform(0.05, 0.95, size=Y.shape)
            return (A3, Y, params, 0.7), {}
        if function == "backward_propagation_with_regularization":
            _, cache = nets.forward_propagation(X, params)
            return (X, Y, cache, 0.7), {}
        if function == "forward_propagation_with_dropout":
            return (X, params), {"keep_prob": 0.7}
        if function == "backward_propagation_with_dropout":
            _, cache = regularization.forward_propagation_with_dropout(X, params, 0.7)
            return (X, Y, cache, 0.7), {}
    if assignment == "gradient_checking":
        x, theta = float(rng.uniform(1, 5)), float(rng.uniform(1, 5))
        if function in ("forward_propagation", "backward_propagation", "gradient_check"):
            return (x, theta), {}
        if function == "gradient_check_n":
            return gradient_check_n_case(rng), {}
    if assignment == "optimization":
        params = _params(rng, [3, 4, 2, 1])
        grads = _grads(rng, params)
        if function == "update_parameters_with_gd":
            return (params, grads, 0.1), {}
        if function == "random_mini_batches":
            X = rng.standard_normal((2, 148))
            Y = rng.integers(0, 2, size=(1, 148)).astype(float)
            return (X, Y), {"mini_batch_size": 64, "seed": int(rng.integers(0, 100))}
        if function in ("initialize_velocity", "initialize_rmsprop", "initialize_adam"):
            return (params,), {}
        if function == "update_parameters_with_momentum":
            return (params, grads, _grads(rng, params, 0.5), 0.9, 0.1), {}
        if function == "update_parameters_with_rmsprop":
            return (params, grads, _moments(rng, params), 0.999, 0.01), {}
        if function == "update_parameters_with_adam":
            v = _grads(rng, params, 0.5)
            return (params, grads, v, _moments(rng, params), 3), {}
        if function == "update_lr":
            return (0.5, int(rng.integers(1, 50)), 0.3), {}
        if function == "schedule_lr_decay":
            return (0.5, 2700, 0.3), {"time_interval": 1000}
        if function == "exponentially_weighted_average":
            return (rng.standard_normal(12) + 3.0, 0.9), {}
    if assignment == "batchnorm":
        Z = rng.standard_normal((4, 6)) * 2 + 1
        gamma = rng.uniform(0.5, 2.0, (4, 1))
        beta = rng.standard_normal((4, 1))
        if function == "batchnorm_forward":
            return (Z, gamma, beta), {}
        if function == "batchnorm_backward":
            _, cache = batchnorm_forward(Z, gamma, beta)
            return (rng.standard_normal(Z.shape), cache), {}
        if function == "update_running_stats":
            return (rng.standard_normal((4, 1)), rng.uniform(0.5, 2, (4, 1)), rng.standard_normal((4, 1)),
                    rng.uniform(0.5, 2, (4, 1))), {}
        if function == "batchnorm_inference":
            return (Z, gamma, beta, rng.standard_normal((4, 1)), rng.uniform(0.5, 2, (4, 1))), {}
        if function == "softmax":
            return (rng.standard_normal((4, 6)) * 3,), {}
        if function in ("softmax_cost", "softmax_backward"):
            return (softmax(rng.standard_normal((4, 6)) * 2), _one_hot(rng, 4, 6)), {}
        if function == "sample_log_uniform":
            return (1e-4, 1.0, 20, int(rng.integers(0, 1000))), {}
    if assignment == "tensorflow":
        if function == "linear_function":
            return (), {}
        if function == "sigmoid":
            return (float(rng.uniform(-4, 4)),), {}
        if function == "one_hot_matrix":
            return (int(rng.integers(1, 4)),), {"C": 4}
        if function == "initialize_parameters":
            return (), {"n_x": 40, "n_classes": 4}
        params = {"W1": rng.standard_normal((25, 6)) * 0.5, "b1": rng.standard_normal((25, 1)) * 0.5,
                  "W2": rng.standard_normal((12, 25)) * 0.3, "b2": rng.standard_normal((12, 1)) * 0.5,
                  "W3": rng.standard_normal((4, 12)) * 0.5, "b3": rng.standard_normal((4, 1)) * 0.5}
        if function == "forward_propagation":
            return (rng.standard_normal((6, 5)), params), {}
        if function == "compute_total_loss":
            return (rng.standard_normal((4, 5)) * 2, _one_hot(rng, 4, 5)), {}
    raise KeyError(f"no typical inputs for {key}")


def typical_inputs(assignment: str, function: str, seed: int = 0) -> Args:
    """Reproducible typical arguments ``(args, kwargs)`` for ``assignment``'s graded ``function``."""
    return _typical(assignment, function, np.random.default_rng([seed, len(function)]))


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


PROJECTIONS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("tensorflow", "initialize_parameters"): glorot_summary,
}
