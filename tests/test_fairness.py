"""Same work, same points, whoever submits it (issue 12, part 1).

Every known mistake (reference/mistakes/) and a corpus of fragile-but-plausible variants written
here (loop-variable leftovers, off-by-one slicing, in-place updates, dtype and shape quirks) must
earn exactly the same points, and pass exactly the same checks, under 20 different student ids
(so 20 different seeds of the randomized checks). Edge cases are deterministic named checks, and
their messages say what the input was.
"""
from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import CODE_ASSIGNMENTS
from reference.mistakes import MISTAKES
from fairness_helpers import exec_source, grade_function, seeds

# ---- fragile but plausible learner code (our own) -----------------------------------------------
_HE = """
def initialize_parameters_he(layers_dims):
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims) - 1
    for l in range(1, L + 1):
        parameters['W' + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(2 / layers_dims[l - 1])
        parameters['b' + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters
"""
_SHUFFLED = """
def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X, shuffled_Y = X[:, permutation], Y[:, permutation].reshape((1, m))"""

# (assignment, function, slug, source): the source defines ``function`` as a learner might write it.
CORPUS = [
    # initialization
    ("initialization", "initialize_parameters_zeros", "int_zeros", """
def initialize_parameters_zeros(layers_dims):
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters['W' + str(l)] = np.zeros((layers_dims[l], layers_dims[l - 1]), dtype=int)
        parameters['b' + str(l)] = np.zeros((layers_dims[l], 1), dtype=int)
    return parameters
"""),
    ("initialization", "initialize_parameters_zeros", "flat_bias", """
def initialize_parameters_zeros(layers_dims):
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters['W' + str(l)] = np.zeros((layers_dims[l], layers_dims[l - 1]))
        parameters['b' + str(l)] = np.zeros(layers_dims[l])
    return parameters
"""),
    ("initialization", "initialize_parameters_random", "seed_in_loop", """
def initialize_parameters_random(layers_dims):
    parameters = {}
    for l in range(1, len(layers_dims)):
        np.random.seed(3)
        parameters['W' + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * 10
        parameters['b' + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters
"""),
    ("initialization", "initialize_parameters_he", "fan_out",
     _HE.replace("np.sqrt(2 / layers_dims[l - 1])", "np.sqrt(2 / layers_dims[l])")),
    ("initialization", "initialize_parameters_he", "last_layer_skipped", _HE.replace("range(1, L + 1)", "range(1, L)")),
    # regularization
    ("regularization", "compute_cost_with_regularization", "m_from_rows", """
def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[0]
    W1, W2, W3 = parameters['W1'], parameters['W2'], parameters['W3']
    cross_entropy_cost = compute_cost(A3, Y)
    return cross_entropy_cost + lambd / (2 * m) * (np.sum(np.square(W1)) + np.sum(np.square(W2)) + np.sum(np.square(W3)))
"""),
    ("regularization", "backward_propagation_with_regularization", "m_from_features", """
def backward_propagation_with_regularization(X, Y, cache, lambd):
    m = X.shape[0]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T) + lambd / m * W3
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T) + lambd / m * W2
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T) + lambd / m * W1
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
"""),
    ("regularization", "forward_propagation_with_dropout", "boolean_masks", """
def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ('W1', 'b1', 'W2', 'b2', 'W3', 'b3'))
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    D1 = np.random.rand(A1.shape[0], A1.shape[1]) < keep_prob
    A1 = A1 * D1 / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    D2 = np.random.rand(*A2.shape) < keep_prob
    A2 = A2 * D2 / keep_prob
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)
"""),
    # gradient checking
    ("gradient_checking", "gradient_check", "sum_in_denominator", """
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    gradapprox = (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    return np.linalg.norm(grad - gradapprox) / np.linalg.norm(grad + gradapprox)
"""),
    ("gradient_checking", "gradient_check_n", "no_copy", """
def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    n = parameters_values.shape[0]
    gradapprox = np.zeros((n, 1))
    for i in range(n):
        theta_plus = parameters_values
        theta_plus[i] = theta_plus[i] + epsilon
        J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus))
        theta_minus = parameters_values
        theta_minus[i] = theta_minus[i] - epsilon
        J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_minus))
        gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
    return np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))
"""),
    ("gradient_checking", "backward_propagation", "returns_theta", """
def backward_propagation(x, theta):
    return theta
"""),
    # optimization
    ("optimization", "random_mini_batches", "loop_variable_leftover", "import math\n" + _SHUFFLED + """
    mini_batches = []
    for k in range(math.floor(m / mini_batch_size)):
        mini_batches.append((shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size],
                             shuffled_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]))
    if m % mini_batch_size != 0:
        mini_batches.append((shuffled_X[:, (k + 1) * mini_batch_size:], shuffled_Y[:, (k + 1) * mini_batch_size:]))
    return mini_batches
"""),
    ("optimization", "random_mini_batches", "always_a_last_batch", _SHUFFLED + """
    full = m // mini_batch_size
    batches = [(shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size],
                shuffled_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]) for k in range(full)]
    return batches + [(shuffled_X[:, full * mini_batch_size:], shuffled_Y[:, full * mini_batch_size:])]
"""),
    ("optimization", "update_parameters_with_gd", "two_layers_only", """
def update_parameters_with_gd(parameters, grads, learning_rate):
    for l in (1, 2):
        parameters['W' + str(l)] = parameters['W' + str(l)] - learning_rate * grads['dW' + str(l)]
        parameters['b' + str(l)] = parameters['b' + str(l)] - learning_rate * grads['db' + str(l)]
    return parameters
"""),
    ("optimization", "update_parameters_with_gd", "in_place", """
def update_parameters_with_gd(parameters, grads, learning_rate):
    L = len(parameters) // 2
    for l in range(L):
        parameters['W' + str(l + 1)] -= learning_rate * grads['dW' + str(l + 1)]
        parameters['b' + str(l + 1)] -= learning_rate * grads['db' + str(l + 1)]
    return parameters
"""),
    ("optimization", "update_lr", "int_epoch_division", """
def update_lr(learning_rate0, epoch_num, decay_rate):
    return learning_rate0 * (1 / (1 + decay_rate * int(epoch_num)))
"""),
    ("optimization", "exponentially_weighted_average", "python_list", """
def exponentially_weighted_average(values, beta, bias_correction=True):
    v, out = 0, []
    for t, value in enumerate(values, start=1):
        v = beta * v + (1 - beta) * value
        out.append(v / (1 - beta ** t) if bias_correction else v)
    return np.array(out)
"""),
    # batchnorm
    ("batchnorm", "batchnorm_forward", "mean_without_keepdims", """
def batchnorm_forward(Z, gamma, beta, epsilon=1e-8):
    mu = np.mean(Z, axis=1)
    var = np.var(Z, axis=1)
    Z_norm = (Z - mu) / np.sqrt(var + epsilon)
    Z_tilde = gamma * Z_norm + beta
    return Z_tilde, (Z, Z_norm, mu, var, gamma, beta, epsilon)
"""),
    ("batchnorm", "softmax", "sum_over_everything", """
def softmax(Z):
    e = np.exp(Z - np.max(Z))
    return e / np.sum(e)
"""),
    ("batchnorm", "softmax", "float32", """
def softmax(Z):
    Z = Z.astype(np.float32)
    e = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)
"""),
    ("batchnorm", "sample_log_uniform", "generator_from_seed", """
def sample_log_uniform(low, high, size, rng):
    rng = np.random.default_rng(rng)
    r = rng.uniform(np.log10(low), np.log10(high), size=size)
    return 10 ** r
"""),
    ("batchnorm", "batchnorm_inference", "squeezed_statistics", """
def batchnorm_inference(Z, gamma, beta, running_mean, running_var, epsilon=1e-8):
    mu, var = running_mean.squeeze(), running_var.squeeze()
    Z_norm = (Z - mu[:, None]) / np.sqrt(var[:, None] + epsilon)
    return gamma * Z_norm + beta
"""),
    # tensorflow (the NumPy twins' quirks: the checks see arrays either way; real TF code: test_oracle)
    ("tensorflow", "one_hot_matrix", "column_vector", """
def one_hot_matrix(label, C=6):
    out = np.zeros((C, 1), dtype=np.float32)
    out[int(label)] = 1
    return out
"""),
    ("tensorflow", "compute_total_loss", "mean_not_sum", """
def compute_total_loss(logits, labels):
    z = logits - logits.max(axis=0, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=0, keepdims=True))
    return float(-np.mean(np.sum(labels * log_p, axis=0)))
"""),
    ("tensorflow", "linear_function", "own_random_state", """
def linear_function():
    rs = np.random.RandomState(1)
    X = rs.randn(3, 1)
    W = rs.randn(4, 3)
    b = rs.randn(4, 1)
    return np.dot(W, X) + b
"""),
]


