"""Regularization assignment: L2 weight decay and inverted dropout on the three-layer net.

Net: LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID with ``X: (n_x, m)``, ``Y: (1, m)``.
Graded: compute_cost_with_regularization, backward_propagation_with_regularization,
forward_propagation_with_dropout, backward_propagation_with_dropout.
The graded functions call the given helpers ``compute_cost``, ``relu`` and ``sigmoid`` by name.
"""
from __future__ import annotations

import numpy as np

from reference.nets import (backward_propagation, compute_cost, forward_propagation,
                            initialize_parameters_xavier, relu, sigmoid, train_three_layer_net)


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """Cross-entropy cost plus the L2 penalty on the three weight matrices.

    Arguments:
    A3 -- output probabilities, shape (1, m)
    Y -- labels (0/1), shape (1, m)
    parameters -- dict with W1, b1, W2, b2, W3, b3 (biases are not penalised)
    lambd -- regularization strength (float)

    Returns:
    cost -- float, compute_cost(A3, Y) + lambd / (2 m) * (sum(W1**2) + sum(W2**2) + sum(W3**2))
    """
    m = Y.shape[1]
    W1, W2, W3 = parameters["W1"], parameters["W2"], parameters["W3"]
    cross_entropy_cost = compute_cost(A3, Y)
    squared_weights = np.sum(np.square(W1)) + np.sum(np.square(W2)) + np.sum(np.square(W3))
    L2_regularization_cost = lambd / (2 * m) * squared_weights
    return cross_entropy_cost + L2_regularization_cost


def backward_propagation_with_regularization(X, Y, cache, lambd):
    """Gradients of the L2-regularized cost: plain backprop plus ``lambd / m * Wl`` on each dWl.

    Arguments:
    X -- input data, shape (n_x, m)
    Y -- labels, shape (1, m)
    cache -- tuple (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) from forward_propagation
    lambd -- regularization strength (float)

    Returns:
    gradients -- dict with dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1 (each shaped like
                 the quantity it differentiates; dZ3 = A3 - Y)
    """
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = np.dot(dZ3, A2.T) / m + lambd / m * W3
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = dA2 * np.int64(A2 > 0)
    dW2 = np.dot(dZ2, A1.T) / m + lambd / m * W2
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 * np.int64(A1 > 0)
    dW1 = np.dot(dZ1, X.T) / m + lambd / m * W1
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    """Forward pass with inverted dropout on the two hidden layers (never on the input or output).

    Seeds NumPy's global generator with 1, then draws the mask of layer 1 and afterwards the mask of
    layer 2: ``D = np.random.rand(*A.shape)``, ``D = (D < keep_prob).astype(int)``,
    ``A = A * D / keep_prob`` (the division keeps the expected activation unchanged).

    Arguments:
    X -- input data, shape (n_x, m)
    parameters -- dict with W1 (n1, n_x), b1 (n1, 1), W2 (n2, n1), b2 (n2, 1), W3 (1, n2), b3 (1, 1)
    keep_prob -- probability of keeping a hidden unit (float in (0, 1])

    Returns:
    A3 -- output probabilities, shape (1, m)
    cache -- tuple (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3); D1: (n1, m) and
             D2: (n2, m) are the 0/1 integer masks, A1 and A2 the dropped-and-rescaled activations
    """
    np.random.seed(1)
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    D1 = np.random.rand(A1.shape[0], A1.shape[1])
    D1 = (D1 < keep_prob).astype(int)
    A1 = A1 * D1 / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    D2 = np.random.rand(A2.shape[0], A2.shape[1])
    D2 = (D2 < keep_prob).astype(int)
    A2 = A2 * D2 / keep_prob
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    cache = (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)
    return A3, cache


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    """Gradients of the cross-entropy cost through the dropout forward pass.

    The gradients flowing into A2 and A1 go through the same masks and the same 1/keep_prob scaling
    that the forward pass applied.

    Arguments:
    X -- input data, shape (n_x, m)
    Y -- labels, shape (1, m)
    cache -- tuple (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) from
             forward_propagation_with_dropout
    keep_prob -- the keep probability used in the forward pass

    Returns:
    gradients -- dict with dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1
    """
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = np.dot(dZ3, A2.T) / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = np.dot(W3.T, dZ3)
    dA2 = dA2 * D2 / keep_prob
    dZ2 = dA2 * np.int64(A2 > 0)
    dW2 = np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = np.dot(W2.T, dZ2)
    dA1 = dA1 * D1 / keep_prob
    dZ1 = dA1 * np.int64(A1 > 0)
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0, keep_prob=1):
    """Train the [n_x, 20, 3, 1] net with full-batch gradient descent, L2 (lambd > 0) or dropout
    (keep_prob < 1); the two are not combined, as in the course.

    Arguments:
    X -- data, shape (n_x, m); Y -- labels, shape (1, m)
    learning_rate -- float
    num_iterations -- number of gradient-descent steps (use a small count in notebooks and tests)
    print_cost -- print the cost every 1000 iterations
    lambd -- L2 strength (0 disables L2)
    keep_prob -- dropout keep probability (1 disables dropout)

    Returns:
    parameters -- trained parameters
    costs -- cost at iterations 0, 1000, 2000, ... (with the L2 term when lambd > 0)
    """
    if lambd != 0 and keep_prob < 1:
        raise ValueError("use either L2 regularization (lambd > 0) or dropout (keep_prob < 1), not both")
    if not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
    parameters = initialize_parameters_xavier([X.shape[0], 20, 3, 1])

    def step(X, Y, parameters):
        if keep_prob < 1:
            a3, cache = forward_propagation_with_dropout(X, parameters, keep_prob)
            return compute_cost(a3, Y), backward_propagation_with_dropout(X, Y, cache, keep_prob)
        a3, cache = forward_propagation(X, parameters)
        if lambd != 0:
            return (compute_cost_with_regularization(a3, Y, parameters, lambd),
                    backward_propagation_with_regularization(X, Y, cache, lambd))
        return compute_cost(a3, Y), backward_propagation(X, Y, cache)

    return train_three_layer_net(X, Y, parameters, num_iterations, learning_rate, step,
                                 record_every=1000, print_cost=print_cost)
