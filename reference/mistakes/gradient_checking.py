"""Known mistakes of the gradient checking assignment."""
from __future__ import annotations

import numpy as np

from reference import gradient_checking as ref
from reference.mistakes._base import Catalogue
from reference.mistakes.inputs import Args, gradient_check_n_case

CONCEPT = "gradient_checking"


def _forward(x, theta, *, kind):
    return {"returns_x": x, "adds": theta + x}[kind]


def _backward(x, theta, *, kind):
    return {"returns_theta": theta, "returns_cost": theta * x}[kind]


def _relative_difference(grad, gradapprox, *, ord=None, numerator="difference", denominator=True):
    if numerator == "sum":
        top = np.linalg.norm(grad + gradapprox, ord)
    else:
        top = np.linalg.norm(grad - gradapprox, ord)
    if not denominator:
        return top
    return top / (np.linalg.norm(grad, ord) + np.linalg.norm(gradapprox, ord))


def _check_1d(x, theta, epsilon, print_msg, *, step_divisor=2.0, result="difference", numerator="difference",
              use_forward=True):
    """1-D gradient check with configurable finite difference and result."""
    if use_forward:
        J_plus, J_minus = ref.forward_propagation(x, theta + epsilon), ref.forward_propagation(x, theta - epsilon)
    else:
        J_plus, J_minus = theta + epsilon, theta - epsilon
    gradapprox = (J_plus - J_minus) / (step_divisor * epsilon)
    if result == "gradapprox":
        return gradapprox
    return _relative_difference(ref.backward_propagation(x, theta), gradapprox, numerator=numerator)


def _check_n(parameters, gradients, X, Y, epsilon, print_msg, *, one_sided=False, step_divisor=2.0,
             copy=True, ord=None, denominator=True):
    """N-dimensional gradient check with configurable finite difference, copying and norm."""
    values, _ = ref.dictionary_to_vector(parameters)
    grad = ref.gradients_to_vector(gradients)
    J0, _ = ref.forward_propagation_n(X, Y, parameters)
    gradapprox = np.zeros(values.shape)
    for i in range(values.shape[0]):
        theta_plus = np.copy(values) if copy else values
        theta_plus[i] = theta_plus[i] + epsilon
        J_plus, _ = ref.forward_propagation_n(X, Y, ref.vector_to_dictionary(theta_plus))
        if one_sided:
            gradapprox[i] = (J_plus - J0) / epsilon
            continue
        theta_minus = np.copy(values) if copy else values
        theta_minus[i] = theta_minus[i] - epsilon
        J_minus, _ = ref.forward_propagation_n(X, Y, ref.vector_to_dictionary(theta_minus))
        gradapprox[i] = (J_plus - J_minus) / (step_divisor * epsilon)
    return _relative_difference(grad, gradapprox, ord=ord, denominator=denominator)


def _correct_gradients_large_step(seed):
    parameters, gradients, X, Y = gradient_check_n_case(np.random.default_rng(seed), with_bugs=False)
    return (parameters, gradients, X, Y), {"epsilon": 1e-3}


cat = Catalogue("gradient_checking", {name: getattr(ref, name) for name in (
    "forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n")})

f = "forward_propagation"
cat.add(f, "returns_x", concept=CONCEPT, core=_forward, kind="returns_x",
        description="my forward pass returns x",
        hint="The forward pass computes the cost J = theta * x; x alone is its derivative, which belongs "
             "in backward_propagation.")
cat.add(f, "adds", concept=CONCEPT, core=_forward, kind="adds",
        description="I computed J = theta + x",
        hint="The model is linear in theta with slope x: J = theta * x (a product, not a sum).")

f = "backward_propagation"
cat.add(f, "returns_theta", concept=CONCEPT, core=_backward, kind="returns_theta",
        description="my backward pass returns theta",
        hint="dJ/dtheta for J = theta * x is x, not theta.")
