"""Hidden checks: optimization (GD, mini-batches, momentum, RMSprop, Adam, learning-rate decay, EWA)."""
from __future__ import annotations

import numpy as np

from . import inputs
from .examples import Example
from .framework import call_with, suite_for_module, test_check  # noqa: F401  (pytest entry)

S = suite_for_module(__name__)


# ---- visible examples: the notebook's test cells show the same text (`deepgrade build` writes it there)
TOY = '''
def toy_problem():
    # a tiny 2-layer net: W1 (2, 3), b1 (2, 1), W2 (1, 2), b2 (1, 1), and gradients of the same shapes
    parameters = {"W1": np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), "b1": np.array([[0.5], [-0.5]]),
                  "W2": np.array([[2.0, -1.0]]), "b2": np.array([[0.0]])}
    grads = {"dW1": np.array([[0.1, -0.4, 2.0], [0.0, 1.0, -3.0]]), "db1": np.array([[1.0], [-0.5]]),
             "dW2": np.array([[-2.0, 0.25]]), "db2": np.array([[0.3]])}
    return parameters, grads
'''
S.examples.update({
    "update_parameters_with_gd": Example(
        setup=TOY + '''
parameters, grads = toy_problem()
''',
        call='parameters = update_parameters_with_gd(parameters, grads, learning_rate=0.5)'),
    "random_mini_batches": Example(
        setup='''
m = 148
X_demo = np.vstack([np.arange(m), np.arange(m) * 10.0, -np.arange(m)])   # (3, 148)
Y_demo = (np.arange(m) % 2).reshape(1, m)                                # (1, 148)
''',
        call='batches = random_mini_batches(X_demo, Y_demo, mini_batch_size=64, seed=0)'),
    "initialize_velocity": Example(
        setup=TOY + '''
parameters, _ = toy_problem()
''',
        call='v = initialize_velocity(parameters)'),
    "update_parameters_with_momentum": Example(
        setup=TOY + '''
parameters, grads = toy_problem()
W1_start = parameters["W1"].copy()
v = {k: np.zeros_like(g) for k, g in grads.items()}
# worked example: two steps with the same gradient, beta = 0.9, learning rate 0.1
''',
        call='parameters, v = update_parameters_with_momentum(parameters, grads, v, beta=0.9, learning_rate=0.1)'),
    "initialize_rmsprop": Example(
        setup=TOY + '''
parameters, _ = toy_problem()
''',
        call='s = initialize_rmsprop(parameters)'),
    "update_parameters_with_rmsprop": Example(
        setup=TOY + '''
parameters, grads = toy_problem()
W1_start, b1_start = parameters["W1"].copy(), parameters["b1"].copy()
s = {k: np.zeros_like(g) for k, g in grads.items()}
''',
        call='parameters, s = update_parameters_with_rmsprop(parameters, grads, s, beta2=0.99, learning_rate=0.01)'),
    "initialize_adam": Example(
        setup=TOY + '''
parameters, _ = toy_problem()
''',
        call='v, s = initialize_adam(parameters)'),
    "update_parameters_with_adam": Example(
        setup=TOY + '''
parameters, grads = toy_problem()
W1_start = parameters["W1"].copy()
v = {k: np.zeros_like(g) for k, g in grads.items()}
s = {k: np.zeros_like(g) for k, g in grads.items()}
''',
        call='out = update_parameters_with_adam(parameters, grads, v, s, t=1, learning_rate=0.01)'),
    "update_lr": Example(call='lr = update_lr(0.5, 2, 1)'),
    "schedule_lr_decay": Example(call='assert np.isclose(schedule_lr_decay(0.5, 999, 1, time_interval=1000), 0.5), "epochs 0..999 keep 0.5"'),
    "exponentially_weighted_average": Example(
        setup='values = [1.0, 2.0, 3.0]',
        call='raw = exponentially_weighted_average(values, beta=0.5, bias_correction=False)'),
})


def _params(rng, dims=None):
    """Parameters of a three-layer net (2 to 6 units per layer), or of ``dims``."""
    return inputs.parameters(rng, dims or inputs.layer_dims(rng, n_layers=3, sizes=(2, 6)))


