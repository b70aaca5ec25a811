"""Gradient checking assignment: compare backprop gradients with two-sided finite differences.

Graded: forward_propagation, backward_propagation (the 1-D cost J = theta * x), gradient_check,
gradient_check_n. Given helpers (used by gradient_check_n by name): forward_propagation_n,
backward_propagation_n, dictionary_to_vector, vector_to_dictionary, gradients_to_vector.
The N-dimensional check is for the fixed 4 -> 5 -> 3 -> 1 net
LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID with ``X: (4, m)``, ``Y: (1, m)``.
"""
from __future__ import annotations

import numpy as np

from reference.nets import relu, sigmoid

#: differences above this mean "the backward pass has a bug" in the printed verdict
DIFFERENCE_THRESHOLD = 2e-7

#: (name, shape) of the parameters of the 4 -> 5 -> 3 -> 1 net, in flattening order
NET_SHAPES = (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)), ("W3", (1, 3)), ("b3", (1, 1)))


def forward_propagation(x, theta):
    """The linear cost J(theta) = theta * x.

    Arguments:
    x -- a real number (or array, element-wise)
    theta -- the parameter, a real number

    Returns:
    J -- theta * x
    """
    J = theta * x
    return J


def backward_propagation(x, theta):
    """Derivative of J(theta) = theta * x with respect to theta.

    Arguments:
    x -- a real number
    theta -- the parameter, a real number (unused: the derivative does not depend on it)

    Returns:
    dtheta -- x
    """
    dtheta = x
    return dtheta


def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    """Relative difference between backward_propagation's derivative and a two-sided estimate.

    gradapprox = (J(theta + epsilon) - J(theta - epsilon)) / (2 epsilon);
    difference = |grad - gradapprox| / (|grad| + |gradapprox|) (2-norms).

    Arguments:
    x -- a real number
    theta -- the parameter, a real number
    epsilon -- finite-difference step
    print_msg -- print a verdict (threshold 2e-7)

    Returns:
    difference -- float
    """
    theta_plus = theta + epsilon
    theta_minus = theta - epsilon
    J_plus = forward_propagation(x, theta_plus)
    J_minus = forward_propagation(x, theta_minus)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference > 2e-7:
            print(f"Backward pass looks wrong: relative difference {difference:.3e} exceeds 2e-7")
        else:
            print(f"Backward pass agrees with the numerical estimate: relative difference {difference:.3e}")
    return difference


def dictionary_to_vector(parameters):
    """Stack W1, b1, W2, b2, W3, b3 (each flattened row by row) into one column.

    Arguments:
    parameters -- dict with W1, b1, W2, b2, W3, b3

    Returns:
    theta -- column vector, shape (total number of parameters, 1)
    keys -- list with the parameter name of every entry of theta, e.g. ["W1", "W1", ..., "b3"]
    """
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    theta = np.concatenate([np.reshape(parameters[name], (-1, 1)) for name in names], axis=0)
    keys = [name for name in names for _ in range(np.size(parameters[name]))]
    return theta, keys


def vector_to_dictionary(theta):
    """Inverse of dictionary_to_vector for the 4 -> 5 -> 3 -> 1 net.

    Arguments:
    theta -- column vector of 47 parameters, shape (47, 1)

    Returns:
    parameters -- dict with W1 (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3), b3 (1, 1)
    """
    parameters = {}
    start = 0
    for name, shape in (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)), ("W3", (1, 3)),
                        ("b3", (1, 1))):
        size = shape[0] * shape[1]
        parameters[name] = theta[start:start + size].reshape(shape)
        start += size
    return parameters


def gradients_to_vector(gradients):
    """Stack dW1, db1, dW2, db2, dW3, db3 (each flattened row by row) into one column.

    Arguments:
    gradients -- dict with (at least) dW1, db1, dW2, db2, dW3, db3

    Returns:
    theta -- column vector, shape (total number of parameters, 1)
    """
    names = ["dW1", "db1", "dW2", "db2", "dW3", "db3"]
    return np.concatenate([np.reshape(gradients[name], (-1, 1)) for name in names], axis=0)


