"""Which reference function is graded under which name, and which helpers each notebook gives.

GRADED[assignment][function_name] -> the trusted reference callable (for the TensorFlow assignment,
the NumPy twin of the function learners write with TensorFlow).

HELPERS[assignment] -> {student-visible name: reference callable} of the given helper functions
that learners' solutions call by name (the spec's last section), in the order their source should be
copied. Iterating it yields the names, like a list. A helper may live under a different reference
name (e.g. the optimization assignment's ``compute_cost`` is :func:`reference.nets.compute_cost_sum`,
the regularization assignment's ``initialize_parameters`` is
:func:`reference.nets.initialize_parameters_xavier`); copy its source and rename the ``def``.
Every helper is self-contained: it only uses ``np`` and other helpers of the same assignment.
"""
from __future__ import annotations

from typing import Callable

from reference import batchnorm, gradient_checking, initialization, nets, optimization, regularization, tf_twin

ASSIGNMENTS = ("initialization", "regularization", "gradient_checking", "optimization", "batchnorm", "tensorflow")


def _by_name(module, names):
    return {name: getattr(module, name) for name in names}


GRADED: dict[str, dict[str, Callable]] = {
    "initialization": _by_name(initialization, [
        "initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he"]),
    "regularization": _by_name(regularization, [
        "compute_cost_with_regularization", "backward_propagation_with_regularization",
        "forward_propagation_with_dropout", "backward_propagation_with_dropout"]),
    "gradient_checking": _by_name(gradient_checking, [
        "forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n"]),
    "optimization": _by_name(optimization, [
        "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
        "update_parameters_with_momentum", "initialize_rmsprop", "update_parameters_with_rmsprop",
        "initialize_adam", "update_parameters_with_adam", "update_lr", "schedule_lr_decay",
        "exponentially_weighted_average"]),
    "batchnorm": _by_name(batchnorm, [
        "batchnorm_forward", "batchnorm_backward", "update_running_stats", "batchnorm_inference",
        "softmax", "softmax_cost", "softmax_backward", "sample_log_uniform"]),
    "tensorflow": _by_name(tf_twin, [
        "linear_function", "sigmoid", "one_hot_matrix", "initialize_parameters", "forward_propagation",
        "compute_total_loss"]),
}

HELPERS: dict[str, dict[str, Callable]] = {
    "initialization": {
        "relu": nets.relu, "sigmoid": nets.sigmoid, "forward_propagation": nets.forward_propagation,
        "backward_propagation": nets.backward_propagation, "compute_loss": nets.compute_cost,
        "update_parameters": nets.update_parameters, "predict": nets.predict, "predict_dec": nets.predict_dec,
    },
    "regularization": {
        "compute_cost": nets.compute_cost, "relu": nets.relu, "sigmoid": nets.sigmoid,
        "forward_propagation": nets.forward_propagation, "backward_propagation": nets.backward_propagation,
        "initialize_parameters": nets.initialize_parameters_xavier, "update_parameters": nets.update_parameters,
        "predict": nets.predict, "predict_dec": nets.predict_dec,
    },
    "gradient_checking": {
        "relu": nets.relu, "sigmoid": nets.sigmoid,
        "dictionary_to_vector": gradient_checking.dictionary_to_vector,
        "vector_to_dictionary": gradient_checking.vector_to_dictionary,
        "gradients_to_vector": gradient_checking.gradients_to_vector,
        "forward_propagation_n": gradient_checking.forward_propagation_n,
        "backward_propagation_n": gradient_checking.backward_propagation_n,
    },
    "optimization": {
        "compute_cost": nets.compute_cost_sum, "relu": nets.relu, "sigmoid": nets.sigmoid,
        "forward_propagation": nets.forward_propagation, "backward_propagation": nets.backward_propagation,
        "initialize_parameters": nets.initialize_parameters, "predict": nets.predict,
        "predict_dec": nets.predict_dec,
    },
    "batchnorm": {},
    "tensorflow": {},
}

HELPER_FUNCTIONS = HELPERS  # older name


def graded(assignment: str, function: str) -> Callable:
    """The reference callable for a graded function, with a clear error for unknown names."""
    if assignment not in GRADED:
        raise KeyError(f"unknown assignment {assignment!r}; known: {', '.join(ASSIGNMENTS)}")
    if function not in GRADED[assignment]:
        raise KeyError(f"{function!r} is not graded in {assignment!r}; graded: {', '.join(GRADED[assignment])}")
    return GRADED[assignment][function]
