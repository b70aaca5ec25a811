"""Mathematical properties of the reference (what each algorithm is for, checked numerically)."""
from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import pytest

from reference import batchnorm as bn
from reference import initialization, nets, optimization as opt, regularization, tf_twin
from reference.registry import GRADED, HELPERS, graded


# ---------------------------------------------------------------------------------------------- mini-batches
@pytest.mark.parametrize("m, size", [(148, 64), (128, 32), (5, 8), (64, 64)])
def test_mini_batches_partition_the_examples_once(m, size):
    X = np.vstack([np.arange(m), np.arange(m) * 10.0])
    Y = np.arange(m, dtype=float).reshape(1, m)
    batches = opt.random_mini_batches(X, Y, size, seed=2)
    sizes = [bx.shape[1] for bx, _ in batches]
    assert sizes == [size] * (m // size) + ([m % size] if m % size else [])
    columns = np.concatenate([bx for bx, _ in batches], axis=1)
    labels = np.concatenate([by for _, by in batches], axis=1)
    assert sorted(columns[0]) == list(range(m))                  # each example exactly once
    np.testing.assert_array_equal(columns[0], labels[0])         # labels stay with their examples
    np.testing.assert_array_equal(columns[1], columns[0] * 10)
    if m > 3:
        assert not np.array_equal(columns[0], np.arange(m))       # actually shuffled


# ---------------------------------------------------------------------------------------------- optimizers
def _params_and_grads(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal((3, 1)),
              "W2": rng.standard_normal((1, 3)), "b2": rng.standard_normal((1, 1))}
    grads = {"d" + k: rng.standard_normal(v.shape) for k, v in params.items()}
    return params, grads


def test_adam_first_step_is_learning_rate_times_sign():
    params, grads = _params_and_grads()
    before = {k: v.copy() for k, v in params.items()}
    v, s = opt.initialize_adam(params)
    new, v, s, vc, sc = opt.update_parameters_with_adam(params, grads, v, s, t=1, learning_rate=0.01)
    for k in before:
        np.testing.assert_allclose(before[k] - new[k], 0.01 * np.sign(grads["d" + k]), rtol=1e-6)
        np.testing.assert_allclose(vc["d" + k], grads["d" + k], rtol=1e-12)
        np.testing.assert_allclose(sc["d" + k], grads["d" + k] ** 2, rtol=1e-9)


def test_adam_second_step_matches_the_formulas():
    params, grads = _params_and_grads(1)
    v, s = opt.initialize_adam(params)
    params, v, s, _, _ = opt.update_parameters_with_adam(params, grads, v, s, 1)
    before = {k: x.copy() for k, x in params.items()}
    new, v2, s2, vc, sc = opt.update_parameters_with_adam(params, grads, v, s, 2, 0.02, 0.8, 0.99, 1e-8)
    for k in before:
        g = grads["d" + k]
        v_exp = 0.8 * (0.1 * g) + 0.2 * g           # v after step 1 used beta1=0.9
        s_exp = 0.99 * (0.001 * g ** 2) + 0.01 * g ** 2
        np.testing.assert_allclose(v2["d" + k], v_exp, rtol=1e-12)
        np.testing.assert_allclose(vc["d" + k], v_exp / (1 - 0.8 ** 2), rtol=1e-12)
        np.testing.assert_allclose(sc["d" + k], s_exp / (1 - 0.99 ** 2), rtol=1e-12)
        np.testing.assert_allclose(new[k], before[k] - 0.02 * vc["d" + k] / (np.sqrt(sc["d" + k]) + 1e-8),
                                   rtol=1e-12)


def test_momentum_with_beta_zero_is_gradient_descent():
    params, grads = _params_and_grads(2)
    gd = opt.update_parameters_with_gd({k: v.copy() for k, v in params.items()}, grads, 0.1)
    mom, v = opt.update_parameters_with_momentum(dict(params), grads, opt.initialize_velocity(params), 0.0, 0.1)
    for k in params:
        np.testing.assert_allclose(mom[k], gd[k], rtol=1e-12)
        np.testing.assert_allclose(v["d" + k], grads["d" + k], rtol=1e-12)


def test_momentum_velocity_is_an_ewa_of_the_gradients():
    params, grads = _params_and_grads(3)
    v = opt.initialize_velocity(params)
    seq = [0.5, -1.0, 2.0, 0.25]
    for c in seq:
        params, v = opt.update_parameters_with_momentum(params, {k: c * g for k, g in grads.items()}, v, 0.9, 0.01)
    ewa = opt.exponentially_weighted_average(seq, 0.9, bias_correction=False)[-1]
    for k in grads:
        np.testing.assert_allclose(v[k], ewa * grads[k], rtol=1e-12)


def test_rmsprop_step_and_state():
    params, grads = _params_and_grads(4)
    before = {k: v.copy() for k, v in params.items()}
    s = opt.initialize_rmsprop(params)
    assert all(not x.any() and x.shape == params[k[1:]].shape for k, x in s.items())
    new, s = opt.update_parameters_with_rmsprop(params, grads, s, 0.9, 0.01)
    for k in before:
        g = grads["d" + k]
        np.testing.assert_allclose(s["d" + k], 0.1 * g ** 2, rtol=1e-12)
        np.testing.assert_allclose(new[k], before[k] - 0.01 * g / (np.sqrt(0.1) * np.abs(g) + 1e-8), rtol=1e-9)


def test_learning_rate_decay_schedules():
    assert opt.update_lr(0.5, 0, 0.3) == 0.5
    assert opt.update_lr(0.5, 10, 0.3) == pytest.approx(0.5 / 4)
    rates = [opt.schedule_lr_decay(0.5, e, 1.0, time_interval=100) for e in (0, 99, 100, 199, 200)]
    assert rates == pytest.approx([0.5, 0.5, 0.25, 0.25, 0.5 / 3])


def test_exponentially_weighted_average():
    values = np.array([3.0, 3.0, 3.0, 3.0])
    np.testing.assert_allclose(opt.exponentially_weighted_average(values, 0.9), values, rtol=1e-12)
    raw = opt.exponentially_weighted_average(values, 0.9, bias_correction=False)
    np.testing.assert_allclose(raw, 3 * (1 - 0.9 ** np.arange(1, 5)), rtol=1e-12)
    x = np.random.default_rng(0).standard_normal(30)
    out = opt.exponentially_weighted_average(list(x), 0.5)
    assert out.shape == (30,)
    v, manual = 0.0, []
    for t, value in enumerate(x, start=1):
        v = 0.5 * v + 0.5 * value
        manual.append(v / (1 - 0.5 ** t))
    np.testing.assert_allclose(out, manual, rtol=1e-12)


# ---------------------------------------------------------------------------------------------- init / dropout
def test_he_variance_on_a_large_layer():
    params = initialization.initialize_parameters_he([800, 600, 1])
    assert np.var(params["W1"]) == pytest.approx(2 / 800, rel=0.02)
    assert np.mean(params["W1"]) == pytest.approx(0, abs=3e-3)


def test_dropout_keeps_the_fraction_and_the_expected_activation():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2000))
    params = {"W1": rng.standard_normal((300, 20)), "b1": np.ones((300, 1)),
              "W2": rng.standard_normal((200, 300)) / 20, "b2": np.ones((200, 1)),
              "W3": rng.standard_normal((1, 200)), "b3": np.zeros((1, 1))}
    keep_prob = 0.8
    _, cache = regularization.forward_propagation_with_dropout(X, params, keep_prob)
    D1, A1 = cache[1], cache[2]
    assert D1.mean() == pytest.approx(keep_prob, abs=0.005)
    assert cache[6].mean() == pytest.approx(keep_prob, abs=0.005)
    plain = nets.relu(params["W1"] @ X + params["b1"])
    assert A1.mean() == pytest.approx(plain.mean(), rel=0.01)
    assert set(np.unique(D1)) <= {0, 1}


