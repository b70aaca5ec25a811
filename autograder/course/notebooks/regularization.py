"""Beside ``source/regularization/regularization.ipynb`` (see the package docstring)."""
from __future__ import annotations

from reference import regularization as ref

GIVEN = [ref.model]
