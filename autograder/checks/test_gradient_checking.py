"""Hidden checks: gradient checking (1-D J = theta * x, then the 4 -> 5 -> 3 -> 1 net)."""
from __future__ import annotations

import numpy as np

from reference.gradient_checking import (NET_SHAPES, backward_propagation_n,
                                         backward_propagation_n_with_bugs, forward_propagation_n)

from . import inputs
from .examples import Example
from .framework import call_with, suite_for_module, test_check  # noqa: F401  (pytest entry)

S = suite_for_module(__name__)
CONCEPTS = ["gradient_checking"]


# ---- visible examples: the notebook's test cells show the same text (`deepgrade build` writes it there)
S.examples.update({
    "forward_propagation": Example(call='J = forward_propagation(2, 4)'),
    "backward_propagation": Example(call='dtheta = backward_propagation(2, 4)'),
    "gradient_check": Example(call='difference = gradient_check(2, 4)'),
    "gradient_check_n": Example(
        setup='''
np.random.seed(1)
X = np.random.randn(4, 3)
Y = np.array([[1, 1, 0]])
parameters = {"W1": np.random.randn(5, 4), "b1": np.random.randn(5, 1),
              "W2": np.random.randn(3, 5), "b2": np.random.randn(3, 1),
              "W3": np.random.randn(1, 3), "b3": np.random.randn(1, 1)}

cost, cache = forward_propagation_n(X, Y, parameters)
gradients = backward_propagation_n(X, Y, cache)
''',
        call='difference = gradient_check_n(parameters, gradients, X, Y)'),
})


def _scalars(rng):
    """(x, theta): x in [1.5, 5] so that the known wrong differences give distinct values."""
    return float(rng.uniform(1.5, 5)), float(rng.uniform(-5, 5))


S.standard("forward_propagation", concepts=CONCEPTS, random=lambda rng: call_with(*_scalars(rng)), points=(1, 1, 3),
           failure="the cost of the 1-D model is J = theta * x")
S.standard("backward_propagation", concepts=CONCEPTS, random=lambda rng: call_with(*_scalars(rng)), points=(1, 1, 3),
           failure="the derivative of J = theta * x with respect to theta is x")


def _random_gradient_check(rng):
    """Two regimes, both exact for any correct formula (so no constant passes both):

    - a large epsilon: for the linear J the two-sided estimate is exact up to ~1e-15, so the expected
      difference is ~0 (a memorised 2.9e-10 from the visible example fails);
    - a huge theta (2**55 to 2**62) with epsilon below half its float spacing: theta + epsilon and
      theta - epsilon both round to theta, the estimate is exactly 0 and the difference exactly 1
      (a function that returns 0 without computing anything fails)."""
    x, theta = _scalars(rng)
    huge = float(rng.choice([-1.0, 1.0])) * 2.0 ** int(rng.integers(55, 63))
    return [call_with(x, theta, epsilon=float(10 ** rng.uniform(-1, 0))),
            call_with(x, huge, epsilon=float(rng.uniform(1.0, 8.0)))]


S.standard("gradient_check", concepts=CONCEPTS, random=_random_gradient_check, points=(1, 1, 3), atol=1e-12,
           failure="gradient_check should return ||grad - gradapprox|| / (||grad|| + ||gradapprox||) with "
                   "gradapprox = (J(theta + epsilon) - J(theta - epsilon)) / (2 epsilon)")


# ---- the N-dimensional check ----------------------------------------------------------------------
def _net_case(rng):
    """(parameters, X (4, m), Y (1, m)) for the fixed 4 -> 5 -> 3 -> 1 net."""
    m = int(rng.integers(3, 8))
    params = {name: rng.standard_normal(shape) for name, shape in NET_SHAPES}
    return params, rng.standard_normal((4, m)), inputs.binary_labels(rng, m)


def _gradients(params, X, Y, backward=backward_propagation_n):
    _, cache = forward_propagation_n(X, Y, params)
    return backward(X, Y, cache)


def _random_buggy_gradient_check_n(rng):
    """Gradients with a random subset of entries scaled: the difference is large and well defined."""
    params, X, Y = _net_case(rng)
    grads = _gradients(params, X, Y)
    key = str(rng.choice(["dW1", "db1", "dW2", "db2", "dW3"]))
    grads[key] = grads[key] * float(rng.uniform(1.5, 4.0)) + 0.1
    return call_with(params, grads, X, Y)


S.standard("gradient_check_n", concepts=CONCEPTS, random=_random_buggy_gradient_check_n, points=(1, 1, 3), rtol=1e-3, atol=1e-7, n_random=2,
           failure="nudge one parameter at a time (flattened W1, b1, W2, b2, W3, b3) by ±epsilon, "
                   "re-run forward_propagation_n, and compare the two-sided estimates with the gradients")


SMALL_DIFFERENCE = 1e-5     # 50x the course threshold (reference.gradient_checking.DIFFERENCE_THRESHOLD): see small_for_correct_gradients


@S.check("gradient_check_n", points=1, concepts=CONCEPTS, randomized=True,
         failure="for correct gradients the relative difference should be tiny")
def small_for_correct_gradients(t):
    """Property: exact backprop gradients of two random nets give differences below the threshold, and
    not the same number twice (a constant, e.g. the visible example's answer, is not a gradient check).

    Nets where a finite difference crosses a ReLU kink (or all units are dead) are redrawn: the
    reference itself must find a difference below 1e-8 on the net used. The bound is SMALL_DIFFERENCE,
    not the course's threshold: plausible variants (one-sided differences, another norm, no
    denominator) land near the threshold on some nets and below it on others, so a bound there would
    give the same code different points for different students (issue 12). Those variants lose their
    points on the checks made for them (``edge.one_sided``, the fixed and random values)."""
    seen = []
    for _ in range(2):
        for _ in range(50):
            params, X, Y = _net_case(t.rng)
            grads = _gradients(params, X, Y)
            if t.reference(params, grads, X, Y) < 1e-8:
                break
        d = float(np.asarray(t.call(params, grads, X, Y), dtype=float).reshape(()))
        t.require(0 <= d < SMALL_DIFFERENCE,
                  f"for exact gradients your gradient_check_n returned {d:.3g}; expected a tiny difference "
                  f"(well below {SMALL_DIFFERENCE:g}; correct code gives less than 1e-8)")
        seen.append(d)
    t.require(seen[0] != seen[1], f"your gradient_check_n returned {seen[0]:.3g} for two different nets; "
              "it should compute the difference from its inputs")

