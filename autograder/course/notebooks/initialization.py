"""Source notebook of the ``initialization`` assignment (zeros vs large random vs He)."""
from __future__ import annotations

import numpy as np

from autograder.course.nbbuild import NotebookBuilder, assignment_source, fill, literal
from reference import initialization as ref

ASSIGNMENT = "initialization"
# training length used in the notebook's experiments (the reference default, 15000, is the course's;
# the circles set is learned well before 10000 steps, and CI runs every notebook)
ITERATIONS = 10000


def _tests_zeros() -> str:
    return """
    # Visible checks: structure, shapes and values on a small net. Hidden checks grade more cases.
    parameters = initialize_parameters_zeros([3, 2, 1])
    assert isinstance(parameters, dict), "return a dict"
    assert sorted(parameters) == ["W1", "W2", "b1", "b2"], f"keys: {sorted(parameters)}"
    assert parameters["W1"].shape == (2, 3) and parameters["b1"].shape == (2, 1), "layer 1 shapes"
    assert parameters["W2"].shape == (1, 2) and parameters["b2"].shape == (1, 1), "layer 2 shapes"
    assert all(not np.any(v) for v in parameters.values()), "every entry must be 0"
    print("W1 =", parameters["W1"])
    print("All visible checks passed.")
    """


def _tests_random() -> str:
    p = ref.initialize_parameters_random([3, 2, 1])
    return fill("""
    # Visible checks: shapes plus a worked example (np.random.seed(3) inside the function).
    parameters = initialize_parameters_random([3, 2, 1])
    assert sorted(parameters) == ["W1", "W2", "b1", "b2"], f"keys: {sorted(parameters)}"
    assert parameters["W1"].shape == (2, 3) and parameters["W2"].shape == (1, 2), "weight shapes"
    assert parameters["b1"].shape == (2, 1) and parameters["b2"].shape == (1, 1), "bias shapes"
    expected_W1 = $W1
    expected_W2 = $W2
    np.testing.assert_allclose(parameters["W1"], expected_W1, atol=1e-6,
                               err_msg="W1: seed 3 once, then randn(n_l, n_(l-1)) * 10 layer by layer")
    np.testing.assert_allclose(parameters["W2"], expected_W2, atol=1e-6, err_msg="W2")
    assert not np.any(parameters["b1"]) and not np.any(parameters["b2"]), "biases start at 0"
    print("W1 =", parameters["W1"])
    print("All visible checks passed.")
    """, W1=literal(p["W1"], col=14), W2=literal(p["W2"], col=14))


def _tests_he() -> str:
    p = ref.initialize_parameters_he([2, 4, 1])
    return fill("""
    # Visible checks: shapes plus a worked example (np.random.seed(3) inside the function).
    parameters = initialize_parameters_he([2, 4, 1])
    assert sorted(parameters) == ["W1", "W2", "b1", "b2"], f"keys: {sorted(parameters)}"
    assert parameters["W1"].shape == (4, 2) and parameters["W2"].shape == (1, 4), "weight shapes"
    assert parameters["b1"].shape == (4, 1) and parameters["b2"].shape == (1, 1), "bias shapes"
    expected_W1 = $W1
    expected_W2 = $W2
    np.testing.assert_allclose(parameters["W1"], expected_W1, atol=1e-6,
                               err_msg="W1: randn(n_l, n_(l-1)) * sqrt(2 / n_(l-1))")
    np.testing.assert_allclose(parameters["W2"], expected_W2, atol=1e-6, err_msg="W2")
    assert not np.any(parameters["b1"]) and not np.any(parameters["b2"]), "biases start at 0"
    print("W1 =", parameters["W1"])
    print("All visible checks passed.")
    """, W1=literal(p["W1"], col=14), W2=literal(p["W2"], col=14))


