"""Source notebook of the ``optimization`` assignment (mini-batches, momentum, RMSprop, Adam, decay, EWA).

Exercise cells come from :mod:`reference.optimization`; the training loop is the reference ``model``
copied by source (so it calls the learner's functions from the notebook namespace). The given helpers
(``compute_cost`` = the *summed* cross-entropy, ``forward_propagation``, ``backward_propagation``,
``initialize_parameters``, ``predict``, ``predict_dec``) live in ``optimization_utils.py``.
"""
from __future__ import annotations

import numpy as np

from autograder.course.nbbuild import NotebookBuilder, fill, literal
from reference import datasets, nets
from reference import optimization as ref

ASSIGNMENT = "optimization"

#: helpers copied into optimization_utils.py (student-visible name -> reference function)
HELPERS = {
    "compute_cost": nets.compute_cost_sum, "relu": nets.relu, "sigmoid": nets.sigmoid,
    "forward_propagation": nets.forward_propagation, "backward_propagation": nets.backward_propagation,
    "initialize_parameters": nets.initialize_parameters, "predict": nets.predict,
    "predict_dec": nets.predict_dec,
}

#: epochs of every training run in the experiments (the course's runs use 5000; the moons set is
#: learned well before 2500 by the adaptive methods, and CI executes the whole notebook)
EPOCHS = 2500
#: layer sizes of the experiments' network
LAYERS = [2, 5, 2, 1]


# ----------------------------------------------------------------------------- visible tests
TWO_LAYER_SETUP = """
def toy_problem():
    # a tiny 2-layer net: W1 (2, 3), b1 (2, 1), W2 (1, 2), b2 (1, 1), and gradients of the same shapes
    parameters = {"W1": np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), "b1": np.array([[0.5], [-0.5]]),
                  "W2": np.array([[2.0, -1.0]]), "b2": np.array([[0.0]])}
    grads = {"dW1": np.array([[0.1, -0.4, 2.0], [0.0, 1.0, -3.0]]), "db1": np.array([[1.0], [-0.5]]),
             "dW2": np.array([[-2.0, 0.25]]), "db2": np.array([[0.3]])}
    return parameters, grads
"""


def _tests_gd() -> str:
    return TWO_LAYER_SETUP + """
parameters, grads = toy_problem()
parameters = update_parameters_with_gd(parameters, grads, learning_rate=0.5)
assert sorted(parameters) == ["W1", "W2", "b1", "b2"], f"keys: {sorted(parameters)}"
# worked example: W := W - 0.5 * dW on every layer, biases included
np.testing.assert_allclose(parameters["W1"], [[0.95, -1.8, -0.5], [0.0, 2.5, 0.5]], err_msg="W1")
np.testing.assert_allclose(parameters["b1"], [[0.0], [-0.25]], err_msg="b1")
np.testing.assert_allclose(parameters["W2"], [[3.0, -1.125]], err_msg="W2 (did you update every layer?)")
np.testing.assert_allclose(parameters["b2"], [[-0.15]], err_msg="b2")
print("W1 =", parameters["W1"])
print("All visible checks passed.")
"""


def _tests_mini_batches() -> str:
    m = 148
    order = np.random.RandomState(0).permutation(m)
    return fill("""
    # 148 examples whose first feature is the example's index, so we can follow every column
    m = 148
    X_demo = np.vstack([np.arange(m), np.arange(m) * 10.0, -np.arange(m)])   # (3, 148)
    Y_demo = (np.arange(m) % 2).reshape(1, m)                                # (1, 148)
    batches = random_mini_batches(X_demo, Y_demo, mini_batch_size=64, seed=0)

    assert isinstance(batches, list), "return a list of (mini_batch_X, mini_batch_Y) tuples"
    assert [b[0].shape for b in batches] == [(3, 64), (3, 64), (3, 20)], \\
        f"X shapes {[b[0].shape for b in batches]}: two full batches of 64, then the 20 left over"
    assert [b[1].shape for b in batches] == [(1, 64), (1, 64), (1, 20)], "Y shapes"
    seen = np.concatenate([b[0][0] for b in batches]).astype(int)
    assert sorted(seen) == list(range(m)), "every example must appear in exactly one mini-batch"
    for mb_X, mb_Y in batches:
        assert np.array_equal(mb_Y[0], mb_X[0] % 2), "X and Y must be shuffled with the SAME permutation"
        assert np.array_equal(mb_X[1], mb_X[0] * 10.0), "shuffle whole columns, not single entries"
    # worked example: np.random.seed(0) then np.random.permutation(148) starts like this
    assert list(seen[:8]) == $first, f"first indices {list(seen[:8])}: seed with `seed`, permute columns"
    print("first mini-batch starts with examples", seen[:8])
    print("All visible checks passed.")
    """, first=repr([int(i) for i in order[:8]]))


