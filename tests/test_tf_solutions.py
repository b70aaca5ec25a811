"""reference.tf_solutions (TensorFlow) agrees with its NumPy twins in reference.tf_twin.

The hidden checks of the tensorflow assignment grade learners' TensorFlow code against the NumPy
twins, so the TensorFlow solutions — the source of the notebook's solution cells — must agree with
them; otherwise the course's own solution would fail its checks.
"""
from __future__ import annotations

import numpy as np
import pytest

from reference import tf_twin as twin

pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def tfs():
    import tensorflow  # noqa: F401  (fail loudly here, not at collection, when TF is missing)

    from reference import tf_solutions
    return tf_solutions


@pytest.fixture(scope="module")
def tf():
    import tensorflow
    return tensorflow


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def test_linear_function_matches_twin(tfs, tf):
    np.random.seed(123)                      # the function must reseed, whatever the state before
    result = tfs.linear_function()
    assert tf.is_tensor(result)
    assert tuple(result.shape) == (4, 1)
    np.testing.assert_allclose(result.numpy(), twin.linear_function(), rtol=1e-12)


@pytest.mark.parametrize("z", [0, -1, 12, 3.5, [[-30.0, 0.1], [2.0, 40.0]], np.linspace(-5, 5, 7)])
def test_sigmoid_matches_twin(tfs, tf, z):
    a = tfs.sigmoid(z)
    assert a.dtype == tf.float32
    expected = twin.sigmoid(z)
    assert tuple(a.shape) == expected.shape
    np.testing.assert_allclose(a.numpy(), expected, rtol=1e-6, atol=1e-7)


def test_sigmoid_casts_float64_tensors(tfs, tf):
    a = tfs.sigmoid(tf.constant([1.0, -2.0], dtype=tf.float64))
    assert a.dtype == tf.float32
    np.testing.assert_allclose(a.numpy(), twin.sigmoid([1.0, -2.0]), rtol=1e-6)


@pytest.mark.parametrize("label,C", [(0, 6), (5, 6), (3, 4), (9, 10), (1, 2)])
def test_one_hot_matrix_matches_twin(tfs, tf, label, C):
    v = tfs.one_hot_matrix(label, C)
    assert tuple(v.shape) == (C,)
    np.testing.assert_array_equal(v.numpy(), twin.one_hot_matrix(label, C))
    # a tensor label (as the tf.data pipeline passes it) works the same
    np.testing.assert_array_equal(tfs.one_hot_matrix(tf.constant(label, dtype=tf.int64), C).numpy(),
                                  twin.one_hot_matrix(label, C))


def test_one_hot_matrix_default_depth(tfs):
    assert tuple(tfs.one_hot_matrix(2).shape) == (6,)


@pytest.mark.parametrize("n_x,n_classes", [(64, 10), (5, 3), (200, 2)])
def test_initialize_parameters_shapes_and_glorot_variance(tfs, tf, n_x, n_classes):
    params = tfs.initialize_parameters(n_x=n_x, n_classes=n_classes)
    reference_shapes = {k: v.shape for k, v in twin.initialize_parameters(n_x=n_x, n_classes=n_classes).items()}
    assert {k: tuple(v.shape) for k, v in params.items()} == reference_shapes
    for name, var in params.items():
        assert isinstance(var, tf.Variable), name
        assert var.dtype == tf.float32, name
        values = var.numpy()
        # truncated at two standard deviations of the untruncated normal
        bound = 2 * np.sqrt(twin.glorot_variance(values.shape)) / twin.TRUNCATED_NORMAL_STD
        assert np.all(np.abs(values) <= bound + 1e-6), name
    # all 25*n_x + ... draws of the big matrices: sample variance close to 2 / (fan_in + fan_out)
    for name in ("W1", "W2"):
        values = params[name].numpy()
        ratio = values.var() / twin.glorot_variance(values.shape)
        assert 0.75 < ratio < 1.25, (name, ratio)
        assert abs(values.mean()) < 3 * np.sqrt(twin.glorot_variance(values.shape) / values.size) + 1e-3


