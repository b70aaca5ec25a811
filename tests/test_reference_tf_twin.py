"""The NumPy twins agree with TensorFlow: the reference solutions, and the TF-written known mistakes."""
from __future__ import annotations

import numpy as np
import pytest

from reference import tf_twin
from reference.mistakes import MISTAKES
from reference.mistakes.inputs import glorot_summary, typical_inputs

pytestmark = pytest.mark.tensorflow

tf = pytest.importorskip("tensorflow")
from reference import tf_solutions  # noqa: E402  (needs TensorFlow)


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def test_linear_function_matches():
    np.testing.assert_allclose(_np(tf_solutions.linear_function()), tf_twin.linear_function(), rtol=1e-12)


@pytest.mark.parametrize("z", [0.0, -3.25, 12.0, 1000.0, -1000.0, np.array([[0.5, -2.0]])])
def test_sigmoid_matches_in_float32(z):
    got, want = _np(tf_solutions.sigmoid(z)), tf_twin.sigmoid(z)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("label, C", [(0, 6), (5, 6), (2, 4), (9, 10)])
def test_one_hot_matches(label, C):
    got = _np(tf_solutions.one_hot_matrix(label, C))
    np.testing.assert_array_equal(got, tf_twin.one_hot_matrix(label, C))
    assert got.shape == (C,)


def test_initialize_parameters_same_shapes_and_spread():
    tf_params = {k: _np(v) for k, v in tf_solutions.initialize_parameters(64, 10).items()}
    twin = tf_twin.initialize_parameters(64, 10)
    assert glorot_summary(tf_params) == glorot_summary(twin)
    assert all(v.dtype == np.float32 for v in tf_params.values())
    bound = 2 * np.sqrt(tf_twin.glorot_variance((25, 64))) / tf_twin.TRUNCATED_NORMAL_STD
    assert np.abs(tf_params["W1"]).max() <= bound + 1e-6 and np.abs(twin["W1"]).max() <= bound + 1e-6


def test_forward_and_loss_match():
    (X, params), _ = typical_inputs("tensorflow", "forward_propagation", 3)
    tf_params = {k: tf.constant(v, dtype=tf.float64) for k, v in params.items()}
    np.testing.assert_allclose(_np(tf_solutions.forward_propagation(tf.constant(X), tf_params)),
                               tf_twin.forward_propagation(X, params), rtol=1e-10)
    for seed in range(3):
        (logits, labels), _ = typical_inputs("tensorflow", "compute_total_loss", seed)
        got = float(_np(tf_solutions.compute_total_loss(tf.constant(logits), tf.constant(labels))))
        assert got == pytest.approx(tf_twin.compute_total_loss(logits, labels), rel=1e-9)
    big = np.array([[1000.0, -5.0], [0.0, 3.0]])
    lab = np.array([[0.0, 1.0], [1.0, 0.0]])
    got = float(_np(tf_solutions.compute_total_loss(tf.constant(big), tf.constant(lab))))
    assert got == pytest.approx(tf_twin.compute_total_loss(big, lab), rel=1e-9)


# ---- the known mistakes, written with TensorFlow the way a learner would, against their twins
def _tf_loss_mistakes(logits, labels):
    L, Y = tf.constant(logits), tf.constant(labels)
    cce = tf.keras.losses.categorical_crossentropy
    return {
        "compute_total_loss.mean_not_sum": tf.reduce_mean(cce(tf.transpose(Y), tf.transpose(L), from_logits=True)),
        "compute_total_loss.no_transpose": tf.reduce_sum(cce(Y, L, from_logits=True)),
        "compute_total_loss.from_probabilities": tf.reduce_sum(cce(tf.transpose(Y), tf.transpose(L))),
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_loss_mistake_twins_match_tensorflow(seed):
    (logits, labels), _ = typical_inputs("tensorflow", "compute_total_loss", seed)
    logits = np.abs(logits) + 0.1        # positive "probabilities" so from_logits=False stays finite
    for mistake_id, value in _tf_loss_mistakes(logits, labels).items():
        assert float(_np(value)) == pytest.approx(MISTAKES[mistake_id].impl(logits, labels), rel=1e-6), mistake_id


def test_other_mistake_twins_match_tensorflow():
    z = 2.5
    assert _np(1 / (1 + tf.exp(tf.cast(z, tf.float32)))) == pytest.approx(MISTAKES["sigmoid.sign_flip"].impl(z))
    big = tf.cast(100.0, tf.float32)
    assert np.isnan(_np(tf.exp(big) / (1 + tf.exp(big)))) and np.isnan(MISTAKES["sigmoid.naive_ratio_overflows"].impl(100.0))
    np.testing.assert_array_equal(_np(tf.reshape(tf.one_hot(2, 4), [4, 1])),
                                  MISTAKES["one_hot_matrix.column_shape"].impl(2, 4))
    np.testing.assert_array_equal(_np(tf.one_hot(0 - 1, 4)), MISTAKES["one_hot_matrix.label_minus_one"].impl(0, 4))
    np.random.seed(1)
    W, X, b = (tf.constant(np.random.randn(*s)) for s in ((4, 3), (3, 1), (4, 1)))
    np.testing.assert_allclose(_np(tf.matmul(W, X) + b), MISTAKES["linear_function.draws_w_first"].impl(), rtol=1e-12)