_M_FROM_FEATURES = next(c[3] for c in CORPUS if c[2] == "m_from_features")
CORPUS.append(("regularization", "backward_propagation_with_regularization", "in_place",   # dZ3 = A3; dZ3 -= Y
               _M_FROM_FEATURES.replace("m = X.shape[0]", "m = X.shape[1]")
               .replace("dZ3 = A3 - Y", "dZ3 = A3\n    dZ3 -= Y")))


def _same_everywhere(assignment, function, impl):
    results = {seed: grade_function(assignment, function, impl, seed) for seed in seeds(assignment)}
    scores = {score for score, _ in results.values()}
    patterns = {tuple(o.passed for o in outcomes) for _, outcomes in results.values()}
    return scores, patterns, results


@pytest.mark.parametrize("mistake_id", sorted(MISTAKES))
def test_every_known_mistake_scores_the_same_for_20_students(mistake_id):
    m = MISTAKES[mistake_id]
    scores, patterns, _ = _same_everywhere(m.assignment, m.function, m.impl)
    assert len(scores) == 1 and len(patterns) == 1, (mistake_id, scores, patterns)


@pytest.mark.parametrize("assignment, function, slug, source", CORPUS, ids=[f"{c[0]}:{c[2]}" for c in CORPUS])
def test_fragile_plausible_code_scores_the_same_for_20_students(assignment, function, slug, source):
    impl = exec_source(assignment, source, function)
    scores, patterns, _ = _same_everywhere(assignment, function, impl)
    assert len(scores) == 1 and len(patterns) == 1, (slug, scores, patterns)


