"""Source notebook of the ``gradient_checking`` assignment (1-D check, then N-D check on a planted bug)."""
from __future__ import annotations

from autograder.course.nbbuild import NotebookBuilder, fill, literal, run_example
from reference import gradient_checking as ref

ASSIGNMENT = "gradient_checking"

# the 4 -> 5 -> 3 -> 1 net and 3 examples the N-dimensional check runs on
NET_SETUP = """
np.random.seed(1)
X = np.random.randn(4, 3)
Y = np.array([[1, 1, 0]])
parameters = {"W1": np.random.randn(5, 4), "b1": np.random.randn(5, 1),
              "W2": np.random.randn(3, 5), "b2": np.random.randn(3, 1),
              "W3": np.random.randn(1, 3), "b3": np.random.randn(1, 1)}
"""


def _tests_forward() -> str:
    return """
    # Visible checks
    J = forward_propagation(2, 4)
    assert J == 8, f"J(theta=4) for x=2 should be 8, got {J}"
    np.testing.assert_allclose(forward_propagation(np.array([1.0, -2.0]), 0.5), [0.5, -1.0],
                               err_msg="works element-wise on arrays")
    print("J =", J)
    print("All visible checks passed.")
    """


def _tests_backward() -> str:
    return """
    # Visible checks
    dtheta = backward_propagation(2, 4)
    assert dtheta == 2, f"dJ/dtheta of theta * x at x=2 is x = 2, got {dtheta}"
    assert backward_propagation(-3.5, 10) == -3.5, "the derivative does not depend on theta"
    print("dtheta =", dtheta)
    print("All visible checks passed.")
    """


def _tests_gradient_check() -> str:
    return """
    # Visible checks: a correct derivative passes; a wrong one is caught
    difference = gradient_check(2, 4)
    assert np.ndim(difference) == 0, "return one number"
    assert 0 <= difference < 2e-7, f"correct backward_propagation, yet difference = {difference}"
    # swap in a wrong derivative for a moment (dJ/dtheta = x + 1): the relative difference must show it
    _correct_backward = backward_propagation
    try:
        backward_propagation = lambda x, theta: x + 1
        wrong = gradient_check(2, 4)
    finally:
        backward_propagation = _correct_backward
    np.testing.assert_allclose(wrong, 0.2, rtol=1e-5,
                               err_msg="|3 - 2| / (|3| + |2|): call backward_propagation and use 2-norms")
    print("difference =", difference)
    print("All visible checks passed.")
    """


def _tests_gradient_check_n() -> str:
    setup = NET_SETUP + """
cost, cache = forward_propagation_n(X, Y, parameters)
gradients = backward_propagation_n(X, Y, cache)
difference = gradient_check_n(parameters, gradients, X, Y)
# a wrong gradient: every entry of dW3 off by 0.1
wrong_gradients = dict(gradients, dW3=gradients["dW3"] + 0.1)
wrong = gradient_check_n(parameters, wrong_gradients, X, Y)
"""
    ns = run_example(ASSIGNMENT, setup)
    return fill("""
    # Visible checks: correct gradients agree with the estimate; a wrong dW3 is caught
    $setup
    assert np.ndim(difference) == 0, "return one number"
    assert 0 <= difference < 1e-6, f"correct gradients, yet difference = {difference}"
    np.testing.assert_allclose(wrong, $wrong, rtol=1e-5,
                               err_msg="difference for a dW3 off by 0.1 (perturb every parameter, 2-norms)")
    print("difference =", difference, " with a wrong dW3:", wrong)
    print("All visible checks passed.")
    """, setup=setup.strip(), wrong=literal(ns["wrong"], digits=10))


