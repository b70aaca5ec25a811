"""Hidden checks: batch norm (train / backward / running stats / inference), softmax, log-scale sampling."""
from __future__ import annotations

import numpy as np

from reference.batchnorm import batchnorm_forward as _bn_forward
from reference.batchnorm import softmax as _softmax

from . import inputs
from .examples import Example
from .framework import call_with, suite_for_module, test_check  # noqa: F401  (pytest entry)

S = suite_for_module(__name__)
BN, SOFTMAX = ["batch_normalization"], ["softmax_regression"]


# ---- visible examples: the notebook's test cells show the same text (`deepgrade build` writes it there)
S.examples.update({
    "batchnorm_forward": Example(
        setup='''
Z = np.array([[1.0, 2.0, 3.0, 6.0],
              [0.0, 0.0, 4.0, 4.0]])          # 2 units, 4 examples
gamma = np.array([[2.0], [1.0]])
beta = np.array([[0.5], [-1.0]])
''',
        call='out = batchnorm_forward(Z, gamma, beta)'),
    "batchnorm_backward": Example(
        setup='''
rng = np.random.default_rng(3)
Z = rng.normal(1.0, 2.0, size=(3, 5))
gamma, beta = rng.normal(size=(3, 1)), rng.normal(size=(3, 1))
dZ_tilde = rng.normal(size=(3, 5))      # the gradient arriving from the layer above
Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
''',
        call='out = batchnorm_backward(dZ_tilde, cache)'),
    "update_running_stats": Example(
        setup='''
running_mean, running_var = np.zeros((2, 1)), np.ones((2, 1))
mu, var = np.array([[2.0], [-1.0]]), np.array([[4.0], [0.5]])
''',
        call='out = update_running_stats(running_mean, running_var, mu, var, momentum=0.9)'),
    "batchnorm_inference": Example(
        setup='''
Z = np.array([[1.0, 2.0, 3.0],
              [4.0, 4.0, 10.0]])
gamma, beta = np.array([[2.0], [0.5]]), np.array([[0.0], [1.0]])
running_mean, running_var = np.array([[2.0], [4.0]]), np.array([[1.0], [9.0]])
''',
        call='Z_tilde = batchnorm_inference(Z, gamma, beta, running_mean, running_var)'),
    "softmax": Example(
        setup='''
Z = np.array([[1.0, 1000.0, -3.0],
              [2.0, 1000.0, -3.0],
              [3.0, 1000.0,  0.0]])          # 3 classes, 3 examples (columns)
''',
        call='A = softmax(Z)'),
    "softmax_cost": Example(
        setup='''
A = np.array([[0.7, 0.1],
              [0.2, 0.6],
              [0.1, 0.3]])
Y = np.array([[1, 0],
              [0, 0],
              [0, 1]])
''',
        call='cost = softmax_cost(A, Y)'),
    "softmax_backward": Example(
        setup='''
Z = np.array([[0.5, -1.0], [2.0, 0.0], [-1.0, 3.0]])
Y = np.array([[0, 1], [1, 0], [0, 0]])
A = softmax(Z)
''',
        call='dZ = softmax_backward(A, Y)'),
    "sample_log_uniform": Example(call='samples = sample_log_uniform(1e-4, 1.0, 4000, 0)'),
})


def _layer(rng, m=None):
    """Pre-activations (n, m) with unit-specific offsets/scales, gamma and beta (n, 1)."""
    n = int(rng.integers(2, 7))
    m = m or int(rng.integers(4, 12))
    Z = rng.standard_normal((n, m)) * rng.uniform(0.5, 3, (n, 1)) + rng.uniform(-2, 2, (n, 1))
    return Z, rng.uniform(0.5, 2.0, (n, 1)), rng.uniform(-1, 1, (n, 1))


# ---- batch norm -----------------------------------------------------------------------------------
S.standard("batchnorm_forward", concepts=BN, random=lambda rng: call_with(*_layer(rng)),
           failure="normalize each unit over the examples (axis=1, keepdims=True), then Z_tilde = "
                   "gamma * Z_norm + beta; the cache is (Z, Z_norm, mu, var, gamma, beta, epsilon)")


@S.check("batchnorm_forward", points=1, concepts=BN, randomized=True,
         failure="with gamma = 1 and beta = 0 every unit should have mean 0 and variance 1 over the batch")
def normalizes_each_unit(t):
    """Property: rows of Z_tilde have mean ~0 and variance ~1 when gamma = 1, beta = 0."""
    Z, _, _ = _layer(t.rng, m=int(t.rng.integers(20, 60)))
    ones, zeros = np.ones((Z.shape[0], 1)), np.zeros((Z.shape[0], 1))
    out = t.call(Z, ones, zeros)
    try:
        Zt = np.asarray(out[0], dtype=float)
    except (TypeError, IndexError, ValueError):
        t.fail("batchnorm_forward should return (Z_tilde, cache)")
    t.require(Zt.shape == Z.shape, f"Z_tilde has shape {Zt.shape}; expected {Z.shape}")
    ok = np.allclose(Zt.mean(axis=1), 0, atol=1e-6) and np.allclose(Zt.var(axis=1), 1, atol=1e-4)
    if not ok:
        t.fail_matching("the rows (units) of Z_tilde are not normalized over the examples", out, (Z, ones, zeros))


def _backward(rng):
    Z, gamma, beta = _layer(rng)
    _, cache = _bn_forward(Z, gamma, beta)
    return call_with(rng.standard_normal(Z.shape), cache)


