"""Batch normalization, softmax and log-scale hyperparameter sampling (our week-3 assignment).

Course notation: a layer's pre-activations ``Z`` are ``(n_units, m)`` with one example per column, so
batch statistics are taken over ``axis=1`` (the examples) with ``keepdims=True``; ``gamma`` and
``beta`` are ``(n_units, 1)``. Softmax is column-wise: ``Z`` and ``A`` are ``(C, m)`` and each column
is one example's class scores/probabilities.

Graded: batchnorm_forward, batchnorm_backward, update_running_stats, batchnorm_inference, softmax,
softmax_cost, softmax_backward, sample_log_uniform.

Conventions fixed here (the hidden checks rely on them):
- the batch variance uses ``ddof=0`` (divide by m);
- the cache of batchnorm_forward is the tuple ``(Z, Z_norm, mu, var, gamma, beta, epsilon)``;
- softmax_backward returns ``dZ = A - Y`` for the *summed* loss (not divided by m); the caller
  divides by m where it averages (the demo net below does so).

The rest of the module is a small deep net with optional batch norm on its hidden layers and a
softmax output, for the notebook demo showing batch norm speeding up training of a deeper net.
"""
from __future__ import annotations

import numpy as np


def batchnorm_forward(Z, gamma, beta, epsilon=1e-8):
    """Batch-normalize pre-activations at training time, then scale and shift.

    mu = mean of Z over the examples, var = their variance (ddof=0),
    Z_norm = (Z - mu) / sqrt(var + epsilon), Z_tilde = gamma * Z_norm + beta.

    Arguments:
    Z -- pre-activations, shape (n_units, m)
    gamma -- scale, shape (n_units, 1)
    beta -- shift, shape (n_units, 1)
    epsilon -- added to the variance inside the square root

    Returns:
    Z_tilde -- normalized, scaled and shifted pre-activations, shape (n_units, m)
    cache -- tuple (Z, Z_norm, mu, var, gamma, beta, epsilon); mu and var have shape (n_units, 1)
    """
    mu = np.mean(Z, axis=1, keepdims=True)
    var = np.var(Z, axis=1, keepdims=True)
    Z_norm = (Z - mu) / np.sqrt(var + epsilon)
    Z_tilde = gamma * Z_norm + beta
    cache = (Z, Z_norm, mu, var, gamma, beta, epsilon)
    return Z_tilde, cache


def batchnorm_backward(dZ_tilde, cache):
    """Gradients through batchnorm_forward, including the dependence of mu and var on every example.

    With dZ_norm = gamma * dZ_tilde and sigma = sqrt(var + epsilon):
    dZ = (m dZ_norm - sum(dZ_norm) - Z_norm * sum(dZ_norm * Z_norm)) / (m sigma), sums over examples.

    Arguments:
    dZ_tilde -- gradient of the cost with respect to Z_tilde, shape (n_units, m)
    cache -- tuple (Z, Z_norm, mu, var, gamma, beta, epsilon) from batchnorm_forward

    Returns:
    dZ -- gradient with respect to Z, shape (n_units, m)
    dgamma -- gradient with respect to gamma, shape (n_units, 1)
    dbeta -- gradient with respect to beta, shape (n_units, 1)
    """
    (Z, Z_norm, mu, var, gamma, beta, epsilon) = cache
    m = Z.shape[1]
    dbeta = np.sum(dZ_tilde, axis=1, keepdims=True)
    dgamma = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)
    dZ_norm = dZ_tilde * gamma
    dZ = (m * dZ_norm
          - np.sum(dZ_norm, axis=1, keepdims=True)
          - Z_norm * np.sum(dZ_norm * Z_norm, axis=1, keepdims=True)) / (m * np.sqrt(var + epsilon))
    return dZ, dgamma, dbeta


def update_running_stats(running_mean, running_var, mu, var, momentum=0.9):
    """Exponentially weighted averages of the batch statistics, used later at inference time.

    Arguments:
    running_mean, running_var -- current averages, shape (n_units, 1)
    mu, var -- this mini-batch's mean and variance, shape (n_units, 1)
    momentum -- weight of the past in [0, 1)

    Returns:
    running_mean -- momentum * running_mean + (1 - momentum) * mu
    running_var -- momentum * running_var + (1 - momentum) * var
    """
    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var = momentum * running_var + (1 - momentum) * var
    return running_mean, running_var


def batchnorm_inference(Z, gamma, beta, running_mean, running_var, epsilon=1e-8):
    """Batch norm at test time: normalize with the running statistics, not the batch's own.

    Arguments:
    Z -- pre-activations, shape (n_units, m) (m may be 1)
    gamma, beta -- learned scale and shift, shape (n_units, 1)
    running_mean, running_var -- averages collected during training, shape (n_units, 1)
    epsilon -- added to the variance inside the square root

    Returns:
    Z_tilde -- gamma * (Z - running_mean) / sqrt(running_var + epsilon) + beta, shape (n_units, m)
    """
    Z_norm = (Z - running_mean) / np.sqrt(running_var + epsilon)
    Z_tilde = gamma * Z_norm + beta
    return Z_tilde


