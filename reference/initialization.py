"""Initialization assignment: three ways to start the weights of a deep net, and the training model.

Graded: initialize_parameters_zeros, initialize_parameters_random, initialize_parameters_he.
Each returns a dict ``{"W1", "b1", ..., "WL", "bL"}`` with ``Wl: (n_l, n_{l-1})``, ``bl: (n_l, 1)``
for ``layers_dims = [n_0, n_1, ..., n_L]``.
"""
from __future__ import annotations

import numpy as np

from reference.nets import backward_propagation, compute_cost, forward_propagation, train_three_layer_net


def initialize_parameters_zeros(layers_dims):
    """Every weight and every bias set to zero.

    Arguments:
    layers_dims -- list [n_0, n_1, ..., n_L] of layer sizes (n_0 = number of input features)

    Returns:
    parameters -- dict with W1 (n_1, n_0), b1 (n_1, 1), ..., WL (n_L, n_{L-1}), bL (n_L, 1), all zeros
    """
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters["W" + str(l)] = np.zeros((layers_dims[l], layers_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_parameters_random(layers_dims):
    """Large random weights (standard normal times 10) and zero biases.

    Seeds NumPy's global generator with 3 once, then draws the weights of layer 1, 2, ..., L in order.

    Arguments:
    layers_dims -- list [n_0, n_1, ..., n_L] of layer sizes

    Returns:
    parameters -- dict with Wl = randn(n_l, n_{l-1}) * 10 and bl = zeros((n_l, 1)) for l = 1..L
    """
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * 10
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_parameters_he(layers_dims):
    """He initialization: standard normal weights scaled by sqrt(2 / fan-in), zero biases.

    Seeds NumPy's global generator with 3 once, then draws the weights of layer 1, 2, ..., L in order.

    Arguments:
    layers_dims -- list [n_0, n_1, ..., n_L] of layer sizes

    Returns:
    parameters -- dict with Wl = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1}) and bl = zeros((n_l, 1))
    """
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters["W" + str(l)] = (np.random.randn(layers_dims[l], layers_dims[l - 1])
                                    * np.sqrt(2 / layers_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


INITIALIZERS = {
    "zeros": initialize_parameters_zeros,
    "random": initialize_parameters_random,
    "he": initialize_parameters_he,
}


def model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True, initialization="he"):
    """Train the [n_x, 10, 5, 1] three-layer net with full-batch gradient descent.

    Arguments:
    X -- data, shape (n_x, m)
    Y -- labels (0/1), shape (1, m)
    learning_rate -- float
    num_iterations -- number of gradient-descent steps (use a small count in notebooks and tests)
    print_cost -- print the cost every 1000 iterations
    initialization -- "zeros", "random" or "he"

    Returns:
    parameters -- trained parameters
    costs -- mean cross-entropy at iterations 0, 1000, 2000, ...
    """
    if initialization not in INITIALIZERS:
        raise ValueError(f"initialization must be one of {sorted(INITIALIZERS)}, got {initialization!r}")
    parameters = INITIALIZERS[initialization]([X.shape[0], 10, 5, 1])

    def step(X, Y, parameters):
        a3, cache = forward_propagation(X, parameters)
        return compute_cost(a3, Y), backward_propagation(X, Y, cache)

    return train_three_layer_net(X, Y, parameters, num_iterations, learning_rate, step,
                                 record_every=1000, print_cost=print_cost)
