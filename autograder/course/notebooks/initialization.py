"""Beside ``source/initialization/initialization.ipynb`` (see the package docstring)."""
from __future__ import annotations

from reference import initialization as ref

GIVEN = [ref.model]
