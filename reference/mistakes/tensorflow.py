"""Known mistakes of the TensorFlow assignment, written as NumPy twins of the mistaken TF code."""
from __future__ import annotations

import numpy as np

from reference import tf_twin as ref
from reference.mistakes._base import Catalogue
from reference.mistakes.inputs import Args, random_one_hot, glorot_summary

CONCEPT = "dl_frameworks"


def _linear(*, order=("X", "W", "b"), bias=True):
    np.random.seed(1)
    shapes = {"X": (3, 1), "W": (4, 3), "b": (4, 1)}
    drawn = {name: np.random.randn(*shapes[name]) for name in order}
    return np.dot(drawn["W"], drawn["X"]) + (drawn["b"] if bias else 0)


def _sigmoid(z, *, kind):
    z = np.asarray(z, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        if kind == "sign":
            return np.float32(1) / (np.float32(1) + np.exp(z))
        return np.exp(z) / (np.float32(1) + np.exp(z))                    # overflows for large z


def _one_hot(label, C, *, shape="flat", offset=0, depth=None):
    depth = C if depth is None else depth
    out = np.zeros(depth, dtype=np.float32)
    index = int(label) - offset
    if 0 <= index < depth:                                               # tf.one_hot gives zeros out of range
        out[index] = 1.0
    return {"flat": out, "column": out.reshape(depth, 1), "row": out.reshape(1, depth)}[shape]


def _init(n_x, n_classes, seed, *, transposed=False, unit_variance=False, fixed_classes=None):
    n_classes = fixed_classes or n_classes
    rng = np.random.default_rng(seed)
    shapes = {"W1": (25, n_x), "b1": (25, 1), "W2": (12, 25), "b2": (12, 1), "W3": (n_classes, 12),
              "b3": (n_classes, 1)}
    out = {}
    for name, shape in shapes.items():
        if transposed and name.startswith("W"):
            shape = shape[::-1]
        out[name] = (rng.standard_normal(shape) if unit_variance
                     else ref.glorot_normal(rng, shape)).astype(np.float32)
    return out


def _forward(X, parameters, *, final="none", hidden_relu=(1, 2)):
    A = X
    for l in (1, 2):
        Z = np.dot(parameters[f"W{l}"], A) + parameters[f"b{l}"]
        A = np.maximum(Z, 0) if l in hidden_relu else Z
    Z3 = np.dot(parameters["W3"], A) + parameters["b3"]
    if final == "relu":
        return np.maximum(Z3, 0)
    if final == "softmax":
        e = np.exp(Z3 - np.max(Z3, axis=0, keepdims=True))
        return e / np.sum(e, axis=0, keepdims=True)
    return Z3


def _loss(logits, labels, *, kind):
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if kind == "from_probabilities":
        # categorical_crossentropy(from_logits=False): rescale to sum 1, clip to [1e-7, 1 - 1e-7]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.clip(logits / np.sum(logits, axis=0, keepdims=True), 1e-7, 1 - 1e-7)
        return float(-np.sum(labels * np.log(p)))
    axis = 1 if kind == "no_transpose" else 0                             # rows treated as examples
    z_max = np.max(logits, axis=axis, keepdims=True)
    log_softmax = logits - (z_max + np.log(np.sum(np.exp(logits - z_max), axis=axis, keepdims=True)))
    per_example = -np.sum(labels * log_softmax, axis=axis)
    return float(np.mean(per_example) if kind == "mean" else np.sum(per_example))


def _big_z(seed):
    return (100.0 + 10 * np.random.default_rng(seed).random(),), {}


cat = Catalogue("tensorflow", {name: getattr(ref, name) for name in (
    "linear_function", "sigmoid", "one_hot_matrix", "initialize_parameters", "forward_propagation",
    "compute_total_loss")})

f = "linear_function"
cat.add(f, "draws_w_first", concept=CONCEPT, core=_linear, order=("W", "X", "b"),
        description="I drew W before X",
        hint="The seeded stream gives different arrays depending on the order of the draws: draw X (3, 1), "
             "then W (4, 3), then b (4, 1).")
cat.add(f, "draws_b_before_w", concept=CONCEPT, core=_linear, order=("X", "b", "W"),
        description="I drew b before W",
        hint="Draw in the order X, W, b; drawing b second gives it the numbers meant for W.")
cat.add(f, "missing_bias", concept=CONCEPT, core=_linear, bias=False,
        description="I returned W X without adding b",
        hint="The linear function is Y = W X + b: add the bias (tf.add) after the matrix product.")

f = "sigmoid"
cat.add(f, "sign_flip", concept=CONCEPT, core=_sigmoid, kind="sign",
        description="I computed 1 / (1 + exp(z))",
        hint="The logistic function is 1 / (1 + exp(-z)); with exp(z) you get 1 - sigmoid(z).")
cat.add(f, "naive_ratio_overflows", concept=CONCEPT, core=_sigmoid, kind="ratio",
        example_inputs=_big_z, trigger="z around 100 (exp(z) overflows float32)",
        description="I computed exp(z) / (1 + exp(z))",
        hint="exp(z) overflows float32 for z above about 88 and inf / inf is nan; use tf.keras.activations."
             "sigmoid or 1 / (1 + exp(-z)).")

f = "one_hot_matrix"
cat.add(f, "column_shape", concept=CONCEPT, core=_one_hot, shape="column",
        description="I reshaped the one-hot vector to (C, 1)",
        hint="The expected result is a flat vector of shape (C,): reshape with [C] (or [-1]), not [C, 1].")
cat.add(f, "row_shape", concept=CONCEPT, core=_one_hot, shape="row",
        description="I reshaped the one-hot vector to (1, C)",
        hint="The expected result is a flat vector of shape (C,), not a (1, C) row.")
cat.add(f, "label_minus_one", concept=CONCEPT, core=_one_hot, offset=1,
        description="I subtracted 1 from the label before encoding",
        hint="Labels already start at 0: class k goes to position k; shifting by one marks the wrong "
             "class (and class 0 gets no 1 at all).")
cat.add(f, "ignores_depth", concept=CONCEPT, core=_one_hot, depth=6,
        description="I always used depth 6",
        hint="Use the argument C as the depth of tf.one_hot; a fixed 6 only works for six classes.")

f = "initialize_parameters"
cat.add(f, "transposed_shapes", concept=CONCEPT, core=_init, transposed=True,
        description="I gave W1 the shape (n_x, 25)",
        hint="Weights are (units of this layer, units of the previous layer): W1 is (25, n_x), W2 (12, 25), "
             "W3 (n_classes, 12).")
cat.add(f, "unit_variance", concept=CONCEPT, core=_init, unit_variance=True,
        description="I used a plain standard-normal initializer",
        hint="Use tf.keras.initializers.GlorotNormal: its variance 2 / (fan_in + fan_out) keeps the "
             "activations' scale steady; standard-normal weights are far too large.")
cat.add(f, "fixed_six_classes", concept=CONCEPT, core=_init, fixed_classes=6,
        description="I hard-coded 6 output units",
        hint="The output layer has one unit per class: use n_classes for the first dimension of W3 and b3.")

f = "forward_propagation"
cat.add(f, "final_relu", concept=CONCEPT, core=_forward, final="relu",
        description="I applied a ReLU to Z3 too",
        hint="Return the logits Z3 with no activation: the loss applies the softmax itself "
             "(from_logits=True), and a ReLU would cut off negative scores.")
cat.add(f, "applies_softmax", concept=CONCEPT, core=_forward, final="softmax",
        description="I returned softmax(Z3)",
        hint="Return the raw logits Z3; the loss is computed from logits, so a softmax here would be "
             "applied twice.")
cat.add(f, "skips_second_relu", concept=CONCEPT, core=_forward, hidden_relu=(1,),
        description="I forgot the ReLU after the second layer",
        hint="Both hidden layers are followed by a ReLU: A2 = relu(Z2) before computing Z3.")

f = "compute_total_loss"
cat.add(f, "mean_not_sum", concept=CONCEPT, core=_loss, kind="mean",
        description="I used tf.reduce_mean over the examples",
        hint="compute_total_loss returns the sum over the examples (the training loop divides by the "
             "number of examples at the end of the epoch); the mean is too small by a factor m.")
cat.add(f, "no_transpose", concept=CONCEPT, core=_loss, kind="no_transpose",
        description="I passed labels and logits to the loss without transposing",
        hint="Keras losses expect one example per row; transpose labels and logits (examples are columns "
             "here), otherwise the softmax runs across examples instead of classes.")
cat.add(f, "from_probabilities", concept=CONCEPT, core=_loss, kind="from_probabilities",
        description="I left from_logits at its default False",
        hint="Z3 holds logits, not probabilities: pass from_logits=True so the loss applies a stable "
             "softmax itself.")

MISTAKES = cat.mistakes
#: what may be compared where TensorFlow's values are random by nature: shapes and variances only
PROJECTIONS = {"initialize_parameters": glorot_summary}


def typical_inputs(function: str, rng: np.random.Generator) -> Args:
    """Reproducible typical arguments ``(args, kwargs)`` of ``function`` (see ``reference.mistakes.inputs``)."""
    if function == "linear_function":
        return (), {}
    if function == "sigmoid":
        return (float(rng.uniform(-4, 4)),), {}
    if function == "one_hot_matrix":
        return (int(rng.integers(1, 4)),), {"C": 4}
    if function == "initialize_parameters":
        return (), {"n_x": 40, "n_classes": 4}
    params = {"W1": rng.standard_normal((25, 6)) * 0.5, "b1": rng.standard_normal((25, 1)) * 0.5,
              "W2": rng.standard_normal((12, 25)) * 0.3, "b2": rng.standard_normal((12, 1)) * 0.5,
              "W3": rng.standard_normal((4, 12)) * 0.5, "b3": rng.standard_normal((4, 1)) * 0.5}
    if function == "forward_propagation":
        return (rng.standard_normal((6, 5)), params), {}
    if function == "compute_total_loss":
        return (rng.standard_normal((4, 5)) * 2, random_one_hot(rng, 4, 5)), {}
    raise KeyError(f"no typical inputs for ('tensorflow', {function!r})")