def _tests_init_velocity() -> str:
    return TWO_LAYER_SETUP + """
parameters, _ = toy_problem()
v = initialize_velocity(parameters)
assert sorted(v) == ["dW1", "dW2", "db1", "db2"], f"keys {sorted(v)}: one entry per gradient, named like it"
for key in v:
    assert v[key].shape == parameters[key[1:]].shape, f"{key} must have the shape of {key[1:]}"
    assert not np.any(v[key]), f"{key} must start at zero"
print("All visible checks passed.")
"""


def _tests_momentum() -> str:
    return TWO_LAYER_SETUP + """
parameters, grads = toy_problem()
W1_start = parameters["W1"].copy()
v = {k: np.zeros_like(g) for k, g in grads.items()}
# worked example: two steps with the same gradient, beta = 0.9, learning rate 0.1
parameters, v = update_parameters_with_momentum(parameters, grads, v, beta=0.9, learning_rate=0.1)
np.testing.assert_allclose(v["dW1"], 0.1 * grads["dW1"], err_msg="first step: v = 0.9*0 + 0.1*dW1")
np.testing.assert_allclose(parameters["W1"], W1_start - 0.01 * grads["dW1"], err_msg="W1 after step 1")
parameters, v = update_parameters_with_momentum(parameters, grads, v, beta=0.9, learning_rate=0.1)
np.testing.assert_allclose(v["dW1"], 0.19 * grads["dW1"], err_msg="second step: v = 0.9*(0.1 g) + 0.1 g")
np.testing.assert_allclose(parameters["W1"], W1_start - 0.029 * grads["dW1"], err_msg="W1 after step 2")
np.testing.assert_allclose(v["db2"], 0.19 * grads["db2"], err_msg="update every layer, biases too")
np.testing.assert_allclose(parameters["b2"], -0.029 * grads["db2"], err_msg="b2 after step 2")
print("v['dW1'] after two steps =", v["dW1"])
print("All visible checks passed.")
"""


def _tests_init_rmsprop() -> str:
    return TWO_LAYER_SETUP + """
parameters, _ = toy_problem()
s = initialize_rmsprop(parameters)
assert sorted(s) == ["dW1", "dW2", "db1", "db2"], f"keys {sorted(s)}"
for key in s:
    assert s[key].shape == parameters[key[1:]].shape, f"{key} must have the shape of {key[1:]}"
    assert not np.any(s[key]), f"{key} must start at zero"
print("All visible checks passed.")
"""


def _tests_rmsprop() -> str:
    return TWO_LAYER_SETUP + """
parameters, grads = toy_problem()
W1_start, b1_start = parameters["W1"].copy(), parameters["b1"].copy()
s = {k: np.zeros_like(g) for k, g in grads.items()}
parameters, s = update_parameters_with_rmsprop(parameters, grads, s, beta2=0.99, learning_rate=0.01)
np.testing.assert_allclose(s["dW1"], 0.01 * grads["dW1"] ** 2, err_msg="s = 0.99*0 + 0.01*dW1**2")
# worked example: starting from s = 0, sqrt(s) = 0.1*|g|, so every entry with a non-zero gradient moves by
# 0.01 * g / (0.1*|g|) = 0.1 in the direction of -sign(g), whatever the size of g
expected_W1 = W1_start - 0.1 * np.sign(grads["dW1"])
np.testing.assert_allclose(parameters["W1"], expected_W1, atol=1e-6, err_msg="W1 after one RMSprop step")
np.testing.assert_allclose(parameters["b1"], b1_start - 0.1 * np.sign(grads["db1"]), atol=1e-6, err_msg="b1")
# a zero gradient must not move the parameter (that is what epsilon protects)
assert parameters["W1"][1, 0] == 0.0, "dW1[1, 0] = 0: epsilon must keep 0/0 from happening"
print("W1 =", parameters["W1"])
print("All visible checks passed.")
"""


def _tests_init_adam() -> str:
    return TWO_LAYER_SETUP + """
parameters, _ = toy_problem()
v, s = initialize_adam(parameters)
for name, d in (("v", v), ("s", s)):
    assert sorted(d) == ["dW1", "dW2", "db1", "db2"], f"{name} keys {sorted(d)}"
    for key in d:
        assert d[key].shape == parameters[key[1:]].shape, f"{name}[{key}] must have the shape of {key[1:]}"
        assert not np.any(d[key]), f"{name}[{key}] must start at zero"
assert v["dW1"] is not s["dW1"], "v and s must be separate arrays"
print("All visible checks passed.")
"""


