"""Beside ``source/tensorflow/tensorflow.ipynb`` (see the package docstring).

The exercise cells hold TensorFlow code (:mod:`reference.tf_solutions`, importable without TensorFlow);
the hidden checks compare against the NumPy twins in :mod:`reference.tf_twin` (``GRADED``).
"""
from __future__ import annotations

from reference import tf_solutions as ref

SOLUTIONS = {f: getattr(ref, f) for f in ("linear_function", "sigmoid", "one_hot_matrix",
                                          "initialize_parameters", "forward_propagation", "compute_total_loss")}
GIVEN = [ref.model]