#: (slug, description, dims) of the networks every student's update and initializer code also meets
NETWORK_EDGES = (("one_layer", "a one-layer network (W1 of shape (3, 4))", [4, 3]),
                 ("one_unit_layers", "a network with one-unit layers (layer sizes [3, 1, 2, 1])", [3, 1, 2, 1]))


def network_edges(make: "callable") -> tuple:
    """Edge cases for a function of a network's parameters: ``make(rng, params)`` -> Call."""
    def call(slug, dims):
        rng = inputs.fixed_rng(slug)
        return make(rng, _params(rng, dims))
    return tuple((slug, text, lambda slug=slug, dims=dims: call(slug, dims)) for slug, text, dims in NETWORK_EDGES)


# ---- plain gradient descent ----------------------------------------------------------------------


def _gd_call(rng, p):
    return call_with(p, inputs.like(rng, p), float(rng.uniform(0.001, 0.5)))


def _random_gd(rng):
    return _gd_call(rng, _params(rng))


S.standard("update_parameters_with_gd", concepts=["mini_batch_gd"], random=_random_gd,
           edges=network_edges(_gd_call),
           failure="each W_l and b_l should move by -learning_rate times its gradient")


# ---- mini-batches --------------------------------------------------------------------------------


def _batch_count(rng, size):
    """More than two full mini-batches and a smaller last one: never an exact multiple."""
    m = int(rng.integers(2 * size + 1, 5 * size))
    return m if m % size else m + 1


def _random_batches(rng):
    size = int(rng.choice([8, 16, 32]))
    m = _batch_count(rng, size)
    X = rng.standard_normal((int(rng.integers(2, 5)), m))
    return call_with(X, inputs.binary_labels(rng, m), size, seed=int(rng.integers(1, 1000)))


def _batches_edge(m, size):
    def make():
        rng = inputs.fixed_rng(f"batches{m}/{size}")
        return call_with(rng.standard_normal((3, m)), inputs.binary_labels(rng, m), size, seed=7)
    return make


BATCH_EDGES = (("fewer_examples_than_a_batch", "21 examples and mini-batches of 64", _batches_edge(21, 64)),
               ("exact_multiple", "128 examples and mini-batches of 64 (an exact multiple)", _batches_edge(128, 64)),
               ("one_full_batch", "64 examples and mini-batches of 64 (exactly one batch)", _batches_edge(64, 64)))

S.standard("random_mini_batches", concepts=["mini_batch_gd"], random=_random_batches,
           edges=BATCH_EDGES,
           failure="after np.random.seed(seed), shuffle the columns of X and Y with the same permutation, "
                   "then cut full batches and one smaller last batch")


@S.check("random_mini_batches", points=1, concepts=["mini_batch_gd"], randomized=True,
         failure="the mini-batches should partition the examples, keeping each x with its y")