def _tests_adam() -> str:
    parameters = {"W1": np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), "b1": np.array([[0.5], [-0.5]]),
                  "W2": np.array([[2.0, -1.0]]), "b2": np.array([[0.0]])}
    grads = {"dW1": np.array([[0.1, -0.4, 2.0], [0.0, 1.0, -3.0]]), "db1": np.array([[1.0], [-0.5]]),
             "dW2": np.array([[-2.0, 0.25]]), "db2": np.array([[0.3]])}
    v = {k: np.zeros_like(g) for k, g in grads.items()}
    s = {k: np.zeros_like(g) for k, g in grads.items()}
    p, v, s, _, _ = ref.update_parameters_with_adam(parameters, grads, v, s, 1, 0.01)
    grads2 = {k: -0.5 * g for k, g in grads.items()}
    p, v, s, vc, sc = ref.update_parameters_with_adam(p, grads2, v, s, 2, 0.01)
    return TWO_LAYER_SETUP + fill("""
    parameters, grads = toy_problem()
    W1_start = parameters["W1"].copy()
    v = {k: np.zeros_like(g) for k, g in grads.items()}
    s = {k: np.zeros_like(g) for k, g in grads.items()}
    out = update_parameters_with_adam(parameters, grads, v, s, t=1, learning_rate=0.01)
    assert isinstance(out, tuple) and len(out) == 5, "return (parameters, v, s, v_corrected, s_corrected)"
    parameters, v, s, v_corrected, s_corrected = out
    np.testing.assert_allclose(v["dW1"], 0.1 * grads["dW1"], err_msg="v = 0.9*0 + 0.1*dW1")
    np.testing.assert_allclose(s["dW1"], 0.001 * grads["dW1"] ** 2, err_msg="s = 0.999*0 + 0.001*dW1**2")
    # at t = 1 the bias correction undoes the (1 - beta) factors exactly
    np.testing.assert_allclose(v_corrected["dW1"], grads["dW1"], err_msg="v_corrected = v / (1 - 0.9**1)")
    np.testing.assert_allclose(s_corrected["dW1"], grads["dW1"] ** 2, err_msg="s_corrected = s / (1 - 0.999**1)")
    # so the first step moves every parameter with a non-zero gradient by learning_rate, against sign(g)
    np.testing.assert_allclose(parameters["W1"], W1_start - 0.01 * np.sign(grads["dW1"]), atol=1e-6,
                               err_msg="W1 after the first Adam step")
    # worked example: a second step (t = 2) with the gradients halved and reversed
    grads2 = {k: -0.5 * g for k, g in grads.items()}
    parameters, v, s, v_corrected, s_corrected = update_parameters_with_adam(parameters, grads2, v, s, t=2,
                                                                             learning_rate=0.01)
    expected_W1 = $W1
    expected_v_corrected_dW1 = $vc
    np.testing.assert_allclose(v_corrected["dW1"], expected_v_corrected_dW1, rtol=1e-6, err_msg="v_corrected, t=2")
    np.testing.assert_allclose(parameters["W1"], expected_W1, rtol=1e-6, err_msg="W1 after the second step")
    np.testing.assert_allclose(parameters["b2"], $b2, rtol=1e-6, err_msg="b2 after two steps")
    print("W1 after two steps =", parameters["W1"])
    print("All visible checks passed.")
    """, W1=literal(p["W1"], col=18), vc=literal(vc["dW1"], col=31), b2=literal(p["b2"]))


def _tests_update_lr() -> str:
    return """
lr = update_lr(0.5, 2, 1)
assert np.isclose(lr, 0.5 / 3), f"update_lr(0.5, 2, 1) = {lr}, expected 0.5 / (1 + 1*2) = 0.1667"
assert np.isclose(update_lr(0.5, 0, 1), 0.5), "epoch 0 keeps the initial learning rate"
assert np.isclose(update_lr(0.1, 10, 0.3), 0.1 / 4), "update_lr(0.1, 10, 0.3) = 0.1 / (1 + 3)"
print("learning rate at epochs 0..4:", [round(float(update_lr(0.5, e, 1)), 4) for e in range(5)])
print("All visible checks passed.")
"""


def _tests_schedule() -> str:
    return """
# the rate only changes every time_interval epochs
assert np.isclose(schedule_lr_decay(0.5, 999, 1, time_interval=1000), 0.5), "epochs 0..999 keep 0.5"
assert np.isclose(schedule_lr_decay(0.5, 1000, 1, time_interval=1000), 0.25), "epoch 1000: 0.5 / (1 + 1)"
assert np.isclose(schedule_lr_decay(0.5, 2500, 1, time_interval=1000), 0.5 / 3), \\
    "epoch 2500: floor(2500 / 1000) = 2 decreases, 0.5 / 3 (use floor, not 2.5)"
assert np.isclose(schedule_lr_decay(0.3, 100, 0.5), 0.3), "default time_interval is 1000"
assert np.isclose(schedule_lr_decay(0.3, 100, 0.5, time_interval=50), 0.15), "0.3 / (1 + 0.5 * 2)"
print("All visible checks passed.")
"""


