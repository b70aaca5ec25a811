"""Beside ``source/gradient_checking/gradient_checking.ipynb`` (see the package docstring)."""
from __future__ import annotations

from reference import gradient_checking as ref

GIVEN = [ref.backward_propagation_n_with_bugs]