def build() -> NotebookBuilder:
    nb = NotebookBuilder(ASSIGNMENT)
    nb.md(r"""
    # Gradient checking: is my backward pass right?

    Backpropagation code is easy to get subtly wrong — a missing transpose, a forgotten $\frac{1}{m}$, a
    factor applied twice — and such bugs rarely crash anything. The network still trains, only worse,
    and nothing tells you why. **Gradient checking** compares the gradient your backward pass computes
    with a numerical estimate made from the cost function alone. If the two agree, you can trust the
    backward pass; if not, you know there is a bug and even roughly where.

    The estimate comes straight from the definition of the derivative, using the *two-sided*
    difference:

    $$\frac{\partial J}{\partial \theta} = \lim_{\varepsilon \to 0} \frac{J(\theta + \varepsilon) - J(\theta - \varepsilon)}{2 \varepsilon}
    \qquad\Longrightarrow\qquad
    \text{gradapprox} = \frac{J(\theta + \varepsilon) - J(\theta - \varepsilon)}{2 \varepsilon}\ \text{ for a small } \varepsilon .$$

    To compare it with the gradient `grad` from backpropagation we use the *relative* difference

    $$\text{difference} = \frac{\lVert \text{grad} - \text{gradapprox} \rVert_2}{\lVert \text{grad} \rVert_2 + \lVert \text{gradapprox} \rVert_2},$$

    which does not depend on the scale of the gradients. With $\varepsilon = 10^{-7}$ a value around
    $10^{-7}$ or below means the two agree; values of $10^{-3}$ and above almost certainly mean a bug.

    You first build the check for a one-parameter function, then for all 47 parameters of a small
    network — and use it to find bugs planted in a backward pass.

    **How this notebook is graded.** Each exercise is followed by visible checks worth its points; the
    autograder adds hidden checks. Experiment cells are skipped by the grader.
    """)
    nb.code("import numpy as np\nfrom gradient_checking_utils import *")

    # ---- 1-D
    nb.md(r"""
    ## 1. The one-dimensional case

    Take the simplest possible "network": one parameter $\theta$, one input $x$ and the cost
    $J(\theta) = \theta x$. Its forward pass computes $J$, its backward pass the derivative
    $\frac{\partial J}{\partial \theta} = x$.

    ## Exercise 1 — `forward_propagation`

    Return $J = \theta \cdot x$.
    """)
    nb.exercise(ref.forward_propagation, points=2, tests=_tests_forward())
    nb.md(r"""
    ## Exercise 2 — `backward_propagation`

    Return $d\theta = \frac{\partial J}{\partial \theta} = x$.
    """)
    nb.exercise(ref.backward_propagation, points=2, tests=_tests_backward())
    nb.md(r"""
    ## Exercise 3 — `gradient_check`

    1. $\theta^{+} = \theta + \varepsilon$ and $\theta^{-} = \theta - \varepsilon$;
    2. $J^{+} = J(\theta^{+})$ and $J^{-} = J(\theta^{-})$ with your `forward_propagation`;
    3. $\text{gradapprox} = \frac{J^{+} - J^{-}}{2\varepsilon}$;
    4. `grad` from your `backward_propagation`;
    5. the relative difference above, with `np.linalg.norm` for $\lVert\cdot\rVert_2$.

    When `print_msg` is true, also print whether the backward pass looks right (threshold $2 \cdot 10^{-7}$).

    **Watch for:** call `forward_propagation` and `backward_propagation` by name (the check must test
    whatever they compute, not a formula of its own), and divide by the *sum* of the two norms.
    """)
    nb.exercise(ref.gradient_check, points=6, tests=_tests_gradient_check())
    nb.md(r"""
    ### Experiment: why two-sided?

    The one-sided estimate $\frac{J(\theta + \varepsilon) - J(\theta)}{\varepsilon}$ also tends to the derivative,
    but its error shrinks only like $\varepsilon$, while the two-sided error shrinks like $\varepsilon^2$
    (the first-order error terms cancel). A linear $J$ hides this, so the cell below uses
    $J(\theta) = \theta^3$ at $\theta = 1$, where the exact derivative is 3.
    """)
    nb.code(ONE_VS_TWO_SIDED_CELL, skip=True)
    nb.md(r"""
    Each time $\varepsilon$ shrinks by 10, the one-sided error shrinks by about 10 and the two-sided
    error by about 100 — until $\varepsilon$ is so small that floating-point rounding in
    $J(\theta + \varepsilon) - J(\theta - \varepsilon)$ dominates and the error grows again. That is why
    $\varepsilon$ is small but not tiny, around $10^{-7}$.
    """)

    # ---- N-D
    nb.md(r"""
    ## 2. The N-dimensional case

    Now the model is the three-layer network LINEAR → RELU → LINEAR → RELU → LINEAR → SIGMOID with
    sizes 4 → 5 → 3 → 1, i.e. $W^{[1]} \in \mathbb{R}^{5 \times 4}$, $b^{[1]} \in \mathbb{R}^{5}$, …, 47
    parameters in total. Its forward pass with the cost, `forward_propagation_n(X, Y, parameters)`,
    and its backward pass, `backward_propagation_n(X, Y, cache)`, are given.

    To treat all parameters as one vector $\theta$ the helpers flatten and restore them:

    - `dictionary_to_vector(parameters)` → `(theta, keys)`: $W^{[1]}, b^{[1]}, W^{[2]}, b^{[2]}, W^{[3]}, b^{[3]}$
      stacked into one column of shape $(47, 1)$, and the name of the parameter each entry belongs to;
    - `vector_to_dictionary(theta)`: the inverse;
    - `gradients_to_vector(gradients)`: $dW^{[1]}, db^{[1]}, \dots, db^{[3]}$ stacked the same way.

    ## Exercise 4 — `gradient_check_n`

    For every index $i$ of $\theta$ (one parameter at a time, all others fixed):

    $$\text{gradapprox}_i = \frac{J(\theta_1, \dots, \theta_i + \varepsilon, \dots) - J(\theta_1, \dots, \theta_i - \varepsilon, \dots)}{2\varepsilon},$$

    where $J$ is the cost `forward_propagation_n` returns for `vector_to_dictionary(...)` of the nudged
    vector. Then compare `gradapprox` with `grad = gradients_to_vector(gradients)` using the relative
    difference, and print a verdict when `print_msg` is true.

    **Watch for:** copy $\theta$ (`np.copy`) before nudging one entry — otherwise the $+\varepsilon$ of one
    step leaks into the next; and `forward_propagation_n` returns `(cost, cache)`: only the cost is $J$.
    """)
    nb.exercise(ref.gradient_check_n, points=10, tests=_tests_gradient_check_n())
    nb.md(r"""
    ### Experiment: finding planted bugs

    The backward pass below has two bugs planted in it on purpose (it is given code, not an exercise).
    Run your check on the network defined in the next cell and see whether it notices.
    """)
    nb.code("# the network and data of the experiments\n" + NET_SETUP.strip(), skip=True)
    nb.given(ref.backward_propagation_n_with_bugs)
    nb.code(BUGGY_CHECK_CELL, skip=True)
    nb.md(r"""
    The relative difference is far above $2 \cdot 10^{-7}$: the check has caught the bugs without
    knowing anything about how the gradient was computed. To locate them, look at which entries of
    `grad - gradapprox` are large; the `keys` returned by `dictionary_to_vector` tell you which
    parameter each entry belongs to. Here we know the answer, so the cell below compares the buggy
    gradients with the correct `backward_propagation_n`, group by group.
    """)
    nb.code(LOCATE_CELL, skip=True)
    nb.md(r"""
    Only $dW^{[2]}$ (doubled) and $db^{[1]}$ (four times too large) differ. With the correct backward
    pass the check passes:
    """)
    nb.code(FIXED_CHECK_CELL, skip=True)
    nb.md(r"""
    ## What to remember

    - Gradient checking compares backprop's gradient with the two-sided estimate
      $\frac{J(\theta+\varepsilon) - J(\theta-\varepsilon)}{2\varepsilon}$ through the relative difference;
      $\approx 10^{-7}$ is fine, $\geq 10^{-3}$ means a bug.
    - It needs two forward passes per parameter, so it is far too slow for training: use it to debug,
      then switch it off.
    - The cost you differentiate must be the one you train: include the regularization term if you use
      L2, and switch dropout off (`keep_prob = 1`) while checking — dropout makes $J$ random.
    - If the check fails, find the components with the largest difference; they point to the layer with
      the bug.
    """)
    return nb