def _tests_ewa() -> str:
    return """
values = [1.0, 2.0, 3.0]
raw = exponentially_weighted_average(values, beta=0.5, bias_correction=False)
assert np.shape(raw) == (3,), f"one average per value, shape (T,); got {np.shape(raw)}"
# worked example with beta = 0.5: v1 = 0.5*0 + 0.5*1 = 0.5, v2 = 0.25 + 1 = 1.25, v3 = 0.625 + 1.5 = 2.125
np.testing.assert_allclose(raw, [0.5, 1.25, 2.125], err_msg="v_t = beta*v_(t-1) + (1-beta)*x_t, v_0 = 0")
corrected = exponentially_weighted_average(values, beta=0.5)
np.testing.assert_allclose(corrected, [0.5 / 0.5, 1.25 / 0.75, 2.125 / 0.875],
                           err_msg="bias correction (the default): divide v_t by 1 - beta**t")
# a constant series: the corrected average is exact from the first step, the raw one starts near 0
flat = exponentially_weighted_average(np.full(5, 4.0), beta=0.9)
np.testing.assert_allclose(flat, np.full(5, 4.0), err_msg="corrected average of a constant series")
print("raw:", raw, " corrected:", np.round(corrected, 4))
print("All visible checks passed.")
"""


# ----------------------------------------------------------------------------- given / experiment cells
DATA_CELL = """
train_X, train_Y, test_X, test_Y = load_moons("optimization_data.h5")
print("train_X:", train_X.shape, " train_Y:", train_Y.shape)
print("test_X: ", test_X.shape, " test_Y: ", test_Y.shape)
"""

PLOT_DATA_CELL = """
plot_dataset(train_X, train_Y, title="Training set: two interleaved moons")
"""

EXPERIMENT_SETUP = f"""
EPOCHS = {EPOCHS}          # the course trains for 5000 epochs; these runs have converged well before
layers_dims = {LAYERS!r}
runs = {{}}               # name -> (parameters, costs)

def run(name, optimizer, **hyperparameters):
    \"\"\"Train one model, keep it in `runs`, and show its accuracy and decision boundary.\"\"\"
    parameters, costs = model(train_X, train_Y, layers_dims, optimizer, num_epochs=EPOCHS,
                              print_cost=False, **hyperparameters)
    runs[name] = (parameters, costs)
    train_accuracy, _ = predict(train_X, train_Y, parameters)
    test_accuracy, _ = predict(test_X, test_Y, parameters)
    print(f"{{name}}: final cost {{costs[-1]:.4f}}, train accuracy {{train_accuracy:.1%}}, "
          f"test accuracy {{test_accuracy:.1%}}")
    plot_decision_boundary(lambda x: predict_dec(parameters, x.T), train_X, train_Y, title=name)

def compare(names, title):
    \"\"\"Cost curves of several runs on one plot (costs are recorded every 100 epochs).\"\"\"
    plot_costs({{name: runs[name][1] for name in names}}, xlabel="epochs (hundreds)", title=title)
"""

EWA_DEMO_CELL = """
import matplotlib.pyplot as plt

# forty noisy daily readings around a slowly rising trend
rng = np.random.default_rng(7)
days = np.arange(1, 41)
readings = 10 + 0.2 * days + rng.normal(0, 1.5, size=days.size)

beta = 0.9
plain = exponentially_weighted_average(readings, beta, bias_correction=False)
corrected = exponentially_weighted_average(readings, beta, bias_correction=True)

plt.figure(figsize=(6, 4))
plt.plot(days, readings, "o", color="0.6", label="readings")
plt.plot(days, plain, label="EWA, no bias correction")
plt.plot(days, corrected, label="EWA, bias corrected")
plt.xlabel("day"); plt.ylabel("value"); plt.title(f"beta = {beta}"); plt.legend(); plt.show()
print("first five days  raw:", np.round(plain[:5], 2), " corrected:", np.round(corrected[:5], 2))
"""


def build_data(path) -> None:
    """Write the moons set (see reference.datasets) to ``path``."""
    datasets.build_moons(path)


