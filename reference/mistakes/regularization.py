"""Known mistakes of the regularization assignment (L2 and inverted dropout)."""
from __future__ import annotations

import numpy as np

from reference import nets
from reference import regularization as ref
from reference.mistakes._base import Catalogue
from reference.mistakes.inputs import Args, random_net_data, random_params
from reference.nets import compute_cost, relu, sigmoid

L2 = "l2_regularization"
DROPOUT = "dropout"


def _l2_cost(A3, Y, parameters, lambd, *, coefficient, penalty=np.square, include_biases=False):
    """Cross-entropy + coefficient(lambd, m) * sum(penalty(W)) (optionally over the biases too)."""
    m = Y.shape[1]
    names = ["W1", "W2", "W3"] + (["b1", "b2", "b3"] if include_biases else [])
    total = sum(np.sum(penalty(parameters[name])) for name in names)
    return compute_cost(A3, Y) + coefficient(lambd, m) * total


def _l2_backward(X, Y, cache, lambd, *, coefficient, on_bias=False):
    """Backprop of the 3-layer net with coefficient(lambd, m) * W added to dW (and to db if on_bias)."""
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    c = coefficient(lambd, m)
    grads = {"dZ3": A3 - Y}
    layers = ((3, A2, W3, b3), (2, A1, W2, b2), (1, X, W1, b1))
    for l, A_prev, W, b in layers:
        dZ = grads[f"dZ{l}"]
        grads[f"dW{l}"] = np.dot(dZ, A_prev.T) / m + c * W
        grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m + (c * b if on_bias else 0)
        if l > 1:
            grads[f"dA{l - 1}"] = np.dot(W.T, dZ)
            grads[f"dZ{l - 1}"] = grads[f"dA{l - 1}"] * np.int64(A_prev > 0)
    order = ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"]
    return {k: grads[k] for k in order}


