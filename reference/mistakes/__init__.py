"""Catalogue of known mistakes in the graded functions (one module per assignment).

``MISTAKES``: {mistake id: Mistake}; ids are ``"<function>.<slug>"`` and unique within the course
(``forward_propagation`` is graded in two assignments; their mistakes use different slugs, and
duplicate ids are refused at import time).
``mistakes_for(assignment, function)``: that function's mistakes in catalogue order.
``inputs_for(mistake, seed)``: arguments on which the mistake's output differs from the reference —
its ``example_inputs`` if it has some, else the function's typical inputs.
"""
from __future__ import annotations

from typing import Any

from reference import catalog
from reference.mistakes._base import CONCEPT_IDS, Mistake, variant
from reference.mistakes.inputs import typical_inputs


def _collect(declarations: dict[str, catalog.Assignment]) -> dict[str, Mistake]:
    """Every mistake of the declared catalogues (``mistakes = ...`` of each declaration)."""
    out: dict[str, Mistake] = {}
    for decl in declarations.values():
        module = decl.module("mistakes")
        for m in module.MISTAKES if module is not None else ():
            if m.id in out:
                raise ValueError(f"duplicate mistake id {m.id!r} ({out[m.id].assignment} and {m.assignment})")
            out[m.id] = m
    return out


_CATALOGUED = catalog.declared()
MISTAKES: dict[str, Mistake] = _collect(_CATALOGUED)
#: {(assignment, function): projection of an output to what may be compared} (a mistakes module's
#: ``PROJECTIONS``; TensorFlow's initializer: shapes and variances only)
PROJECTIONS: dict[tuple[str, str], Any] = {
    (name, function): projection for name, decl in _CATALOGUED.items() if decl.module("mistakes") is not None
    for function, projection in getattr(decl.module("mistakes"), "PROJECTIONS", {}).items()}


def mistakes_for(assignment: str, function: str) -> list[Mistake]:
    """Known mistakes of ``assignment``'s graded ``function`` (empty list if none); an instructor's
    own assignment's catalogue is read from its declaration when asked for."""
    source = MISTAKES
    if assignment not in _CATALOGUED:
        try:
            source = _collect({assignment: catalog.get(assignment)})
        except KeyError:
            return []
    return [m for m in source.values() if m.assignment == assignment and m.function == function]


def inputs_for(mistake: Mistake, seed: int = 0) -> tuple[tuple, dict[str, Any]]:
    """``(args, kwargs)`` on which ``mistake`` is expected to differ from the reference."""
    if mistake.example_inputs is not None:
        return mistake.example_inputs(seed)
    return typical_inputs(mistake.assignment, mistake.function, seed)


__all__ = ["CONCEPT_IDS", "MISTAKES", "Mistake", "PROJECTIONS", "inputs_for", "mistakes_for", "typical_inputs",
           "variant"]
