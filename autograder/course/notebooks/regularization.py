"""Source notebook of the ``regularization`` assignment (baseline vs L2 vs dropout)."""
from __future__ import annotations

from autograder.course.nbbuild import NotebookBuilder, fill, literal, run_example
from reference import regularization as ref

ASSIGNMENT = "regularization"
# training length of the notebook's experiments (the course trains for 30000 steps; on our data the
# train/test accuracies of all three runs are the same at 10000 and 20000 steps, and CI runs every notebook)
ITERATIONS = 10000
LAMBD = 0.7
KEEP_PROB = 0.8

# set-up shared by the visible tests: a 3 -> 2 -> 3 -> 1 net on 5 examples
NET_SETUP = """
np.random.seed(1)
X = np.random.randn(3, 5)
Y = np.array([[1, 1, 0, 1, 0]])
parameters = {"W1": np.random.randn(2, 3), "b1": np.random.randn(2, 1),
              "W2": np.random.randn(3, 2), "b2": np.random.randn(3, 1),
              "W3": np.random.randn(1, 3), "b3": np.random.randn(1, 1)}
"""


def _tests_cost() -> str:
    setup = NET_SETUP + """
A3, _ = forward_propagation(X, parameters)
cost = compute_cost_with_regularization(A3, Y, parameters, lambd=0.1)
"""
    ns = run_example(ASSIGNMENT, setup)
    return fill("""
    # Visible checks: a worked example on a small net (the hidden checks use other nets and lambdas)
    $setup
    assert np.ndim(cost) == 0, f"the cost must be a number, got shape {np.shape(cost)}"
    np.testing.assert_allclose(cost, $cost, rtol=1e-6,
                               err_msg="cross-entropy + lambd / (2 m) * (sum of squared weights)")
    no_penalty = compute_cost_with_regularization(A3, Y, parameters, lambd=0)
    np.testing.assert_allclose(no_penalty, compute_cost(A3, Y), rtol=1e-12,
                               err_msg="with lambd = 0 the cost is the plain cross-entropy")
    print("cost =", cost)
    print("All visible checks passed.")
    """, setup=setup.strip(), cost=literal(ns["cost"], digits=10))


def _tests_backward_reg() -> str:
    setup = NET_SETUP + """
A3, cache = forward_propagation(X, parameters)
grads = backward_propagation_with_regularization(X, Y, cache, lambd=0.7)
"""
    ns = run_example(ASSIGNMENT, setup)
    g = ns["grads"]
    return fill("""
    # Visible checks: every gradient has the shape of what it differentiates, plus worked values
    $setup
    for name, like in [("dW1", "W1"), ("db1", "b1"), ("dW2", "W2"), ("db2", "b2"), ("dW3", "W3"),
                       ("db3", "b3")]:
        assert name in grads, f"missing {name}"
        assert grads[name].shape == parameters[like].shape, f"{name}: shape {grads[name].shape}"
    expected_dW1 = $dW1
    expected_dW2 = $dW2
    expected_dW3 = $dW3
    np.testing.assert_allclose(grads["dW1"], expected_dW1, atol=1e-7, err_msg="dW1 (with + lambd/m * W1)")
    np.testing.assert_allclose(grads["dW2"], expected_dW2, atol=1e-7, err_msg="dW2 (with + lambd/m * W2)")
    np.testing.assert_allclose(grads["dW3"], expected_dW3, atol=1e-7, err_msg="dW3 (with + lambd/m * W3)")
    np.testing.assert_allclose(grads["db3"], np.sum(A3 - Y, axis=1, keepdims=True) / 5, atol=1e-12,
                               err_msg="biases get no L2 term")
    print("dW1 =", grads["dW1"])
    print("All visible checks passed.")
    """, setup=setup.strip(), dW1=literal(g["dW1"], col=15), dW2=literal(g["dW2"], col=15),
                dW3=literal(g["dW3"], col=15))


