"""Visible examples, declared once: the notebook's test cell shows them, the hidden ``<f>.fixed`` uses them.

An :class:`Example` is the source of the example region of the visible test cell ``test_<f>`` (written by
``deepgrade build`` between ``### BEGIN EXAMPLE`` / ``### END EXAMPLE``): ``setup`` statements that make
the inputs, then one ``call`` statement that calls the graded function. The hidden check runs the same
text in the trusted grader (``np``, the assignment's helpers and reference functions in scope, and a
``tf`` stand-in whose ``constant``/``Variable`` make the sandbox's TensorFlow markers) and hands the
call's argument values to the learner's function. Each check module declares its assignment's examples
(``S.examples``, before ``S.standard``).
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from reference.registry import GRADED, HELPERS

from .compare import tf_constant, tf_variable


@dataclass(frozen=True)
class Example:
    """``call``: one statement calling the graded function (e.g. ``cost = f(A3, Y, parameters, lambd=0.1)``;
    its first call of the function is the example); ``setup``: statements making the inputs."""
    call: str
    setup: str = ""

    @property
    def source(self) -> str:
        """The example region's text, as the notebook shows it."""
        setup = textwrap.dedent(self.setup).lstrip("\n")        # a blank line at its end is kept
        if setup and not setup.endswith("\n"):
            setup += "\n"
        return setup + textwrap.dedent(self.call).strip("\n")

    @classmethod
    def from_source(cls, text: str, function: str) -> "Example":
        """Split an example region's text (as a notebook shows it) into setup and the statement holding
        the first call of ``function``; statements after that one are ignored."""
        lines = text.split("\n")
        for stmt in ast.parse(text).body:
            if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function
                   for n in ast.walk(stmt)):
                setup = "\n".join(lines[:stmt.lineno - 1])
                return cls(setup=setup + "\n" if setup else "",
                           call="\n".join(lines[stmt.lineno - 1:stmt.end_lineno]))
        raise ValueError(f"the example does not call {function}")

    def arguments(self, function: str, namespace: dict) -> tuple[tuple, dict]:
        """Run ``setup`` in ``namespace`` and evaluate the arguments of ``call``'s first call of
        ``function``: ``(args, kwargs)``. NumPy's global generator is left as it was."""
        calls = [n for n in ast.walk(ast.parse(textwrap.dedent(self.call).strip()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function]
        if not calls:
            raise ValueError(f"the example of {function} does not call {function}: {self.call!r}")
        node = calls[0]
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise ValueError(f"the example of {function} must spell out its arguments (no * or **)")
        state = np.random.get_state()
        try:
            exec(compile(textwrap.dedent(self.setup), f"<example of {function}>", "exec"), namespace)

            def value(expr: ast.expr) -> Any:
                return eval(compile(ast.Expression(expr), f"<example of {function}>", "eval"), namespace)
            args = tuple(value(a) for a in node.args)
            kwargs = {k.arg: value(k.value) for k in node.keywords}
        finally:
            np.random.set_state(state)
        return args, kwargs


def _f32(value: Any) -> np.ndarray:
    """Float32-exact values kept as float64 (what the TensorFlow learner and the NumPy twin both see)."""
    return np.asarray(value, dtype=np.float32).astype(np.float64)


#: what ``tf`` means when the grader runs an example: tensors become the sandbox's markers
TF_STAND_IN = SimpleNamespace(constant=lambda value, dtype=None: tf_constant(_f32(value)),
                              Variable=lambda value, dtype=None: tf_variable(_f32(value)),
                              float32="float32")


def namespace(assignment: str) -> dict:
    """Where examples run in the grader: ``np``, ``tf`` (stand-in), the assignment's helpers and the
    reference versions of its graded functions (a setup may call them, like the notebook does)."""
    return {"np": np, "tf": TF_STAND_IN, **HELPERS.get(assignment, {}), **GRADED[assignment]}