def build() -> NotebookBuilder:
    nb = NotebookBuilder(ASSIGNMENT)
    nb.md(r"""
    # Optimization: getting more out of every gradient

    Plain gradient descent takes one step per pass over the whole training set, and every step has the
    same size in every direction. Both habits cost time. In this assignment you build the tools that
    modern training loops use instead:

    1. **mini-batch gradient descent** — many cheap, noisy steps per pass over the data;
    2. **momentum** — steps that average the recent gradients, so zig-zags cancel out;
    3. **RMSprop** — a step size per parameter, scaled down where gradients are large;
    4. **Adam** — momentum and RMSprop together, with a correction for their cold start;
    5. **learning-rate decay** — large steps early, smaller ones as training settles;
    6. **exponentially weighted averages** — the running average behind 2–4, and its bias correction.

    At the end you train the same three-layer network with each optimizer and compare.

    **Notation.** One example per column: $X$ has shape $(n_x, m)$. Layer $l$ has weights $W^{[l]}$ of
    shape $(n^{[l]}, n^{[l-1]})$ and biases $b^{[l]}$ of shape $(n^{[l]}, 1)$, kept in a dictionary
    `parameters` with keys `"W1", "b1", ..., "WL", "bL"`. The gradients $dW^{[l]}, db^{[l]}$ are in a
    dictionary `grads` with keys `"dW1", "db1", ...`; the optimizers' running averages use the same
    keys as the gradients. $\alpha$ is the learning rate.

    **How this notebook is graded.** Each exercise cell is followed by a cell of visible checks worth the
    exercise's points. The autograder runs further hidden checks on the same function, so passing the
    visible checks is necessary but not always enough. Cells marked as experiments (training runs and
    plots) are skipped by the grader, but run them: they are the point of the lesson.
    """)
    nb.code("import numpy as np\nfrom optimization_utils import *")

    # ---- 1 gradient descent
    nb.md(r"""
    ## 1. Gradient descent, one layer at a time

    The update you already know, applied to every layer $l = 1, \dots, L$:

    $$W^{[l]} := W^{[l]} - \alpha \, dW^{[l]}, \qquad b^{[l]} := b^{[l]} - \alpha \, db^{[l]}.$$

    Whether `grads` was computed on all $m$ examples (*batch* gradient descent), on a single example
    (*stochastic* gradient descent) or on a mini-batch does not change this function — only how often it
    is called per pass over the data.

    ### Exercise 1 — `update_parameters_with_gd`

    The dictionary holds two entries per layer, so $L$ is `len(parameters) // 2`. Build the keys
    with `"W" + str(l)`, and remember that layers are numbered from 1.
    """)
    nb.exercise(ref.update_parameters_with_gd, points=10, tests=_tests_gd())

    # ---- 2 mini-batches
    nb.md(r"""
    ## 2. Mini-batches

    With millions of examples, one gradient step per pass over the data is painfully slow. Mini-batch
    gradient descent splits the training set into batches $X^{\{1\}}, X^{\{2\}}, \dots$ of, say, 64
    examples and takes a step after each one. One pass over all batches is an **epoch**. Each step sees
    only part of the data, so the cost no longer falls smoothly — it wobbles from batch to batch — but
    there are $m / 64$ steps per epoch instead of one.

    Building the batches takes two moves:

    - **Shuffle.** Apply one random permutation to the *columns* of $X$ and of $Y$ — the same
      permutation for both, so that each example keeps its label. Shuffling makes every batch a fair
      sample of the data, instead of, say, all examples of one class if the file happens to be sorted.
    - **Partition.** Cut the shuffled columns into consecutive batches of `mini_batch_size`. When $m$ is
      not a multiple of the size, the last batch is smaller: it holds the
      $m - \text{batch size} \cdot \lfloor m / \text{batch size} \rfloor$ examples left over.

    Batch sizes are usually powers of two (32, 64, 128, 256, ...) and small enough that a batch fits in
    memory.

    ### Exercise 2 — `random_mini_batches`

    Seed NumPy with `np.random.seed(seed)` and draw `permutation = list(np.random.permutation(m))`;
    `X[:, permutation]` reorders the columns. Then slice `[:, k * size : (k + 1) * size]` for each
    batch. The order of the batches in the returned list must follow the shuffled order.
    """)
    nb.exercise(ref.random_mini_batches, points=15, tests=_tests_mini_batches())

    # ---- 3 momentum
    nb.md(r"""
    ## 3. Momentum

    Mini-batch gradients are noisy, and on a long narrow valley of the cost even the exact gradient
    points mostly *across* the valley: gradient descent zig-zags from wall to wall while creeping along
    the floor. Momentum keeps a running average of recent gradients, the **velocity** $v$, and steps
    along that average instead. Components that flip sign from step to step cancel out in the average;
    components that keep pointing the same way add up:

    $$v_{dW^{[l]}} := \beta \, v_{dW^{[l]}} + (1 - \beta) \, dW^{[l]}, \qquad
      W^{[l]} := W^{[l]} - \alpha \, v_{dW^{[l]}},$$

    and the same for $b^{[l]}$ with $v_{db^{[l]}}$. This running average is an *exponentially weighted
    average* (the last exercise looks at it closely): with $\beta = 0.9$ it averages over roughly the
    last $1 / (1 - \beta) = 10$ gradients. $\beta = 0.9$ is a good default; $\beta = 0$ is plain
    gradient descent.

    ### Exercise 3 — `initialize_velocity`

    Start every velocity at zero, with the shape of its parameter: `v["dW1"]` like `parameters["W1"]`,
    and so on for every layer.
    """)
    nb.exercise(ref.initialize_velocity, points=5, tests=_tests_init_velocity())
    nb.md(r"""
    ### Exercise 4 — `update_parameters_with_momentum`

    For every layer and for both $W$ and $b$: first update the velocity, then step along it. Return the
    updated `parameters` **and** `v` — the caller passes `v` back in at the next step.
    """)
    nb.exercise(ref.update_parameters_with_momentum, points=10, tests=_tests_momentum())

    # ---- 4 RMSprop
    nb.md(r"""
    ## 4. RMSprop

    Momentum fixes the *direction*; RMSprop ("root mean square propagation") fixes the *scale*. It keeps
    an exponentially weighted average $s$ of the **squared** gradients, element by element, and divides
    each step by its square root:

    $$s_{dW^{[l]}} := \beta_2 \, s_{dW^{[l]}} + (1 - \beta_2) \, \big(dW^{[l]}\big)^2, \qquad
      W^{[l]} := W^{[l]} - \alpha \, \frac{dW^{[l]}}{\sqrt{s_{dW^{[l]}}} + \varepsilon}.$$

    (the square, the root and the division are element-wise). A parameter whose gradient has been
    large — the steep walls of the valley — takes smaller steps; one whose gradient has been small
    takes larger ones. That lets you use a larger $\alpha$ without diverging. $\varepsilon \approx
    10^{-8}$ only protects against dividing by zero.

    ### Exercise 5 — `initialize_rmsprop`
    """)
    nb.exercise(ref.initialize_rmsprop, points=5, tests=_tests_init_rmsprop())
    nb.md(r"""
    ### Exercise 6 — `update_parameters_with_rmsprop`

    `np.square` and `np.sqrt` work element-wise. Put $\varepsilon$ *outside* the square root, as in the
    formula above.
    """)
    nb.exercise(ref.update_parameters_with_rmsprop, points=10, tests=_tests_rmsprop())

    # ---- 5 Adam
    nb.md(r"""
    ## 5. Adam

    Adam ("adaptive moment estimation") runs both averages at once — $v$ of the gradients (momentum,
    weight $\beta_1$) and $s$ of the squared gradients (RMSprop, weight $\beta_2$) — and adds one fix.
    Both averages start at zero, so during the first steps they are pulled towards zero: after one step
    $v = (1 - \beta_1)\, dW$, only a tenth of the gradient when $\beta_1 = 0.9$. Dividing by
    $1 - \beta^t$, where $t$ counts the Adam steps taken so far, removes that bias:

    $$\begin{aligned}
    v_{dW^{[l]}} &:= \beta_1 v_{dW^{[l]}} + (1 - \beta_1)\, dW^{[l]}, &
    v^{\text{corrected}}_{dW^{[l]}} &= \frac{v_{dW^{[l]}}}{1 - \beta_1^{\,t}}, \\
    s_{dW^{[l]}} &:= \beta_2 s_{dW^{[l]}} + (1 - \beta_2)\, \big(dW^{[l]}\big)^2, &
    s^{\text{corrected}}_{dW^{[l]}} &= \frac{s_{dW^{[l]}}}{1 - \beta_2^{\,t}}, \\
    W^{[l]} &:= W^{[l]} - \alpha \, \frac{v^{\text{corrected}}_{dW^{[l]}}}{\sqrt{s^{\text{corrected}}_{dW^{[l]}}} + \varepsilon}. &&
    \end{aligned}$$

    The same holds for $b^{[l]}$. The usual settings are $\beta_1 = 0.9$, $\beta_2 = 0.999$,
    $\varepsilon = 10^{-8}$; only $\alpha$ usually needs tuning.

    ### Exercise 7 — `initialize_adam`

    Return two *separate* dictionaries of zeros (if `v` and `s` shared arrays, updating one would
    change the other).
    """)
    nb.exercise(ref.initialize_adam, points=5, tests=_tests_init_adam())
    nb.md(r"""
    ### Exercise 8 — `update_parameters_with_adam`

    Keep the corrected estimates in new dictionaries `v_corrected` and `s_corrected` (the running `v` and
    `s` must stay uncorrected, or the next step would correct them twice) and return them as well.
    `t` starts at 1, so $1 - \beta^t$ is never zero.
    """)
    nb.exercise(ref.update_parameters_with_adam, points=15, tests=_tests_adam())

    # ---- 6 learning-rate decay
    nb.md(r"""
    ## 6. Learning-rate decay

    Early in training, large steps cover ground quickly. Near a minimum the same steps overshoot, and
    with mini-batches the noise keeps the parameters bouncing around the minimum instead of settling in
    it. Shrinking $\alpha$ as training goes on gets the best of both. A common schedule divides the
    initial rate $\alpha_0$ by a factor that grows with the epoch number:

    $$\alpha = \frac{\alpha_0}{1 + \text{decay rate} \cdot \text{epoch}}.$$

    Other schedules exist (exponential $\alpha = 0.95^{\text{epoch}} \alpha_0$, $\alpha = k \alpha_0 /
    \sqrt{\text{epoch}}$, steps by hand), and they all trade speed early for precision late.

    ### Exercise 9 — `update_lr`
    """)
    nb.exercise(ref.update_lr, points=5, tests=_tests_update_lr())
    nb.md(r"""
    Applied after *every* epoch, this formula shrinks the rate fast: with decay rate 1 it has halved
    after one epoch and is down to 1% after 99. When training lasts thousands of epochs it is better to
    lower the rate only every `time_interval` epochs — a *scheduled* decay:

    $$\alpha = \frac{\alpha_0}{1 + \text{decay rate} \cdot \left\lfloor \frac{\text{epoch}}{\text{interval}} \right\rfloor}.$$

    ### Exercise 10 — `schedule_lr_decay`

    `np.floor` (or integer division `//`) gives $\lfloor \cdot \rfloor$.
    """)
    nb.exercise(ref.schedule_lr_decay, points=10, tests=_tests_schedule())

    # ---- 7 EWA
    nb.md(r"""
    ## 7. Exponentially weighted averages, up close

    Momentum, RMSprop and Adam all rely on the same recurrence. Given a sequence $\theta_1, \theta_2,
    \dots, \theta_T$ (temperatures, gradients, ...), start at $v_0 = 0$ and update

    $$v_t = \beta \, v_{t-1} + (1 - \beta) \, \theta_t .$$

    Unrolled, $v_t = (1 - \beta) \sum_{k=1}^{t} \beta^{\,t-k} \theta_k$: each value's weight shrinks by
    a factor $\beta$ per step into the past, and since $\beta^{1/(1-\beta)} \approx 1/e$, the average
    effectively covers the last $1 / (1 - \beta)$ values. A larger $\beta$ gives a smoother but more
    delayed curve.

    The weights sum to $(1 - \beta) \sum_{k=1}^{t} \beta^{\,t-k} = 1 - \beta^t$, not to 1, so early
    values are too small — the average "starts cold" at 0. **Bias correction** divides the missing
    mass back out:

    $$v_t^{\text{corrected}} = \frac{v_t}{1 - \beta^t}.$$

    For large $t$, $\beta^t \to 0$ and the correction fades away; it only matters at the start, which
    is exactly where Adam needs it.

    ### Exercise 11 — `exponentially_weighted_average`

    Return one average per input value, as a NumPy array of shape $(T,)$. The recurrence goes step by
    step (a loop over $t$ is fine); `bias_correction=True` divides step $t$'s value by $1 - \beta^t$
    with $t$ counted from 1.
    """)
    nb.exercise(ref.exponentially_weighted_average, points=10, tests=_tests_ewa())
    nb.md(r"""
    A short noisy series makes the cold start visible. Compare the two curves over the first few days.
    """)
    nb.code(EWA_DEMO_CELL, skip=True)
    nb.md(r"""
    The uncorrected average starts at a tenth of the first reading and climbs slowly: after $t$ days it
    is missing the fraction $\beta^t$ of the weight, still about a third after 10 days ($0.9^{10}
    \approx 0.35$) and only a few percent by the end. The corrected average sits on the data from day 1,
    and the two curves meet once $\beta^t$ is negligible. Notice also that even the corrected curve runs
    a little *below* the rising readings: it averages roughly the last ten days, so it lags a trend.
    In Adam the cold start would make the first steps far too small (for $v$) or far too large (for $s$,
    which sits in the denominator and starts even colder with $\beta_2 = 0.999$).
    """)

    # ---- model + experiments
    nb.md(r"""
    ## 8. Training with each optimizer

    The data set: two interleaving half-moons, which a straight line cannot separate.
    """)
    nb.code(DATA_CELL, skip=True)                # only the experiments use the data
    nb.code(PLOT_DATA_CELL, skip=True)
    nb.md(r"""
    The model below is given. It trains the three-layer network LINEAR → RELU → LINEAR → RELU → LINEAR →
    SIGMOID with mini-batches of 64 and the optimizer you name — using *your* functions from this
    notebook — and records the cost every 100 epochs. The helpers it calls (`initialize_parameters`,
    `forward_propagation`, `compute_cost`, `backward_propagation`) come from `optimization_utils`;
    `compute_cost` returns the cost *summed* over the mini-batch, and the model divides the epoch's total
    by $m$ once, so the recorded cost is a true average even when the last batch is smaller.
    """)
    nb.given(ref.model, replace=[("compute_cost_sum(a3, minibatch_Y)", "compute_cost(a3, minibatch_Y)")])
    nb.code(EXPERIMENT_SETUP, skip=True)
    nb.md(r"""
    ### Four optimizers, one learning rate

    All four runs use the same small learning rate, $\alpha = 0.0007$, and the same mini-batches.
    """)
    nb.code("""
    run("gradient descent", "gd", learning_rate=0.0007)
    run("momentum", "momentum", learning_rate=0.0007, beta=0.9)
    """, skip=True)
    nb.code("""
    run("RMSprop", "rmsprop", learning_rate=0.0007, beta2=0.999)
    run("Adam", "adam", learning_rate=0.0007)
    compare(["gradient descent", "momentum", "RMSprop", "Adam"], "cost, learning rate 0.0007")
    """, skip=True)
    nb.md(r"""
    **What happened.** With this small $\alpha$, plain mini-batch gradient descent and momentum crawl:
    the cost has barely moved and the boundary is close to a straight line. Momentum changes little
    here — its average of gradients has the same size as the gradients themselves (its gain shows on
    elongated cost surfaces or with larger learning rates, where it damps the oscillation). RMSprop and
    Adam, in contrast, scale every step by the recent size of its gradient: where gradients are tiny,
    as in the flat start of this problem, their steps are still about $\alpha$ long, so they reach a low
    cost and a curved boundary in the same number of epochs. Adam adds momentum's smoothing on top, and
    its bias correction keeps the first steps sensible. This robustness to the scale of the gradients
    is why Adam is the usual first choice — but it is not magic: plain gradient descent with a well
    tuned, larger $\alpha$ also gets there, as the next experiment shows.
    """)

    # ---- decay
    nb.md(r"""
    ### Learning-rate decay

    Now plain mini-batch gradient descent with a much larger rate, $\alpha_0 = 0.1$, three ways: no decay,
    `update_lr` applied every epoch, and `schedule_lr_decay` lowering the rate every 1000 epochs. The
    model calls `decay(learning_rate0, epoch, decay_rate)` after every epoch.
    """)
    nb.code("""
    run("GD, alpha 0.1", "gd", learning_rate=0.1)
    run("GD + update_lr", "gd", learning_rate=0.1, decay=update_lr, decay_rate=1)
    run("GD + schedule_lr_decay", "gd", learning_rate=0.1, decay=schedule_lr_decay, decay_rate=1)
    compare(["GD, alpha 0.1", "GD + update_lr", "GD + schedule_lr_decay"], "gradient descent, alpha0 = 0.1")
    """, skip=True)
    nb.code("""
    for name in ("GD + update_lr", "GD + schedule_lr_decay"):
        decay = update_lr if name == "GD + update_lr" else schedule_lr_decay
        print(f"{name:>24}: learning rate at epochs 1, 10, 1000, {EPOCHS - 1}:",
              [round(float(decay(0.1, e, 1)), 6) for e in (1, 10, 1000, EPOCHS - 1)])
    """, skip=True)
    nb.md(r"""
    **What happened.** `update_lr` divides the rate by the epoch number: after 10 epochs it is below
    0.01 and after 1000 it is $10^{-4}$ — training has effectively stopped long before the cost is low.
    Decaying after every *epoch* only makes sense when there are few epochs. The scheduled version keeps
    $\alpha_0$ for the first 1000 epochs, then halves it, then divides it by three: it makes the same fast
    progress as the undecayed run, then settles: the small bumps the undecayed curve still shows after
    epoch 1000 (the parameters bouncing around the minimum) are damped, and it ends slightly lower. With a
    large, well-chosen rate, plain gradient descent plus a sensible schedule does about as well as Adam
    on this small problem; Adam's strength is that it needed no such tuning.

    Try it yourself: rerun with other values of `decay_rate` or `time_interval` (pass
    `decay=lambda a, e, r: schedule_lr_decay(a, e, r, time_interval=500)`), or give Adam a schedule too.
    """)
    nb.md(r"""
    ## What to remember

    - Mini-batch gradient descent takes many cheap steps per epoch; shuffle with one permutation for $X$
      and $Y$, and keep the smaller last batch.
    - Momentum steps along an exponentially weighted average of the gradients, which damps oscillations.
    - RMSprop divides each step by the root of an average of squared gradients: a step size per
      parameter.
    - Adam combines both, with bias correction $v / (1 - \beta^t)$ for the zero start; defaults
      $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\varepsilon = 10^{-8}$, tune $\alpha$.
    - Decay the learning rate on a schedule that matches the length of training.
    """)
    return nb