def build() -> NotebookBuilder:
    nb = NotebookBuilder(ASSIGNMENT)
    nb.md(r"""
    # Initialization: where gradient descent starts

    Before the first step of gradient descent every weight of a network needs a value. That choice looks
    like a detail, yet it decides whether training works at all, how fast the cost falls, and how
    good a solution the optimizer ends up in. In this assignment you write three initializers for a
    three-layer network and watch each of them train on the same data:

    1. **all zeros** — the obvious first idea;
    2. **large random values** — random, but far too big;
    3. **He initialization** — random values whose spread is matched to the size of each layer.

    The network is LINEAR → RELU → LINEAR → RELU → LINEAR → SIGMOID with layer sizes
    `layers_dims = [n_x, 10, 5, 1]`. Layer $l$ has weights $W^{[l]}$ of shape $(n^{[l]}, n^{[l-1]})$
    and biases $b^{[l]}$ of shape $(n^{[l]}, 1)$; the parameters travel in a dictionary with the keys
    `"W1", "b1", ..., "WL", "bL"`.

    **How this notebook is graded.** Each exercise cell is followed by a cell of visible checks worth the
    exercise's points. The autograder runs further hidden checks on the same function, so passing the
    visible checks is necessary but not always enough. Cells marked as experiments (training runs and
    plots) are skipped by the grader, but run them: they are the point of the lesson.
    """)
    nb.code("import numpy as np\nfrom initialization_utils import *")
    nb.md(r"""
    ## The data

    The task is a two-class problem in the plane: points on two concentric circles, where the inner
    ring is one class and the outer ring the other. No straight line separates them, so the network has
    to learn a curved decision boundary, which makes the differences between the initializers easy
    to see.
    """)
    nb.code(DATA_CELL, skip=True)                # only the experiments use the data
    nb.code(DATA_PLOT_CELL, skip=True)

    # ---- exercise 1
    nb.md(r"""
    ## Exercise 1 — `initialize_parameters_zeros`

    Set every weight matrix and every bias vector to zero: for $l = 1, \dots, L$

    $$W^{[l]} = 0 \in \mathbb{R}^{n^{[l]} \times n^{[l-1]}}, \qquad b^{[l]} = 0 \in \mathbb{R}^{n^{[l]} \times 1}.$$

    `layers_dims` lists the sizes $[n^{[0]}, n^{[1]}, \dots, n^{[L]}]$, so the number of layers is
    `len(layers_dims) - 1`. `np.zeros(shape)` takes the shape as a tuple.
    """)
    nb.exercise(ref.initialize_parameters_zeros, points=5, tests=_tests_zeros())

    # ---- exercise 2
    nb.md(r"""
    ## Exercise 2 — `initialize_parameters_random`

    Zeros make every unit of a layer identical (you will see why below). Random weights break that
    *symmetry*. Here we pick a deliberately bad scale — standard normal values multiplied by 10:

    $$W^{[l]} = 10 \cdot \mathcal{N}(0, 1)^{\,n^{[l]} \times n^{[l-1]}}, \qquad b^{[l]} = 0 .$$

    Biases may stay at zero: the random weights already make the units differ.

    **Watch for:** call `np.random.seed(3)` once at the start, then draw the weights layer by layer in
    order with `np.random.randn(n_l, n_prev)`; the expected values below depend on that order.
    """)
    nb.exercise(ref.initialize_parameters_random, points=7, tests=_tests_random())

    # ---- exercise 3
    nb.md(r"""
    ## Exercise 3 — `initialize_parameters_he`

    A unit of layer $l$ sums $n^{[l-1]}$ weighted inputs, so the variance of its pre-activation grows
    with the fan-in $n^{[l-1]}$. He et al. (2015) showed that for ReLU layers the choice

    $$W^{[l]} = \mathcal{N}(0, 1)^{\,n^{[l]} \times n^{[l-1]}} \cdot \sqrt{\frac{2}{n^{[l-1]}}}, \qquad b^{[l]} = 0$$

    keeps the scale of the activations (and of the gradients) roughly the same from layer to layer:
    ReLU zeroes about half of its inputs, and the factor 2 makes up for it. Xavier initialization uses
    $\sqrt{1/n^{[l-1]}}$ instead and suits tanh layers.

    **Watch for:** the scale uses the size of the *previous* layer, `layers_dims[l - 1]`; seed with
    `np.random.seed(3)` once, as before.
    """)
    nb.exercise(ref.initialize_parameters_he, points=8, tests=_tests_he())

    # ---- model + experiments
    nb.md(r"""
    ## Training with each initialization

    The model below is given. It builds the parameters with *your* initializer (chosen by name), then
    runs full-batch gradient descent and records the cost every 1000 iterations. It uses the helpers
    `forward_propagation`, `compute_cost`, `backward_propagation` and `train_three_layer_net` from
    `initialization_utils`.
    """)
    nb.code("# the model looks up your initializer by name: run this cell again after changing one\n"
            + assignment_source(ref, "INITIALIZERS"))
    nb.given(ref.model)
    nb.md(r"""
    ### Zeros

    Run the experiment, then look at the cost curve and the decision boundary.
    """)
    nb.code(experiment_cell("zeros"), skip=True)
    nb.md(r"""
    The cost hardly moves from $\log 2 \approx 0.693$ and the network predicts one class everywhere.
    With all weights at zero every unit of a layer computes the same value, receives the same gradient
    and therefore gets the same update: the units stay copies of each other for ever, so each layer
    behaves like a single unit. Here it is even worse — with ReLU, zero weights give zero activations
    and zero gradients for the hidden layers, so only the output bias learns. **Weights must not start
    equal.** (Biases may: the asymmetry of the weights is enough.)
    """)
    nb.md("### Large random values")
    nb.code(experiment_cell("random"), skip=True)
    nb.md(r"""
    Now the units differ and the network does learn, but look at the first cost: it is infinite (and
    NumPy warns about an overflow in `exp`). With weights of size 10 the output's pre-activation
    $z^{[3]}$ is huge, the sigmoid saturates at exactly 0 or 1 in floating point, and a confidently
    wrong answer costs $-\log 0 = \infty$. Gradient descent first has to undo the oversized weights;
    after the same number of steps the cost is still several times higher than with He initialization
    below, and the boundary is less tidy. In deeper networks too-large weights make activations and
    gradients explode layer after layer, and training may not recover at all.
    """)
    nb.md("### He initialization")
    nb.code(experiment_cell("he"), skip=True)
    nb.md(r"""
    The cost starts at a moderate value (below 1: no output is confidently wrong) and falls steadily
    towards zero; the decision boundary follows the circles and the test accuracy is the best of the
    three. Same network, same data, same learning rate — only the starting point changed.
    """)
    nb.code(SUMMARY_CELL, skip=True)
    nb.md(r"""
    ## What to remember

    - Initializing all weights to the same value (zeros included) fails to break symmetry: every unit of
      a layer learns the same thing.
    - Random initialization breaks symmetry, but its *scale* matters: too large saturates the output and
      slows training; too small makes the signal (and gradient) fade in deep networks.
    - For ReLU layers, scale standard-normal weights by $\sqrt{2 / n^{[l-1]}}$ (He); biases can start at
      zero.
    """)
    return nb