def _dropout_forward(X, parameters, keep_prob, *, draw="rand", keep="lt", scaling="divide",
                     reseed=False, layers=(1, 2)):
    """Dropout forward pass with configurable mask draw/comparison/scaling and masked layers."""
    np.random.seed(1)
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))

    def drop(A, layer):
        if layer not in layers:
            return np.ones(A.shape, dtype=int), A
        if reseed:
            np.random.seed(1)
        D = np.random.rand(*A.shape) if draw == "rand" else np.random.randn(*A.shape)
        D = ((D < keep_prob) if keep == "lt" else (D > keep_prob)).astype(int)
        A = A * D
        if scaling == "divide":
            A = A / keep_prob
        elif scaling == "multiply":
            A = A * keep_prob
        return D, A

    Z1 = np.dot(W1, X) + b1
    D1, A1 = drop(relu(Z1), 1)
    Z2 = np.dot(W2, A1) + b2
    D2, A2 = drop(relu(Z2), 2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def _dropout_backward(X, Y, cache, keep_prob, *, mask=True, scaling="divide", layers=(1, 2)):
    """Dropout backward pass with configurable masking/scaling of dA2 and dA1."""
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache

    def undrop(dA, D, layer):
        if layer not in layers:
            return dA
        if mask:
            dA = dA * D
        if scaling == "divide":
            dA = dA / keep_prob
        elif scaling == "multiply":
            dA = dA * keep_prob
        return dA

    dZ3 = A3 - Y
    dW3 = np.dot(dZ3, A2.T) / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = undrop(np.dot(W3.T, dZ3), D2, 2)
    dZ2 = dA2 * np.int64(A2 > 0)
    dW2 = np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = undrop(np.dot(W2.T, dZ2), D1, 1)
    dZ1 = dA1 * np.int64(A1 > 0)
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


cat = Catalogue("regularization", {
    "compute_cost_with_regularization": ref.compute_cost_with_regularization,
    "backward_propagation_with_regularization": ref.backward_propagation_with_regularization,
    "forward_propagation_with_dropout": ref.forward_propagation_with_dropout,
    "backward_propagation_with_dropout": ref.backward_propagation_with_dropout,
})

# ---- L2 cost
f = "compute_cost_with_regularization"
cat.add(f, "no_1_over_m", concept=L2, core=_l2_cost, coefficient=lambda lambd, m: lambd / 2,
        description="my L2 term is lambd/2 * sum(W**2), without dividing by m",
        hint="The L2 penalty is missing its 1/m: it should be lambd / (2 m) * sum of squared weights, so "
             "your penalty is m times too large and dominates the cost.")
cat.add(f, "no_half", concept=L2, core=_l2_cost, coefficient=lambda lambd, m: lambd / m,
        description="I wrote lambd/m * sum(W**2) and dropped the 1/2",
        hint="The penalty is lambd / (2 m) times the sum of squares; without the 1/2 it is twice too "
             "large (and no longer matches the lambd/m * W in the gradient).")
cat.add(f, "abs_instead_of_square", concept=L2, core=_l2_cost, coefficient=lambda lambd, m: lambd / (2 * m),
        penalty=np.abs,
        description="I summed the absolute values of the weights",
        hint="Summing |W| gives an L1 penalty; L2 regularization sums the squares, np.sum(np.square(W)).")
cat.add(f, "includes_biases", concept=L2, core=_l2_cost, coefficient=lambda lambd, m: lambd / (2 * m),
        include_biases=True,
        description="I also added the squared biases to the penalty",
        hint="Only the weight matrices W1, W2, W3 are penalised; including the biases changes the cost.")

# ---- L2 backward
f = "backward_propagation_with_regularization"
cat.add(f, "no_l2_term", concept=L2, core=_l2_backward, coefficient=lambda lambd, m: 0.0,
        description="I forgot to add the regularization term to dW",
        hint="Each dWl needs the derivative of the penalty, + lambd / m * Wl; without it the gradients "
             "do not match the regularized cost and the weights are not pulled toward 0.")
cat.add(f, "half_coefficient", concept=L2, core=_l2_backward, coefficient=lambda lambd, m: lambd / (2 * m),
        description="I added lambd/(2m) * W to dW",
        hint="The derivative of lambd / (2 m) * W**2 is lambd / m * W: the 2 from the square cancels the "
             "1/2, so your term is half as large as it should be.")
cat.add(f, "missing_1_over_m", concept=L2, core=_l2_backward, coefficient=lambda lambd, m: lambd,
        description="I added lambd * W to dW without dividing by m",
        hint="The gradient of the penalty is lambd / m * W; your term lacks the 1/m and is m times too big.")
cat.add(f, "l2_on_bias", concept=L2, core=_l2_backward, coefficient=lambda lambd, m: lambd / m, on_bias=True,
        description="I added lambd/m * b to db as well",
        hint="The biases are not in the penalty, so db gets no regularization term; only the dWl do.")

# ---- dropout forward
f = "forward_propagation_with_dropout"
cat.add(f, "no_scaling", concept=DROPOUT, core=_dropout_forward, scaling="none",
        description="I multiplied by the mask but did not divide by keep_prob",
        hint="Inverted dropout divides the kept activations by keep_prob; without it the expected value "
             "of each activation shrinks by keep_prob and test-time outputs no longer match.")
cat.add(f, "mask_greater_than", concept=DROPOUT, core=_dropout_forward, keep="gt",
        description="I built the mask with D > keep_prob",
        hint="The mask must keep a unit when the uniform draw is below keep_prob (D < keep_prob); with > "
             "you keep a fraction 1 - keep_prob of the units.")
cat.add(f, "reseed_between_masks", concept=DROPOUT, core=_dropout_forward, reseed=True,
        description="I call np.random.seed(1) again before drawing the second mask",
        hint="Seed once at the start: reseeding before D2 makes the second mask reuse the first mask's "
             "random numbers, so D2 differs from the expected one.")
cat.add(f, "only_first_layer", concept=DROPOUT, core=_dropout_forward, layers=(1,),
        description="I applied dropout to the first hidden layer only",
        hint="Both hidden layers get dropout: draw D2 and apply it to A2 as well (never to the input or "
             "the output layer).")
cat.add(f, "multiplies_by_keep_prob", concept=DROPOUT, core=_dropout_forward, scaling="multiply",
        description="I multiplied the activations by keep_prob instead of dividing",
        hint="Divide by keep_prob: the kept units must be scaled up by 1/keep_prob to keep the expected "
             "activation unchanged; multiplying shrinks it further.")
cat.add(f, "normal_draws", concept=DROPOUT, core=_dropout_forward, draw="randn",
        description="I drew the mask with np.random.randn",
        hint="Draw the mask with np.random.rand (uniform on [0, 1)); comparing standard normal draws with "
             "keep_prob keeps the wrong fraction of units.")

# ---- dropout backward
f = "backward_propagation_with_dropout"
cat.add(f, "no_mask", concept=DROPOUT, core=_dropout_backward, mask=False,
        description="in backprop I divided dA by keep_prob but did not multiply by the mask",
        hint="Apply the same mask to dA2 and dA1 as in the forward pass: units that were shut down must "
             "get zero gradient; your dA values are non-zero for dropped units.")
cat.add(f, "no_scaling", concept=DROPOUT, core=_dropout_backward, scaling="none",
        description="in backprop I applied the mask but forgot to divide by keep_prob",
        hint="The forward pass divided by keep_prob, so the backward pass must divide dA2 and dA1 by "
             "keep_prob too; your gradients are too small by that factor.")
cat.add(f, "multiplies_by_keep_prob", concept=DROPOUT, core=_dropout_backward, scaling="multiply",
        description="in backprop I multiplied dA by keep_prob",
        hint="Divide dA by keep_prob (the same scaling as the forward pass) instead of multiplying.")
cat.add(f, "only_second_layer", concept=DROPOUT, core=_dropout_backward, layers=(2,),
        description="I applied the mask and scaling to dA2 but not to dA1",
        hint="Both dA2 and dA1 need the mask and the 1/keep_prob scaling, because both hidden layers were "
             "dropped in the forward pass.")

MISTAKES = cat.mistakes


def typical_inputs(function: str, rng: np.random.Generator) -> Args:
    """Reproducible typical arguments ``(args, kwargs)`` of ``function`` (see ``reference.mistakes.inputs``)."""
    X, Y = random_net_data(rng)
    params = random_params(rng, [3, 5, 4, 1])
    if function == "compute_cost_with_regularization":
        A3 = rng.uniform(0.05, 0.95, size=Y.shape)
        return (A3, Y, params, 0.7), {}
    if function == "backward_propagation_with_regularization":
        _, cache = nets.forward_propagation(X, params)
        return (X, Y, cache, 0.7), {}
    if function == "forward_propagation_with_dropout":
        return (X, params), {"keep_prob": 0.7}
    if function == "backward_propagation_with_dropout":
        _, cache = ref.forward_propagation_with_dropout(X, params, 0.7)
        return (X, Y, cache, 0.7), {}
    raise KeyError(f"no typical inputs for ('regularization', {function!r})")
