"""Building blocks of the course's small fully connected nets (given helpers, nothing graded here).

Notation: activations are ``(n_units, m)`` with one example per column; parameters are a dict
``{"W1", "b1", ..., "WL", "bL"}`` with ``Wl: (n_l, n_{l-1})`` and ``bl: (n_l, 1)``.

The three-layer net used by the initialization, regularization and optimization assignments is
LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID. Its cache is the tuple
``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``.

Gradient convention of :func:`backward_propagation` (the same one the regularization and
gradient-checking exercises use): ``dZ3 = A3 - Y`` (not divided by m) and the ``1/m`` is applied
to every ``dW``/``db``. Every function here is self-contained (only ``numpy`` and the other helpers of
this module by name), because the course build copies their source into the student helper files.
"""
from __future__ import annotations

import numpy as np


def relu(x):
    """Element-wise rectified linear unit ``max(0, x)``; same shape as ``x``."""
    return np.maximum(0, x)


def sigmoid(x):
    """Element-wise logistic function ``1 / (1 + exp(-x))``; same shape as ``x``.

    exp(-x) overflowing to inf for very negative x gives the correct limit 0, so that warning is muted.
    """
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def forward_propagation(X, parameters):
    """Forward pass of LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID.

    Arguments:
    X -- input data, shape (n_x, m)
    parameters -- dict with W1 (n1, n_x), b1 (n1, 1), W2 (n2, n1), b2 (n2, 1), W3 (1, n2), b3 (1, 1)

    Returns:
    A3 -- output probabilities, shape (1, m)
    cache -- tuple (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) for the backward pass
    """
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return A3, cache


def backward_propagation(X, Y, cache):
    """Gradients of the mean cross-entropy cost of the three-layer net.

    Arguments:
    X -- input data, shape (n_x, m)
    Y -- labels (0/1), shape (1, m)
    cache -- tuple from forward_propagation

    Returns:
    gradients -- dict with dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1; each has the shape of
                 the quantity it differentiates (dZ3 = A3 - Y, i.e. not divided by m)
    """
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = np.dot(dZ3, A2.T) / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = dA2 * np.int64(A2 > 0)
    dW2 = np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 * np.int64(A1 > 0)
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def compute_cost(a3, Y):
    """Mean binary cross-entropy; terms that evaluate to nan (0 * log 0) are skipped by ``nansum``.

    Arguments:
    a3 -- predicted probabilities, shape (1, m)
    Y -- labels (0/1), shape (1, m)

    Returns:
    cost -- float, (1/m) * nansum(-Y log a3 - (1-Y) log(1-a3))
    """
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return 1.0 / m * np.nansum(logprobs)


def compute_cost_sum(a3, Y):
    """Summed (not averaged) binary cross-entropy over a mini-batch.

    This is what the optimization assignment's ``compute_cost`` returns: its training loop adds the
    mini-batch sums over an epoch and divides by the number of examples once at the end. The student
    helper file of that assignment exposes this function under the name ``compute_cost``.

    Arguments:
    a3 -- predicted probabilities, shape (1, m_batch)
    Y -- labels (0/1), shape (1, m_batch)

    Returns:
    cost_total -- float, sum(-Y log a3 - (1-Y) log(1-a3))
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return np.sum(logprobs)


def initialize_parameters(layer_dims):
    """He-scaled random parameters as the optimization assignment's given helper makes them.

    Seeds NumPy's global generator with 3, then for l = 1..L draws
    ``W_l = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})`` and sets ``b_l = zeros((n_l, 1))``.

    Arguments:
    layer_dims -- list [n_x, n_1, ..., n_L]

    Returns:
    parameters -- dict W1, b1, ..., WL, bL
    """
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = (np.random.randn(layer_dims[l], layer_dims[l - 1])
                                    * np.sqrt(2 / layer_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def initialize_parameters_xavier(layer_dims):
    """Random parameters scaled by ``1/sqrt(n_{l-1})`` (the regularization assignment's given helper).

    Seeds NumPy's global generator with 3, then for l = 1..L draws
    ``W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1})`` and ``b_l = zeros((n_l, 1))``. The regularization
    notebook exposes it under the name ``initialize_parameters``.

    Arguments:
    layer_dims -- list [n_x, n_1, ..., n_L]

    Returns:
    parameters -- dict W1, b1, ..., WL, bL
    """
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) / np.sqrt(layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def update_parameters(parameters, grads, learning_rate):
    """One gradient-descent step on every layer: ``W_l -= lr * dW_l``, ``b_l -= lr * db_l``.

    Arguments:
    parameters -- dict W1, b1, ..., WL, bL (its entries are replaced by the updated arrays)
    grads -- dict with dW1, db1, ..., dWL, dbL of matching shapes
    learning_rate -- float

    Returns:
    parameters -- the same dict, updated
    """
    L = len(parameters) // 2
    for l in range(1, L + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return parameters


def predict(X, y, parameters):
    """Classify with the three-layer net (probability > 0.5 means class 1) and measure accuracy.

    Arguments:
    X -- data, shape (n_x, m)
    y -- true labels, shape (1, m)
    parameters -- trained parameters of the three-layer net

    Returns:
    accuracy -- float in [0, 1], fraction of columns where the prediction equals y
    predictions -- int array of 0/1, shape (1, m)
    """
    a3, _ = forward_propagation(X, parameters)
    predictions = (a3 > 0.5).astype(int)
    accuracy = float(np.mean(predictions[0, :] == y[0, :]))
    return accuracy, predictions


def predict_dec(parameters, X):
    """Class predictions for plotting a decision boundary.

    Arguments:
    parameters -- trained parameters of the three-layer net
    X -- points to classify, shape (n_x, m)

    Returns:
    predictions -- bool array, shape (1, m), True where the net's probability exceeds 0.5
    """
    a3, _ = forward_propagation(X, parameters)
    return a3 > 0.5


def train_three_layer_net(X, Y, parameters, num_iterations, learning_rate, step, record_every=1000,
                          print_cost=False):
    """Full-batch training loop shared by the initialization and regularization models.

    ``step(X, Y, parameters) -> (cost, grads)`` does one forward and backward pass (so the caller can
    plug in dropout or L2 regularization). The cost is recorded at iterations 0, record_every, ...

    Arguments:
    X -- data, shape (n_x, m); Y -- labels, shape (1, m)
    parameters -- initial parameters (dict)
    num_iterations -- number of gradient-descent steps
    learning_rate -- float
    step -- callable as above
    record_every -- iterations between recorded costs

    Returns:
    parameters -- trained parameters
    costs -- list of floats, one per recorded iteration
    """
    costs = []
    for i in range(num_iterations):
        cost, grads = step(X, Y, parameters)
        parameters = update_parameters(parameters, grads, learning_rate)
        if i % record_every == 0:
            costs.append(float(cost))
            if print_cost:
                print(f"cost after iteration {i}: {float(cost):.6f}")
    return parameters, costs
