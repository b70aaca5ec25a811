"""Beside ``source/tensorflow/tensorflow.ipynb`` (see the package docstring).

The exercise cells hold TensorFlow code (the declaration's ``solutions``, :mod:`reference.tf_solutions`,
importable without TensorFlow); the hidden checks compare against the NumPy twins in :mod:`reference.tf_twin`.
"""
from __future__ import annotations

from reference import tf_solutions as ref

GIVEN = [ref.model]
