"""Source notebook of the ``batchnorm`` assignment (batch norm, softmax, log-scale hyperparameter search).

Exercise cells come from :mod:`reference.batchnorm`. The demo network (``init_deep_net``,
``deep_forward``, ``deep_backward``, ``train_deep_net``, ``predict_deep``) is copied by source into
given cells, so the experiments run on the learner's own batch-norm and softmax functions.
No helper module functions are needed beyond the data loader and plots (``HELPERS`` is empty).
"""
from __future__ import annotations

import numpy as np

from autograder.course.nbbuild import NotebookBuilder, fill, literal
from reference import batchnorm as ref
from reference import datasets

ASSIGNMENT = "batchnorm"

#: nothing from the reference is given as a helper: the demo net lives in given notebook cells
HELPERS: dict = {}

#: the "deeper" network of the experiments and its training length
DEEP_DIMS = [2, 32, 32, 32, 32, 3]
EPOCHS = 60


# ----------------------------------------------------------------------------- visible tests
def _tests_forward() -> str:
    Z = np.array([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 4.0, 4.0]])
    gamma, beta = np.array([[2.0], [1.0]]), np.array([[0.5], [-1.0]])
    Z_tilde, _ = ref.batchnorm_forward(Z, gamma, beta)
    return fill("""
    Z = np.array([[1.0, 2.0, 3.0, 6.0],
                  [0.0, 0.0, 4.0, 4.0]])          # 2 units, 4 examples
    gamma = np.array([[2.0], [1.0]])
    beta = np.array([[0.5], [-1.0]])
    out = batchnorm_forward(Z, gamma, beta)
    assert isinstance(out, tuple) and len(out) == 2, "return (Z_tilde, cache)"
    Z_tilde, cache = out
    assert Z_tilde.shape == (2, 4), f"Z_tilde has the shape of Z, got {Z_tilde.shape}"
    assert len(cache) == 7, "cache = (Z, Z_norm, mu, var, gamma, beta, epsilon)"
    _, Z_norm, mu, var, _, _, eps = cache
    np.testing.assert_allclose(mu, [[3.0], [2.0]], err_msg="mu: mean of each unit over the examples (axis=1)")
    np.testing.assert_allclose(var, [[3.5], [4.0]], err_msg="var: mean squared deviation over the examples (divide by m)")
    np.testing.assert_allclose(Z_norm[1], [-1.0, -1.0, 1.0, 1.0], atol=1e-6, err_msg="second unit: (Z - 2) / sqrt(4)")
    np.testing.assert_allclose(Z_norm.mean(axis=1), [0.0, 0.0], atol=1e-9, err_msg="each row of Z_norm has mean 0")
    np.testing.assert_allclose(Z_norm.var(axis=1), [1.0, 1.0], atol=1e-6, err_msg="... and variance 1")
    # worked example: Z_tilde = gamma * Z_norm + beta
    expected = $expected
    np.testing.assert_allclose(Z_tilde, expected, atol=1e-6, err_msg="Z_tilde")
    print("Z_tilde =", np.round(Z_tilde, 4))
    print("All visible checks passed.")
    """, expected=literal(Z_tilde, col=11))


def _tests_backward() -> str:
    rng = np.random.default_rng(3)
    Z = rng.normal(1.0, 2.0, size=(3, 5))
    gamma, beta = rng.normal(size=(3, 1)), rng.normal(size=(3, 1))
    R = rng.normal(size=(3, 5))
    _, cache = ref.batchnorm_forward(Z, gamma, beta)
    dZ, dgamma, dbeta = ref.batchnorm_backward(R, cache)
    return fill("""
    rng = np.random.default_rng(3)
    Z = rng.normal(1.0, 2.0, size=(3, 5))
    gamma, beta = rng.normal(size=(3, 1)), rng.normal(size=(3, 1))
    dZ_tilde = rng.normal(size=(3, 5))      # the gradient arriving from the layer above
    Z_tilde, cache = batchnorm_forward(Z, gamma, beta)
    out = batchnorm_backward(dZ_tilde, cache)
    assert isinstance(out, tuple) and len(out) == 3, "return (dZ, dgamma, dbeta)"
    dZ, dgamma, dbeta = out
    assert dZ.shape == (3, 5) and dgamma.shape == (3, 1) and dbeta.shape == (3, 1), "shapes"

    # 1) finite differences: for the cost J = sum(Z_tilde * dZ_tilde), dJ/dZ must equal your dZ
    def J(Z_):
        return np.sum(batchnorm_forward(Z_, gamma, beta)[0] * dZ_tilde)
    numeric = np.zeros_like(Z)
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            step = np.zeros_like(Z); step[i, j] = 1e-6
            numeric[i, j] = (J(Z + step) - J(Z - step)) / 2e-6
    np.testing.assert_allclose(dZ, numeric, atol=1e-5,
                               err_msg="dZ disagrees with finite differences: did you include how mu and var depend on Z?")
    # 2) adding a constant to a whole row does not change Z_norm, so each row of dZ sums to 0
    np.testing.assert_allclose(dZ.sum(axis=1), 0.0, atol=1e-9, err_msg="rows of dZ must sum to 0")
    # 3) worked example
    np.testing.assert_allclose(dgamma, $dgamma, rtol=1e-6, err_msg="dgamma = sum over examples of dZ_tilde * Z_norm")
    np.testing.assert_allclose(dbeta, $dbeta, rtol=1e-6, err_msg="dbeta = sum over examples of dZ_tilde")
    np.testing.assert_allclose(dZ[0], $dZ0, rtol=1e-5, atol=1e-9, err_msg="first row of dZ")
    print("dgamma =", dgamma.ravel(), " dbeta =", dbeta.ravel())
    print("All visible checks passed.")
    """, dgamma=literal(dgamma, digits=12, col=35), dbeta=literal(dbeta, digits=12, col=34),
                dZ0=literal(dZ[0], digits=12, col=31))