def test_regularized_cost_adds_the_penalty():
    rng = np.random.default_rng(1)
    params = {f"W{l}": rng.standard_normal((3, 3)) for l in (1, 2, 3)}
    params.update({f"b{l}": rng.standard_normal((3, 1)) for l in (1, 2, 3)})
    A3, Y = rng.uniform(0.1, 0.9, (1, 5)), np.array([[1, 0, 1, 1, 0]])
    penalty = sum(np.sum(params[f"W{l}"] ** 2) for l in (1, 2, 3)) * 0.1 / (2 * 5)
    cost = regularization.compute_cost_with_regularization(A3, Y, params, 0.1)
    assert cost == pytest.approx(nets.compute_cost(A3, Y) + penalty, rel=1e-12)


# ---------------------------------------------------------------------------------------------- batch norm / softmax
def test_batchnorm_forward_normalizes_each_unit():
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((5, 50)) * rng.uniform(0.5, 5, (5, 1)) + rng.uniform(-3, 3, (5, 1))
    gamma, beta = rng.uniform(0.5, 2, (5, 1)), rng.standard_normal((5, 1))
    Z_tilde, cache = bn.batchnorm_forward(Z, gamma, beta)
    Z_cached, Z_norm, mu, var = cache[:4]
    assert len(cache) == 7 and mu.shape == var.shape == (5, 1)
    np.testing.assert_allclose(Z_norm.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(Z_norm.var(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(Z_tilde.mean(axis=1, keepdims=True), beta, atol=1e-12)
    np.testing.assert_allclose(Z_tilde.std(axis=1, keepdims=True), gamma, rtol=1e-6)
    # inference with the batch's own statistics reproduces training mode
    np.testing.assert_allclose(bn.batchnorm_inference(Z, gamma, beta, mu, var), Z_tilde, rtol=1e-12)


def test_running_stats_are_an_exponentially_weighted_average():
    mus = np.random.default_rng(3).standard_normal(40)
    rm, rv = np.zeros((1, 1)), np.ones((1, 1))
    for mu in mus:
        rm, rv = bn.update_running_stats(rm, rv, np.full((1, 1), mu), np.full((1, 1), 2.0), momentum=0.9)
    assert rm.item() == pytest.approx(opt.exponentially_weighted_average(mus, 0.9, bias_correction=False)[-1])
    assert rv.item() == pytest.approx(2.0 - 0.9 ** 40)


def test_softmax_columns_and_large_scores():
    Z = np.array([[1000.0, -1000.0, 1.0], [999.0, -1000.0, 2.0], [0.0, -998.0, 3.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        A = bn.softmax(Z)
    assert np.all(np.isfinite(A)) and np.all(A >= 0)
    np.testing.assert_allclose(A.sum(axis=0), 1, rtol=1e-12)
    small = Z[:, 2:]
    np.testing.assert_allclose(A[:, 2:], np.exp(small) / np.exp(small).sum(), rtol=1e-12)
    np.testing.assert_allclose(A[:, 0], [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1)), 0], atol=1e-12)


def test_softmax_cost_is_the_mean_negative_log_likelihood():
    rng = np.random.default_rng(4)
    A = bn.softmax(rng.standard_normal((3, 8)))
    labels = rng.integers(0, 3, 8)
    Y = np.eye(3)[:, labels]
    assert bn.softmax_cost(A, Y) == pytest.approx(-np.mean(np.log(A[labels, np.arange(8)])), rel=1e-12)
    np.testing.assert_array_equal(bn.softmax_backward(A, Y), A - Y)
    A_zero = np.array([[1.0], [0.0]])                      # an underflowed wrong class costs nothing
    assert bn.softmax_cost(A_zero, np.array([[1.0], [0.0]])) == 0.0


def test_sample_log_uniform_spreads_over_decades():
    samples = bn.sample_log_uniform(1e-4, 1.0, 20000, 0)
    assert samples.min() >= 1e-4 and samples.max() < 1.0
    counts = np.histogram(np.log10(samples), bins=[-4, -3, -2, -1, 0])[0]
    np.testing.assert_allclose(counts / 20000, 0.25, atol=0.02)


# ---------------------------------------------------------------------------------------------- TF twins
def test_tf_twins_math():
    assert tf_twin.sigmoid(0).dtype == np.float32 and tf_twin.sigmoid(0) == 0.5
    assert tf_twin.sigmoid(-1000.0) == 0.0 and tf_twin.sigmoid(1000.0) == 1.0
    np.testing.assert_array_equal(tf_twin.one_hot_matrix(2, C=4), [0, 0, 1, 0])
    assert tf_twin.one_hot_matrix(1).shape == (6,)
    logits = np.array([[1000.0, 0.5], [0.0, -0.5], [-1000.0, 2.0]])
    labels = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    col = logits[:, 1]
    expected = 1000.0 + (-col[2] + np.log(np.exp(col).sum()))
    assert tf_twin.compute_total_loss(logits, labels) == pytest.approx(expected, rel=1e-12)


def test_tf_twin_initializer_has_glorot_variance():
    params = tf_twin.initialize_parameters(n_x=2000, n_classes=6, seed=2)     # NumPy's draws
    assert np.var(params["W1"]) == pytest.approx(tf_twin.glorot_variance((25, 2000)), rel=0.05)
    assert np.abs(params["W1"]).max() <= 2 * np.sqrt(2 / 2025) / tf_twin.TRUNCATED_NORMAL_STD + 1e-7
    params = tf_twin.initialize_parameters(n_x=200, n_classes=6)               # TensorFlow's stored stream
    assert np.var(params["W1"]) == pytest.approx(tf_twin.glorot_variance((25, 200)), rel=0.1)
    assert np.abs(params["W1"]).max() <= 2 * np.sqrt(2 / 225) / tf_twin.TRUNCATED_NORMAL_STD + 1e-6
    with pytest.raises(ValueError, match="stored stream has 5000"):           # beyond it: said clearly
        tf_twin.initialize_parameters(n_x=2000, n_classes=6)


def test_tf_twin_forward_is_the_relu_net():
    rng = np.random.default_rng(6)
    params = tf_twin.initialize_parameters(n_x=7, n_classes=3)
    X = rng.standard_normal((7, 4))
    A1 = np.maximum(params["W1"] @ X + params["b1"], 0)
    A2 = np.maximum(params["W2"] @ A1 + params["b2"], 0)
    np.testing.assert_allclose(tf_twin.forward_propagation(X, params), params["W3"] @ A2 + params["b3"], rtol=1e-6)


# ---------------------------------------------------------------------------------------------- training loops
def _blobs(m=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, m))
    return X, (X[0:1] * X[1:2] > 0).astype(float)


@pytest.mark.parametrize("kwargs", [{"initialization": "he"}, {"initialization": "random"}])
def test_initialization_model_learns(kwargs):
    X, Y = _blobs()
    params, costs = initialization.model(X, Y, learning_rate=0.05, num_iterations=1001, print_cost=False, **kwargs)
    assert len(costs) == 2 and costs[1] < costs[0]


def test_zeros_initialization_never_breaks_symmetry():
    X, Y = _blobs()
    params, _ = initialization.model(X, Y, num_iterations=50, print_cost=False, initialization="zeros")
    assert np.allclose(params["W1"], 0) and np.allclose(params["W2"], 0)


@pytest.mark.parametrize("kwargs", [{}, {"lambd": 0.5}, {"keep_prob": 0.8}])
def test_regularization_model_learns(kwargs):
    X, Y = _blobs()
    params, costs = regularization.model(X, Y, num_iterations=1001, print_cost=False, **kwargs)
    assert costs[1] < costs[0]
    assert nets.predict(X, Y, params)[0] > 0.8


def test_regularization_model_rejects_combined_regularizers():
    X, Y = _blobs()
    with pytest.raises(ValueError, match="not both"):
        regularization.model(X, Y, num_iterations=1, lambd=0.1, keep_prob=0.5)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
def test_optimization_model_runs_each_optimizer(optimizer):
    X, Y = _blobs(300)
    params, costs = opt.model(X, Y, [2, 5, 2, 1], optimizer, learning_rate=0.01, num_epochs=101,
                              print_cost=False, decay=opt.schedule_lr_decay)
    assert len(costs) == 2 and np.isfinite(costs).all() and costs[1] < costs[0]


def test_batchnorm_speeds_up_a_deep_net_with_small_initial_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 400))
    labels = np.argmax(X[:3], axis=0)
    Y = np.eye(3)[:, labels]
    dims = [10, 32, 32, 32, 32, 3]
    plain = bn.train_deep_net(X, Y, dims, False, learning_rate=0.1, num_epochs=6, weight_scale=0.05)
    normed = bn.train_deep_net(X, Y, dims, True, learning_rate=0.1, num_epochs=6, weight_scale=0.05)
    assert normed["costs"][-1] < plain["costs"][-1] - 0.2
    accuracy = np.mean(bn.predict_deep(X, normed["parameters"], normed["running_stats"]) == labels)
    assert accuracy > 0.7
    with pytest.raises(ValueError, match="running_stats"):
        bn.predict_deep(X, normed["parameters"])


# ---------------------------------------------------------------------------------------------- registry contracts
def _global_names(func):
    """Global names a function's body refers to (parsed from its source)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    args = {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    import builtins
    return loaded - assigned - args - set(dir(builtins))


@pytest.mark.parametrize("assignment", [a for a in GRADED if a != "tensorflow"])
def test_graded_functions_and_helpers_only_use_numpy_and_the_notebook_namespace(assignment):
    """Their source is pasted into notebooks / helper files, so they may only refer to np, the
    assignment's given helpers and its other graded functions."""
    allowed = {"np"} | set(HELPERS[assignment]) | set(GRADED[assignment])
    for name, func in list(GRADED[assignment].items()) + list(HELPERS[assignment].items()):
        missing = _global_names(func) - allowed
        assert not missing, f"{assignment}.{name} refers to {sorted(missing)}"


def test_registry_functions_are_documented_with_shapes():
    for assignment, functions in GRADED.items():
        for name, func in functions.items():
            doc = inspect.getdoc(func) or ""
            assert "Returns" in doc or "->" in doc or "return" in doc.lower(), f"{assignment}.{name}"
    assert graded("batchnorm", "softmax") is bn.softmax
    with pytest.raises(KeyError, match="not graded"):
        graded("batchnorm", "relu")
    with pytest.raises(KeyError, match="unknown assignment"):
        graded("nope", "relu")
