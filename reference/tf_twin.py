"""NumPy twins of the TensorFlow assignment's graded functions (same names as in the notebook).

The hidden checks convert a learner's tensors to NumPy and compare them with these twins, so the
trusted side never needs TensorFlow to know the right answer.

What can and cannot be matched:
- linear_function, sigmoid, one_hot_matrix, forward_propagation, compute_total_loss are deterministic
  and match TensorFlow to floating-point tolerance (sigmoid in float32, like ``tf.cast(z, tf.float32)``).
- initialize_parameters: ``GlorotNormal(seed=1)`` (Keras 3 on TensorFlow) gives every tensor of shape
  ``s`` the first ``prod(s)`` values of one fixed stream of standard truncated normals, times the Glorot
  std for ``s``. The stream's first 5,000 values are stored in ``glorot_normal_seed1.json`` (written with
  TensorFlow by :func:`write_glorot_stream`; a TensorFlow test checks it still matches), so the twin
  returns TensorFlow's values for ``seed=1`` (any ``n_x <= 200``). Other seeds draw from the same
  distribution with a private NumPy generator (values differ from TensorFlow's).
Conventions: examples are columns; ``X: (n_x, m)``, logits and labels ``(n_classes, m)``.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

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


GLOROT_STREAM_FILE = Path(__file__).with_name("glorot_normal_seed1.json")


@lru_cache(maxsize=1)
def glorot_stream() -> np.ndarray:
    """The standard truncated-normal stream of ``GlorotNormal(seed=1)`` (5,000 values, float64)."""
    return np.asarray(json.loads(GLOROT_STREAM_FILE.read_text())["values"], dtype=np.float64)


def glorot_seed1(shape):
    """What ``tf.keras.initializers.GlorotNormal(seed=1)(shape)`` returns, as float32."""
    size = int(np.prod(shape))
    stream = glorot_stream()
    if size > stream.size:
        raise ValueError(f"shape {shape} needs {size} values; the stored stream has {stream.size}")
    std = np.sqrt(glorot_variance(shape)) / TRUNCATED_NORMAL_STD
    return (stream[:size].reshape(shape) * std).astype(np.float32)


def write_glorot_stream(n: int = 5000, path: Path = GLOROT_STREAM_FILE) -> None:
    """Regenerate the stored stream with TensorFlow (needs TensorFlow; run after a TF upgrade)."""
    import tensorflow as tf      # lazy: +3.6 s start-up, and the twins exist so grading never needs TF
    shape = (1, n)
    std = np.sqrt(glorot_variance(shape)) / TRUNCATED_NORMAL_STD
    values = tf.keras.initializers.GlorotNormal(seed=1)(shape).numpy().astype(np.float64).ravel() / std
    path.write_text(json.dumps({
        "about": "tf.keras.initializers.GlorotNormal(seed=1): every tensor of shape s is the first prod(s) "
                 "values of this standard stream (a normal truncated at 2), times sqrt(2 / (rows + cols)) / "
                 "0.87962566103423978, reshaped row-major. Written by reference.tf_twin.write_glorot_stream.",
        "tensorflow": tf.__version__, "values": [float(f"{x:.9g}") for x in values]}))


def initialize_parameters(n_x=64, n_classes=10, seed=1):
    """Glorot-normal weights *and* biases for the LINEAR->RELU->LINEAR->RELU->LINEAR net.

    Same values as the TensorFlow version for ``seed=1`` (which initializes every tensor, biases
    included, with ``tf.keras.initializers.GlorotNormal(seed=1)``: see :func:`glorot_seed1`); other
    seeds draw the same distribution from a private NumPy generator.

    Arguments:
    n_x -- number of input features (at most 200 for seed=1)
    n_classes -- number of output classes
    seed -- 1 (TensorFlow's values) or the seed of a private numpy Generator

    Returns:
    parameters -- dict with W1 (25, n_x), b1 (25, 1), W2 (12, 25), b2 (12, 1), W3 (n_classes, 12),
                  b3 (n_classes, 1), float32
    """
    shapes = {"W1": (25, n_x), "b1": (25, 1), "W2": (12, 25), "b2": (12, 1),
              "W3": (n_classes, 12), "b3": (n_classes, 1)}
    if seed == 1:
        return {name: glorot_seed1(shape) for name, shape in shapes.items()}
    rng = np.random.default_rng(seed)
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