def _tests_running() -> str:
    return """
running_mean, running_var = np.zeros((2, 1)), np.ones((2, 1))
mu, var = np.array([[2.0], [-1.0]]), np.array([[4.0], [0.5]])
out = update_running_stats(running_mean, running_var, mu, var, momentum=0.9)
assert isinstance(out, tuple) and len(out) == 2, "return (running_mean, running_var)"
running_mean, running_var = out
# worked example: 0.9 * old + 0.1 * new
np.testing.assert_allclose(running_mean, [[0.2], [-0.1]], err_msg="running_mean = 0.9*0 + 0.1*mu")
np.testing.assert_allclose(running_var, [[1.3], [0.95]], err_msg="running_var = 0.9*1 + 0.1*var")
# a second update with the default momentum (0.9)
running_mean, running_var = update_running_stats(running_mean, running_var, mu, var)
np.testing.assert_allclose(running_mean, [[0.38], [-0.19]], err_msg="second update, default momentum 0.9")
# after many batches with the same statistics the averages converge to them
rm, rv = np.zeros((2, 1)), np.ones((2, 1))
for _ in range(300):
    rm, rv = update_running_stats(rm, rv, mu, var)
np.testing.assert_allclose(rm, mu, atol=1e-6, err_msg="the running mean forgets its start")
np.testing.assert_allclose(rv, var, atol=1e-6, err_msg="the running variance forgets its start")
print("All visible checks passed.")
"""


def _tests_inference() -> str:
    return """
Z = np.array([[1.0, 2.0, 3.0],
              [4.0, 4.0, 10.0]])
gamma, beta = np.array([[2.0], [0.5]]), np.array([[0.0], [1.0]])
running_mean, running_var = np.array([[2.0], [4.0]]), np.array([[1.0], [9.0]])
Z_tilde = batchnorm_inference(Z, gamma, beta, running_mean, running_var)
assert Z_tilde.shape == (2, 3), f"shape {Z_tilde.shape}"
# worked example: unit 1: 2 * (z - 2) / 1 + 0; unit 2: 0.5 * (z - 4) / 3 + 1
np.testing.assert_allclose(Z_tilde, [[-2.0, 0.0, 2.0], [1.0, 1.0, 2.0]], atol=1e-6,
                           err_msg="normalize with the RUNNING statistics, then scale and shift")
# one example at a time gives the same answer: nothing depends on the other examples
one_by_one = np.hstack([batchnorm_inference(Z[:, [j]], gamma, beta, running_mean, running_var) for j in range(3)])
np.testing.assert_allclose(one_by_one, Z_tilde, err_msg="inference must not use the batch's own mean/variance")
print("All visible checks passed.")
"""


def _tests_softmax() -> str:
    return """
Z = np.array([[1.0, 1000.0, -3.0],
              [2.0, 1000.0, -3.0],
              [3.0, 1000.0,  0.0]])          # 3 classes, 3 examples (columns)
A = softmax(Z)
assert A.shape == (3, 3), f"shape {A.shape}"
assert np.all(np.isfinite(A)), "overflow: subtract each column's maximum before np.exp"
np.testing.assert_allclose(A.sum(axis=0), [1.0, 1.0, 1.0], err_msg="every COLUMN (example) must sum to 1")
# worked example: softmax([1, 2, 3]) and three equal scores
np.testing.assert_allclose(A[:, 0], [0.09003057, 0.24472847, 0.66524096], rtol=1e-6, err_msg="first column")
np.testing.assert_allclose(A[:, 1], [1 / 3, 1 / 3, 1 / 3], rtol=1e-6, err_msg="equal scores, equal probabilities")
np.testing.assert_allclose(A[:, 2], np.exp([-3.0, -3.0, 0.0]) / np.exp([-3.0, -3.0, 0.0]).sum(), rtol=1e-6)
print("A =", np.round(A, 4))
print("All visible checks passed.")
"""