S.standard("batchnorm_backward", concepts=BN, random=_backward, rtol=1e-5, atol=1e-6,
           failure="dbeta = sum(dZ_tilde), dgamma = sum(dZ_tilde * Z_norm) over the examples, and dZ must "
                   "include how mu and var depend on every example")


def _running(rng):
    n = int(rng.integers(2, 7))
    return call_with(rng.standard_normal((n, 1)), rng.uniform(0.1, 2, (n, 1)), rng.standard_normal((n, 1)),
                     rng.uniform(0.1, 2, (n, 1)), momentum=float(rng.uniform(0.5, 0.99)))


S.standard("update_running_stats", concepts=BN + ["ewa_bias_correction"],
           random=_running, points=(1, 1, 3),
           failure="running = momentum * running + (1 - momentum) * batch statistic, for mean and variance")


def _inference(rng, m=None):
    Z, gamma, beta = _layer(rng, m=m or int(rng.integers(2, 9)))
    n = Z.shape[0]
    return call_with(Z, gamma, beta, rng.standard_normal((n, 1)), rng.uniform(0.2, 3, (n, 1)))


S.standard("batchnorm_inference", concepts=BN, random=_inference,
           edges=(("single_example", "a single example (Z of shape (n, 1))",
                   lambda: _inference(inputs.fixed_rng("bn_single"), m=1)),),
           failure="at test time normalize with the running mean and variance, not the batch's own statistics")


# ---- softmax --------------------------------------------------------------------------------------
def _scores(rng, scale=3.0, m=None):
    """Scores (C, m) with 2 to 6 classes and 2 to 7 examples (one example is an edge case)."""
    C, m = int(rng.integers(2, 7)), m or int(rng.integers(2, 8))
    return rng.standard_normal((C, m)) * scale


def _one_hot(rng, C, m):
    Y = np.zeros((C, m))
    Y[rng.integers(0, C, size=m), np.arange(m)] = 1
    return Y


S.standard("softmax", concepts=SOFTMAX, random=lambda rng: call_with(_scores(rng)),
           edges=(("single_example", "a single example (scores of shape (4, 1))",
                   lambda: call_with(_scores(inputs.fixed_rng("softmax_single"), m=1))),),
           failure="softmax is exp(Z - max) / sum(exp(Z - max)) down each column (one column per example)")


@S.check("softmax", points=1, concepts=SOFTMAX, randomized=True,
         failure="softmax must stay finite for large scores (subtract each column's maximum)")
def stable_for_large_scores(t):
    """Property: scores around 1000 give finite probabilities whose columns sum to 1."""
    Z = _scores(t.rng) + 1000.0
    A = np.asarray(t.call(Z), dtype=float)
    t.require(A.shape == Z.shape, f"softmax returned shape {A.shape}; expected {Z.shape}")
    if not (np.isfinite(A).all() and np.allclose(A.sum(axis=0), 1, atol=1e-9)):
        t.fail_matching("for scores near 1000 your softmax returned non-finite values or columns that do not "
                        "sum to 1", A, (Z,))


def _cost(rng, m=None):
    Z = _scores(rng, m=m)
    return call_with(_softmax(Z), _one_hot(rng, *Z.shape))


SINGLE_COST = (("single_example", "a single example (A and Y of shape (C, 1))",
                lambda: _cost(inputs.fixed_rng("cost_single"), m=1)),)


S.standard("softmax_cost", concepts=SOFTMAX, random=_cost, edges=SINGLE_COST, failure="the cost is -(1/m) * sum(Y * log(A)) over classes and examples")
S.standard("softmax_backward", concepts=SOFTMAX, random=_cost, points=(1, 1, 3), edges=SINGLE_COST, failure="the gradient with respect to Z is A - Y")


# ---- hyperparameter sampling ----------------------------------------------------------------------
def _log_uniform(rng):
    low = float(10 ** rng.uniform(-6, -2))
    return call_with(low, low * float(10 ** rng.uniform(1, 4)), int(rng.integers(6, 20)), int(rng.integers(1, 10**6)))


S.standard("sample_log_uniform", concepts=["hyperparameter_search"], random=_log_uniform, points=(1, 1, 3),
           failure="draw r = rng.uniform(log10(low), log10(high), size) once and return 10**r")


@S.check("sample_log_uniform", points=1, concepts=["hyperparameter_search"], randomized=True,
         failure="samples should spread evenly over the decades between low and high")
def even_share_per_decade(t):
    """Property: 3000-5000 samples in [10^a, 10^b) (2 to 4 decades, drawn per student) give ~1/(b - a)
    in each decade, all inside the range (so the visible example's 4000 stored samples do not pass)."""
    a = int(t.rng.integers(-6, -1))
    b = a + int(t.rng.integers(2, 5))
    n = int(t.rng.integers(3000, 5001))
    args = (10.0 ** a, 10.0 ** b, n, int(t.rng.integers(0, 10**6)))
    x = np.asarray(t.call(*args), dtype=float).reshape(-1)
    t.require(x.size == n, f"asked for {n} samples, got {x.size}")
    t.require(bool(((x >= args[0]) & (x < args[1])).all()), "some samples fall outside [low, high)")
    shares = np.histogram(np.log10(x), bins=list(range(a, b + 1)))[0] / x.size
    if np.abs(shares - 1 / (b - a)).max() > 0.04:
        t.fail_matching(f"between 1e{a} and 1e{b} the shares of samples per decade are "
                        f"{np.round(shares, 2).tolist()}; on a log scale "
                        f"each decade should get about {1 / (b - a):.2f}", x, args)
