"""Verification report of the reference: numerical-gradient error of every backward pass and the
number of known mistakes of every graded function.

    python -m reference.mistakes            # prints the table

Gradients are compared with central differences in float64 (step 1e-6) over every entry; the error
is the relative difference ||analytic - numeric|| / (||analytic|| + ||numeric||) pooled over all the
gradients a backward pass returns that correspond to an input or parameter.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from reference import batchnorm, gradient_checking, nets, regularization
from reference.mistakes import mistakes_for
from reference.registry import GRADED

STEP = 1e-6


def numerical_gradient(f: Callable[[], float], x: np.ndarray, step: float = STEP) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``x`` (perturbed in place
    and restored), same shape as ``x``."""
    grad = np.zeros_like(x, dtype=float)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + step
        plus = f()
        flat[i] = old - step
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * step)
    return grad


def relative_error(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """||a - b|| / (||a|| + ||b||) over all (analytic, numeric) pairs stacked together."""
    a = np.concatenate([np.ravel(p) for p, _ in pairs])
    b = np.concatenate([np.ravel(q) for _, q in pairs])
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


def _net_case(rng, dims=(3, 5, 4, 1), m=6):
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1]))
        params[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.5
    return X, Y, params


def _param_pairs(cost: Callable[[], float], params: dict, grads: dict, names=None):
    names = names or list(params)
    return [(grads["d" + k], numerical_gradient(cost, params[k])) for k in names]


def three_layer_error(seed: int = 0) -> float:
    """nets.backward_propagation: dW, db vs the mean cross-entropy; dZ3, dA2 vs the summed cost."""
    rng = np.random.default_rng(seed)
    X, Y, params = _net_case(rng)
    m = X.shape[1]
    _, cache = nets.forward_propagation(X, params)
    grads = nets.backward_propagation(X, Y, cache)
    pairs = _param_pairs(lambda: nets.compute_cost(nets.forward_propagation(X, params)[0], Y), params, grads)
    Z3, A2 = cache[8].copy(), cache[5].copy()
    W3, b3 = params["W3"], params["b3"]
    pairs.append((grads["dZ3"], numerical_gradient(lambda: m * nets.compute_cost(nets.sigmoid(Z3), Y), Z3)))
    pairs.append((grads["dA2"], numerical_gradient(
        lambda: m * nets.compute_cost(nets.sigmoid(W3 @ A2 + b3), Y), A2)))
    return relative_error(pairs)


def l2_error(seed: int = 0, lambd: float = 0.7) -> float:
    """backward_propagation_with_regularization vs compute_cost_with_regularization."""
    rng = np.random.default_rng(seed)
    X, Y, params = _net_case(rng)
    _, cache = nets.forward_propagation(X, params)
    grads = regularization.backward_propagation_with_regularization(X, Y, cache, lambd)

    def cost():
        return regularization.compute_cost_with_regularization(nets.forward_propagation(X, params)[0], Y, params, lambd)
    return relative_error(_param_pairs(cost, params, grads))


def forward_with_masks(X, params, D1, D2, keep_prob):
    """The dropout forward pass with given masks (what backward_propagation_with_dropout differentiates)."""
    A1 = nets.relu(params["W1"] @ X + params["b1"]) * D1 / keep_prob
    A2 = nets.relu(params["W2"] @ A1 + params["b2"]) * D2 / keep_prob
    return nets.sigmoid(params["W3"] @ A2 + params["b3"])


def dropout_error(seed: int = 0, keep_prob: float = 0.7) -> float:
    """backward_propagation_with_dropout vs the mean cross-entropy with the forward pass's fixed masks."""
    rng = np.random.default_rng(seed)
    X, Y, params = _net_case(rng)
    _, cache = regularization.forward_propagation_with_dropout(X, params, keep_prob)
    D1, D2 = cache[1], cache[6]
    grads = regularization.backward_propagation_with_dropout(X, Y, cache, keep_prob)
    return relative_error(_param_pairs(
        lambda: nets.compute_cost(forward_with_masks(X, params, D1, D2, keep_prob), Y), params, grads))


def scalar_error(seed: int = 0) -> float:
    """gradient_checking.backward_propagation vs d/dtheta of forward_propagation."""
    rng = np.random.default_rng(seed)
    x, theta = rng.uniform(-5, 5), np.array([rng.uniform(-5, 5)])
    numeric = numerical_gradient(lambda: gradient_checking.forward_propagation(x, theta[0]), theta)
    return relative_error([(np.array([gradient_checking.backward_propagation(x, theta[0])]), numeric)])


def net_n_error(seed: int = 0) -> float:
    """gradient_checking.backward_propagation_n vs forward_propagation_n's cost."""
    rng = np.random.default_rng(seed)
    params = {name: rng.standard_normal(shape) for name, shape in gradient_checking.NET_SHAPES}
    X, Y = rng.standard_normal((4, 5)), np.array([[1.0, 0.0, 1.0, 1.0, 0.0]])
    _, cache = gradient_checking.forward_propagation_n(X, Y, params)
    grads = gradient_checking.backward_propagation_n(X, Y, cache)
    return relative_error(_param_pairs(lambda: gradient_checking.forward_propagation_n(X, Y, params)[0], params, grads))


def batchnorm_error(seed: int = 0) -> float:
    """batchnorm_backward vs sum(G * Z_tilde(Z, gamma, beta)) for a fixed upstream gradient G."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((4, 7)) * 2 + 1
    gamma, beta = rng.uniform(0.5, 2, (4, 1)), rng.standard_normal((4, 1))
    G = rng.standard_normal(Z.shape)
    _, cache = batchnorm.batchnorm_forward(Z, gamma, beta)
    dZ, dgamma, dbeta = batchnorm.batchnorm_backward(G, cache)

    def cost():
        return float(np.sum(G * batchnorm.batchnorm_forward(Z, gamma, beta)[0]))
    return relative_error([(dZ, numerical_gradient(cost, Z)), (dgamma, numerical_gradient(cost, gamma)),
                           (dbeta, numerical_gradient(cost, beta))])


def softmax_error(seed: int = 0) -> float:
    """softmax_backward (A - Y) vs d/dZ of the summed cross-entropy m * softmax_cost(softmax(Z), Y)."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((4, 6)) * 2
    Y = np.eye(4)[:, rng.integers(0, 4, 6)]
    m = Y.shape[1]
    dZ = batchnorm.softmax_backward(batchnorm.softmax(Z), Y)
    numeric = numerical_gradient(lambda: m * batchnorm.softmax_cost(batchnorm.softmax(Z), Y), Z)
    return relative_error([(dZ, numeric)])


def deep_net_error(seed: int = 0, use_batchnorm: bool = True) -> float:
    """batchnorm.deep_backward vs the mean softmax cross-entropy of deep_forward (training mode)."""
    rng = np.random.default_rng(seed)
    dims = [3, 5, 4, 3]
    X = rng.standard_normal((3, 8))
    Y = np.eye(3)[:, rng.integers(0, 3, 8)]
    params = batchnorm.init_deep_net(dims, use_batchnorm, seed=seed)
    for key in params:                                      # move off the gamma=1, beta=0, b=0 start
        params[key] = params[key] + 0.3 * rng.standard_normal(params[key].shape)
    AL, caches, _ = batchnorm.deep_forward(X, params)
    grads = batchnorm.deep_backward(AL, Y, caches)
    return relative_error(_param_pairs(
        lambda: batchnorm.softmax_cost(batchnorm.deep_forward(X, params)[0], Y), params, grads))


#: (assignment, function) -> gradient error of its backward pass; helpers are listed as ("helper", name)
GRADIENT_CASES: dict[tuple[str, str], Callable[[int], float]] = {
    ("regularization", "backward_propagation_with_regularization"): l2_error,
    ("regularization", "backward_propagation_with_dropout"): dropout_error,
    ("gradient_checking", "backward_propagation"): scalar_error,
    ("batchnorm", "batchnorm_backward"): batchnorm_error,
    ("batchnorm", "softmax_backward"): softmax_error,
    ("helper", "nets.backward_propagation"): three_layer_error,
    ("helper", "gradient_checking.backward_propagation_n"): net_n_error,
    ("helper", "batchnorm.deep_backward (batch norm)"): lambda seed: deep_net_error(seed, True),
    ("helper", "batchnorm.deep_backward (plain)"): lambda seed: deep_net_error(seed, False),
}


def table(seed: int = 0) -> list[tuple[str, str, float | None, int]]:
    """Rows (assignment, function, numerical-gradient error or None, number of known mistakes)."""
    rows = []
    for assignment, functions in GRADED.items():
        for function in functions:
            case = GRADIENT_CASES.get((assignment, function))
            rows.append((assignment, function, case(seed) if case else None, len(mistakes_for(assignment, function))))
    for (kind, name), case in GRADIENT_CASES.items():
        if kind == "helper":
            rows.append(("helper", name, case(seed), 0))
    return rows


def format_table(rows) -> str:
    lines = [f"{'assignment':<18} {'function':<42} {'grad rel. error':>15} {'mistakes':>8}", "-" * 86]
    for assignment, function, error, count in rows:
        err = f"{error:.2e}" if error is not None else "-"
        lines.append(f"{assignment:<18} {function:<42} {err:>15} {count if assignment != 'helper' else '-':>8}")
    graded = [r for r in rows if r[0] != "helper"]
    lines.append("-" * 86)
    lines.append(f"{len(graded)} graded functions, {sum(r[3] for r in graded)} known mistakes")
    return "\n".join(lines)


def main() -> None:
    print(format_table(table()))


if __name__ == "__main__":
    main()
