"""Known mistakes of the initialization assignment."""
from __future__ import annotations

import numpy as np

from reference import initialization as ref
from reference.mistakes._base import Catalogue
from reference.mistakes.inputs import Args

CONCEPT = "weight_initialization"


def _initialize(layers_dims, *, draw="zeros", scale=None, seed=None, seed_each_layer=False,
                transposed=False, last_layer=True, bias="zeros"):
    """Configurable initializer: the reference ones and their mistaken variants.

    draw: "zeros", "randn" or "rand"; scale(n_l, n_prev) -> factor on the weights; seed: seeded once
    (or before every layer with seed_each_layer); transposed: W shaped (n_prev, n_l); last_layer=False
    stops one layer early; bias: "zeros", "1d" (shape (n_l,)) or "random" (randn * scale after W).
    """
    if seed is not None:
        np.random.seed(seed)
    L = len(layers_dims) - 1
    parameters = {}
    for l in range(1, L + 1 if last_layer else L):
        n, n_prev = layers_dims[l], layers_dims[l - 1]
        if seed_each_layer:
            np.random.seed(seed)
        shape = (n_prev, n) if transposed else (n, n_prev)
        factor = scale(n, n_prev) if scale else 1.0
        if draw == "zeros":
            W = np.zeros(shape)
        elif draw == "randn":
            W = np.random.randn(*shape) * factor
        else:
            W = np.random.rand(*shape) * factor
        parameters["W" + str(l)] = W
        if bias == "1d":
            parameters["b" + str(l)] = np.zeros(n)
        elif bias == "random":
            parameters["b" + str(l)] = np.random.randn(n, 1) * factor
        else:
            parameters["b" + str(l)] = np.zeros((n, 1))
    return parameters


def _ten(n, n_prev):
    return 10


def _he(n, n_prev):
    return np.sqrt(2 / n_prev)


cat = Catalogue("initialization", {
    "initialize_parameters_zeros": ref.initialize_parameters_zeros,
    "initialize_parameters_random": ref.initialize_parameters_random,
    "initialize_parameters_he": ref.initialize_parameters_he,
})

# ---- zeros
cat.add("initialize_parameters_zeros", "transposed_shapes", concept=CONCEPT, core=_initialize, transposed=True,
        description="I made W with shape (n_prev, n) instead of (n, n_prev)",
        hint="Your weight matrices are transposed: Wl must be (n_l, n_{l-1}) so that Wl @ A_prev works; "
             "the shapes are wrong even though the values are zero.")
cat.add("initialize_parameters_zeros", "skips_last_layer", concept=CONCEPT, core=_initialize, last_layer=False,
        description="my loop stops one layer early so the output layer has no parameters",
        hint="The output layer is missing: loop l over 1..L inclusive (range(1, len(layers_dims))), "
             "otherwise the last W and b are never created.")
cat.add("initialize_parameters_zeros", "bias_1d", concept=CONCEPT, core=_initialize, bias="1d",
        description="I created each bias with np.zeros(n) so it is a flat vector",
        hint="Your biases are 1-D arrays of shape (n_l,); they must be column vectors (n_l, 1), or "
             "adding them to W @ A broadcasts along the wrong axis.")

# ---- random (times 10)
cat.add("initialize_parameters_random", "scale_1", concept=CONCEPT, core=_initialize, draw="randn", seed=3,
        description="I used np.random.randn without multiplying by 10",
        hint="Your weights are 10 times smaller than asked: this exercise scales randn by 10 on purpose, "
             "to show how very large initial weights slow training down.")
cat.add("initialize_parameters_random", "seed_per_layer", concept=CONCEPT, core=_initialize, draw="randn",
        scale=_ten, seed=3, seed_each_layer=True,
        description="I call np.random.seed(3) inside the loop, before every layer",
        hint="Seed once, before the loop: reseeding for every layer restarts the random stream, so every "
             "layer gets the same first numbers and your weights differ from the expected ones from layer 2 on.")
cat.add("initialize_parameters_random", "uniform_draws", concept=CONCEPT, core=_initialize, draw="rand",
        scale=_ten, seed=3,
        description="I drew the weights with np.random.rand instead of np.random.randn",
        hint="np.random.rand draws uniformly from [0, 1), so all your weights are positive; use "
             "np.random.randn (standard normal, both signs) times 10.")
cat.add("initialize_parameters_random", "random_biases", concept=CONCEPT, core=_initialize, draw="randn",
        scale=_ten, seed=3, bias="random",
        description="I initialized the biases randomly too",
        hint="The biases should start at zero: random biases are not needed to break symmetry (random "
             "weights already do) and drawing them also shifts the random stream for the next layers.")

# ---- He
cat.add("initialize_parameters_he", "scale_sqrt_1_over_n", concept=CONCEPT, core=_initialize, draw="randn",
        seed=3, scale=lambda n, n_prev: np.sqrt(1 / n_prev),
        description="my He scale uses sqrt(1/n_prev) instead of sqrt(2/n_prev)",
        hint="Your weights are too small by a factor sqrt(2): sqrt(1/n_prev) is Xavier's scale; He "
             "initialization for ReLU layers uses sqrt(2 / n_prev).")
cat.add("initialize_parameters_he", "scale_uses_current_layer", concept=CONCEPT, core=_initialize, draw="randn",
        seed=3, scale=lambda n, n_prev: np.sqrt(2 / n),
        description="I scaled by sqrt(2 / layers_dims[l]) instead of the previous layer's size",
        hint="The He factor depends on the fan-in, the size of the previous layer: use "
             "sqrt(2 / layers_dims[l-1]), not the current layer's size.")
cat.add("initialize_parameters_he", "no_square_root", concept=CONCEPT, core=_initialize, draw="randn",
        seed=3, scale=lambda n, n_prev: 2 / n_prev,
        description="I multiplied by 2 / n_prev and forgot the square root",
        hint="2 / n_prev is the target variance; the weights must be multiplied by its square root, "
             "sqrt(2 / n_prev), otherwise their spread is far too small.")
cat.add("initialize_parameters_he", "seed_per_layer", concept=CONCEPT, core=_initialize, draw="randn",
        scale=_he, seed=3, seed_each_layer=True,
        description="I call np.random.seed(3) inside the loop, before every layer",
        hint="Seed once, before the loop: reseeding for every layer restarts the random stream, so "
             "your weights differ from the expected ones from layer 2 on.")

MISTAKES = cat.mistakes


def typical_inputs(function: str, rng: np.random.Generator) -> Args:
    """Reproducible typical arguments ``(args, kwargs)`` of ``function`` (see ``reference.mistakes.inputs``)."""
    dims = [int(n) for n in rng.integers(2, 7, size=4)]
    while len(set(dims[:3])) < 3:       # distinct fan-in/fan-out so every scale mistake shows
        dims = [int(n) for n in rng.integers(2, 7, size=4)]
    return (dims,), {}
    raise KeyError(f"no typical inputs for ('initialization', {function!r})")
