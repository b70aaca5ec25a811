"""Shared helpers of the fairness, oracle and degenerate-implementation tests: grade ONE graded function
of an in-process student (only that function's checks, scaled as the engine scales them)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from autograder.checks import code_suite
from autograder.checks.adapters import InProcessStudent
from autograder.checks.framework import Outcome, Suite, run_suite
from autograder.engine import _scale, stable_seed
from reference.registry import GRADED, HELPERS

STUDENT_IDS = [f"student{i:02d}" for i in range(20)]


def function_suite(assignment: str, function: str) -> Suite:
    """The checks of one graded function, as a suite of their own."""
    return Suite(assignment, [c for c in code_suite(assignment).checks if c.function == function])


def grade_function(assignment: str, function: str, impl: Callable, seed: int,
                   suite: Suite | None = None) -> tuple[float, list[Outcome]]:
    """(points earned by ``function``, raw outcomes) for a student whose ``function`` is ``impl``
    (the other graded functions are the reference's)."""
    suite = suite or function_suite(assignment, function)
    student = InProcessStudent(assignment, impls={**GRADED[assignment], function: impl})
    outcomes = run_suite(suite, student, seed)
    _, functions = _scale(outcomes, suite, {})
    return functions[function]["score"], outcomes


def seeds(assignment: str, ids: list[str] = STUDENT_IDS, code: list[str] | None = None) -> list[int]:
    return [stable_seed(assignment, s, code) for s in ids]


def exec_source(assignment: str, source: str, name: str) -> Callable:
    """``name`` from ``source`` run in a notebook-like namespace (np + the assignment's helpers)."""
    namespace: dict[str, Any] = {"np": np, **HELPERS[assignment]}
    exec(compile(source, f"<{assignment}:{name}>", "exec"), namespace)
    return namespace[name]
