"""Beside ``source/optimization/optimization.ipynb`` (see the package docstring)."""
from __future__ import annotations

from reference import optimization as ref

GIVEN = [ref.model]