def batches_partition_examples(t):
    """Property: batch sizes are size, ..., size, m % size; columns of X (with their Y) appear once."""
    size = int(t.rng.choice([7, 10, 16]))
    m = _batch_count(t.rng, size)
    X = np.arange(2 * m, dtype=float).reshape(2, m)   # column j is identifiable by X[0, j]
    Y = (X[:1] * 3 + 1)                                   # Y tied to X so pairs can be checked
    batches = t.call(X, Y, size, seed=int(t.rng.integers(0, 1000)))
    t.require(isinstance(batches, (list, tuple)), "random_mini_batches should return a list of (X, Y) pairs")
    expected_sizes = [size] * (m // size) + ([m % size] if m % size else [])
    try:
        sizes = [np.shape(bx)[1] for bx, _ in batches]
        cols = np.concatenate([np.asarray(bx) for bx, _ in batches], axis=1)
        ys = np.concatenate([np.asarray(by) for _, by in batches], axis=1)
    except (TypeError, ValueError, IndexError):
        t.fail("each mini-batch should be a pair (mini_batch_X (n_x, size), mini_batch_Y (1, size))")
    t.require(sizes == expected_sizes, f"with m={m} and mini_batch_size={size} the batch sizes should be "
                                       f"{expected_sizes}, not {sizes}")
    t.require(sorted(cols[0].tolist()) == X[0].tolist(), "every example should appear in exactly one mini-batch")
    t.require(np.array_equal(ys, cols[:1] * 3 + 1), "X and Y must be shuffled with the same permutation")


# ---- initializers --------------------------------------------------------------------------------


for _fn, _concept, _what in (("initialize_velocity", "momentum", "v"), ("initialize_rmsprop", "rmsprop", "s"),
                             ("initialize_adam", "adam", "v and s")):
    S.standard(_fn, concepts=[_concept], random=lambda rng: call_with(_params(rng)),
               points=(1, 1, 3), edges=network_edges(lambda rng, p: call_with(p)),
               failure=f"{_what} should hold zeros shaped like each parameter, under keys dW1, db1, ...")


# ---- momentum / RMSprop / Adam updates -----------------------------------------------------------
def _random_momentum(rng, p=None):
    p = p or _params(rng)
    return call_with(p, inputs.like(rng, p), inputs.like(rng, p, scale=0.1), float(rng.uniform(0.5, 0.99)),
                     float(rng.uniform(0.001, 0.1)))


S.standard("update_parameters_with_momentum", concepts=["momentum"], random=_random_momentum, edges=network_edges(_random_momentum),
           failure="v = beta * v + (1 - beta) * grad for every parameter, then W -= learning_rate * v")


def _random_rmsprop(rng, p=None):
    p = p or _params(rng)
    return call_with(p, inputs.like(rng, p), inputs.positive_like(rng, p), float(rng.uniform(0.9, 0.999)),
                     float(rng.uniform(0.001, 0.1)))


S.standard("update_parameters_with_rmsprop", concepts=["rmsprop"], random=_random_rmsprop, edges=network_edges(_random_rmsprop),
           failure="s = beta2 * s + (1 - beta2) * grad**2, then W -= learning_rate * grad / (sqrt(s) + epsilon)")


def _random_adam(rng, p=None):
    p = p or _params(rng)
    return call_with(p, inputs.like(rng, p), inputs.like(rng, p, scale=0.1), inputs.positive_like(rng, p),
                     int(rng.integers(3, 10)), learning_rate=float(rng.uniform(0.001, 0.05)),
                     beta1=float(rng.uniform(0.8, 0.95)), beta2=float(rng.uniform(0.99, 0.9999)))


S.standard("update_parameters_with_adam", concepts=["adam"], random=_random_adam,
           edges=network_edges(_random_adam),
           failure="update v and s, bias-correct them with 1 - beta**t, then "
                   "W -= learning_rate * v_corrected / (sqrt(s_corrected) + epsilon)")


# ---- learning-rate decay and EWA -----------------------------------------------------------------
def _random_update_lr(rng):
    """Epochs from 3 on: at epoch 0 some wrong formulas agree with the right one (and 2 is the visible one)."""
    return call_with(float(rng.uniform(0.1, 1.0)), int(rng.integers(3, 50)), float(rng.uniform(0.1, 2.0)))


S.standard("update_lr", concepts=["learning_rate_decay"], random=_random_update_lr, points=(1, 1, 3),
           failure="learning_rate = learning_rate0 / (1 + decay_rate * epoch_num)")


def _random_schedule(rng):
    """Epochs in the second half of an interval, where floor and round differ."""
    interval = int(rng.integers(10, 91))   # never the visible example's 100
    epoch = int(rng.integers(0, 20)) * interval + int(rng.integers(interval // 2 + 1, interval))
    epoch += interval if epoch == 100 else 0   # never the visible example's epoch
    return call_with(float(rng.uniform(0.1, 1.0)), epoch, float(rng.uniform(0.1, 2.0)), time_interval=interval)


S.standard("schedule_lr_decay", concepts=["learning_rate_decay"], random=_random_schedule, points=(1, 1, 3),
           failure="learning_rate = learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))")


def _random_ewa(rng):
    """One sequence, averaged with and without bias correction (both must be right)."""
    T = int(rng.integers(5, 40))
    values, beta = rng.normal(10, 5, size=T), float(rng.uniform(0.5, 0.98))
    return [call_with(values, beta, bias_correction=True), call_with(values, beta, bias_correction=False)]


S.standard("exponentially_weighted_average", concepts=["ewa_bias_correction"],
           random=_random_ewa, points=(1, 1, 3),
           edges=(("single_value", "a sequence of one value ([7.0], beta = 0.9)", lambda: call_with([7.0], 0.9)),),
           failure="v_t = beta * v_{t-1} + (1 - beta) * value_t from v_0 = 0; with bias correction "
                   "divide step t by 1 - beta**t")