def _tests_forward_dropout() -> str:
    setup = NET_SETUP + """
A3, cache = forward_propagation_with_dropout(X, parameters, keep_prob=0.7)
"""
    ns = run_example(ASSIGNMENT, setup)
    c = ns["cache"]
    return fill("""
    # Visible checks: output, cache layout and the masks (np.random.seed(1) inside the function)
    $setup
    assert A3.shape == (1, 5), f"A3 shape {A3.shape}"
    assert len(cache) == 14, "cache = (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)"
    Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3_cached, W3, b3 = cache
    assert D1.shape == (2, 5) and D2.shape == (3, 5), "one mask entry per hidden activation"
    assert set(np.unique(D1)) <= {0, 1}, "masks hold 0s and 1s"
    expected_D1 = $D1
    expected_D2 = $D2
    np.testing.assert_array_equal(D1, expected_D1, err_msg="D1: rand, then < keep_prob")
    np.testing.assert_array_equal(D2, expected_D2, err_msg="D2 is drawn after D1")
    np.testing.assert_allclose(A1, np.maximum(0, Z1) * D1 / 0.7, atol=1e-12,
                               err_msg="A1 = relu(Z1) * D1 / keep_prob")
    expected_A3 = $A3
    np.testing.assert_allclose(A3, expected_A3, atol=1e-7)
    print("A3 =", A3)
    print("All visible checks passed.")
    """, setup=setup.strip(), D1=literal(c[1], col=14), D2=literal(c[6], col=14),
                A3=literal(ns["A3"], col=14))


def _tests_backward_dropout() -> str:
    setup = NET_SETUP + """
keep_prob = 0.8
Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
D1 = (np.random.rand(2, 5) < keep_prob).astype(int)
A1 = relu(Z1) * D1 / keep_prob
Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
D2 = (np.random.rand(3, 5) < keep_prob).astype(int)
A2 = relu(Z2) * D2 / keep_prob
Z3 = np.dot(parameters["W3"], A2) + parameters["b3"]
A3 = sigmoid(Z3)
cache = (Z1, D1, A1, parameters["W1"], parameters["b1"], Z2, D2, A2, parameters["W2"],
         parameters["b2"], Z3, A3, parameters["W3"], parameters["b3"])
grads = backward_propagation_with_dropout(X, Y, cache, keep_prob)
"""
    ns = run_example(ASSIGNMENT, setup)
    g = ns["grads"]
    return fill("""
    # Visible checks: a hand-built dropout cache (masks D1, D2), gradient shapes and worked values
    $setup
    for name, like in [("dA1", A1), ("dA2", A2), ("dW1", parameters["W1"]), ("dW2", parameters["W2"])]:
        assert grads[name].shape == like.shape, f"{name}: shape {grads[name].shape}"
    assert np.all(grads["dA1"][D1 == 0] == 0), "dA1 must be 0 where unit was dropped (D1 == 0)"
    expected_dA1 = $dA1
    expected_dA2 = $dA2
    expected_dW1 = $dW1
    np.testing.assert_allclose(grads["dA1"], expected_dA1, atol=1e-7,
                               err_msg="dA1 = W2.T dZ2, then * D1 / keep_prob")
    np.testing.assert_allclose(grads["dA2"], expected_dA2, atol=1e-7,
                               err_msg="dA2 = W3.T dZ3, then * D2 / keep_prob")
    np.testing.assert_allclose(grads["dW1"], expected_dW1, atol=1e-7)
    print("dA1 =", grads["dA1"])
    print("All visible checks passed.")
    """, setup=setup.strip(), dA1=literal(g["dA1"], col=15), dA2=literal(g["dA2"], col=15),
                dW1=literal(g["dW1"], col=15))


