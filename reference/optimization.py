"""Optimization assignment: mini-batches, momentum, RMSprop, Adam, learning-rate decay, EWA.

Parameters are dicts ``{"W1", "b1", ..., "WL", "bL"}``; gradients, velocities (v) and squared-gradient
averages (s) are dicts keyed ``{"dW1", "db1", ..., "dWL", "dbL"}`` with the matching shapes.
Update functions replace the entries of the ``parameters`` (and ``v``/``s``) dicts they are given and
return them, as the course's versions do.
"""
from __future__ import annotations

import numpy as np

from reference.nets import backward_propagation, compute_cost_sum, forward_propagation, initialize_parameters


def update_parameters_with_gd(parameters, grads, learning_rate):
    """One step of (mini-batch) gradient descent on every layer.

    Arguments:
    parameters -- dict W1, b1, ..., WL, bL; Wl: (n_l, n_{l-1}), bl: (n_l, 1)
    grads -- dict dW1, db1, ..., dWL, dbL of matching shapes
    learning_rate -- float

    Returns:
    parameters -- dict with Wl - learning_rate * dWl and bl - learning_rate * dbl
    """
    L = len(parameters) // 2
    for l in range(1, L + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return parameters


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle the examples (columns) and cut them into mini-batches.

    Seeds NumPy's global generator with ``seed``; the shuffle is
    ``permutation = list(np.random.permutation(m))`` applied to the columns of both X and Y.
    The first floor(m / mini_batch_size) batches are full; if m is not a multiple of the size, one
    last, smaller batch holds the remaining m % mini_batch_size examples.

    Arguments:
    X -- data, shape (n_x, m)
    Y -- labels, shape (n_y, m) (the course uses n_y = 1)
    mini_batch_size -- examples per batch (int)
    seed -- seed for NumPy's global generator

    Returns:
    mini_batches -- list of (mini_batch_X (n_x, size), mini_batch_Y (n_y, size)) tuples
    """
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation]
    starts = range(0, m, mini_batch_size)
    return [(shuffled_X[:, k:k + mini_batch_size], shuffled_Y[:, k:k + mini_batch_size]) for k in starts]


def initialize_velocity(parameters):
    """Zero velocities for momentum.

    Arguments:
    parameters -- dict W1, b1, ..., WL, bL

    Returns:
    v -- dict dW1, db1, ..., dWL, dbL of float zeros shaped like the matching parameter
    """
    L = len(parameters) // 2
    v = {}
    for l in range(1, L + 1):
        v["dW" + str(l)] = np.zeros(parameters["W" + str(l)].shape)
        v["db" + str(l)] = np.zeros(parameters["b" + str(l)].shape)
    return v


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """Gradient descent with momentum: ``v = beta v + (1 - beta) grad``, then ``W -= lr * v``.

    Arguments:
    parameters -- dict W1, b1, ..., WL, bL
    grads -- dict dW1, db1, ..., dWL, dbL
    v -- dict dW1, db1, ... of current velocities (same shapes as grads)
    beta -- momentum coefficient in [0, 1)
    learning_rate -- float

    Returns:
    parameters -- updated parameters dict
    v -- updated velocities dict
    """
    L = len(parameters) // 2
    for l in range(1, L + 1):
        for p in ("W", "b"):
            key = "d" + p + str(l)
            v[key] = beta * v[key] + (1 - beta) * grads[key]
            parameters[p + str(l)] = parameters[p + str(l)] - learning_rate * v[key]
    return parameters, v


def initialize_rmsprop(parameters):
    """Zero running averages of squared gradients for RMSprop.

    Arguments:
    parameters -- dict W1, b1, ..., WL, bL

    Returns:
    s -- dict dW1, db1, ..., dWL, dbL of float zeros shaped like the matching parameter
    """
    L = len(parameters) // 2
    s = {}
    for l in range(1, L + 1):
        s["dW" + str(l)] = np.zeros(parameters["W" + str(l)].shape)
        s["db" + str(l)] = np.zeros(parameters["b" + str(l)].shape)
    return s


def update_parameters_with_rmsprop(parameters, grads, s, beta2, learning_rate, epsilon=1e-8):
    """RMSprop: ``s = beta2 s + (1 - beta2) grad**2``, then ``W -= lr * grad / (sqrt(s) + epsilon)``.

    Arguments:
    parameters -- dict W1, b1, ..., WL, bL
    grads -- dict dW1, db1, ..., dWL, dbL
    s -- dict dW1, db1, ... of running averages of squared gradients
    beta2 -- decay of the squared-gradient average in [0, 1)
    learning_rate -- float
    epsilon -- added to the root to avoid dividing by zero

    Returns:
    parameters -- updated parameters dict
    s -- updated squared-gradient averages
    """
    L = len(parameters) // 2
    for l in range(1, L + 1):
        for p in ("W", "b"):
            key = "d" + p + str(l)
            s[key] = beta2 * s[key] + (1 - beta2) * np.square(grads[key])
            parameters[p + str(l)] = (parameters[p + str(l)]
                                      - learning_rate * grads[key] / (np.sqrt(s[key]) + epsilon))
    return parameters, s


def initialize_adam(parameters):
    """Zero first-moment (v) and second-moment (s) estimates for Adam.

    Arguments:
    parameters -- dict W1, b1, ..., WL, bL

    Returns:
    v -- dict dW1, db1, ..., dWL, dbL of float zeros shaped like the matching parameter
    s -- a second, separate dict of the same zeros
    """
    L = len(parameters) // 2
    v = {}
    s = {}
    for l in range(1, L + 1):
        for p in ("W", "b"):
            v["d" + p + str(l)] = np.zeros(parameters[p + str(l)].shape)
            s["d" + p + str(l)] = np.zeros(parameters[p + str(l)].shape)
    return v, s


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999,
                                epsilon=1e-8):
    """One Adam step with bias correction.

    For every gradient g: ``v = beta1 v + (1 - beta1) g``, ``s = beta2 s + (1 - beta2) g**2``,
    ``v_corrected = v / (1 - beta1**t)``, ``s_corrected = s / (1 - beta2**t)``, and
    ``W -= learning_rate * v_corrected / (sqrt(s_corrected) + epsilon)``.

    Arguments:
    parameters -- dict W1, b1, ..., WL, bL
    grads -- dict dW1, db1, ..., dWL, dbL
    v, s -- dicts dW1, db1, ... of the moment estimates
    t -- number of Adam steps taken so far including this one (1 on the first call)
    learning_rate, beta1, beta2, epsilon -- hyperparameters (floats)

    Returns:
    parameters -- updated parameters dict
    v, s -- updated moment estimates
    v_corrected, s_corrected -- new dicts with the bias-corrected estimates used in this step
    """
    L = len(parameters) // 2
    v_corrected = {}
    s_corrected = {}
    for l in range(1, L + 1):
        for p in ("W", "b"):
            key = "d" + p + str(l)
            v[key] = beta1 * v[key] + (1 - beta1) * grads[key]
            v_corrected[key] = v[key] / (1 - beta1 ** t)
            s[key] = beta2 * s[key] + (1 - beta2) * np.square(grads[key])
            s_corrected[key] = s[key] / (1 - beta2 ** t)
            parameters[p + str(l)] = (parameters[p + str(l)]
                                      - learning_rate * v_corrected[key] / (np.sqrt(s_corrected[key]) + epsilon))
    return parameters, v, s, v_corrected, s_corrected


def update_lr(learning_rate0, epoch_num, decay_rate):
    """Learning rate after inverse-time decay at every epoch.

    Arguments:
    learning_rate0 -- initial learning rate
    epoch_num -- current epoch (0, 1, 2, ...)
    decay_rate -- decay strength

    Returns:
    learning_rate -- learning_rate0 / (1 + decay_rate * epoch_num)
    """
    learning_rate = learning_rate0 / (1 + decay_rate * epoch_num)
    return learning_rate


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """Learning rate after inverse-time decay applied in steps of ``time_interval`` epochs.

    Arguments:
    learning_rate0 -- initial learning rate
    epoch_num -- current epoch (0, 1, 2, ...)
    decay_rate -- decay strength
    time_interval -- epochs between two decreases

    Returns:
    learning_rate -- learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))
    """
    learning_rate = learning_rate0 / (1 + decay_rate * np.floor(epoch_num / time_interval))
    return learning_rate


def exponentially_weighted_average(values, beta, bias_correction=True):
    """Exponentially weighted (running) averages of a sequence, optionally bias-corrected.

    With ``v_0 = 0`` and ``v_t = beta v_{t-1} + (1 - beta) values[t-1]`` for t = 1..T; with bias
    correction the result at step t is ``v_t / (1 - beta**t)``. The recurrence runs over time steps
    (it is sequential by nature); the bias correction is applied to all steps at once.

    Arguments:
    values -- sequence of T numbers (list or array of shape (T,))
    beta -- weight of the past, in [0, 1)
    bias_correction -- divide by (1 - beta**t) so early averages are not biased toward 0

    Returns:
    averages -- float array, shape (T,), averages[t-1] = (corrected) v_t
    """
    values = np.asarray(values, dtype=float).reshape(-1)
    averages = np.zeros(values.shape[0])
    v = 0.0
    for i in range(values.shape[0]):
        v = beta * v + (1 - beta) * values[i]
        averages[i] = v
    if bias_correction:
        t = np.arange(1, values.shape[0] + 1)
        averages = averages / (1 - np.power(beta, t))
    return averages


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9, beta1=0.9,
          beta2=0.999, epsilon=1e-8, num_epochs=5000, print_cost=True, decay=None, decay_rate=1):
    """Train a ReLU/sigmoid three-layer net with mini-batches and the chosen optimizer.

    Arguments:
    X -- data, shape (n_x, m); Y -- labels, shape (1, m)
    layers_dims -- [n_x, n_1, n_2, 1]
    optimizer -- "gd", "momentum", "rmsprop" or "adam"
    learning_rate, mini_batch_size, beta (momentum), beta1, beta2, epsilon (Adam/RMSprop) -- hyperparameters;
        RMSprop uses beta2
    num_epochs -- passes over the data (use a small count in notebooks and tests)
    print_cost -- print the cost every 1000 epochs
    decay -- None, or a function (learning_rate0, epoch_num, decay_rate) -> learning_rate applied after
             every epoch (update_lr or schedule_lr_decay)
    decay_rate -- passed to ``decay``

    Returns:
    parameters -- trained parameters
    costs -- average cost per example at epochs 0, 100, 200, ...
    """
    if optimizer not in ("gd", "momentum", "rmsprop", "adam"):
        raise ValueError(f"optimizer must be 'gd', 'momentum', 'rmsprop' or 'adam', got {optimizer!r}")
    costs = []
    t = 0
    seed = 10
    m = X.shape[1]
    learning_rate0 = learning_rate
    parameters = initialize_parameters(layers_dims)
    if optimizer == "momentum":
        v = initialize_velocity(parameters)
    elif optimizer == "rmsprop":
        s = initialize_rmsprop(parameters)
    elif optimizer == "adam":
        v, s = initialize_adam(parameters)
    for i in range(num_epochs):
        seed = seed + 1  # a different shuffle every epoch, reproducible across runs
        cost_total = 0.0
        for minibatch_X, minibatch_Y in random_mini_batches(X, Y, mini_batch_size, seed):
            a3, cache = forward_propagation(minibatch_X, parameters)
            cost_total += compute_cost_sum(a3, minibatch_Y)
            grads = backward_propagation(minibatch_X, minibatch_Y, cache)
            if optimizer == "gd":
                parameters = update_parameters_with_gd(parameters, grads, learning_rate)
            elif optimizer == "momentum":
                parameters, v = update_parameters_with_momentum(parameters, grads, v, beta, learning_rate)
            elif optimizer == "rmsprop":
                parameters, s = update_parameters_with_rmsprop(parameters, grads, s, beta2, learning_rate, epsilon)
            else:
                t = t + 1
                parameters, v, s, _, _ = update_parameters_with_adam(parameters, grads, v, s, t, learning_rate,
                                                                     beta1, beta2, epsilon)
        cost_avg = cost_total / m
        if decay is not None:
            learning_rate = decay(learning_rate0, i, decay_rate)
        if i % 100 == 0:
            costs.append(float(cost_avg))
        if print_cost and i % 1000 == 0:
            print(f"cost after epoch {i}: {cost_avg:.6f}" + (f", learning rate {learning_rate:.6f}" if decay else ""))
    return parameters, costs

