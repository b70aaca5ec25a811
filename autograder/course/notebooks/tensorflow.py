"""Source notebook of the ``tensorflow`` assignment (TensorFlow 2 basics and a digit classifier).

Exercise cells come from :mod:`reference.tf_solutions` (TensorFlow code); the worked examples of the
visible tests come from the NumPy twins in :mod:`reference.tf_twin`, which are also what the hidden
checks compare against. The training loop is ``tf_solutions.model`` copied by source into a given cell,
so it trains with the learner's functions. Importing ``reference.tf_solutions`` does not need
TensorFlow (only running it does), so the course builds without TensorFlow installed.
"""
from __future__ import annotations

import numpy as np

from autograder.course.nbbuild import NotebookBuilder, fill, literal
from reference import datasets
from reference import tf_twin as twin

ASSIGNMENT = "tensorflow"

#: the spec: "the normalization of images and the training loop are given" — both are notebook cells,
#: so nothing is copied into tensorflow_utils.py beyond the data loader and plots
HELPERS: dict = {}

#: epochs of the training run in the notebook (about 0.15 s each on two cores)
EPOCHS = 30


# ----------------------------------------------------------------------------- visible tests
def _tests_linear() -> str:
    return fill("""
    result = linear_function()
    assert tf.is_tensor(result), f"return a TensorFlow tensor, got {type(result).__name__}"
    assert tuple(result.shape) == (4, 1), f"W @ X + b has shape (4, 1), got {tuple(result.shape)}"
    # worked example: np.random.seed(1), then X (3, 1), W (4, 3), b (4, 1) drawn in that order
    expected = $expected
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6,
                               err_msg="seed 1, then draw X, W, b in this order with np.random.randn")
    print("result =", result.numpy().ravel())
    print("All visible checks passed.")
    """, expected=literal(twin.linear_function(), digits=10, col=11))


def _tests_sigmoid() -> str:
    return """
a = sigmoid(-1)
assert tf.is_tensor(a), "return a tensor"
assert a.dtype == tf.float32, f"cast to float32 first, got {a.dtype}"
np.testing.assert_allclose(a.numpy(), 0.26894142, rtol=1e-6, err_msg="sigmoid(-1)")
np.testing.assert_allclose(sigmoid(0.0).numpy(), 0.5, err_msg="sigmoid(0)")
np.testing.assert_allclose(sigmoid(12).numpy(), 0.99999386, rtol=1e-6, err_msg="an int argument works too")
z = np.array([[-2.0, 0.0], [1.0, 3.0]])
az = sigmoid(z)
assert tuple(az.shape) == (2, 2), "element-wise: the shape is kept"
np.testing.assert_allclose(az.numpy(), 1 / (1 + np.exp(-z)), rtol=1e-6, err_msg="sigmoid of an array")
print("sigmoid(-1) =", a.numpy())
print("All visible checks passed.")
"""


def _tests_one_hot() -> str:
    return """
v = one_hot_matrix(1, 4)
assert tf.is_tensor(v), "return a tensor"
assert tuple(v.shape) == (4,), f"shape (C,) = (4,), got {tuple(v.shape)} (reshape the result)"
np.testing.assert_array_equal(v.numpy(), [0.0, 1.0, 0.0, 0.0], err_msg="a single 1 at position label")
w = one_hot_matrix(5)
assert tuple(w.shape) == (6,), "the default depth is C = 6"
np.testing.assert_array_equal(w.numpy(), [0, 0, 0, 0, 0, 1], err_msg="one_hot_matrix(5)")
print("one_hot_matrix(1, 4) =", v.numpy())
print("All visible checks passed.")
"""