def build() -> NotebookBuilder:
    nb = NotebookBuilder(ASSIGNMENT)
    nb.md(r"""
    # Regularization: L2 weight decay and dropout

    A network with many parameters can fit its training set almost perfectly — including the noise in
    it. It then does worse on new data than its training accuracy promises: it *overfits*, a problem of
    high variance. More data is the best cure but is often not available; **regularization** changes the
    training itself so that the network prefers simpler functions.

    In this assignment you add two regularizers to a three-layer network
    (LINEAR → RELU → LINEAR → RELU → LINEAR → SIGMOID, sizes `[n_x, 20, 3, 1]`):

    1. **L2 regularization** — a penalty on large weights, added to the cost and to the gradients;
    2. **inverted dropout** — randomly switching hidden units off during training.

    You will first see the unregularized network overfit, then compare both cures on the same data.

    **How this notebook is graded.** Each exercise is followed by visible checks worth its points; the
    autograder adds hidden checks of the same function. Experiment cells (training and plots) are
    skipped by the grader — run them anyway, they show what the exercises are for.
    """)
    nb.code("import numpy as np\nfrom regularization_utils import *")
    nb.md(r"""
    ## The data

    Each point is a position on a football pitch where the goalkeeper's long kick comes down; the label
    says whether one of our players won the ball there (1) or the other team did (0). The true rule is
    a smooth boundary across the pitch, but the training labels are wrong in a few small patches next
    to it — the kind of noise every real data set has. A model that bends its boundary around those
    patches has learned the noise, and the test set (labelled by the true rule) will show it.
    """)
    nb.code(DATA_CELL, skip=True)                # only the experiments use the data
    nb.code(DATA_PLOT_CELL, skip=True)
    nb.md(r"""
    ## The model

    The training loop below is given. It uses no regularization by default; `lambd > 0` switches on L2
    regularization (your `compute_cost_with_regularization` and `backward_propagation_with_regularization`)
    and `keep_prob < 1` switches on dropout (your `forward_propagation_with_dropout` and
    `backward_propagation_with_dropout`). Python looks these names up when the model runs, so the
    model can be defined before you write them.
    """)
    nb.given(ref.model)
    nb.md(r"""
    ### Baseline: no regularization

    Train without regularization and compare the training and test accuracy.
    """)
    nb.code(experiment_cell("baseline", ""), skip=True)
    nb.md(r"""
    The training accuracy is clearly higher than the test accuracy, and the decision boundary has small
    islands and bays wrapped around individual noisy points. That gap between train and test is the
    signature of overfitting.
    """)

    # ---- L2
    nb.md(r"""
    ## L2 regularization

    L2 regularization adds the squared Frobenius norm of every weight matrix to the cross-entropy cost:

    $$J_{\text{regularized}} = \underbrace{-\frac{1}{m} \sum_{i=1}^{m} \Big( y^{(i)} \log a^{[3](i)} + (1 - y^{(i)}) \log\big(1 - a^{[3](i)}\big) \Big)}_{\text{cross-entropy cost}}
    + \underbrace{\frac{\lambda}{2m} \sum_{l=1}^{3} \sum_{k} \sum_{j} \big(W^{[l]}_{k,j}\big)^2}_{\text{L2 penalty}}$$

    The biases are not penalized (there are few of them and they do not make the function more
    complex). A large $\lambda$ pushes the weights towards zero, which makes each layer closer to linear
    and the decision boundary smoother.

    ## Exercise 1 — `compute_cost_with_regularization`

    Compute the cost above. The cross-entropy part is given: `compute_cost(A3, Y)`. For the penalty,
    `np.sum(np.square(W))` gives $\sum_k \sum_j W_{k,j}^2$ of one matrix.

    **Watch for:** divide by $2m$, where $m$ is the number of examples (columns of `Y`); `lambd` is
    spelled without the "a" because `lambda` is a Python keyword.
    """)
    nb.exercise(ref.compute_cost_with_regularization, points=4, tests=_tests_cost())
    nb.md(r"""
    ## Exercise 2 — `backward_propagation_with_regularization`

    The penalty adds a term to the gradient of every weight matrix and to nothing else:

    $$\frac{\partial}{\partial W^{[l]}} \left( \frac{\lambda}{2m} \big\lVert W^{[l]} \big\rVert_F^2 \right) = \frac{\lambda}{m} W^{[l]},
    \qquad dW^{[l]} = \underbrace{\frac{1}{m}\, dZ^{[l]} A^{[l-1]T}}_{\text{as before}} + \frac{\lambda}{m} W^{[l]} .$$

    Each step of gradient descent therefore multiplies the weights by $(1 - \alpha\lambda/m)$ before the
    usual update — hence the name *weight decay*. Write the full backward pass of the three-layer net
    with this extra term in `dW1`, `dW2` and `dW3` (with $dZ^{[3]} = A^{[3]} - Y$, and the ReLU
    derivative `np.int64(A > 0)`).
    """)
    nb.exercise(ref.backward_propagation_with_regularization, points=5, tests=_tests_backward_reg())
    nb.md(f"""
    ### Experiment: L2 regularization with $\\lambda = {LAMBD}$
    """)
    nb.code(experiment_cell("L2", f"lambd={LAMBD}"), skip=True)
    nb.md(r"""
    The training accuracy drops a little and the test accuracy rises: the boundary is smoother and no
    longer chases single points. $\lambda$ is a hyperparameter tuned on a dev set — too large and the
    network underfits (high bias), with a boundary that is almost a straight line.
    """)

    # ---- dropout
    nb.md(r"""
    ## Dropout

    Dropout switches off each hidden unit independently with probability $1 - $ `keep_prob` on every
    forward pass of training, so each iteration trains a different thinned network. A unit cannot rely
    on any particular input being present, which spreads its weights out — an effect similar to L2.

    For a hidden layer with activations $A^{[l]}$ of shape $(n^{[l]}, m)$, *inverted dropout* does

    $$D^{[l]}_{k,i} = \mathbb{1}\big[u_{k,i} < \mathrm{keep\_prob}\big],\quad u_{k,i} \sim \mathcal{U}[0, 1), \qquad
    A^{[l]} \leftarrow \frac{A^{[l]} \odot D^{[l]}}{\mathrm{keep\_prob}} .$$

    The division keeps the expected value of each activation unchanged, so nothing has to be rescaled at
    test time, where dropout is simply off.

    ## Exercise 3 — `forward_propagation_with_dropout`

    Apply dropout to the two hidden layers (not to the input and not to the output). For each:
    draw `D = np.random.rand(A.shape[0], A.shape[1])`, turn it into 0/1 with
    `D = (D < keep_prob).astype(int)`, multiply `A` by `D` and divide by `keep_prob`.

    **Watch for:** call `np.random.seed(1)` first, then draw `D1` before `D2`; keep the masks in the
    cache in the documented order — the backward pass needs them.
    """)
    nb.exercise(ref.forward_propagation_with_dropout, points=5, tests=_tests_forward_dropout())
    nb.md(r"""
    ## Exercise 4 — `backward_propagation_with_dropout`

    A dropped unit did not influence the cost, so its gradient is zero; a kept unit was scaled by
    $1/\mathrm{keep\_prob}$, so its gradient is scaled the same way:

    $$dA^{[l]} \leftarrow \frac{dA^{[l]} \odot D^{[l]}}{\mathrm{keep\_prob}} \qquad (l = 2, 1),$$

    applied right after computing $dA^{[l]} = W^{[l+1]T} dZ^{[l+1]}$ and before the ReLU derivative.
    The rest is the plain backward pass (no L2 term here).
    """)
    nb.exercise(ref.backward_propagation_with_dropout, points=6, tests=_tests_backward_dropout())
    nb.md(f"""
    ### Experiment: dropout with `keep_prob = {KEEP_PROB}`
    """)
    nb.code(experiment_cell("dropout", f"keep_prob={KEEP_PROB}"), skip=True)
    nb.md(r"""
    Dropout also closes most of the gap between training and test accuracy. Its cost curve is noisier:
    the cost of each iteration is measured on a different thinned network, so $J$ no longer decreases
    monotonically — when you debug, check your gradients with dropout switched off (`keep_prob = 1`).
    """)
    nb.md("## Comparison")
    nb.code(SUMMARY_CELL, skip=True)
    nb.md(r"""
    ## What to remember

    - Regularization trades a little training accuracy for better accuracy on new data; use it when
      the dev/test error is well above the training error (high variance).
    - L2: add $\frac{\lambda}{2m}\sum_l \lVert W^{[l]} \rVert_F^2$ to the cost and $\frac{\lambda}{m} W^{[l]}$ to
      each $dW^{[l]}$; it shrinks the weights at every step.
    - Dropout: only during training, in forward *and* backward pass, with the same masks and the same
      $1/\mathrm{keep\_prob}$ scaling; at test time use the full network unchanged.
    """)
    return nb