cat.add(f, "returns_cost", concept=CONCEPT, core=_backward, kind="returns_cost",
        description="my backward pass returns theta * x",
        hint="backward_propagation must return the derivative dJ/dtheta = x, not the cost J itself.")

f = "gradient_check"
cat.add(f, "divides_by_epsilon", concept=CONCEPT, core=_check_1d, step_divisor=1.0,
        description="I divided J_plus - J_minus by epsilon instead of 2 * epsilon",
        hint="theta + epsilon and theta - epsilon are 2 epsilon apart, so the two-sided estimate divides "
             "by 2 * epsilon; yours is twice the true slope and the check reports a large difference.")
cat.add(f, "returns_gradapprox", concept=CONCEPT, core=_check_1d, result="gradapprox",
        description="I returned gradapprox instead of the relative difference",
        hint="gradient_check must return the relative difference ||grad - gradapprox|| / (||grad|| + "
             "||gradapprox||), not the numerical gradient itself.")
cat.add(f, "numerator_sum", concept=CONCEPT, core=_check_1d, numerator="sum",
        description="my numerator is the norm of grad + gradapprox",
        hint="The numerator measures how far apart the two gradients are: ||grad - gradapprox||; with a "
             "plus sign the difference is about 1 even for a correct backward pass.")
cat.add(f, "perturbs_without_forward", concept=CONCEPT, core=_check_1d, use_forward=False,
        description="I used theta_plus - theta_minus instead of J_plus - J_minus",
        hint="The finite difference compares costs: compute J_plus = forward_propagation(x, theta_plus) "
             "and J_minus likewise, then take (J_plus - J_minus) / (2 epsilon).")

f = "gradient_check_n"
cat.add(f, "one_sided", concept=CONCEPT, core=_check_n, one_sided=True,
        example_inputs=_correct_gradients_large_step,
        trigger="correct gradients and a large epsilon (1e-3): the one-sided error is O(epsilon)",
        description="I used (J(theta + epsilon) - J(theta)) / epsilon",
        hint="Use the two-sided difference (J_plus - J_minus) / (2 epsilon): its error shrinks like "
             "epsilon**2, the one-sided one only like epsilon, so correct gradients can look wrong.")
cat.add(f, "divides_by_epsilon", concept=CONCEPT, core=_check_n, step_divisor=1.0,
        description="I divided J_plus - J_minus by epsilon",
        hint="The two nudged points are 2 epsilon apart: divide by 2 * epsilon, otherwise gradapprox is "
             "twice the true gradient.")
cat.add(f, "no_copy", concept=CONCEPT, core=_check_n, copy=False,
        description="I wrote theta_plus = parameters_values without np.copy",
        hint="theta_plus and theta_minus must be copies (np.copy): without a copy the nudges are applied "
             "to the parameter vector itself and accumulate, so J_minus is evaluated at the wrong point.")
cat.add(f, "no_denominator", concept=CONCEPT, core=_check_n, denominator=False,
        description="I returned the norm of grad - gradapprox without dividing",
        hint="Divide by ||grad|| + ||gradapprox||: the raw norm of the difference depends on the scale of "
             "the gradients, so no fixed threshold like 2e-7 can judge it.")
cat.add(f, "l1_norm", concept=CONCEPT, core=_check_n, ord=1,
        description="I used the sum of absolute values as the norm",
        hint="The relative difference uses Euclidean (2-) norms, np.linalg.norm of the column vectors; "
             "another norm changes the value the threshold is calibrated for.")

MISTAKES = cat.mistakes


def typical_inputs(function: str, rng: np.random.Generator) -> Args:
    """Reproducible typical arguments ``(args, kwargs)`` of ``function`` (see ``reference.mistakes.inputs``)."""
    x, theta = float(rng.uniform(1, 5)), float(rng.uniform(1, 5))
    if function in ("forward_propagation", "backward_propagation", "gradient_check"):
        return (x, theta), {}
    if function == "gradient_check_n":
        return gradient_check_n_case(rng), {}
    raise KeyError(f"no typical inputs for ('gradient_checking', {function!r})")