def forward_propagation_n(X, Y, parameters):
    """Forward pass and mean cross-entropy cost of the 4 -> 5 -> 3 -> 1 net.

    Arguments:
    X -- data, shape (4, m)
    Y -- labels (0/1), shape (1, m)
    parameters -- dict with W1 (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3), b3 (1, 1)

    Returns:
    cost -- float, mean cross-entropy
    cache -- tuple (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    """
    m = X.shape[1]
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    log_probs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    cost = 1.0 / m * np.sum(log_probs)
    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return cost, cache


def backward_propagation_n(X, Y, cache):
    """Correct gradients of forward_propagation_n's cost.

    Arguments:
    X -- data, shape (4, m)
    Y -- labels, shape (1, m)
    cache -- tuple from forward_propagation_n

    Returns:
    gradients -- dict with dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1 (dZ3 = A3 - Y)
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


def backward_propagation_n_with_bugs(X, Y, cache):
    """backward_propagation_n with two planted bugs, for the lesson's check to find.

    dW2 is doubled and db1 is multiplied by 4; everything else is correct. Same arguments and
    return structure as backward_propagation_n.
    """
    gradients = backward_propagation_n(X, Y, cache)
    gradients["dW2"] = gradients["dW2"] * 2
    gradients["db1"] = gradients["db1"] * 4
    return gradients


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    """Relative difference between backprop gradients and two-sided finite differences of the cost.

    Each of the parameters, flattened in the order W1, b1, W2, b2, W3, b3, is nudged by +epsilon and
    -epsilon in turn (all others fixed) and the cost of forward_propagation_n is re-evaluated.

    Arguments:
    parameters -- dict with W1, b1, W2, b2, W3, b3 of the 4 -> 5 -> 3 -> 1 net
    gradients -- dict from backward_propagation_n (dW1, db1, ..., dW3, db3 are used)
    X -- data, shape (4, m)
    Y -- labels, shape (1, m)
    epsilon -- finite-difference step
    print_msg -- print a verdict (threshold 2e-7)

    Returns:
    difference -- float, ||grad - gradapprox|| / (||grad|| + ||gradapprox||)
    """
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i] = theta_plus[i] + epsilon
        J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus))
        theta_minus = np.copy(parameters_values)
        theta_minus[i] = theta_minus[i] - epsilon
        J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus))
        gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference > 2e-7:
            print(f"Backward pass looks wrong: relative difference {difference:.3e} exceeds 2e-7")
        else:
            print(f"Backward pass agrees with the numerical estimate: relative difference {difference:.3e}")
    return difference


def gradient_check_n_batched(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    """gradient_check_n's number (equal up to rounding) with its 2 * n nudged forward passes computed as
    one batch instead of a Python loop: what the hidden checks evaluate, ~10x faster. The loop above is
    the course's algorithm and the notebook's solution; this one exists for the grader only.

    Arguments are gradient_check_n's; ``print_msg`` is accepted and ignored (checks compare values).
    Internally: thetas (2n, n) -- row i is theta with entry i nudged up (i < n) or entry i - n nudged
    down; each row is unpacked into batched W1 (2n, 5, 4), b1 (2n, 5, 1), ..., b3 (2n, 1, 1).

    Returns:
    difference -- float, ||grad - gradapprox|| / (||grad|| + ||gradapprox||)
    """
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    n = parameters_values.shape[0]
    thetas = np.repeat(parameters_values.T, 2 * n, axis=0)                       # (2n, n)
    rows = np.arange(n)
    thetas[rows, rows] = thetas[rows, rows] + epsilon
    thetas[n + rows, rows] = thetas[n + rows, rows] - epsilon
    batch, start = {}, 0
    for name, shape in (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)), ("W3", (1, 3)),
                        ("b3", (1, 1))):
        size = shape[0] * shape[1]
        batch[name] = thetas[:, start:start + size].reshape((2 * n, *shape))
        start += size
    m = X.shape[1]
    A1 = relu(np.matmul(batch["W1"], X) + batch["b1"])                             # (2n, 5, m)
    A2 = relu(np.matmul(batch["W2"], A1) + batch["b2"])                            # (2n, 3, m)
    A3 = sigmoid(np.matmul(batch["W3"], A2) + batch["b3"])                         # (2n, 1, m)
    log_probs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    costs = 1.0 / m * np.sum(log_probs, axis=(1, 2))                                # (2n,)
    gradapprox = ((costs[:n] - costs[n:]) / (2 * epsilon)).reshape(n, 1)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return numerator / denominator


gradient_check_n.grading_twin = gradient_check_n_batched   # see autograder.checks.framework.reference_function