DATA_CELL = """
train_X, train_Y, test_X, test_Y = load_positions("regularization_data.h5")
print("train_X:", train_X.shape, " train_Y:", train_Y.shape)
print("test_X: ", test_X.shape, " test_Y: ", test_Y.shape)
"""

DATA_PLOT_CELL = """
plot_dataset(train_X, train_Y, title="Training set");
"""

SUMMARY_CELL = """
# train and test accuracy of the three runs
print(f"{'model':>10} | {'train accuracy':>14} | {'test accuracy':>13}")
for name, (params, costs) in results.items():
    train_acc, _ = predict(train_X, train_Y, params)
    test_acc, _ = predict(test_X, test_Y, params)
    print(f"{name:>10} | {train_acc:>14.1%} | {test_acc:>13.1%}")
"""


def experiment_cell(label: str, kwargs: str) -> str:
    head = "import matplotlib.pyplot as plt\n\nresults = {}\n" if label == "baseline" else ""
    extra = f", {kwargs}" if kwargs else ""
    return head + f"""parameters, costs = model(train_X, train_Y, num_iterations={ITERATIONS}, print_cost=False{extra})
results["{label}"] = (parameters, costs)
print(f"train accuracy {{predict(train_X, train_Y, parameters)[0]:.1%}}, "
      f"test accuracy {{predict(test_X, test_Y, parameters)[0]:.1%}}")
fig, (ax_cost, ax_boundary) = plt.subplots(1, 2, figsize=(10, 4))
plot_costs({{"{label}": costs}}, ax=ax_cost, xlabel="iterations (thousands)", title="cost")
plot_decision_boundary(lambda x: predict_dec(parameters, x.T), train_X, train_Y, ax=ax_boundary,
                       title="{label}: decision boundary")
plt.show()"""