def test_the_corpus_covers_every_assignment():
    assert {c[0] for c in CORPUS} == set(CODE_ASSIGNMENTS)
    assert all(sum(c[0] == a for c in CORPUS) >= 3 for a in CODE_ASSIGNMENTS)


def test_the_issue_example_is_a_named_edge_case_with_its_input_in_words():
    """The loop-variable leftover loses the same points for everyone, on the named edge case only."""
    source = next(c[3] for c in CORPUS if c[2] == "loop_variable_leftover")
    impl = exec_source("optimization", source, "random_mini_batches")
    _, _, results = _same_everywhere("optimization", "random_mini_batches", impl)
    score, outcomes = next(iter(results.values()))
    failed = {o.spec.name: o.message for o in outcomes if not o.passed}
    assert list(failed) == ["random_mini_batches.edge.fewer_examples_than_a_batch"]
    msg = failed["random_mini_batches.edge.fewer_examples_than_a_batch"]
    assert msg.startswith("with 21 examples and mini-batches of 64, calling `random_mini_batches` raised an error: "
                          "UnboundLocalError"), msg
    assert "X: an array of shape (3, 21)" in msg and "mini_batch_size: 64" in msg
    assert 0 < score < sum(o.spec.points for o in outcomes)


def test_a_failed_call_names_the_shapes_and_the_layer_count():
    """Issue 14: code written for exactly two layers, called with a one-layer network."""
    source = next(c[3] for c in CORPUS if c[2] == "two_layers_only")
    impl = exec_source("optimization", source, "update_parameters_with_gd")
    _, outcomes = grade_function("optimization", "update_parameters_with_gd", impl, 1)
    msg = {o.spec.name: o.message for o in outcomes}["update_parameters_with_gd.edge.one_layer"]
    assert "KeyError: 'W2'" in msg
    assert "parameters: parameters of a 1-layer network (W1 (3, 4), b1 (3, 1))" in msg
    assert "has 1 layer, so there is no 'W2'" in msg
    random_msg = {o.spec.name: o.message for o in outcomes}["update_parameters_with_gd.random"]
    assert "3-layer network" in random_msg or "differs" in random_msg


