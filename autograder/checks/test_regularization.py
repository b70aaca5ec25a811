"""Hidden checks: regularization (L2 cost + backprop, inverted dropout forward + backward)."""
from __future__ import annotations

import numpy as np

from reference.nets import forward_propagation as _forward
from reference.regularization import forward_propagation_with_dropout as _forward_dropout

from . import inputs
from .examples import Example
from .framework import call_with, suite_for_module, test_check  # noqa: F401  (pytest entry)

S = suite_for_module(__name__)
L2, DROPOUT = ["l2_regularization"], ["dropout"]


# ---- visible examples: the notebook's test cells show the same text (`deepgrade build` writes it there)
NET = '''
np.random.seed(1)
X = np.random.randn(3, 5)
Y = np.array([[1, 1, 0, 1, 0]])
parameters = {"W1": np.random.randn(2, 3), "b1": np.random.randn(2, 1),
              "W2": np.random.randn(3, 2), "b2": np.random.randn(3, 1),
              "W3": np.random.randn(1, 3), "b3": np.random.randn(1, 1)}
'''
S.examples.update({
    "compute_cost_with_regularization": Example(
        setup=NET + '''
A3, _ = forward_propagation(X, parameters)
''',
        call='cost = compute_cost_with_regularization(A3, Y, parameters, lambd=0.1)'),
    "backward_propagation_with_regularization": Example(
        setup=NET + '''
A3, cache = forward_propagation(X, parameters)
''',
        call='grads = backward_propagation_with_regularization(X, Y, cache, lambd=0.7)'),
    "forward_propagation_with_dropout": Example(
        setup=NET + "\n",
        call='A3, cache = forward_propagation_with_dropout(X, parameters, keep_prob=0.7)'),
    "backward_propagation_with_dropout": Example(
        setup=NET + '''
keep_prob = 0.8
Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
D1 = (np.random.rand(2, 5) < keep_prob).astype(int)
A1 = relu(Z1) * D1 / keep_prob
Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
D2 = (np.random.rand(3, 5) < keep_prob).astype(int)
A2 = relu(Z2) * D2 / keep_prob
Z3 = np.dot(parameters["W3"], A2) + parameters["b3"]
A3 = sigmoid(Z3)
cache = (Z1, D1, A1, parameters["W1"], parameters["b1"], Z2, D2, A2, parameters["W2"],
         parameters["b2"], Z3, A3, parameters["W3"], parameters["b3"])
''',
        call='grads = backward_propagation_with_dropout(X, Y, cache, keep_prob)'),
})


# ---- inputs --------------------------------------------------------------------------------------


def _random_cost_case(rng):
    X, Y, params = inputs.three_layer_net(rng)
    return call_with(inputs.probabilities(rng, Y.shape), Y, params, float(rng.uniform(0.05, 1.0)))


def _backward_l2(X, Y, params, lambd):
    _, cache = _forward(X, params)
    return call_with(X, Y, cache, lambd)


def _random_backward_l2(rng):
    X, Y, params = inputs.three_layer_net(rng)
    return _backward_l2(X, Y, params, float(rng.uniform(0.1, 1.0)))


def _random_forward_dropout(rng):
    X, _, params = inputs.three_layer_net(rng)
    return call_with(X, params, float(rng.uniform(0.6, 0.9)))


def _backward_dropout(X, Y, params, keep_prob):
    _, cache = _forward_dropout(X, params, keep_prob)
    return call_with(X, Y, cache, keep_prob)


def _random_backward_dropout(rng):
    X, Y, params = inputs.three_layer_net(rng)
    return _backward_dropout(X, Y, params, float(rng.uniform(0.6, 0.9)))


def _single_example(make):
    """Edge case: the net's inputs for one example (m = 1), the same for every student."""
    return (("single_example", "a single example (m = 1)",
             lambda: make(*inputs.three_layer_net(inputs.fixed_rng("single_example"), m=(1, 1)))),)


# ---- checks --------------------------------------------------------------------------------------
S.standard("compute_cost_with_regularization", concepts=L2, random=_random_cost_case,
           edges=_single_example(lambda X, Y, params: call_with(np.array([[0.3]]), Y, params, 0.5)),
           failure="the cost should be compute_cost(A3, Y) + lambd / (2 m) * (sum(W1²) + sum(W2²) + sum(W3²))")
S.standard("backward_propagation_with_regularization", concepts=L2, random=_random_backward_l2,
           edges=_single_example(lambda X, Y, params: _backward_l2(X, Y, params, 0.5)),
           failure="each dW_l should be the plain gradient plus (lambd / m) * W_l; the biases get no penalty")
S.standard("forward_propagation_with_dropout", concepts=DROPOUT, random=_random_forward_dropout,
           edges=(("keep_everything", "keep_prob = 1 (no unit is dropped)",
                   lambda: call_with(*inputs.three_layer_net(inputs.fixed_rng("keep1"))[::2], 1.0)),),
           failure="after np.random.seed(1), mask A1 then A2 with (np.random.rand(...) < keep_prob) "
                   "and divide by keep_prob")
S.standard("backward_propagation_with_dropout", concepts=DROPOUT, random=_random_backward_dropout,
           failure="dA2 and dA1 should go through the forward pass's masks D2, D1 and be divided by keep_prob")


@S.check("forward_propagation_with_dropout", points=1, concepts=DROPOUT, randomized=True,
         failure="inverted dropout should keep about keep_prob of the hidden units and rescale them")
def dropout_keeps_fraction_and_rescales(t):
    """Property on a wide layer: mean(D1) ~= keep_prob, D1 in {0, 1}, A1 = relu(Z1) * D1 / keep_prob.

    keep_prob in [0.55, 0.65]: there the kept fraction of the plausible wrong masks (randn < keep_prob:
    Phi(keep_prob) >= 0.70; rand > keep_prob: 1 - keep_prob <= 0.45) is far from keep_prob for everyone."""
    keep_prob = float(t.rng.uniform(0.55, 0.65))
    X = t.rng.standard_normal((4, 400))
    params = inputs.parameters(t.rng, [4, 30, 5, 1])
    out = t.call(X, params, keep_prob)
    try:
        A3, cache = out
        Z1, D1, A1 = (np.asarray(a, dtype=float) for a in cache[:3])
    except (TypeError, ValueError, IndexError):
        t.fail("the function should return (A3, cache) with cache = (Z1, D1, A1, W1, b1, Z2, D2, A2, ...)")
    t.require(D1.shape == Z1.shape, f"D1 has shape {D1.shape}; expected {Z1.shape} (one entry per unit and example)")
    t.require(bool(np.isin(D1, (0, 1)).all()), "the mask D1 should contain only 0s and 1s")
    kept = float(D1.mean())
    t.require(abs(kept - keep_prob) < 0.03,
              f"the mask keeps {kept:.2f} of the units; with keep_prob={keep_prob:.2f} it should keep about that fraction")
    expected_A1 = np.maximum(Z1, 0) * D1 / keep_prob
    if not np.allclose(A1, expected_A1, rtol=1e-6, atol=1e-9):
        t.fail_matching("A1 should be relu(Z1) * D1 / keep_prob (dropped units are zero, kept ones are scaled up)",
                        out, (X, params, keep_prob))