def _tests_init() -> str:
    return """
parameters = initialize_parameters(n_x=64, n_classes=10)
expected_shapes = {"W1": (25, 64), "b1": (25, 1), "W2": (12, 25), "b2": (12, 1), "W3": (10, 12), "b3": (10, 1)}
assert sorted(parameters) == sorted(expected_shapes), f"keys: {sorted(parameters)}"
for name, shape in expected_shapes.items():
    p = parameters[name]
    assert isinstance(p, tf.Variable), f"{name} must be a tf.Variable (so that training can change it)"
    assert tuple(p.shape) == shape, f"{name}: shape {tuple(p.shape)}, expected {shape}"
    assert p.dtype == tf.float32, f"{name}: dtype {p.dtype}"
# Glorot normal: mean about 0, variance about 2 / (fan_in + fan_out) = 2 / (25 + 64) for W1
W1 = parameters["W1"].numpy()
assert abs(W1.mean()) < 0.02, f"mean of W1 is {W1.mean():.4f}, expected about 0"
assert 0.7 < W1.var() / (2 / (25 + 64)) < 1.3, f"variance of W1 is {W1.var():.4f}, expected about {2 / 89:.4f}"
assert np.all(np.abs(W1) <= 2 * np.sqrt(2 / 89) / 0.87962566 + 1e-6), "Glorot normal is truncated at 2 std"
# seeded: a second call gives the same numbers; other sizes work too
again = initialize_parameters(n_x=64, n_classes=10)
np.testing.assert_array_equal(again["W1"].numpy(), W1, err_msg="seed the initializer with 1")
small = initialize_parameters(n_x=5, n_classes=3)
assert tuple(small["W1"].shape) == (25, 5) and tuple(small["W3"].shape) == (3, 12), "use n_x and n_classes"
print("W1[0, :4] =", W1[0, :4])
print("All visible checks passed.")
"""


def _tests_forward() -> str:
    return """
# worked example on a tiny net with made-up sizes (2 -> 2 -> 1 -> 2), one example
X = tf.constant([[1.0], [2.0]])
parameters = {"W1": tf.constant([[1.0, -1.0], [0.0, 1.0]]), "b1": tf.constant([[0.0], [-1.0]]),
              "W2": tf.constant([[2.0, 3.0]]),              "b2": tf.constant([[-1.0]]),
              "W3": tf.constant([[1.0], [-1.0]]),           "b3": tf.constant([[0.5], [0.0]])}
Z3 = forward_propagation(X, parameters)
assert tf.is_tensor(Z3), "return a tensor"
# Z1 = [[-1], [1]] -> A1 = [[0], [1]] -> Z2 = [[2]] -> A2 = [[2]] -> Z3 = [[2.5], [-2]]
np.testing.assert_allclose(Z3.numpy(), [[2.5], [-2.0]], rtol=1e-6,
                           err_msg="LINEAR -> RELU -> LINEAR -> RELU -> LINEAR, and no activation at the end")
# the real sizes: 5 examples (columns) of 64 features -> 10 logits each
parameters = initialize_parameters(n_x=64, n_classes=10)
X = tf.constant(np.random.default_rng(0).random((64, 5)), dtype=tf.float32)
Z3 = forward_propagation(X, parameters)
assert tuple(Z3.shape) == (10, 5), f"logits are (n_classes, m) = (10, 5), got {tuple(Z3.shape)}"
print("Z3[:, 0] =", Z3.numpy()[:, 0])
print("All visible checks passed.")
"""


def _tests_loss() -> str:
    return """
# 3 classes, 2 examples (columns)
logits = tf.constant([[2.0, 0.0],
                      [0.0, 0.0],
                      [0.0, 0.0]])
labels = tf.constant([[1.0, 0.0],
                      [0.0, 1.0],
                      [0.0, 0.0]])
total = compute_total_loss(logits, labels)
assert tf.is_tensor(total) and total.shape == (), "return a scalar tensor"
# worked example: example 1 has scores (2, 0, 0) and true class 0: -log(e^2 / (e^2 + 2)) = log(1 + 2 e^-2);
# example 2 has equal scores and true class 1: -log(1/3) = log(3). The total is their SUM.
expected = np.log(1 + 2 * np.exp(-2.0)) + np.log(3.0)
np.testing.assert_allclose(total.numpy(), expected, rtol=1e-5,
                           err_msg="sum (not mean) of the cross-entropies of the COLUMNS; pass from_logits=True")
# 4 classes, 3 examples, all scores equal: every example costs log(4)
total = compute_total_loss(tf.zeros((4, 3)), tf.constant(np.eye(4, 3), dtype=tf.float32))
np.testing.assert_allclose(total.numpy(), 3 * np.log(4.0), rtol=1e-5, err_msg="3 examples x log(4)")
print("total loss =", float(total))
print("All visible checks passed.")
"""


# ----------------------------------------------------------------------------- given / experiment cells
TAPE_DEMO_CELL = """
# minimize J(w) = w**2 - 10 w + 25 = (w - 5)**2 by gradient descent; TensorFlow finds dJ/dw for us
w = tf.Variable(0.0)
for step in range(60):
    with tf.GradientTape() as tape:
        J = w ** 2 - 10 * w + 25
    dJ_dw = tape.gradient(J, w)             # 2 w - 10, found by automatic differentiation
    w.assign_sub(0.1 * dJ_dw)               # w := w - alpha * dJ/dw, in place (w is a Variable)
print(f"w = {w.numpy():.4f} (the minimum is at 5), last gradient {dJ_dw.numpy():.6f}")
"""