def softmax(Z):
    """Column-wise softmax, shifted by each column's maximum so large scores cannot overflow.

    Arguments:
    Z -- class scores, shape (C, m); column j holds example j's scores

    Returns:
    A -- probabilities, shape (C, m); every column is non-negative and sums to 1
    """
    Z_shifted = Z - np.max(Z, axis=0, keepdims=True)
    exps = np.exp(Z_shifted)
    A = exps / np.sum(exps, axis=0, keepdims=True)
    return A


def softmax_cost(A, Y):
    """Mean categorical cross-entropy over the examples.

    Arguments:
    A -- predicted probabilities, shape (C, m)
    Y -- one-hot (or probability) labels, shape (C, m)

    Returns:
    cost -- float, -(1/m) * sum over classes and examples of Y * log(A); entries with Y = 0
            contribute 0 even where A underflowed to 0
    """
    m = Y.shape[1]
    log_A = np.log(np.where(Y > 0, A, 1.0))
    cost = -np.sum(Y * log_A) / m
    return cost


def softmax_backward(A, Y):
    """Gradient of the (summed) cross-entropy with respect to the softmax input.

    Arguments:
    A -- softmax output, shape (C, m)
    Y -- one-hot labels, shape (C, m)

    Returns:
    dZ -- A - Y, shape (C, m) (not divided by m: divide where the cost is averaged)
    """
    dZ = A - Y
    return dZ


def sample_log_uniform(low, high, size, rng):
    """Random hyperparameter values spread evenly on a log scale between low and high.

    Draws r ~ Uniform(log10(low), log10(high)) with ``rng.uniform`` (one call) and returns 10**r, so
    each decade (e.g. 1e-4..1e-3 and 0.1..1) gets the same share of samples.

    Arguments:
    low, high -- positive bounds, low < high (e.g. 1e-4 and 1)
    size -- number of samples (int) or output shape (tuple)
    rng -- a numpy.random.Generator, or an int seed for numpy.random.default_rng

    Returns:
    samples -- float array of shape ``size`` with values in [low, high)
    """
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    r = rng.uniform(np.log10(low), np.log10(high), size)
    samples = np.power(10.0, r)
    return samples


# ----------------------------------------------------------------------------------------------------
# Demo: a deeper ReLU net with optional batch norm on its hidden layers and a softmax output.
# Parameters: W1..WL (n_l, n_{l-1}); hidden layers have gamma_l, beta_l (n_l, 1) with batch norm or
# b_l (n_l, 1) without; the output layer always has bL. Gradients use the same names with a "d" prefix.
# ----------------------------------------------------------------------------------------------------

def init_deep_net(layer_dims, use_batchnorm, weight_scale=None, seed=0):
    """Parameters of a deep ReLU/softmax net.

    Arguments:
    layer_dims -- [n_x, n_1, ..., n_{L-1}, C]
    use_batchnorm -- put batch norm (gamma, beta, no bias) on every hidden layer
    weight_scale -- std of the weights; None means He scaling sqrt(2 / n_{l-1})
    seed -- seed of a private numpy Generator (the global generator is untouched)

    Returns:
    parameters -- dict described in the comment above
    """
    rng = np.random.default_rng(seed)
    L = len(layer_dims) - 1
    parameters = {}
    for l in range(1, L + 1):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        std = np.sqrt(2 / n_prev) if weight_scale is None else weight_scale
        parameters[f"W{l}"] = rng.standard_normal((n, n_prev)) * std
        if use_batchnorm and l < L:
            parameters[f"gamma{l}"] = np.ones((n, 1))
            parameters[f"beta{l}"] = np.zeros((n, 1))
        else:
            parameters[f"b{l}"] = np.zeros((n, 1))
    return parameters


def _num_layers(parameters):
    return sum(1 for key in parameters if key.startswith("W"))


