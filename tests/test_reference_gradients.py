"""Every backward pass of the reference against central-difference gradients (float64)."""
from __future__ import annotations

import numpy as np
import pytest

from reference import gradient_checking as gc
from reference.mistakes.report import GRADIENT_CASES, numerical_gradient, relative_error

TOLERANCE = 1e-7


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", list(GRADIENT_CASES), ids=lambda c: f"{c[0]}:{c[1]}")
def test_backward_pass_matches_numerical_gradient(case, seed):
    error = GRADIENT_CASES[case](seed)
    assert error < TOLERANCE, f"{case}: relative error {error:.3e}"


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    numeric = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    assert relative_error([(np.sin(x) + x * np.cos(x), numeric)]) < 1e-9


def test_the_comparison_detects_a_wrong_backward_pass():
    """The planted-bug backward pass must fail the same comparison the tests above pass."""
    rng = np.random.default_rng(5)
    params = {name: rng.standard_normal(shape) for name, shape in gc.NET_SHAPES}
    X, Y = rng.standard_normal((4, 5)), np.array([[1.0, 0.0, 1.0, 1.0, 0.0]])
    _, cache = gc.forward_propagation_n(X, Y, params)
    grads = gc.backward_propagation_n_with_bugs(X, Y, cache)
    pairs = [(grads["d" + k], numerical_gradient(lambda: gc.forward_propagation_n(X, Y, params)[0], params[k]))
             for k in params]
    assert relative_error(pairs) > 1e-2


@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_check_n_accepts_correct_and_rejects_buggy_gradients(seed, capsys):
    rng = np.random.default_rng(seed)
    params = {name: rng.standard_normal(shape) for name, shape in gc.NET_SHAPES}
    X, Y = rng.standard_normal((4, 3)), np.array([[1.0, 1.0, 0.0]])
    _, cache = gc.forward_propagation_n(X, Y, params)
    good = gc.gradient_check_n(params, gc.backward_propagation_n(X, Y, cache), X, Y, print_msg=True)
    bad = gc.gradient_check_n(params, gc.backward_propagation_n_with_bugs(X, Y, cache), X, Y, print_msg=True)
    assert good < gc.DIFFERENCE_THRESHOLD
    assert bad > 0.1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "agrees" in out[0] and "wrong" in out[1]


def test_gradient_check_1d_is_tiny_for_the_linear_model():
    for x, theta in [(2, 4), (-3.5, 0.25), (7.0, -1.0)]:
        assert gc.gradient_check(x, theta) < 1e-7


def test_gradient_check_n_does_not_modify_the_parameters():
    rng = np.random.default_rng(3)
    params = {name: rng.standard_normal(shape) for name, shape in gc.NET_SHAPES}
    before = {k: v.copy() for k, v in params.items()}
    X, Y = rng.standard_normal((4, 3)), np.array([[1.0, 1.0, 0.0]])
    _, cache = gc.forward_propagation_n(X, Y, params)
    gc.gradient_check_n(params, gc.backward_propagation_n(X, Y, cache), X, Y)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def test_the_grading_twin_of_gradient_check_n_gives_the_loops_numbers():
    """The checks evaluate gradient_check_n's batched twin (issue 15: the loop was ~60 ms of every
    notebook); it must give the course loop's numbers on correct, buggy and dead-unit nets, any epsilon,
    and leave its inputs alone."""
    from autograder.checks.framework import reference_function
    assert reference_function("gradient_checking", "gradient_check_n") is gc.gradient_check_n_batched
    rng = np.random.default_rng(15)
    shapes = (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)), ("W3", (1, 3)), ("b3", (1, 1)))
    for k in range(120):
        m = int(rng.integers(1, 9))
        params = {name: rng.standard_normal(shape) for name, shape in shapes}
        if k % 7 == 0:
            params["b1"] = params["b1"] - 10.0            # every first-layer unit dead
        X, Y = rng.standard_normal((4, m)), (rng.random((1, m)) > 0.5).astype(float)
        _, cache = gc.forward_propagation_n(X, Y, params)
        grads = (gc.backward_propagation_n_with_bugs if k % 2 else gc.backward_propagation_n)(X, Y, cache)
        eps = float(rng.choice([1e-7, 1e-5, 1e-3]))
        before = {key: v.copy() for key, v in params.items()}
        with np.errstate(invalid="ignore"):
            loop = gc.gradient_check_n(params, grads, X, Y, epsilon=eps)
            twin = gc.gradient_check_n_batched(params, grads, X, Y, epsilon=eps)
        np.testing.assert_allclose(twin, loop, rtol=1e-9, atol=1e-15, equal_nan=True)
        assert all(np.array_equal(params[key], before[key]) for key in params)
