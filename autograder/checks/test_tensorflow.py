"""Hidden checks: the TensorFlow assignment, compared with the NumPy twins in reference.tf_twin.

Arguments cross the sandbox as TF markers (``tf_variable``/``tf_constant``: the worker builds float32
TensorFlow objects); returned tensors come back as arrays. Inputs are made float32-exact so the twin
(float64) and the student (float32) start from the same numbers; tolerances allow float32 rounding.
"""
from __future__ import annotations

import numpy as np

from reference.mistakes.inputs import glorot_summary
from reference.tf_twin import TRUNCATED_NORMAL_STD, glorot_variance

from .examples import Example
from .framework import call_with, suite_for_module, test_check, tf_constant, tf_variable  # noqa: F401

S = suite_for_module(__name__)
TF = ["dl_frameworks"]
F32 = dict(rtol=1e-4, atol=1e-5)


# ---- visible examples: the notebook's test cells show the same text (`deepgrade build` writes it there)
S.examples.update({
    "linear_function": Example(call='result = linear_function()'),
    "sigmoid": Example(call='a = sigmoid(-1)'),
    "one_hot_matrix": Example(call='v = one_hot_matrix(1, 4)'),
    "forward_propagation": Example(
        setup='''
X = tf.constant([[1.0], [2.0]])
parameters = {"W1": tf.constant([[1.0, -1.0], [0.0, 1.0]]), "b1": tf.constant([[0.0], [-1.0]]),
              "W2": tf.constant([[2.0, 3.0]]),              "b2": tf.constant([[-1.0]]),
              "W3": tf.constant([[1.0], [-1.0]]),           "b3": tf.constant([[0.5], [0.0]])}
''',
        call='Z3 = forward_propagation(X, parameters)'),
    "compute_total_loss": Example(
        setup='''
logits = tf.constant([[2.0, 0.0],
                      [0.0, 0.0],
                      [0.0, 0.0]])
labels = tf.constant([[1.0, 0.0],
                      [0.0, 1.0],
                      [0.0, 0.0]])
''',
        call='total = compute_total_loss(logits, labels)'),
})


def f32(a) -> np.ndarray:
    """Values exactly representable in float32 (kept as float64 for the twin)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# ---- linear_function, sigmoid, one_hot_matrix -----------------------------------------------------
LINEAR = ("after np.random.seed(1), draw X (3, 1), W (4, 3), b (4, 1) with np.random.randn in that order "
          "and return W X + b")
S.standard("linear_function", concepts=TF, random=lambda rng: call_with(),
           points=(1, 1, 0), **F32, failure=LINEAR)


@S.check("linear_function", points=2, concepts=TF, key=True, name="linear_function.random",
         failure=LINEAR + " (the grader ran it with NumPy's generator set up so that np.random.seed(1) starts a "
                          "different stream: the output must come from those draws, not from stored numbers)")
def follows_the_seeded_draws(t):
    """Key check of a function without inputs: every np.random.seed(s) inside the call seeds with
    s + salt (a per-submission salt), and the global generator starts elsewhere; the reference runs
    under the same salt. A constant, a memorised output or code that skips np.random.seed(1) fails."""
    for _ in range(2):
        salt, state = (int(x) for x in t.rng.integers(1, 2**31, size=2))
        got = t.call_salted(salt=salt, state=state)
        t.compare(got, t.reference_salted(salt=salt), what="linear_function()", **F32)


def _sigmoid_input(rng):
    shape = tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(1, 3))))
    return call_with(tf_constant(f32(rng.normal(0, 4, shape))))


S.standard("sigmoid", concepts=TF, random=_sigmoid_input, **F32,
           failure="cast z to tf.float32, then apply the sigmoid")


def _label(rng):
    C = int(rng.integers(7, 13))   # never the visible example's 4 nor the default 6
    label = int(rng.choice([0] + list(range(2, C))))   # nor its label 1
    return call_with(tf_constant(np.int64(label)), C)


S.standard("one_hot_matrix", concepts=TF + ["softmax_regression"], random=_label, failure="tf.one_hot(label, C, axis=0) reshaped to a vector of shape (C,)")


# ---- initialize_parameters ------------------------------------------------------------------------
def _sizes(rng):
    """Never the defaults (n_x=64, n_classes=10) nor the course's 6 classes; n_x <= 200 (the stored
    GlorotNormal stream's reach)."""
    return call_with(n_x=int(rng.integers(65, 201)), n_classes=int(rng.choice([2, 3, 4, 5, 7, 8, 9])))