def test_initialize_parameters_is_seeded_and_defaults_fit_the_digits(tfs):
    first, second = tfs.initialize_parameters(), tfs.initialize_parameters()
    assert tuple(first["W1"].shape) == (25, 64) and tuple(first["W3"].shape) == (10, 12)
    for name in first:
        np.testing.assert_array_equal(first[name].numpy(), second[name].numpy())
    # the seed is what makes it reproducible: different tensors are not copies of each other
    assert not np.allclose(first["W2"].numpy()[:, :1], first["b2"].numpy())


def _random_net(rng, n_x, C, m):
    shapes = {"W1": (25, n_x), "b1": (25, 1), "W2": (12, 25), "b2": (12, 1), "W3": (C, 12), "b3": (C, 1)}
    params = {k: _f32(rng.standard_normal(s) * 0.5) for k, s in shapes.items()}
    X = _f32(rng.standard_normal((n_x, m)))
    return X, params


@pytest.mark.parametrize("seed", range(4))
def test_forward_propagation_matches_twin(tfs, tf, seed):
    rng = np.random.default_rng(seed)
    X, params = _random_net(rng, n_x=int(rng.integers(3, 70)), C=int(rng.integers(2, 11)),
                            m=int(rng.integers(1, 40)))
    tf_params = {k: tf.Variable(v) for k, v in params.items()}
    Z3 = tfs.forward_propagation(tf.constant(X), tf_params)
    expected = twin.forward_propagation(X.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()})
    assert tuple(Z3.shape) == expected.shape
    np.testing.assert_allclose(Z3.numpy(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("seed", range(4))
def test_compute_total_loss_matches_twin(tfs, tf, seed):
    rng = np.random.default_rng(100 + seed)
    C, m = int(rng.integers(2, 11)), int(rng.integers(1, 50))
    logits = _f32(rng.standard_normal((C, m)) * 3)
    labels = _f32(np.eye(C)[:, rng.integers(0, C, m)])
    total = tfs.compute_total_loss(tf.constant(logits), tf.constant(labels))
    assert total.shape == ()
    expected = twin.compute_total_loss(logits, labels)
    np.testing.assert_allclose(float(total), expected, rtol=1e-5, atol=1e-5)


def test_compute_total_loss_is_a_sum_over_columns(tfs, tf):
    # 3 classes x 2 examples: rows-as-examples or a mean would give other numbers
    logits = tf.constant([[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    labels = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    expected = np.log(1 + 2 * np.exp(-2.0)) + np.log(3.0)
    np.testing.assert_allclose(float(tfs.compute_total_loss(logits, labels)), expected, rtol=1e-6)


def test_model_learns_the_digits(tfs, tf, tmp_path):
    """The given training loop (copied into the notebook) trains the net well in a few epochs."""
    from reference import datasets

    path = datasets.build_digits(tmp_path / "digits.h5")
    train_x, train_y, test_x, test_y, classes = datasets.load_digits(path)

    def pipeline(images, labels):
        xs = tf.data.Dataset.from_tensor_slices(images).map(
            lambda im: tf.reshape(tf.cast(im, tf.float32) / 16.0, [-1]))
        ys = tf.data.Dataset.from_tensor_slices(labels).map(lambda y: tfs.one_hot_matrix(y, classes.size))
        return xs, ys

    params, costs, train_acc, test_acc = tfs.model(*pipeline(train_x, train_y), *pipeline(test_x, test_y),
                                                   num_epochs=8, print_cost=False)
    assert len(costs) == len(train_acc) == len(test_acc) == 8
    assert costs[-1] < 0.5 * costs[0]
    assert test_acc[-1] > 0.9
    assert tuple(params["W1"].shape) == (25, 64)