def test_randomized_draws_stay_off_the_boundaries():
    """The structural parameters of randomized inputs never vary: 3-layer nets, more examples than units,
    mini-batches with a smaller last batch."""
    from autograder.checks import inputs
    rng = np.random.default_rng(0)
    for _ in range(200):
        dims = inputs.layer_dims(rng)
        assert len(dims) == 4 and min(dims) >= 2 and all(a != b for a, b in zip(dims, dims[1:]))
        X, Y, params = inputs.three_layer_net(rng)
        assert X.shape[1] > max(p.shape[0] for p in params.values()) and params["W1"].shape[0] != X.shape[0]


@pytest.mark.parametrize("assignment", CODE_ASSIGNMENTS)
def test_every_failed_call_names_its_inputs_in_plain_words(assignment):
    """Issue 14: a function that raises gets, in every check, the shapes of what it was called with."""
    from autograder.checks.adapters import InProcessStudent
    from autograder.checks.framework import run_suite
    from fairness_helpers import function_suite
    from reference.registry import GRADED
    for function in GRADED[assignment]:
        outcomes = run_suite(function_suite(assignment, function), InProcessStudent(assignment, {function: "raises"}), 3)
        for o in outcomes:
            assert "raised an error: RuntimeError" in o.message and "It was called with " in o.message, o.message
            if "parameters" in o.message.split("It was called with ")[1][:12]:
                assert "-layer network (W1 (" in o.message, o.message


TF_CORPUS = [   # real TensorFlow code, as learners write it
    ("compute_total_loss", "mean_not_sum", """
def compute_total_loss(logits, labels):
    return tf.reduce_mean(tf.keras.losses.categorical_crossentropy(tf.transpose(labels), tf.transpose(logits),
                                                                   from_logits=True))
"""),
    ("compute_total_loss", "no_transpose", """
def compute_total_loss(logits, labels):
    return tf.reduce_sum(tf.keras.losses.categorical_crossentropy(labels, logits, from_logits=True))
"""),
    ("one_hot_matrix", "column_vector", """
def one_hot_matrix(label, C=6):
    return tf.reshape(tf.one_hot(label, C, axis=0), (C, 1))
"""),
    ("sigmoid", "float64", """   # (within float32 tolerance: full marks for everyone)
def sigmoid(z):
    return tf.math.sigmoid(tf.cast(z, tf.float64))
"""),
    ("linear_function", "own_random_state", """
def linear_function():
    rs = np.random.RandomState(1)
    X = tf.constant(rs.randn(3, 1))
    W = tf.constant(rs.randn(4, 3))
    b = tf.constant(rs.randn(4, 1))
    return tf.add(tf.matmul(W, X), b)
"""),
]


@pytest.mark.tensorflow
def test_real_tensorflow_code_scores_the_same_for_20_students():
    """The course's TF solutions (full marks for everyone) and fragile TF variants, through the in-kernel
    student that hands TensorFlow objects to the code, exactly as the sandbox does."""
    import tensorflow as tf

    from autograder.checks.framework import run_suite
    from autograder.checks.inkernel import KernelStudent
    from autograder.engine import _scale
    from fairness_helpers import function_suite
    from reference import tf_solutions
    cases = [(f, "course_solution", getattr(tf_solutions, f)) for f in ("linear_function", "compute_total_loss")]
    for function, slug, source in TF_CORPUS:
        namespace = {"np": np, "tf": tf}
        exec(compile(source, f"<tf:{slug}>", "exec"), namespace)
        cases.append((function, slug, namespace[function]))
    for function, slug, impl in cases:
        suite = function_suite("tensorflow", function)
        results = set()
        for seed in seeds("tensorflow"):
            outcomes = run_suite(suite, KernelStudent("tensorflow", {function: impl}), seed)
            results.add((_scale(outcomes, suite, {})[1][function]["score"], tuple(o.passed for o in outcomes)))
        assert len(results) == 1, (function, slug, results)
        (score, passed), = results
        if slug == "course_solution":
            assert score == sum(c.points for c in suite.checks), function