@S.check("initialize_parameters", points=1, concepts=TF + ["weight_initialization"], gated=True,
         name="initialize_parameters.structure",
         failure="parameters should be W1 (25, n_x), b1 (25, 1), W2 (12, 25), b2 (12, 1), "
                 "W3 (n_classes, 12), b3 (n_classes, 1)")
def shapes(t):
    """Keys and shapes for random sizes (values are TensorFlow's own random draws)."""
    t.expect_structure(**_sizes(t.rng).kwargs)


@S.check("initialize_parameters", points=2, concepts=TF + ["weight_initialization"], key=True,
         name="initialize_parameters.random",
         failure="use one tf.keras.initializers.GlorotNormal(seed=1) for every weight and bias")
def seeded_values(t):
    """Key check: TensorFlow's exact GlorotNormal(seed=1) values for random sizes (``tf_twin.glorot_seed1``)."""
    kw = _sizes(t.rng).kwargs
    t.expect(**kw, **F32)


@S.check("initialize_parameters", points=1, concepts=TF + ["weight_initialization"], randomized=True,
         failure="use tf.keras.initializers.GlorotNormal(seed=1) for every weight and bias")
def glorot_statistics(t):
    """Variance ~= 2 / (rows + cols) (pooled over all tensors, and for W1 alone); truncated at 2 std."""
    kw = _sizes(t.rng).kwargs
    params = t.expect_structure(**kw)
    problem, ratios, total = None, [], 0
    for name, W in params.items():
        W = np.asarray(W, dtype=float)
        v = glorot_variance(W.shape)
        if problem is None and float(np.abs(W).max()) > 2 * np.sqrt(v) / TRUNCATED_NORMAL_STD * 1.001:
            problem = f"{name} has values beyond two standard deviations; GlorotNormal truncates its draws there"
        ratios.append(float(np.sum(W ** 2)) / v)
        total += W.size
    pooled = sum(ratios) / total
    w1 = float(np.mean(np.asarray(params["W1"], dtype=float) ** 2)) / glorot_variance(np.shape(params["W1"]))
    if problem is None and not (0.85 < pooled < 1.15 and 0.85 < w1 < 1.15):
        problem = (f"the weights' variance is {pooled:.2f} (W1: {w1:.2f}) times the Glorot variance "
                   "2 / (fan_in + fan_out)")
    if problem:
        t.fail_matching(problem, params, (), kw, project=glorot_summary)


# ---- forward_propagation and compute_total_loss ---------------------------------------------------
def _net(rng, n_x=None, C=None, m=None):
    n_x = n_x or int(rng.integers(3, 10))
    C = C or int(rng.integers(2, 7))
    m = m or int(rng.integers(3, 9))
    shapes = {"W1": (25, n_x), "b1": (25, 1), "W2": (12, 25), "b2": (12, 1), "W3": (C, 12), "b3": (C, 1)}
    params = {k: tf_variable(f32(rng.standard_normal(s) * 0.5)) for k, s in shapes.items()}
    return call_with(tf_constant(f32(rng.standard_normal((n_x, m)))), params)


S.standard("forward_propagation", concepts=TF, random=_net, **F32,
           failure="Z1 = W1 X + b1, A1 = relu(Z1), Z2 = W2 A1 + b2, A2 = relu(Z2), Z3 = W3 A2 + b3 (no activation)")


def _loss(rng, C=None, m=None):
    C = C or int(rng.integers(2, 7))
    m = m or int(rng.integers(2, 9))
    Y = np.zeros((C, m))
    Y[rng.integers(0, C, size=m), np.arange(m)] = 1
    return call_with(tf_constant(f32(rng.normal(0, 2, (C, m)))), tf_constant(Y))


S.standard("compute_total_loss", concepts=TF + ["softmax_regression"],
           random=_loss, **F32,
           failure="sum (not mean) over the examples of categorical cross-entropy from logits; transpose "
                   "logits and labels so each row is one example")
