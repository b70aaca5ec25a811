"""Hidden checks: optimization (GD, mini-batches, momentum, RMSprop, Adam, learning-rate decay, EWA)."""
from __future__ import annotations

import numpy as np

from . import inputs
from .framework import call_with, suite_for_module, test_check  # noqa: F401  (pytest entry)

S = suite_for_module(__name__)


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


def _course_params(rs, dims=(3, 2, 3)):
    return inputs.course_three_layer_parameters(rs, dims)


# ---- plain gradient descent ----------------------------------------------------------------------
def _course_gd():
    rs = inputs.course_stream(2)
    params = _course_params(rs)
    return call_with(params, {("d" + k): rs.randn(*v.shape) for k, v in params.items()}, 0.01)


def _gd_call(rng, p):
    return call_with(p, inputs.like(rng, p), float(rng.uniform(0.001, 0.5)))


def _random_gd(rng):
    return _gd_call(rng, _params(rng))


S.standard("update_parameters_with_gd", concepts=["mini_batch_gd"], fixed=_course_gd, random=_random_gd,
           edges=network_edges(_gd_call),
           failure="each W_l and b_l should move by -learning_rate times its gradient")


# ---- mini-batches --------------------------------------------------------------------------------
def _course_batches():
    rs = inputs.course_stream(1)
    X = rs.randn(5, 148)
    Y = (rs.randn(1, 148) < 0.5).astype(int)
    return call_with(X, Y, 64)   # 148 examples -> batches of 64, 64, 20


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

S.standard("random_mini_batches", concepts=["mini_batch_gd"], fixed=_course_batches, random=_random_batches,
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
def _course_init():
    return call_with(_course_params(inputs.course_stream(1)))


for _fn, _concept, _what in (("initialize_velocity", "momentum", "v"), ("initialize_rmsprop", "rmsprop", "s"),
                             ("initialize_adam", "adam", "v and s")):
    S.standard(_fn, concepts=[_concept], fixed=_course_init, random=lambda rng: call_with(_params(rng)),
               points=(1, 1, 3), edges=network_edges(lambda rng, p: call_with(p)),
               failure=f"{_what} should hold zeros shaped like each parameter, under keys dW1, db1, ...")


# ---- momentum / RMSprop / Adam updates -----------------------------------------------------------
def _random_momentum(rng, p=None):
    p = p or _params(rng)
    return call_with(p, inputs.like(rng, p), inputs.like(rng, p, scale=0.1), float(rng.uniform(0.5, 0.99)),
                     float(rng.uniform(0.001, 0.1)))


def _course_momentum():
    rs = inputs.course_stream(1)
    p = _course_params(rs)
    g = {"d" + k: rs.randn(*v.shape) for k, v in p.items()}
    return call_with(p, g, {k: np.zeros_like(a) for k, a in g.items()}, 0.9, 0.01)


S.standard("update_parameters_with_momentum", concepts=["momentum"], fixed=_course_momentum,
           random=_random_momentum, edges=network_edges(_random_momentum),
           failure="v = beta * v + (1 - beta) * grad for every parameter, then W -= learning_rate * v")


def _random_rmsprop(rng, p=None):
    p = p or _params(rng)
    return call_with(p, inputs.like(rng, p), inputs.positive_like(rng, p), float(rng.uniform(0.9, 0.999)),
                     float(rng.uniform(0.001, 0.1)))


def _course_rmsprop():
    c = _course_momentum()
    p, g, s = c.args[:3]
    return call_with(p, g, s, 0.999, 0.01)


S.standard("update_parameters_with_rmsprop", concepts=["rmsprop"], fixed=_course_rmsprop,
           random=_random_rmsprop, edges=network_edges(_random_rmsprop),
           failure="s = beta2 * s + (1 - beta2) * grad**2, then W -= learning_rate * grad / (sqrt(s) + epsilon)")


def _random_adam(rng, p=None):
    p = p or _params(rng)
    return call_with(p, inputs.like(rng, p), inputs.like(rng, p, scale=0.1), inputs.positive_like(rng, p),
                     int(rng.integers(3, 10)), learning_rate=float(rng.uniform(0.001, 0.05)),
                     beta1=float(rng.uniform(0.8, 0.95)), beta2=float(rng.uniform(0.99, 0.9999)))


def _course_adam():
    c = _course_momentum()
    p, g, v = c.args[:3]
    return call_with(p, g, v, {k: np.zeros_like(a) for k, a in v.items()}, 2)


S.standard("update_parameters_with_adam", concepts=["adam"], fixed=_course_adam, random=_random_adam,
           edges=network_edges(_random_adam),
           failure="update v and s, bias-correct them with 1 - beta**t, then "
                   "W -= learning_rate * v_corrected / (sqrt(s_corrected) + epsilon)")


# ---- learning-rate decay and EWA -----------------------------------------------------------------
def _random_update_lr(rng):
    """Epochs from 3 on: at epoch 0 some wrong formulas agree with the right one (and 2 is the visible one)."""
    return call_with(float(rng.uniform(0.1, 1.0)), int(rng.integers(3, 50)), float(rng.uniform(0.1, 2.0)))


S.standard("update_lr", concepts=["learning_rate_decay"], fixed=lambda: call_with(0.5, 2, 1),
           random=_random_update_lr, points=(1, 1, 3),
           failure="learning_rate = learning_rate0 / (1 + decay_rate * epoch_num)")


def _random_schedule(rng):
    """Epochs in the second half of an interval, where floor and round differ."""
    interval = int(rng.integers(10, 91))   # never the visible example's 100
    epoch = int(rng.integers(0, 20)) * interval + int(rng.integers(interval // 2 + 1, interval))
    epoch += interval if epoch == 100 else 0   # never the visible example's epoch
    return call_with(float(rng.uniform(0.1, 1.0)), epoch, float(rng.uniform(0.1, 2.0)), time_interval=interval)


S.standard("schedule_lr_decay", concepts=["learning_rate_decay"], fixed=lambda: call_with(0.5, 100, 0.3, 100),
           random=_random_schedule, points=(1, 1, 3),
           failure="learning_rate = learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))")


def _random_ewa(rng):
    """One sequence, averaged with and without bias correction (both must be right)."""
    T = int(rng.integers(5, 40))
    values, beta = rng.normal(10, 5, size=T), float(rng.uniform(0.5, 0.98))
    return [call_with(values, beta, bias_correction=True), call_with(values, beta, bias_correction=False)]


S.standard("exponentially_weighted_average", concepts=["ewa_bias_correction"],
           fixed=lambda: call_with([4.0, 9.0, 6.0, 5.0, 12.0], 0.9), random=_random_ewa, points=(1, 1, 3),
           edges=(("single_value", "a sequence of one value ([7.0], beta = 0.9)", lambda: call_with([7.0], 0.9)),),
           failure="v_t = beta * v_{t-1} + (1 - beta) * value_t from v_0 = 0; with bias correction "
                   "divide step t by 1 - beta**t")