DATA_CELL = """
train_set_x, train_set_y, test_set_x, test_set_y, classes = load_digits("tensorflow_data.h5")
print("train images:", train_set_x.shape, train_set_x.dtype, " labels:", train_set_y.shape)
print("test images: ", test_set_x.shape, " labels:", test_set_y.shape, " classes:", classes)
print("pixel values from", train_set_x.min(), "to", train_set_x.max())
"""

PLOT_DIGITS_CELL = """
plot_images_grid(train_set_x[:16], train_set_y[:16], ncols=8);
"""

PIPELINE_CELL = """
def normalize(image):
    \"\"\"An 8x8 image with pixels 0..16 -> a float32 vector of 64 values in [0, 1].\"\"\"
    image = tf.cast(image, tf.float32) / 16.0
    return tf.reshape(image, [-1])

n_classes = classes.size
x_train = tf.data.Dataset.from_tensor_slices(train_set_x).map(normalize)
y_train = tf.data.Dataset.from_tensor_slices(train_set_y).map(lambda label: one_hot_matrix(label, n_classes))
x_test = tf.data.Dataset.from_tensor_slices(test_set_x).map(normalize)
y_test = tf.data.Dataset.from_tensor_slices(test_set_y).map(lambda label: one_hot_matrix(label, n_classes))

print(x_train.element_spec, y_train.element_spec)
first_x, first_y = next(iter(x_train)), next(iter(y_train))
print("first image, pixels 20..27:", first_x.numpy()[20:28])
print("its label", train_set_y[0], "one-hot:", first_y.numpy())
"""

TRAIN_CELL = f"""
parameters, costs, train_acc, test_acc = model(x_train, y_train, x_test, y_test, num_epochs={EPOCHS})
"""

PLOTS_CELL = """
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
plot_costs({"training cost": costs}, ax=axes[0], xlabel="epoch", title="mean cost per example")
plot_costs({"train accuracy": train_acc, "test accuracy": test_acc}, ax=axes[1], xlabel="epoch",
           ylabel="accuracy", title="accuracy")
plt.show()
print(f"final train accuracy {train_acc[-1]:.1%}, test accuracy {test_acc[-1]:.1%}")
"""

ERRORS_CELL = """
# which test digits does the trained network get wrong?
X_test = tf.transpose(tf.stack([normalize(image) for image in test_set_x]))      # (64, m_test)
predicted = tf.argmax(forward_propagation(X_test, parameters), axis=0).numpy()
wrong = np.flatnonzero(predicted != test_set_y)
print(f"{wrong.size} of {test_set_y.size} test digits misclassified")
if wrong.size:
    shown = wrong[:16]
    plot_images_grid(test_set_x[shown], [f"{t}->{p}" for t, p in zip(test_set_y[shown], predicted[shown])],
                     ncols=8);
"""


def build_data(path) -> None:
    """Write the digits set (see reference.datasets) to ``path``."""
    datasets.build_digits(path)


