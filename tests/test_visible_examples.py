"""Each visible example is declared once and is the same in the notebook and in the hidden ``<f>.fixed``.

The declaration (``S.examples`` of ``autograder/checks/test_<a>.py``) is written by ``deepgrade build``
into the example region of the visible test cell; the fixed check runs it. These tests read the example
back out of the committed notebook (not from the declaration) and check that the hidden check gets the
very same arguments, for every graded function of every assignment that has a fixed check.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from autograder.checks import CODE_ASSIGNMENTS, code_suite
from autograder.checks.examples import Example, namespace
from autograder.checks.framework import Call
from autograder.course import build as B
from autograder.course.nbbuild import BEGIN_EXAMPLE, END_EXAMPLE, region_lines
from reference.registry import GRADED

#: (assignment, function) of every graded function with a fixed check (values on the course-shown input)
CASES = [(a, c.function) for a in CODE_ASSIGNMENTS for c in code_suite(a).checks if c.name == f"{c.function}.fixed"]


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and np.array_equal(np.asarray(a), np.asarray(b))


def _bound(assignment: str, function: str, call: Call) -> dict:
    sig = inspect.signature(GRADED[assignment][function])
    bound = sig.bind(*call.args, **call.kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _notebook_example(assignment: str, function: str) -> str:
    nb = B.read_notebook(B.template_notebook(assignment))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"test_{function}")
    return "\n".join(region_lines(cell.source, BEGIN_EXAMPLE, END_EXAMPLE, f"test_{function}"))


@pytest.mark.parametrize("assignment, function", CASES)
def test_notebook_and_fixed_check_use_the_same_example(assignment, function):
    suite = code_suite(assignment)
    shown = _notebook_example(assignment, function)
    assert shown == suite.examples[function].source, "the notebook shows the declared example"
    # the notebook's own text, run as the grader runs it, gives the fixed check's arguments
    args, kwargs = Example.from_source(shown, function).arguments(function, namespace(assignment))
    from_notebook = _bound(assignment, function, Call(args, kwargs))
    fixed = _bound(assignment, function, suite.visible[function]())
    assert from_notebook.keys() == fixed.keys()
    for name in from_notebook:
        assert _same(from_notebook[name], fixed[name]), f"{function}: argument {name} differs"


def test_only_functions_without_a_fixed_check_lack_an_example():
    """Every graded function has a fixed check with a declared example, except TensorFlow's
    initialize_parameters (its values are TensorFlow's own random draws: no course-shown value to compare)."""
    without = [(a, f) for a in CODE_ASSIGNMENTS for f in GRADED[a] if (a, f) not in CASES]
    assert without == [("tensorflow", "initialize_parameters")]
    assert "initialize_parameters" not in code_suite("tensorflow").examples
    assert len(CASES) == sum(len(GRADED[a]) for a in CODE_ASSIGNMENTS) - 1


def test_every_fixed_check_has_a_declared_example():
    missing = [(a, c.function) for a in CODE_ASSIGNMENTS for c in code_suite(a).checks
               if c.name == f"{c.function}.fixed" and c.function not in code_suite(a).examples]
    assert missing == []


def test_an_example_does_not_move_numpys_global_generator():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    code_suite("regularization").examples["forward_propagation_with_dropout"].arguments(
        "forward_propagation_with_dropout", namespace("regularization"))
    assert np.array_equal(np.random.get_state()[1], before)


def test_a_changed_declaration_reaches_the_notebook_and_the_check(tmp_path, monkeypatch):
    """Editing the one declaration changes both sides: `deepgrade build` rewrites the notebook's example
    region (and reports it), and the fixed check's arguments follow."""
    suite = code_suite("gradient_checking")
    monkeypatch.setitem(suite.examples, "forward_propagation", Example(setup="", call="J = forward_propagation(3, 5)"))
    monkeypatch.setattr(suite, "_example_calls", {})
    report = B.build_course(tmp_path, ["gradient_checking"], data=False)[0]
    assert "example of forward_propagation" in report.changes
    assert B.build_course(tmp_path, ["gradient_checking"], data=False)[0].changes == []
    text = _notebook_example_in(tmp_path, "gradient_checking", "forward_propagation")
    assert text == "J = forward_propagation(3, 5)"
    assert suite.example_call("forward_propagation") == Call((3, 5), {})


def _notebook_example_in(course, assignment, function):
    nb = B.read_notebook(course / "source" / assignment / f"{assignment}.ipynb")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"test_{function}")
    return "\n".join(region_lines(cell.source, BEGIN_EXAMPLE, END_EXAMPLE, function))
