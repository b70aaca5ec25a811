"""TensorFlow 2 solutions of the ``tensorflow`` assignment (the source of its exercise cells).

`deepgrade build` copies these functions' bodies into the notebook's solution regions
(:mod:`autograder.course.nbbuild`), so each body may only use names that the
student's notebook has: ``np`` and ``tf`` (the notebook's first cell imports both).
Examples are columns, as everywhere in the course: ``X`` is ``(n_x, m)``, labels are ``(n_classes, m)``.

This module is TensorFlow-only, but imports TensorFlow lazily, on the first use of ``tf`` in a function:
building the notebook only needs the functions' source. Nothing else in ``reference`` imports
TensorFlow (the NumPy twins in :mod:`reference.tf_twin` are what the hidden checks compare against).
"""
from __future__ import annotations

import numpy as np


class _LazyTensorFlow:
    """Stands in for the ``tensorflow`` module until a function first uses it, then imports it.

    Building the notebook only reads this module's source, so it needs neither TensorFlow nor the
    seconds its import takes; the first attribute access replaces the proxy with the real module.
    """

    def __getattr__(self, name):
        global tf
        try:
            import tensorflow
        except ImportError as exc:  # pragma: no cover - only where TensorFlow is not installed
            raise ImportError("reference.tf_solutions needs TensorFlow: "
                              "pip install 'deepgrade[tensorflow]'") from exc
        tf = tensorflow
        return getattr(tensorflow, name)


tf = _LazyTensorFlow()

__all__ = ["linear_function", "sigmoid", "one_hot_matrix", "initialize_parameters",
           "forward_propagation", "compute_total_loss", "model"]


def linear_function():
    """Compute Y = WX + b with TensorFlow from randomly drawn constants.

    Seeds NumPy's global generator with 1, then draws (in this order)
    X of shape (3, 1), W of shape (4, 3) and b of shape (4, 1) with np.random.randn.

    Returns:
    result -- tf.Tensor of shape (4, 1), W X + b
    """
    np.random.seed(1)
    X = tf.constant(np.random.randn(3, 1), name="X")
    W = tf.constant(np.random.randn(4, 3), name="W")
    b = tf.constant(np.random.randn(4, 1), name="b")
    result = tf.add(tf.matmul(W, X), b)
    return result


def sigmoid(z):
    """Sigmoid of z, computed by TensorFlow in float32.

    Arguments:
    z -- a scalar, array or tensor

    Returns:
    a -- tf.Tensor (float32) of the same shape, 1 / (1 + exp(-z))
    """
    z = tf.cast(z, tf.float32)
    a = tf.keras.activations.sigmoid(z)
    return a


def one_hot_matrix(label, C=6):
    """One-hot encoding of a single integer label as a vector of depth C.

    Arguments:
    label -- integer class label in [0, C)
    C -- number of classes (depth of the encoding)

    Returns:
    one_hot -- tf.Tensor (float32) of shape (C,), 1 at position label and 0 elsewhere
    """
    one_hot = tf.reshape(tf.one_hot(label, C, axis=0), shape=[C])
    return one_hot


def initialize_parameters(n_x=64, n_classes=10):
    """Create the parameters of the n_x -> 25 -> 12 -> n_classes network as tf.Variables.

    Every tensor is drawn by one Glorot-normal initializer seeded with 1.
    The defaults match our data set (8x8 digit images: 64 features, 10 classes).

    Returns:
    parameters -- dict of tf.Variable (float32):
                  W1 (25, n_x), b1 (25, 1), W2 (12, 25), b2 (12, 1), W3 (n_classes, 12), b3 (n_classes, 1)
    """
    initializer = tf.keras.initializers.GlorotNormal(seed=1)
    W1 = tf.Variable(initializer(shape=(25, n_x)))
    b1 = tf.Variable(initializer(shape=(25, 1)))
    W2 = tf.Variable(initializer(shape=(12, 25)))
    b2 = tf.Variable(initializer(shape=(12, 1)))
    W3 = tf.Variable(initializer(shape=(n_classes, 12)))
    b3 = tf.Variable(initializer(shape=(n_classes, 1)))
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    return parameters