def _tests_softmax_cost() -> str:
    return """
A = np.array([[0.7, 0.1],
              [0.2, 0.6],
              [0.1, 0.3]])
Y = np.array([[1, 0],
              [0, 0],
              [0, 1]])
cost = softmax_cost(A, Y)
assert np.ndim(cost) == 0, "return a single number"
# worked example: only the probability of the true class counts, averaged over the m = 2 examples
np.testing.assert_allclose(cost, -(np.log(0.7) + np.log(0.3)) / 2, rtol=1e-9, err_msg="mean of -log A[true class]")
# perfect, confident predictions cost 0 — and a probability of exactly 0 for a wrong class is fine
with np.errstate(all="raise"):
    perfect = softmax_cost(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1, 0], [0, 1]]))
assert np.isclose(perfect, 0.0), f"cost of perfect predictions: {perfect} (avoid 0 * log 0 = nan)"
print("cost =", cost)
print("All visible checks passed.")
"""


def _tests_softmax_backward() -> str:
    return """
Z = np.array([[0.5, -1.0], [2.0, 0.0], [-1.0, 3.0]])
Y = np.array([[0, 1], [1, 0], [0, 0]])
A = softmax(Z)
dZ = softmax_backward(A, Y)
assert dZ.shape == (3, 2), f"shape {dZ.shape}"
np.testing.assert_allclose(dZ, A - Y, err_msg="dZ = A - Y")
# check against finite differences of the SUMMED cross-entropy -sum(Y * log softmax(Z))
def total_cost(Z_):
    return -np.sum(Y * np.log(softmax(Z_)))
numeric = np.zeros_like(Z)
for i in range(3):
    for j in range(2):
        step = np.zeros_like(Z); step[i, j] = 1e-6
        numeric[i, j] = (total_cost(Z + step) - total_cost(Z - step)) / 2e-6
np.testing.assert_allclose(dZ, numeric, atol=1e-6, err_msg="dZ must be the gradient of the summed cost")
print("dZ =", np.round(dZ, 4))
print("All visible checks passed.")
"""


def _tests_sample() -> str:
    first = ref.sample_log_uniform(1e-4, 1.0, 3, np.random.default_rng(0))
    return fill("""
    samples = sample_log_uniform(1e-4, 1.0, 4000, np.random.default_rng(0))
    assert np.shape(samples) == (4000,), f"shape {np.shape(samples)}"
    assert samples.min() >= 1e-4 and samples.max() < 1.0, "values must lie in [low, high)"
    # on a log scale the four decades 1e-4..1e-3, ..., 0.1..1 each get about a quarter of the samples
    shares = np.histogram(np.log10(samples), bins=[-4, -3, -2, -1, 0])[0] / samples.size
    assert np.all(np.abs(shares - 0.25) < 0.03), f"share per decade {shares}: sample the EXPONENT uniformly"
    # worked example: one rng.uniform call for the exponents, then 10 ** exponent
    np.testing.assert_allclose(sample_log_uniform(1e-4, 1.0, 3, np.random.default_rng(0)), $first, rtol=1e-6)
    # an int seed works too
    np.testing.assert_allclose(sample_log_uniform(1e-3, 1e-1, 5, 42),
                               sample_log_uniform(1e-3, 1e-1, 5, np.random.default_rng(42)))
    print("share of samples per decade:", shares)
    print("All visible checks passed.")
    """, first=literal(first, digits=12))


# ----------------------------------------------------------------------------- given / experiment cells
DATA_CELL = """
train_X, train_Y, test_X, test_Y, classes = load_spirals("batchnorm_data.h5")
C = classes.size
train_Y_onehot = one_hot(train_Y, C)            # (C, m): column j is example j's one-hot label
print("train_X:", train_X.shape, " train_Y:", train_Y.shape, " one-hot:", train_Y_onehot.shape)
print("test_X: ", test_X.shape, " test_Y: ", test_Y.shape, " classes:", classes)
"""

PLOT_DATA_CELL = """
plot_dataset(train_X, train_Y, title="Training set: three spiral arms")
"""

EXPERIMENT_SETUP = f"""
import matplotlib.pyplot as plt

deep_dims = {DEEP_DIMS!r}     # four hidden ReLU layers of 32 units, softmax over 3 classes
EPOCHS = {EPOCHS}

def accuracy(X, Y, parameters, running_stats=None):
    return float(np.mean(predict_deep(X, parameters, running_stats) == Y.ravel()))
"""

