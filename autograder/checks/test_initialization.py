"""Hidden checks: initialization (zeros / random*10 / He, all seeded with 3 where random)."""
from __future__ import annotations

import numpy as np

from . import inputs
from .examples import Example
from .framework import call_with, suite_for_module, test_check  # noqa: F401  (pytest entry)

S = suite_for_module(__name__)
CONCEPTS = ["weight_initialization"]


# ---- visible examples: the notebook's test cells show the same text (`deepgrade build` writes it there)
S.examples.update({
    "initialize_parameters_zeros": Example(call='parameters = initialize_parameters_zeros([3, 2, 1])'),
    "initialize_parameters_random": Example(call='parameters = initialize_parameters_random([3, 2, 1])'),
    "initialize_parameters_he": Example(call='parameters = initialize_parameters_he([2, 4, 1])'),
})


def _dims(rng):
    """Three layers of 2 to 9 units (adjacent sizes differ): see ``inputs.layer_dims``."""
    return call_with(inputs.layer_dims(rng, n_layers=3, sizes=(2, 9)))


#: the same for every student: a one-layer network and layers of a single unit
EDGES = (("one_layer", "a one-layer network (layers_dims = [5, 2])", lambda: call_with([5, 2])),
         ("one_unit_layers", "layers of one unit (layers_dims = [4, 1, 3, 1])", lambda: call_with([4, 1, 3, 1])))

S.standard("initialize_parameters_zeros", concepts=CONCEPTS, random=_dims, edges=EDGES,
           failure="every W and b should be zeros of shape (n_l, n_{l-1}) and (n_l, 1)")
S.standard("initialize_parameters_random", concepts=CONCEPTS, random=_dims, edges=EDGES,
           failure="after np.random.seed(3), draw W1, W2, ... with np.random.randn(n_l, n_{l-1}) * 10 "
                   "and use zero biases")
S.standard("initialize_parameters_he", concepts=CONCEPTS, random=_dims, edges=EDGES,
           failure="after np.random.seed(3), draw W_l with np.random.randn(n_l, n_{l-1}) "
                   "* sqrt(2 / n_{l-1}) and use zero biases")


@S.check("initialize_parameters_he", points=1, concepts=CONCEPTS, randomized=True,
         failure="He weights should have variance close to 2 / n_{l-1}")
def he_variance_on_wide_layers(t):
    """Statistical property on a wide net: Var(W_l) ~= 2 / n_{l-1} (independent of the seed, so gated:
    its points count only with ``initialize_parameters_he.random``, which needs the course's seed)."""
    n0 = int(t.rng.integers(150, 400))
    dims = [n0, 200, 100]
    params = t.call(dims)
    t.require(isinstance(params, dict), "the function should return a dict of parameters")
    for l in (1, 2):
        W = np.asarray(params.get(f"W{l}"))
        t.require(W.shape == (dims[l], dims[l - 1]), f"W{l} has shape {W.shape}; expected {(dims[l], dims[l - 1])}")
        ratio = float(W.var()) / (2.0 / dims[l - 1])
        if not 0.85 < ratio < 1.15:
            t.fail_matching(f"the variance of W{l} is {ratio:.2f} times 2/n_{l - 1}", params, (dims,))
