"""NumPy twins of the TensorFlow assignment's graded functions (same names as in the notebook).

The hidden checks convert a learner's tensors to NumPy and compare them with these twins, so the
trusted side never needs TensorFlow to know the right answer.

What can and cannot be matched:
- linear_function, sigmoid, one_hot_matrix, forward_propagation, compute_total_loss are deterministic
  and match TensorFlow to floating-point tolerance (sigmoid in float32, like ``tf.cast(z, tf.float32)``).
- initialize_parameters cannot reproduce TensorFlow's random stream (``GlorotNormal(seed=1)`` uses
  TF's own generator). The twin draws from the *same distribution* — a normal truncated at two
  standard deviations whose variance is ``2 / (fan_in + fan_out)`` with Keras's fan convention for a
  2-D shape ``(rows, cols)``: ``fan_in = rows``, ``fan_out = cols`` — so checks compare shapes and
  variances (see :func:`glorot_variance`), never values.
Conventions: examples are columns; ``X: (n_x, m)``, logits and labels ``(n_classes, m)``.
"""
from __future__ import annotations

import numpy as np

#: std of a standard normal truncated to [-2, 2] (Keras divides the Glorot std by it)
TRUNCATED_NORMAL_STD = 0.87962566103423978


def linear_function():
    """Y = W X + b for random X (3, 1), W (4, 3), b (4, 1).

    Seeds NumPy's global generator with 1 and draws X, then W, then b with ``np.random.randn``.

    Returns:
    Y -- array of shape (4, 1) (the TensorFlow version returns it as a tensor)
    """
    np.random.seed(1)
    X = np.random.randn(3, 1)
    W = np.random.randn(4, 3)
    b = np.random.randn(4, 1)
    Y = np.dot(W, X) + b
    return Y


def sigmoid(z):
    """Logistic function of z after casting z to float32.

    Arguments:
    z -- number or array

    Returns:
    a -- float32 array (0-d for a scalar input), 1 / (1 + exp(-z))
    """
    z = np.asarray(z, dtype=np.float32)
    with np.errstate(over="ignore"):
        a = np.float32(1) / (np.float32(1) + np.exp(-z))
    return a


def one_hot_matrix(label, C=6):
    """One-hot encoding of a single integer label.

    Arguments:
    label -- integer class index in [0, C)
    C -- number of classes (depth)

    Returns:
    one_hot -- float32 array of shape (C,) with a 1 at position ``label``
    """
    one_hot = np.zeros((C,), dtype=np.float32)
    one_hot[int(label)] = 1.0
    return one_hot


def glorot_variance(shape):
    """Variance of Keras's GlorotNormal draws for a 2-D shape (rows, cols): 2 / (rows + cols)."""
    return 2.0 / (shape[0] + shape[1])


def glorot_normal(rng, shape):
    """Glorot-normal sample: normal truncated at 2 std, scaled so the variance is glorot_variance."""
    draws = rng.standard_normal(shape)
    outside = np.abs(draws) > 2
    while outside.any():
        draws[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(draws) > 2
    return draws * np.sqrt(glorot_variance(shape)) / TRUNCATED_NORMAL_STD


def initialize_parameters(n_x=64, n_classes=10, seed=1):
    """Glorot-normal weights *and* biases for the LINEAR->RELU->LINEAR->RELU->LINEAR net.

    Same shapes and distribution as the TensorFlow version (which initializes every tensor,
    biases included, with ``tf.keras.initializers.GlorotNormal(seed=1)``); values differ.

    Arguments:
    n_x -- number of input features
    n_classes -- number of output classes
    seed -- seed of a private numpy Generator

    Returns:
    parameters -- dict with W1 (25, n_x), b1 (25, 1), W2 (12, 25), b2 (12, 1), W3 (n_classes, 12),
                  b3 (n_classes, 1), float32
    """
    rng = np.random.default_rng(seed)
    shapes = {"W1": (25, n_x), "b1": (25, 1), "W2": (12, 25), "b2": (12, 1),
              "W3": (n_classes, 12), "b3": (n_classes, 1)}
    return {name: glorot_normal(rng, shape).astype(np.float32) for name, shape in shapes.items()}


def forward_propagation(X, parameters):
    """Logits of LINEAR -> RELU -> LINEAR -> RELU -> LINEAR (no output activation).

    Arguments:
    X -- data, shape (n_x, m)
    parameters -- dict W1 (25, n_x), b1 (25, 1), W2 (12, 25), b2 (12, 1), W3 (C, 12), b3 (C, 1)

    Returns:
    Z3 -- logits, shape (C, m)
    """
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.maximum(Z1, 0)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = np.maximum(Z2, 0)
    Z3 = np.dot(parameters["W3"], A2) + parameters["b3"]
    return Z3


def compute_total_loss(logits, labels):
    """Sum over examples of the categorical cross-entropy computed from logits (log-sum-exp, stable).

    Arguments:
    logits -- Z3, shape (C, m)
    labels -- one-hot labels, shape (C, m)

    Returns:
    total_loss -- float, sum over columns j of -sum_c labels[c, j] * log_softmax(logits[:, j])[c]
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    col_max = np.max(logits, axis=0, keepdims=True)
    log_sum_exp = col_max + np.log(np.sum(np.exp(logits - col_max), axis=0, keepdims=True))
    total_loss = -np.sum(labels * (logits - log_sum_exp))
    return float(total_loss)