COMPARE_CELL = """
plain = train_deep_net(train_X, train_Y_onehot, deep_dims, use_batchnorm=False, learning_rate=0.1,
                       num_epochs=EPOCHS)
with_bn = train_deep_net(train_X, train_Y_onehot, deep_dims, use_batchnorm=True, learning_rate=0.1,
                         num_epochs=EPOCHS)
plot_costs({"without batch norm": plain["costs"], "with batch norm": with_bn["costs"]},
           xlabel="epoch", title="He initialization, learning rate 0.1")
for name, run in (("without batch norm", plain), ("with batch norm", with_bn)):
    print(f"{name:>20}: cost after 10 epochs {run['costs'][9]:.3f}, after {EPOCHS}: {run['costs'][-1]:.3f}, "
          f"test accuracy {accuracy(test_X, test_Y, run['parameters'], run['running_stats']):.1%}")
"""

BAD_SCALE_CELL = """
plain_small = train_deep_net(train_X, train_Y_onehot, deep_dims, use_batchnorm=False, learning_rate=0.1,
                             num_epochs=EPOCHS, weight_scale=0.05)
bn_small = train_deep_net(train_X, train_Y_onehot, deep_dims, use_batchnorm=True, learning_rate=0.1,
                          num_epochs=EPOCHS, weight_scale=0.05)
plot_costs({"without batch norm": plain_small["costs"], "with batch norm": bn_small["costs"]},
           xlabel="epoch", title="weights drawn with std 0.05")
print(f"log(3) = {np.log(3):.4f}; final costs: without {plain_small['costs'][-1]:.4f}, "
      f"with {bn_small['costs'][-1]:.4f}")
"""

INFERENCE_CELL = """
parameters, running_stats = with_bn["parameters"], with_bn["running_stats"]
m_test = test_X.shape[1]

# (a) the right way: running statistics collected during training
acc_running = accuracy(test_X, test_Y, parameters, running_stats)

# (b) statistics of the whole test set, used as if it were one big mini-batch
AL, _, _ = deep_forward(test_X, parameters)
acc_whole = float(np.mean(np.argmax(AL, axis=0) == test_Y.ravel()))

# (c) statistics of small "batches" of test examples, as if examples arrived a few at a time
def batch_stat_accuracy(k):
    predictions = [np.argmax(deep_forward(test_X[:, j:j + k], parameters)[0], axis=0) for j in range(0, m_test, k)]
    return float(np.mean(np.concatenate(predictions) == test_Y.ravel()))

print(f"running statistics                : {acc_running:.1%}")
print(f"batch statistics, whole test set  : {acc_whole:.1%}")
for k in (16, 4, 1):
    print(f"batch statistics, {k:>2} at a time    : {batch_stat_accuracy(k):.1%}")
one_at_a_time = [int(np.argmax(deep_forward(test_X[:, [j]], parameters)[0])) for j in range(m_test)]
print("classes predicted one example at a time:", np.bincount(one_at_a_time, minlength=C))
"""

REGIONS_CELL = """
plot_decision_boundary(lambda x: predict_deep(x.T, parameters, running_stats), train_X, train_Y,
                       title="softmax regions of the batch-norm net")
plot_decision_boundary(lambda x: predict_deep(x.T, plain["parameters"]), train_X, train_Y,
                       title="softmax regions of the plain net")
AL, _, _ = deep_forward(test_X[:, :5], parameters, running_stats=running_stats)
print("class probabilities of the first five test examples (one column each):")
print(np.round(AL, 3))
print("true classes:", test_Y[0, :5])
"""

SEARCH_CELL = """
rng = np.random.default_rng(2)
learning_rates = sample_log_uniform(1e-3, 10, 20, rng)
search = []
with np.errstate(all="ignore"):          # the largest rates blow up: that is part of the picture
    for lr in learning_rates:
        run = train_deep_net(train_X, train_Y_onehot, [2, 32, 32, 3], use_batchnorm=False,
                             learning_rate=lr, num_epochs=30)
        search.append((lr, run["costs"][-1], accuracy(test_X, test_Y, run["parameters"])))
search.sort()
best_lr, best_cost, best_acc = min(search, key=lambda r: r[1] if np.isfinite(r[1]) else np.inf)

fig, ax = plt.subplots(figsize=(6, 4))
costs_found = np.array([min(r[1], 2.0) if np.isfinite(r[1]) else 2.0 for r in search])  # clip for display
ax.semilogx([r[0] for r in search], costs_found, "o-")
ax.axvline(best_lr, color="k", ls=":")
ax.set_xlabel("learning rate (log scale)"); ax.set_ylabel("cost after 30 epochs (clipped at 2)")
ax.set_title("random search over the learning rate"); plt.show()
print(f"best learning rate {best_lr:.4f}: cost {best_cost:.3f}, test accuracy {best_acc:.1%}")
"""

