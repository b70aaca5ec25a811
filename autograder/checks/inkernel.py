"""Run deepgrade's hidden checks INSIDE a notebook kernel — how an instructor would wire them into
stock ``nbgrader autograde`` (used by the benchmark's stock-nbgrader configuration, ``bench/``).

A test cell of such a course carries, inside ``### BEGIN/END HIDDEN TESTS``, a call like::

    _dg_grade_cell("initialization", "initialize_parameters_he", 8.0, globals(), r'''
    <the visible test code, unchanged; learners see only this part>
    ''')

:func:`grade_cell` runs the visible test code in the kernel's namespace (a failing visible assert is
reported on stdout instead of erroring the cell), then runs the hidden checks of that function
against the kernel's own globals through :class:`KernelStudent` — the framework's in-process
Student over the notebook's functions, with every argument and result sent through the sandbox's
wire format exactly as the real boundary does — and returns the earned points, scaled by the
engine's own ``_scale``. The return value is the cell's ``execute_result``: nbgrader gives partial
credit for a grade cell whose output is a number. Nothing is written to stderr (nbgrader gives 0
for a cell with stderr output), and warnings raised by the student's code are silenced.

NOT a sandbox: the student's code and the trusted checks share one process. This exists to measure
stock nbgrader with the same checks, not to grade for real.
"""
from __future__ import annotations

import contextlib
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from autograder.engine import _scale, load_suite, stable_seed
from reference import catalog

from .adapters import InProcessStudent, _student_error, _through_wire, call_options
from .framework import TF_MARKERS, normalize, run_check

__all__ = ["KernelStudent", "student_id", "score_function", "grade_cell"]


def _tf_materialize(value: Any) -> Any:
    """TF markers -> tf.Variable / tf.constant (what the sandbox worker passes to TF code)."""
    import tensorflow as tf      # lazy: +3.6 s start-up (stack-facts), only TF assignments need it
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in TF_MARKERS:
            marker, arr = next(iter(value.items()))
            arr = np.asarray(arr)
            if arr.dtype.kind == "f":
                arr = arr.astype(np.float32)
            return tf.Variable(arr) if marker == "__tf_variable__" else tf.constant(arr)
        return {k: _tf_materialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tf_materialize(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_tf_materialize(v) for v in value)
    return value


def _to_plain(out: Any) -> Any:
    """Results with ``.numpy()`` (tensors, variables) come back as arrays, recursively."""
    if hasattr(out, "numpy") and callable(out.numpy):
        return np.asarray(out.numpy())
    if isinstance(out, dict):
        return {k: _to_plain(v) for k, v in out.items()}
    if isinstance(out, list):
        return [_to_plain(v) for v in out]
    if isinstance(out, tuple):
        return tuple(_to_plain(v) for v in out)
    return out


class KernelStudent(InProcessStudent):
    """The framework's in-process Student over a notebook namespace (the kernel's ``globals()``)."""

    sandbox_mode = "in-kernel"

    def __init__(self, assignment: str, namespace: Mapping[str, Any]):
        decl = catalog.get(assignment)
        impls = {f: namespace[f] for f in decl.graded if callable(namespace.get(f))}
        super().__init__(assignment, impls=impls)
        self.namespace = namespace
        self.runtime = decl.runtime

    def get(self, name: str) -> Any:
        if name not in self.namespace:
            raise _student_error("missing", f"name {name!r} is not defined")
        return _through_wire(normalize(_to_plain(self.namespace[name])))

    def call(self, fn: str, *args: Any, _seed: int | None = None, _seed_salt: int | None = None,
             **kwargs: Any) -> Any:
        if self.runtime != "tensorflow":
            return super().call(fn, *args, _seed=_seed, _seed_salt=_seed_salt, **kwargs)
        if fn not in self.impls:
            raise _student_error("missing", f"function {fn!r} is not defined")
        a = _tf_materialize(_through_wire(args))
        k = _tf_materialize(_through_wire(kwargs))
        try:
            with call_options(_seed, _seed_salt):
                out = self.impls[fn](*a, **k)
        except Exception as exc:
            raise _student_error("exception", f"{type(exc).__name__}: {exc}") from None
        try:
            return _through_wire(normalize(_to_plain(out)))
        except Exception as exc:  # noqa: BLE001 - wire refuses it: not plain data
            raise _student_error("bad_output", str(exc)) from None


def student_id(default: str = "") -> str:
    """The student being graded: ``DEEPGRADE_STUDENT`` if set, else nbgrader's autograded layout
    ``autograded/<student>/<assignment>/`` (the kernel's working directory)."""
    env = os.environ.get("DEEPGRADE_STUDENT")
    if env:
        return env
    cwd = Path.cwd()
    if cwd.parent.parent.name in ("autograded", "submitted"):
        return cwd.parent.name
    return default


def score_function(assignment: str, function: str, points: float, namespace: Mapping[str, Any], *,
                   student: str | None = None, seed: int | None = None) -> tuple[float, list]:
    """Earned points of ``function`` (its checks scaled to ``points``, as the engine scales them)
    and the raw outcomes."""
    student = student_id() if student is None else student
    seed = stable_seed(assignment, student) if seed is None else int(seed)
    suite = load_suite(assignment, student)
    kernel_student = KernelStudent(assignment, namespace)
    outcomes = [run_check(spec, assignment, kernel_student, seed) for spec in suite.checks
                if spec.function == function]
    # the engine's own scaling (points per function, gated structure/visible-example credit)
    _, functions = _scale(outcomes, suite, {function: float(points)})
    earned = functions.get(function, {}).get("score", 0.0)
    return min(round(earned, 6), float(points)), outcomes


def grade_cell(assignment: str, function: str, points: float, namespace: dict, visible: str = "") -> float:
    """Body of a test cell: visible code (errors reported, not raised), then the hidden checks.
    Returns the earned points (the cell's value)."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(sys.stdout), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if visible.strip():
            try:
                exec(compile(visible, f"<visible test of {function}>", "exec"), namespace)
            except Exception:  # noqa: BLE001 - the visible test failed; the hidden checks decide the grade
                print("visible test failed:", traceback.format_exc(limit=0).strip())
        score, outcomes = score_function(assignment, function, float(points), namespace)
        passed = sum(o.passed for o in outcomes)
        print(f"hidden checks of {function}: {passed}/{len(outcomes)} passed, {score:g} / {points:g} points")
    return score
