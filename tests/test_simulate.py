"""Synthesized student notebooks: self-contained sources that behave like the trusted implementations."""
from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest

from autograder.checks.framework import diff, normalize
from autograder.simulate import function_source, synthesize_submission
from reference.mistakes import MISTAKES, inputs_for
from reference.registry import GRADED, HELPERS

REPO = Path(__file__).resolve().parents[1]
NUMPY = ["initialization", "regularization", "gradient_checking", "optimization", "batchnorm"]


def _run_source(assignment: str, function: str, source: str):
    """Execute a synthesized cell next to the assignment's given helpers and the (reference) versions of
    the OTHER graded functions, as in a notebook where the student wrote those in their own cells;
    return the function."""
    import numpy as np
    others = {f: impl for f, impl in GRADED[assignment].items() if f != function}
    ns = {"np": np, **HELPERS[assignment], **others}
    exec(compile(source, f"<{function}>", "exec"), ns)
    return ns[function]


@pytest.mark.parametrize("mistake_id", sorted(m for m, x in MISTAKES.items() if x.assignment in NUMPY))
def test_mistake_source_is_self_contained_and_behaves_like_the_mistake(mistake_id):
    m = MISTAKES[mistake_id]
    src = function_source(m.assignment, m.function, mistake_id)
    ast.parse(src)
    fn = _run_source(m.assignment, m.function, src)
    args, kwargs = inputs_for(m, seed=3)
    got = normalize(fn(*copy.deepcopy(args), **copy.deepcopy(kwargs)))
    expected = normalize(m.impl(*copy.deepcopy(args), **copy.deepcopy(kwargs)))
    assert diff(got, expected, rtol=1e-12, atol=1e-12) is None


@pytest.mark.parametrize("assignment", NUMPY)
def test_reference_sources_behave_like_the_reference(assignment):
    for f, ref in GRADED[assignment].items():
        fn = _run_source(assignment, f, function_source(assignment, f))
        m = next((x for x in MISTAKES.values() if x.assignment == assignment and x.function == f), None)
        args, kwargs = inputs_for(m, seed=1)
        got = normalize(fn(*copy.deepcopy(args), **copy.deepcopy(kwargs)))   # updates work in place
        assert diff(got, normalize(ref(*copy.deepcopy(args), **copy.deepcopy(kwargs)))) is None, f


def test_synthesize_on_base_notebook_replaces_only_solution_cells():
    a = "optimization"
    base = REPO / "source" / a / f"{a}.ipynb"
    orig = json.loads(base.read_text())
    nb = synthesize_submission(a, {"update_lr": "missing", "schedule_lr_decay": "raises",
                                   "update_parameters_with_adam": "update_parameters_with_adam.no_bias_correction"},
                               base_notebook=base)
    assert len(nb["cells"]) == len(orig["cells"])
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]}
    assert "def update_lr" not in by_id["ex_update_lr"]["source"]
    assert "raise NotImplementedError" in by_id["ex_schedule_lr_decay"]["source"]
    assert "def update_parameters_with_adam(" in by_id["ex_update_parameters_with_adam"]["source"]
    for c, o in zip(nb["cells"], orig["cells"]):
        if not (c["metadata"].get("nbgrader", {}).get("grade_id") or "").startswith("ex_"):
            assert c["source"] == o["source"]


def test_minimal_notebook_and_bad_choices():
    nb = synthesize_submission("gradient_checking")
    assert nb["nbformat"] == 4 and "gradient_checking_utils" in nb["cells"][0]["source"]
    assert len(nb["cells"]) == 1 + len(GRADED["gradient_checking"])
    with pytest.raises(KeyError):
        synthesize_submission("gradient_checking", {"nope": None})
    with pytest.raises(ValueError):
        synthesize_submission("optimization", {"update_lr": "schedule_lr_decay.no_floor"})


def test_a_cell_never_redefines_another_graded_function():
    """A mistake in one function must survive the cells written for the others (gradient_check calls
    forward_propagation: its cell must call the student's version, not bundle the reference's)."""
    for assignment in NUMPY:
        for f in GRADED[assignment]:
            defined = {n.name for n in ast.parse(function_source(assignment, f)).body
                       if isinstance(n, ast.FunctionDef)}
            assert defined & set(GRADED[assignment]) == {f}, (assignment, f, defined)