SCALE_CELL = """
rng = np.random.default_rng(3)
on_log_scale = sample_log_uniform(1e-4, 1, 1000, rng)
on_linear_scale = rng.uniform(1e-4, 1, 1000)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
plot_log_samples(on_log_scale, ax=axes[0], title="uniform on a log scale")
plot_log_samples(on_linear_scale, ax=axes[1], title="uniform on a linear scale")
plt.show()
for name, s in (("log scale", on_log_scale), ("linear scale", on_linear_scale)):
    print(f"{name:>12}: share of samples below 0.1 = {np.mean(s < 0.1):.1%}, below 0.001 = {np.mean(s < 1e-3):.1%}")
"""


def build_data(path) -> None:
    """Write the spirals set (see reference.datasets) to ``path``."""
    datasets.build_spirals(path)


def build() -> NotebookBuilder:
    nb = NotebookBuilder(ASSIGNMENT)
    nb.md(r"""
    # Batch normalization, softmax and hyperparameter search

    Three tools from the last part of the course, each small in code and large in effect:

    1. **Batch normalization** — normalize the pre-activations of every hidden layer over the mini-batch,
       then let the network rescale them. Deeper networks train faster and care less about how their
       weights were initialized.
    2. **Softmax regression** — the output layer for more than two classes, with its cross-entropy cost
       and its (pleasantly simple) gradient.
    3. **Sampling hyperparameters on a log scale** — how to spend a limited budget of training runs
       when searching for a learning rate.

    You implement the pieces, and a given deep network uses *your* functions to train on a three-class
    problem, with and without batch norm.

    **Notation.** One example per column. For a layer with $n$ units and a mini-batch of $m$ examples,
    the pre-activations $Z = W A^{[l-1]}$ have shape $(n, m)$; entry $z^{(i)}$ is the column of example
    $i$. Batch-norm parameters $\gamma$ and $\beta$ have shape $(n, 1)$ — one scale and one shift per
    unit. For $C$ classes, scores $Z^{[L]}$, probabilities $A$ and one-hot labels $Y$ have shape $(C, m)$.

    **How this notebook is graded.** Each exercise cell is followed by a cell of visible checks worth the
    exercise's points. The autograder runs further hidden checks on the same function, so passing the
    visible checks is necessary but not always enough. Cells marked as experiments (training runs and
    plots) are skipped by the grader, but run them: they are the point of the lesson.
    """)
    nb.code("import numpy as np\nfrom batchnorm_utils import *")

    # ---- batch norm forward
    nb.md(r"""
    ## 1. Batch normalization at training time

    Normalizing the *inputs* to zero mean and unit variance makes the cost surface rounder and gradient
    descent faster. Batch norm applies the same idea inside the network: every hidden layer normalizes
    its pre-activations $Z$, unit by unit, using the statistics of the current mini-batch:

    $$\mu = \frac{1}{m} \sum_{i=1}^{m} z^{(i)}, \qquad
      \sigma^2 = \frac{1}{m} \sum_{i=1}^{m} \big(z^{(i)} - \mu\big)^2, \qquad
      z^{(i)}_{\text{norm}} = \frac{z^{(i)} - \mu}{\sqrt{\sigma^2 + \varepsilon}} .$$

    Forcing every unit to mean 0 and variance 1 would be too rigid (a sigmoid unit, for instance, would
    live only in its near-linear middle), so two learned parameters per unit set the scale and offset:

    $$\tilde z^{(i)} = \gamma \, z^{(i)}_{\text{norm}} + \beta .$$

    $\tilde Z$ then goes through the activation function in place of $Z$. Two consequences:
    the bias $b^{[l]}$ becomes redundant (subtracting $\mu$ removes any constant), so batch-norm
    layers drop it and $\beta$ takes its role; and with $\gamma = \sqrt{\sigma^2 + \varepsilon}$,
    $\beta = \mu$ the layer could even undo the normalization — the network decides.

    Why it helps: each layer sees inputs whose distribution stays put while the layers before it learn
    (less "covariate shift" from layer to layer), the scale of the weights no longer controls the scale
    of the activations, and the noise of mini-batch statistics acts as a mild regularizer.

    ### Exercise 1 — `batchnorm_forward`

    Take the statistics over the examples, `axis=1`, with `keepdims=True` so that `mu` and `var` have
    shape $(n, 1)$ and broadcast against $Z$. Use the variance that divides by $m$ (`np.var`'s default).
    Return the cache `(Z, Z_norm, mu, var, gamma, beta, epsilon)`; the backward pass needs it.
    """)
    nb.exercise(ref.batchnorm_forward, points=15, tests=_tests_forward())

    # ---- backward
    nb.md(r"""
    ## 2. The backward pass

    Given $d\tilde Z = \partial J / \partial \tilde Z$ from the layer above, the parameter gradients sum
    over the examples, as a bias gradient does:

    $$d\beta = \sum_{i=1}^{m} d\tilde z^{(i)}, \qquad d\gamma = \sum_{i=1}^{m} d\tilde z^{(i)} \odot z^{(i)}_{\text{norm}} .$$

    The gradient with respect to $Z$ is the subtle part: $\mu$ and $\sigma^2$ are computed *from* $Z$,
    so moving one example changes the normalization of all the others. With $dZ_{\text{norm}} = \gamma
    \odot d\tilde Z$ and $\sigma = \sqrt{\sigma^2 + \varepsilon}$, following the chain rule through
    $\mu$ and $\sigma^2$ and simplifying gives, for every unit,

    $$dz^{(i)} = \frac{1}{m \sigma} \Big( m \, dz^{(i)}_{\text{norm}} - \sum_{k=1}^{m} dz^{(k)}_{\text{norm}}
        - z^{(i)}_{\text{norm}} \sum_{k=1}^{m} dz^{(k)}_{\text{norm}} \, z^{(k)}_{\text{norm}} \Big).$$

    Read it as: take the incoming gradient, remove its mean over the batch (the part that only shifts
    $\mu$) and its component along $Z_{\text{norm}}$ (the part that only changes $\sigma$), then divide
    by $\sigma$. Treating $\mu$ and $\sigma$ as constants — the tempting shortcut $dZ = dZ_{\text{norm}}
    / \sigma$ — gives a wrong gradient; the visible checks compare yours with finite differences.

    ### Exercise 2 — `batchnorm_backward`

    Unpack the cache, compute the sums with `axis=1, keepdims=True`, and return `(dZ, dgamma, dbeta)`
    with shapes $(n, m)$, $(n, 1)$, $(n, 1)$.
    """)
    nb.exercise(ref.batchnorm_backward, points=20, tests=_tests_backward())

    # ---- running stats + inference
    nb.md(r"""
    ## 3. Batch norm at test time

    At test time there may be a single example to classify — its "batch mean" is the example itself and
    its variance is 0 — and even with more examples, a prediction should not depend on which other
    examples happen to be in the same batch. So during training we keep exponentially weighted averages
    of the batch statistics, one pair per batch-norm layer, updated after every mini-batch:

    $$\mu_{\text{running}} := \text{momentum} \cdot \mu_{\text{running}} + (1 - \text{momentum}) \, \mu, \qquad
      \sigma^2_{\text{running}} := \text{momentum} \cdot \sigma^2_{\text{running}} + (1 - \text{momentum}) \, \sigma^2 .$$

    (This is the same running average as in momentum and Adam; here the weight of the past is called
    `momentum`, 0.9 by default. No bias correction is needed: thousands of batches wash out the start.)

    ### Exercise 3 — `update_running_stats`
    """)
    nb.exercise(ref.update_running_stats, points=10, tests=_tests_running())
    nb.md(r"""
    At inference, normalize with the running statistics and apply the learned $\gamma$, $\beta$:

    $$\tilde z = \gamma \, \frac{z - \mu_{\text{running}}}{\sqrt{\sigma^2_{\text{running}} + \varepsilon}} + \beta .$$

    Every example is now transformed on its own, by fixed numbers.

    ### Exercise 4 — `batchnorm_inference`
    """)
    nb.exercise(ref.batchnorm_inference, points=10, tests=_tests_inference())

    # ---- softmax
    nb.md(r"""
    ## 4. Softmax regression

    For $C > 2$ classes the output layer has $C$ units, and softmax turns their scores $z$ (one column)
    into a probability distribution over the classes:

    $$a_c = \frac{e^{z_c}}{\sum_{j=1}^{C} e^{z_j}}, \qquad c = 1, \dots, C .$$

    Every $a_c$ is positive and the column sums to 1; the largest score gets the largest probability,
    but unlike a hard maximum the others keep a share ("soft" max). With $C = 2$ softmax reduces to the
    logistic sigmoid.

    **Numerical stability.** $e^{1000}$ overflows. Since softmax does not change when the same constant is
    subtracted from every score of a column ($e^{z_c - k} / \sum_j e^{z_j - k}$ cancels $e^{-k}$),
    subtract each column's maximum first: the largest exponent becomes $e^0 = 1$ and nothing overflows.

    ### Exercise 5 — `softmax`

    Work column by column: `np.max(Z, axis=0, keepdims=True)` and `np.sum(..., axis=0, keepdims=True)`.
    """)
    nb.exercise(ref.softmax, points=15, tests=_tests_softmax())
    nb.md(r"""
    ## 5. The cost and its gradient

    With one-hot labels $Y$, the cross-entropy of one example keeps only the log-probability of its
    true class; the cost averages over the $m$ examples:

    $$J = -\frac{1}{m} \sum_{i=1}^{m} \sum_{c=1}^{C} y^{(i)}_c \log a^{(i)}_c .$$

    A confident correct prediction ($a = 1$ on the true class) costs 0; a confident wrong one costs a lot.
    Terms with $y_c = 0$ contribute nothing, even where $a_c$ underflowed to exactly 0 — make sure your
    code does not turn $0 \cdot \log 0$ into `nan`.

    ### Exercise 6 — `softmax_cost`
    """)
    nb.exercise(ref.softmax_cost, points=10, tests=_tests_softmax_cost())
    nb.md(r"""
    Differentiating the *summed* cross-entropy through the softmax gives a remarkably simple result:

    $$dZ = \frac{\partial}{\partial Z} \Big( -\sum_{i,c} y^{(i)}_c \log a^{(i)}_c \Big) = A - Y .$$

    (The $1/m$ of the averaged cost is applied where the gradients of the weights are formed, just as in
    the earlier assignments.) It has the same form as for the sigmoid with binary cross-entropy: the
    prediction minus the target, class by class.

    ### Exercise 7 — `softmax_backward`
    """)
    nb.exercise(ref.softmax_backward, points=5, tests=_tests_softmax_backward())

    # ---- log-scale sampling
    nb.md(r"""
    ## 6. Searching for hyperparameters on a log scale

    Suppose the learning rate should be somewhere between $10^{-4}$ and $1$. Sampling uniformly on that
    interval puts about 90% of the trials between 0.1 and 1 and only about 0.1% below $10^{-3}$ —
    yet the interval $[10^{-4}, 10^{-3}]$ matters as much as $[0.1, 1]$: what counts for a learning rate is
    its *order of magnitude*. So sample the exponent uniformly instead:

    $$r \sim \mathcal{U}\big(\log_{10} \text{low}, \log_{10} \text{high}\big), \qquad \alpha = 10^{\,r} .$$

    Each decade then gets the same share of the trials. The same holds for other hyperparameters that
    act multiplicatively, such as $\beta$ of an exponentially weighted average near 1: sample
    $1 - \beta$ on a log scale between $10^{-3}$ and $10^{-1}$, because $\beta = 0.999$ vs $0.9995$
    changes the averaging window from 1000 to 2000 values while $0.9$ vs $0.9005$ changes almost
    nothing.

    ### Exercise 8 — `sample_log_uniform`

    Draw all the exponents with a single call `rng.uniform(np.log10(low), np.log10(high), size)`, then
    return `10 ** r`. If `rng` is an int, turn it into a generator with `np.random.default_rng(rng)`.
    """)
    nb.exercise(ref.sample_log_uniform, points=15, tests=_tests_sample())

    # ---- experiments
    nb.md(r"""
    ## 7. Experiments

    ### The data and the network

    Three interleaved spiral arms, one per class. No linear model can separate them, and a
    network needs several layers to bend its decision regions around the arms.
    """)
    nb.code(DATA_CELL, skip=True)                # only the experiments use the data
    nb.code(PLOT_DATA_CELL, skip=True)
    nb.md(r"""
    The network below is given: ReLU hidden layers, each with batch norm (your `batchnorm_forward`,
    `batchnorm_backward`, `update_running_stats`, `batchnorm_inference`) or with an ordinary bias, and a
    softmax output layer (your `softmax`, `softmax_cost`, `softmax_backward`). `train_deep_net` runs
    mini-batch gradient descent and updates the running statistics after every mini-batch;
    `predict_deep` classifies with the running statistics. Read `deep_forward` and `deep_backward` to see
    where each of your functions is used.
    """)
    nb.given(ref.init_deep_net, skip=True)
    nb.given(ref._num_layers, skip=True)
    nb.given(ref.deep_forward, skip=True)
    nb.given(ref.deep_backward, skip=True)
    nb.given(ref.train_deep_net, skip=True)
    nb.given(ref.predict_deep, skip=True)
    nb.code(EXPERIMENT_SETUP, skip=True)

    nb.md(r"""
    ### With and without batch norm

    The same deep network (four hidden layers of 32 units), the same He initialization, the same
    learning rate and mini-batches — once plain, once with batch norm on every hidden layer.
    """)
    nb.code(COMPARE_CELL, skip=True)
    nb.md(r"""
    **What happened.** The batch-norm network's cost falls much faster in the first epochs: every hidden
    layer receives inputs of a stable scale, so one learning rate suits all layers and the updates of the
    early layers do not keep shifting the ground under the later ones. Later its curve is a bit noisier —
    each mini-batch normalizes with slightly different statistics — and both networks end up classifying
    the test set well. Batch norm buys speed (here) and robustness (next).

    Now make the initialization bad: weights with a standard deviation of 0.05, far below He's
    $\sqrt{2/32} = 0.25$.
    """)
    nb.code(BAD_SCALE_CELL, skip=True)
    nb.md(r"""
    Without batch norm the signal shrinks by a factor of about ten at each of the four small layers, the
    output is nearly the same for every input, and the cost sits at $\log 3$ — the cost of guessing
    uniformly among three classes. The gradients reaching the first layers are just as tiny, so nothing
    moves. With batch norm each layer rescales its pre-activations to unit variance whatever the size of
    $W$, and the same network trains as if it had been initialized well.
    """)

    nb.md(r"""
    ### Running statistics versus batch statistics at test time

    The trained batch-norm network classifies the test set below in several ways: with the running
    statistics (as `predict_deep` does), and with the statistics of the test examples themselves,
    taken all together or a few at a time.
    """)
    nb.code(INFERENCE_CELL, skip=True)
    nb.md(r"""
    **What happened.** Using the whole test set as one big batch happens to work almost as well — 150
    examples give statistics close to the training ones. But the prediction for an example then depends
    on the *other* examples in its batch, and the smaller the batch, the worse it gets. With one example
    at a time the batch variance is 0, every $z_{\text{norm}}$ is 0, every hidden layer outputs
    $\text{ReLU}(\beta)$ whatever the input, and the network predicts the same class for everything.
    The running statistics make inference a fixed function of each single input.
    """)

    nb.md(r"""
    ### Softmax decision regions

    Each point of the plane is colored by the class with the highest softmax probability.
    """)
    nb.code(REGIONS_CELL, skip=True)
    nb.md(r"""
    Softmax splits the plane into $C$ regions, and with hidden layers their borders can curve around the
    spiral arms. The probabilities printed above show that softmax gives a full distribution for every
    example, not only a winner: the columns sum to 1, and an uncertain example spreads its probability
    over several classes.
    """)

    nb.md(r"""
    ### A random search for the learning rate

    Twenty training runs of a smaller network (two hidden layers, no batch norm, 30 epochs each), with
    learning rates drawn by your `sample_log_uniform` between $10^{-3}$ and $10$.
    """)
    nb.code(SEARCH_CELL, skip=True)
    nb.md(r"""
    **What happened.** The curve has the usual shape: too small a rate and the cost has hardly moved after
    30 epochs, too large and training becomes unstable or diverges, with a good range in between
    (here somewhere between about 0.1 and 1). Because the rates were spread evenly over the *decades*,
    every order of magnitude was explored with a handful of runs. In practice you would then zoom in:
    sample again, more densely, around the best region (coarse to fine).

    The two histograms below contrast log-scale and linear-scale sampling between $10^{-4}$ and 1, on a
    logarithmic axis.
    """)
    nb.code(SCALE_CELL, skip=True)
    nb.md(r"""
    Sampled uniformly on a linear scale, about 90% of the learning rates land above 0.1 and almost none
    below 0.001: three of the four decades are practically never tried. On the log scale each decade
    receives its quarter.

    **Why random points and not a grid?** With two hyperparameters and 25 runs, a $5 \times 5$ grid tries
    only 5 distinct values of each. If one of them matters much more than the other (the learning rate
    usually matters more than, say, $\varepsilon$ of Adam), the grid wasted 20 of its 25 runs on
    repeats of the same 5 learning rates. 25 random points try 25 different values of *every*
    hyperparameter. You rarely know in advance which hyperparameters matter, so random search (on the
    right scale) is the safer use of a limited budget.
    """)
    nb.md(r"""
    ## What to remember

    - Batch norm normalizes each hidden unit's pre-activations over the mini-batch, then scales and
      shifts them with learned $\gamma$, $\beta$; the layer's bias becomes unnecessary.
    - Its backward pass must account for $\mu$ and $\sigma^2$ depending on every example.
    - At test time, normalize with running (exponentially weighted) averages of the training statistics,
      never with the statistics of the test batch.
    - Softmax generalizes the sigmoid to $C$ classes; subtract the column maximum before exponentiating;
      with cross-entropy its gradient is simply $A - Y$.
    - Search hyperparameters at random rather than on a grid, and sample scale-like hyperparameters
      (learning rates, $1 - \beta$) uniformly in their exponent.
    """)
    return nb