DATA_CELL = """
train_X, train_Y, test_X, test_Y = load_circles("initialization_data.h5")
print("train_X:", train_X.shape, " train_Y:", train_Y.shape)
print("test_X: ", test_X.shape, " test_Y: ", test_Y.shape)
"""

DATA_PLOT_CELL = """
plot_dataset(train_X, train_Y, title="Training set: two concentric circles");
"""

SUMMARY_CELL = """
# train and test accuracy of the three runs
print(f"{'initialization':>15} | {'train accuracy':>14} | {'test accuracy':>13}")
for name, (params, costs) in results.items():
    train_acc, _ = predict(train_X, train_Y, params)
    test_acc, _ = predict(test_X, test_Y, params)
    print(f"{name:>15} | {train_acc:>14.1%} | {test_acc:>13.1%}")
"""


def experiment_cell(init: str) -> str:
    head = "import matplotlib.pyplot as plt\n\nresults = {}\n" if init == "zeros" else ""
    return head + f"""parameters, costs = model(train_X, train_Y, num_iterations={ITERATIONS}, print_cost=False,
                         initialization="{init}")
results["{init}"] = (parameters, costs)
print("cost every 1000 iterations:", np.round(costs, 4))
print(f"train accuracy {{predict(train_X, train_Y, parameters)[0]:.1%}}, "
      f"test accuracy {{predict(test_X, test_Y, parameters)[0]:.1%}}")
fig, (ax_cost, ax_boundary) = plt.subplots(1, 2, figsize=(10, 4))
plot_costs({{"{init}": costs}}, ax=ax_cost, xlabel="iterations (thousands)", title="cost")
plot_decision_boundary(lambda x: predict_dec(parameters, x.T), train_X, train_Y, ax=ax_boundary,
                       title="{init} initialization: decision boundary")
plt.show()"""