def forward_propagation(X, parameters):
    """Forward pass LINEAR -> RELU -> LINEAR -> RELU -> LINEAR (no softmax: the loss takes logits).

    Arguments:
    X -- input tensor of shape (n_x, m), float32
    parameters -- dict with W1, b1, W2, b2, W3, b3

    Returns:
    Z3 -- logits of the last LINEAR unit, shape (n_classes, m)
    """
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    Z1 = tf.math.add(tf.linalg.matmul(W1, X), b1)
    A1 = tf.keras.activations.relu(Z1)
    Z2 = tf.math.add(tf.linalg.matmul(W2, A1), b2)
    A2 = tf.keras.activations.relu(Z2)
    Z3 = tf.math.add(tf.linalg.matmul(W3, A2), b3)
    return Z3


def compute_total_loss(logits, labels):
    """Sum over the examples of the categorical cross-entropy, computed from logits.

    Arguments:
    logits -- output of forward_propagation, shape (n_classes, m)
    labels -- one-hot labels, shape (n_classes, m)

    Returns:
    total_loss -- scalar tf.Tensor, the SUM (not the mean) of the m per-example losses
    """
    # tf.keras.losses expects one example per row, so transpose both arguments
    per_example = tf.keras.losses.categorical_crossentropy(tf.transpose(labels), tf.transpose(logits),
                                                           from_logits=True)
    total_loss = tf.reduce_sum(per_example)
    return total_loss


def model(X_train, Y_train, X_test, Y_test, learning_rate=0.005, num_epochs=30, minibatch_size=32,
          print_cost=True):
    """Train the three-layer network with Adam on mini-batches; the gradients come from tf.GradientTape.

    Uses the functions of this assignment by name (initialize_parameters, forward_propagation,
    compute_total_loss), so in the notebook it trains with the learner's own versions.

    Arguments:
    X_train, Y_train -- tf.data.Dataset of normalized images (64,) and one-hot labels (10,), one example
                        per element (the loop transposes each mini-batch so that examples become columns)
    X_test, Y_test -- the same for the test set
    learning_rate -- Adam's step size
    num_epochs -- passes over the training set
    minibatch_size -- examples per mini-batch (the last one may be smaller)
    print_cost -- print the cost every 5 epochs

    Returns:
    parameters -- dict of trained tf.Variable
    costs -- list, the mean cost over the training set after each epoch
    train_acc, test_acc -- lists, accuracy on the training and test sets after each epoch
    """
    costs, train_acc, test_acc = [], [], []
    parameters = initialize_parameters()
    variables = [parameters[name] for name in ("W1", "b1", "W2", "b2", "W3", "b3")]
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    train_accuracy = tf.keras.metrics.CategoricalAccuracy()
    test_accuracy = tf.keras.metrics.CategoricalAccuracy()

    train_set = tf.data.Dataset.zip((X_train, Y_train)).cache()  # compute the mapped examples once
    test_set = tf.data.Dataset.zip((X_test, Y_test)).cache()
    m = int(train_set.cardinality().numpy())
    # shuffle differently every epoch, but reproducibly (a fixed seed for the shuffling order)
    train_batches = train_set.shuffle(m, seed=1, reshuffle_each_iteration=True).batch(minibatch_size)
    test_batches = test_set.batch(minibatch_size)

    @tf.function  # traced once into a graph: the same Python code, run much faster
    def train_step(minibatch_X, minibatch_Y):
        with tf.GradientTape() as tape:
            # the tape records every operation on the variables from here on ...
            Z3 = forward_propagation(tf.transpose(minibatch_X), parameters)
            minibatch_total_loss = compute_total_loss(Z3, tf.transpose(minibatch_Y))
        # ... and replays them backwards: this is the whole of backpropagation
        grads = tape.gradient(minibatch_total_loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        train_accuracy.update_state(minibatch_Y, tf.transpose(Z3))
        return minibatch_total_loss

    for epoch in range(num_epochs):
        epoch_total_loss = 0.0
        train_accuracy.reset_state()
        for minibatch_X, minibatch_Y in train_batches:
            epoch_total_loss += float(train_step(minibatch_X, minibatch_Y))

        test_accuracy.reset_state()
        for minibatch_X, minibatch_Y in test_batches:
            Z3 = forward_propagation(tf.transpose(minibatch_X), parameters)
            test_accuracy.update_state(minibatch_Y, tf.transpose(Z3))

        costs.append(epoch_total_loss / m)
        train_acc.append(float(train_accuracy.result()))
        test_acc.append(float(test_accuracy.result()))
        if print_cost and (epoch % 5 == 0 or epoch == num_epochs - 1):
            print(f"epoch {epoch:3d}: cost {costs[-1]:.4f}  train accuracy {train_acc[-1]:.3f}  "
                  f"test accuracy {test_acc[-1]:.3f}")
    return parameters, costs, train_acc, test_acc