def build() -> NotebookBuilder:
    from reference import tf_solutions as ref   # no TensorFlow needed to read the source

    nb = NotebookBuilder(ASSIGNMENT)
    nb.md(r"""
    # TensorFlow: letting the framework do the calculus

    In the previous assignments you wrote every forward pass, every derivative and every update rule in
    NumPy. That is the best way to understand them, and the worst way to build large models: each new
    layer type means new backward code, and each hand-written gradient is a place for a bug. Deep
    learning frameworks take that work over. You describe the *forward* computation; the framework
    records it and derives the gradients automatically, runs the arithmetic on fast kernels (CPU, GPU),
    and ships tested optimizers such as Adam.

    This notebook uses **TensorFlow 2**. You will

    1. compute with tensors: a linear function, the sigmoid, one-hot encodings;
    2. write the pieces of a three-layer classifier — parameter initialization, forward pass, cost;
    3. hand them to a given training loop that uses `tf.GradientTape` and Adam to recognize handwritten
       digits — with no backward pass written by you.

    **Notation.** As in the whole course, examples are columns: a batch of inputs is $X$ of shape
    $(n_x, m)$, logits and one-hot labels are $(C, m)$ for $C$ classes.

    **How this notebook is graded.** Each exercise cell is followed by a cell of visible checks worth the
    exercise's points. The autograder runs further hidden checks on the same function, comparing your
    TensorFlow results with a NumPy version of the same computation. Cells marked as experiments
    (training runs and plots) are skipped by the grader, but run them: they are the point of the lesson.
    """)
    nb.code("import numpy as np\nfrom tensorflow_utils import *\nimport tensorflow as tf")
    nb.code('print("TensorFlow", tf.__version__)')

    # ---- tensors
    nb.md(r"""
    ## 1. Tensors

    A `tf.Tensor` is an immutable multi-dimensional array with a `dtype` and a `shape`, much like a
    NumPy array; `tf.constant(array)` makes one, and `tensor.numpy()` turns it back into NumPy. A
    `tf.Variable` holds a tensor that can change — parameters are variables, because training
    updates them in place. TensorFlow 2 runs operations *eagerly*: each line computes its result at
    once, like NumPy, so you can print and inspect anything.

    A few equivalences: `tf.matmul(A, B)` (or `A @ B`) is `np.dot`, `tf.add`/`+` adds with broadcasting,
    `tf.transpose`, `tf.reshape`, `tf.reduce_sum` and `tf.cast(x, tf.float32)` do what their names say.
    Unlike NumPy, TensorFlow does not mix dtypes silently: adding a `float64` tensor to a `float32` one is
    an error, so cast explicitly.

    ### Exercise 1 — `linear_function`

    Compute $Y = WX + b$ with TensorFlow operations. Create the three constants from NumPy random
    draws: seed with `np.random.seed(1)`, then draw `X` of shape $(3, 1)$, `W` of shape $(4, 3)$ and
    `b` of shape $(4, 1)$ with `np.random.randn`, **in this order**.
    """)
    nb.exercise(ref.linear_function, points=10, tests=_tests_linear())

    nb.md(r"""
    ### Exercise 2 — `sigmoid`

    $\sigma(z) = 1 / (1 + e^{-z})$. TensorFlow has it built in (`tf.keras.activations.sigmoid` or
    `tf.math.sigmoid`); your job is to make it accept whatever it is given — a Python int, a float, a
    NumPy array — by casting to `tf.float32` first.
    """)
    nb.exercise(ref.sigmoid, points=10, tests=_tests_sigmoid())

    nb.md(r"""
    ### Exercise 3 — `one_hot_matrix`

    Multi-class labels are integers $0, \dots, C-1$; the cross-entropy cost wants them as one-hot
    vectors: a 1 at the position of the class and 0 elsewhere. For $C = 4$, label 1 becomes
    $(0, 1, 0, 0)$. `tf.one_hot(indices, depth, axis=0)` builds them; reshape the result to the shape
    $(C,)$ of a single label's encoding. The given data pipeline below applies your function to every
    label of the data set.
    """)
    nb.exercise(ref.one_hot_matrix, points=10, tests=_tests_one_hot())

    # ---- the network
    nb.md(r"""
    ## 2. A three-layer classifier

    The network maps a $64$-pixel image to $10$ class scores:

    $$\text{LINEAR} \to \text{RELU} \to \text{LINEAR} \to \text{RELU} \to \text{LINEAR}, \qquad
      n_x = 64 \to 25 \to 12 \to C = 10 .$$

    The softmax that would turn the final scores into probabilities is left out on purpose: the cost
    function applies it itself, in a numerically safer combined form.

    ### Exercise 4 — `initialize_parameters`

    Use one Glorot-normal initializer, `tf.keras.initializers.GlorotNormal(seed=1)`, for every
    parameter (biases included) and wrap each result in a `tf.Variable`. Glorot (also called Xavier)
    initialization draws from a normal distribution truncated at two standard deviations, with variance
    $2 / (\text{fan-in} + \text{fan-out})$ — a cousin of the He initialization you wrote in NumPy. The
    sizes $n_x$ and $C$ are keyword arguments whose defaults fit our digits.
    """)
    nb.exercise(ref.initialize_parameters, points=20, tests=_tests_init())

    nb.md(r"""
    ### Exercise 5 — `forward_propagation`

    The same forward pass as in NumPy, with TensorFlow operations:

    $$Z^{[1]} = W^{[1]} X + b^{[1]}, \; A^{[1]} = \text{ReLU}(Z^{[1]}), \;
      Z^{[2]} = W^{[2]} A^{[1]} + b^{[2]}, \; A^{[2]} = \text{ReLU}(Z^{[2]}), \;
      Z^{[3]} = W^{[3]} A^{[2]} + b^{[3]} .$$

    Return $Z^{[3]}$ (the *logits*). Note what you do **not** write: no cache. TensorFlow remembers
    what it needs for the gradients by itself.
    """)
    nb.exercise(ref.forward_propagation, points=25, tests=_tests_forward())

    nb.md(r"""
    ### Exercise 6 — `compute_total_loss`

    The categorical cross-entropy of example $i$ is $-\sum_{c} y^{(i)}_c \log \operatorname{softmax}(z^{(i)})_c$.
    `tf.keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=True)` computes it from the
    logits directly, combining softmax and log in a way that cannot overflow. Two details:

    - Keras expects **one example per row**, so pass the transposes of `labels` and `logits` (ours are
      columns). With the wrong orientation the shapes may still fit and give a wrong number.
    - Return the **sum** over the examples, not the mean (`tf.reduce_sum`). The training loop adds the
      sums of all mini-batches and divides by $m$ once per epoch, so a smaller last mini-batch does not
      distort the average.
    """)
    nb.exercise(ref.compute_total_loss, points=25, tests=_tests_loss())

    # ---- automatic differentiation
    nb.md(r"""
    ## 3. Where did the backward pass go?

    `tf.GradientTape` records the operations executed inside its `with` block; `tape.gradient(J, w)` then
    walks that record backwards, applying the chain rule — exactly what your `backward_propagation`
    functions did by hand, but derived automatically for any computation. A one-variable warm-up:
    """)
    nb.code(TAPE_DEMO_CELL, skip=True)

    # ---- data + training
    nb.md(r"""
    ## 4. Recognizing handwritten digits

    The data: scikit-learn's 1797 handwritten digits, 8×8 gray images with pixel values 0 to 16, split
    into a training and a test set with the same share of each digit.
    """)
    nb.code(DATA_CELL, skip=True)                # only the experiments use the data
    nb.code(PLOT_DIGITS_CELL, skip=True)
    nb.md(r"""
    The input pipeline is given. `tf.data.Dataset` streams the examples; `map` applies a function to
    each one: `normalize` scales the pixels to $[0, 1]$ and flattens each image into a vector of 64
    values, and your `one_hot_matrix` encodes each label.
    """)
    nb.code(PIPELINE_CELL, skip=True)
    nb.md(r"""
    The training loop is given too. Read it: it calls your `initialize_parameters`, `forward_propagation`
    and `compute_total_loss`; everything else is the framework's. For each mini-batch it records the
    forward pass and the loss on a `GradientTape`, asks the tape for the gradients of the loss with
    respect to the six variables, and lets Keras's Adam apply them. `tf.function` compiles the step
    into a graph the first time it runs, which makes the following steps much faster — the code inside
    is the same Python.
    """)
    nb.given(ref.model, skip=True)
    nb.code(TRAIN_CELL, skip=True)
    nb.code(PLOTS_CELL, skip=True)
    nb.md(r"""
    **What happened.** Within a few epochs the cost falls steeply and the network classifies the large
    majority of the test digits correctly; afterwards the training accuracy keeps creeping towards 100%
    while the test accuracy levels off — the gap is the variance you learned to fight with
    regularization in the first week. Below are some of the digits it still gets wrong (true → predicted).
    """)
    nb.code(ERRORS_CELL, skip=True)

    nb.md(r"""
    ## 5. What the framework did for us

    Compare this notebook with the NumPy assignments:

    | task | NumPy assignments | here |
    |---|---|---|
    | forward pass | written by you, returning a cache | written by you, no cache |
    | gradients | `backward_propagation`, derived and coded by hand, checked by gradient checking | `tape.gradient`: automatic differentiation of whatever ran on the tape |
    | update rule | `update_parameters_with_adam`, your own $v$, $s$, $t$ and bias correction | `tf.keras.optimizers.Adam().apply_gradients` |
    | mini-batches | `random_mini_batches` | `tf.data.Dataset.shuffle(...).batch(...)` |
    | softmax + cross-entropy | separate functions, with care for overflow and $\log 0$ | one stable call with `from_logits=True` |
    | speed | NumPy on the CPU | compiled graphs (`tf.function`), on a CPU or GPU |

    Automatic differentiation is not numerical differentiation (no $\varepsilon$, no approximation) and
    not symbolic algebra: the framework knows the derivative of each elementary operation and chains them
    along the recorded computation, in the same backward order you followed by hand. The parts you wrote
    here — the architecture, the initialization, the choice of cost — are the parts that require
    judgment. The parts the framework did are the ones that are easy to get subtly wrong, which is why,
    in practice, you write only the forward pass and still keep gradient checking in your toolbox for
    the day you write a custom operation.
    """)
    return nb