ONE_VS_TWO_SIDED_CELL = """
J = lambda theta: theta ** 3
exact = 3.0
print(f"{'epsilon':>8} | {'one-sided error':>15} | {'two-sided error':>15}")
for eps in [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-7, 1e-10]:
    one_sided = (J(1 + eps) - J(1)) / eps
    two_sided = (J(1 + eps) - J(1 - eps)) / (2 * eps)
    print(f"{eps:>8.0e} | {abs(one_sided - exact):>15.3e} | {abs(two_sided - exact):>15.3e}")
"""

BUGGY_CHECK_CELL = """
cost, cache = forward_propagation_n(X, Y, parameters)
buggy_gradients = backward_propagation_n_with_bugs(X, Y, cache)
difference = gradient_check_n(parameters, buggy_gradients, X, Y, epsilon=1e-7, print_msg=True)
"""

LOCATE_CELL = """
correct_gradients = backward_propagation_n(X, Y, cache)
for name in ["dW1", "db1", "dW2", "db2", "dW3", "db3"]:
    gap = np.linalg.norm(buggy_gradients[name] - correct_gradients[name])
    print(f"{name}: |buggy - correct| = {gap:.3e}")
"""

FIXED_CHECK_CELL = """
difference = gradient_check_n(parameters, correct_gradients, X, Y, epsilon=1e-7, print_msg=True)
"""