def deep_forward(X, parameters, running_stats=None, epsilon=1e-8):
    """Forward pass of the demo net.

    Arguments:
    X -- data, shape (n_x, m)
    parameters -- from init_deep_net
    running_stats -- None at training time (batch statistics are used); at inference a list of
                     (running_mean, running_var) per hidden layer
    epsilon -- batch-norm epsilon

    Returns:
    AL -- class probabilities, shape (C, m)
    caches -- per-layer caches for deep_backward
    batch_stats -- list of (mu, var) per hidden batch-norm layer (empty without batch norm)
    """
    L = _num_layers(parameters)
    A = X
    caches, batch_stats = [], []
    for l in range(1, L):
        W = parameters[f"W{l}"]
        Z = W @ A
        if f"gamma{l}" in parameters:
            gamma, beta = parameters[f"gamma{l}"], parameters[f"beta{l}"]
            if running_stats is None:
                Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta, epsilon)
                batch_stats.append((bn_cache[2], bn_cache[3]))
            else:
                Z_tilde = batchnorm_inference(Z, gamma, beta, *running_stats[l - 1], epsilon)
                bn_cache = None
        else:
            Z_tilde, bn_cache = Z + parameters[f"b{l}"], None
        caches.append((A, W, Z_tilde, bn_cache))
        A = np.maximum(0, Z_tilde)
    AL = softmax(parameters[f"W{L}"] @ A + parameters[f"b{L}"])
    caches.append((A, parameters[f"W{L}"], None, None))
    return AL, caches, batch_stats


def deep_backward(AL, Y, caches):
    """Gradients of the mean softmax cross-entropy of the demo net.

    Arguments:
    AL -- output of deep_forward, shape (C, m)
    Y -- one-hot labels, shape (C, m)
    caches -- from deep_forward (training mode)

    Returns:
    grads -- dict with dW_l, and dgamma_l/dbeta_l or db_l, named like the parameters with a "d" prefix
    """
    m = Y.shape[1]
    L = len(caches)
    grads = {}
    dZ = softmax_backward(AL, Y) / m
    A_prev, W, _, _ = caches[L - 1]
    grads[f"dW{L}"] = dZ @ A_prev.T
    grads[f"db{L}"] = np.sum(dZ, axis=1, keepdims=True)
    dA = W.T @ dZ
    for l in range(L - 1, 0, -1):
        A_prev, W, Z_tilde, bn_cache = caches[l - 1]
        dZ_tilde = dA * (Z_tilde > 0)
        if bn_cache is not None:
            dZ, grads[f"dgamma{l}"], grads[f"dbeta{l}"] = batchnorm_backward(dZ_tilde, bn_cache)
        else:
            dZ = dZ_tilde
            grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True)
        grads[f"dW{l}"] = dZ @ A_prev.T
        dA = W.T @ dZ
    return grads


def train_deep_net(X, Y, layer_dims, use_batchnorm, learning_rate=0.1, num_epochs=20, mini_batch_size=64,
                   weight_scale=None, momentum=0.9, seed=0):
    """Mini-batch gradient descent on the demo net, collecting running statistics for inference.

    Arguments:
    X -- data, shape (n_x, m); Y -- one-hot labels, shape (C, m)
    layer_dims -- [n_x, n_1, ..., C]
    use_batchnorm -- batch norm on the hidden layers
    learning_rate, num_epochs, mini_batch_size -- training hyperparameters
    weight_scale -- std of the initial weights (None: He); a small value makes a plain deep net stall
    momentum -- weight of the past in the running statistics
    seed -- seeds the initialization and the shuffling (private Generator)

    Returns:
    result -- dict with "parameters", "costs" (mean training cost of each epoch, list of floats) and
              "running_stats" (list of (running_mean, running_var) per hidden layer, or None)
    """
    rng = np.random.default_rng(seed)
    parameters = init_deep_net(layer_dims, use_batchnorm, weight_scale, seed)
    hidden = layer_dims[1:-1]
    running = [(np.zeros((n, 1)), np.ones((n, 1))) for n in hidden] if use_batchnorm else None
    m = X.shape[1]
    costs = []
    for _ in range(num_epochs):
        order = rng.permutation(m)
        epoch_cost = 0.0
        for start in range(0, m, mini_batch_size):
            idx = order[start:start + mini_batch_size]
            X_batch, Y_batch = X[:, idx], Y[:, idx]
            AL, caches, batch_stats = deep_forward(X_batch, parameters)
            epoch_cost += softmax_cost(AL, Y_batch) * idx.size
            grads = deep_backward(AL, Y_batch, caches)
            for key in parameters:
                parameters[key] = parameters[key] - learning_rate * grads["d" + key]
            if running is not None:
                running = [update_running_stats(rm, rv, mu, var, momentum)
                           for (rm, rv), (mu, var) in zip(running, batch_stats)]
        costs.append(float(epoch_cost / m))
    return {"parameters": parameters, "costs": costs, "running_stats": running}


def predict_deep(X, parameters, running_stats=None):
    """Predicted class index of every example of the demo net (inference mode when batch norm is used).

    Arguments:
    X -- data, shape (n_x, m)
    parameters -- trained parameters
    running_stats -- the "running_stats" returned by train_deep_net (None without batch norm)

    Returns:
    classes -- int array, shape (m,)
    """
    if running_stats is None and any(key.startswith("gamma") for key in parameters):
        raise ValueError("a batch-norm net needs running_stats for inference")
    AL, _, _ = deep_forward(X, parameters, running_stats=running_stats)
    return np.argmax(AL, axis=0)
