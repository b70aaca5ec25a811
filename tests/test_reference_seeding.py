"""Seeded reference functions follow the spec's seeding exactly and are deterministic."""
from __future__ import annotations

import numpy as np
import pytest

from reference import batchnorm, initialization, nets, optimization, regularization, tf_twin

DIMS = [4, 6, 3, 2]


def _explicit_init(seed, dims, scale):
    """The spec's recipe written out with a private legacy stream: seed once, draw W1, W2, ... in order."""
    rs = np.random.RandomState(seed)
    out = {}
    for l in range(1, len(dims)):
        out[f"W{l}"] = rs.randn(dims[l], dims[l - 1]) * scale(dims[l - 1])
        out[f"b{l}"] = np.zeros((dims[l], 1))
    return out


@pytest.mark.parametrize("function, scale", [
    (initialization.initialize_parameters_he, lambda n_prev: np.sqrt(2 / n_prev)),
    (initialization.initialize_parameters_random, lambda n_prev: 10),
    (nets.initialize_parameters, lambda n_prev: np.sqrt(2 / n_prev)),
    (nets.initialize_parameters_xavier, lambda n_prev: 1 / np.sqrt(n_prev)),
])
def test_initializers_follow_the_seed_3_sequence(function, scale):
    np.random.seed(123)                       # whatever the global state was, the result is the same
    got = function(DIMS)
    expected = _explicit_init(3, DIMS, scale)
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-13, atol=0)
    np.random.seed(999)
    again = function(DIMS)
    for key in expected:
        np.testing.assert_array_equal(again[key], got[key])


def test_zeros_initializer():
    got = initialization.initialize_parameters_zeros(DIMS)
    assert list(got) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for l in range(1, len(DIMS)):
        assert got[f"W{l}"].shape == (DIMS[l], DIMS[l - 1]) and got[f"b{l}"].shape == (DIMS[l], 1)
        assert not got[f"W{l}"].any() and not got[f"b{l}"].any()


def test_dropout_masks_are_the_seed_1_draws():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 9))
    params = {"W1": rng.standard_normal((5, 3)), "b1": rng.standard_normal((5, 1)),
              "W2": rng.standard_normal((4, 5)), "b2": rng.standard_normal((4, 1)),
              "W3": rng.standard_normal((1, 4)), "b3": rng.standard_normal((1, 1))}
    keep_prob = 0.7
    _, cache = regularization.forward_propagation_with_dropout(X, params, keep_prob)
    rs = np.random.RandomState(1)
    D1 = (rs.rand(5, 9) < keep_prob).astype(int)
    D2 = (rs.rand(4, 9) < keep_prob).astype(int)
    np.testing.assert_array_equal(cache[1], D1)
    np.testing.assert_array_equal(cache[6], D2)
    A1 = nets.relu(params["W1"] @ X + params["b1"]) * D1 / keep_prob
    np.testing.assert_allclose(cache[2], A1, rtol=1e-12)
    assert len(cache) == 14


@pytest.mark.parametrize("m, size, seed", [(148, 64, 0), (128, 64, 3), (10, 3, 7)])
def test_random_mini_batches_use_the_seeded_permutation(m, size, seed):
    X = np.vstack([np.arange(m), -np.arange(m)]).astype(float)
    Y = np.arange(m, dtype=float).reshape(1, m)
    batches = optimization.random_mini_batches(X, Y, size, seed)
    permutation = list(np.random.RandomState(seed).permutation(m))
    expected_X = X[:, permutation]
    for k, (bx, by) in enumerate(batches):
        np.testing.assert_array_equal(bx, expected_X[:, k * size:(k + 1) * size])
        np.testing.assert_array_equal(by, Y[:, permutation][:, k * size:(k + 1) * size])


def test_linear_function_draw_order():
    rs = np.random.RandomState(1)
    X, W, b = rs.randn(3, 1), rs.randn(4, 3), rs.randn(4, 1)
    np.random.seed(42)
    np.testing.assert_allclose(tf_twin.linear_function(), W @ X + b, rtol=1e-12)


def test_sample_log_uniform_accepts_seed_or_generator():
    a = batchnorm.sample_log_uniform(1e-4, 1.0, 50, 7)
    b = batchnorm.sample_log_uniform(1e-4, 1.0, 50, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    expected = 10 ** np.random.default_rng(7).uniform(-4, 0, 50)
    np.testing.assert_allclose(a, expected, rtol=1e-12)
    assert batchnorm.sample_log_uniform(1e-3, 10, (2, 3), 0).shape == (2, 3)


def test_tf_twin_initializer_is_deterministic_and_shaped():
    p1, p2 = tf_twin.initialize_parameters(30, 4), tf_twin.initialize_parameters(30, 4)
    shapes = {"W1": (25, 30), "b1": (25, 1), "W2": (12, 25), "b2": (12, 1), "W3": (4, 12), "b3": (4, 1)}
    assert {k: v.shape for k, v in p1.items()} == shapes
    for k in p1:
        assert p1[k].dtype == np.float32
        np.testing.assert_array_equal(p1[k], p2[k])


def test_deep_net_training_does_not_touch_the_global_generator():
    np.random.seed(5)
    expected_next = np.random.RandomState(5).rand()
    X = np.random.default_rng(0).standard_normal((4, 40))
    Y = np.eye(3)[:, np.arange(40) % 3]
    batchnorm.train_deep_net(X, Y, [4, 6, 3], True, num_epochs=2, mini_batch_size=16)
    assert np.random.rand() == expected_next
