"""Hidden checks through the fast in-process student (reference and known mistakes, wire round trip)."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import CODE_ASSIGNMENTS, code_suite
from autograder.checks.adapters import InProcessStudent, implementations
from autograder.checks.framework import run_trusted
from autograder.engine import grade_with_student
from reference.mistakes import MISTAKES
from reference.registry import GRADED


@pytest.fixture(scope="module")
def reference_results():
    return {a: grade_with_student(a, InProcessStudent(a), "ref-student") for a in CODE_ASSIGNMENTS}


@pytest.mark.parametrize("assignment", CODE_ASSIGNMENTS)
def test_reference_gets_full_marks(assignment, reference_results):
    r = reference_results[assignment]
    failed = [(c.name, c.message) for c in r.checks if not c.passed]
    assert failed == []
    assert r.score == r.max_score > 0 and r.gradable


@pytest.mark.parametrize("assignment", CODE_ASSIGNMENTS)
def test_every_graded_function_has_structure_and_a_key_check_that_gates_the_rest(assignment):
    suite = code_suite(assignment)
    assert set(suite.functions) == set(GRADED[assignment])
    for f in GRADED[assignment]:
        specs = [c for c in suite.checks if c.function == f]
        assert any(c.name == f"{f}.structure" for c in specs), f
        keys = [c for c in specs if c.key]
        assert keys and all(c.randomized for c in keys), f
        assert all(c.gated for c in specs if not c.key), f       # nothing else counts before a key passes
        assert [c.name for c in specs if c.reveal] in ([f"{f}.fixed"], []), f   # only the visible example
        assert all(c.concepts for c in specs), f


@pytest.mark.parametrize("mistake_id", sorted(MISTAKES))
def test_every_known_mistake_loses_points_and_gets_its_hint(mistake_id):
    m = MISTAKES[mistake_id]
    r = grade_with_student(m.assignment, InProcessStudent(m.assignment, {m.function: mistake_id}), "mistaken")
    f = r.functions[m.function]
    assert f["score"] < f["max_score"]
    hinted = [c for c in r.checks_for(m.function) if c.mistake_id == mistake_id]
    assert hinted and all(c.hint == m.hint and not c.passed for c in hinted)
    others = {k: v for k, v in r.functions.items() if k != m.function}
    assert all(v["score"] == v["max_score"] for v in others.values())


def _hard_coded(assignment: str, function: str, fixed_call):
    """A student who returns the visible example's expected output whatever the input."""
    answer = run_trusted(GRADED[assignment][function], fixed_call.args, fixed_call.kwargs)
    return lambda *args, **kwargs: answer


@pytest.mark.parametrize("assignment", CODE_ASSIGNMENTS)
def test_hard_coding_the_visible_example_earns_no_randomized_points(assignment):
    suite = code_suite(assignment)
    for f, fixed in suite.visible.items():
        impls = dict(GRADED[assignment])
        impls[f] = _hard_coded(assignment, f, fixed())
        r = grade_with_student(assignment, InProcessStudent(assignment, impls=impls), "copycat")
        checks = {c.name: c for c in r.checks_for(f)}
        assert checks[f"{f}.fixed"].passed, f
        randomized = [c.name for c in suite.checks if c.function == f and c.randomized]
        earned = [n for n in randomized if checks[n].passed]
        assert earned == [], (f, earned)
        if randomized:   # (linear_function takes no input: its output is fixed by the spec)
            assert r.functions[f]["score"] == 0, f   # the visible example's own points are gated too


@pytest.mark.parametrize("choice, message", [("missing", "is not defined in your notebook"),
                                             ("raises", "raised an error: RuntimeError")])
def test_missing_or_raising_function_costs_only_its_checks(choice, message):
    a = "optimization"
    for f in ("update_parameters_with_adam", "random_mini_batches"):
        r = grade_with_student(a, InProcessStudent(a, {f: choice}), "partial")
        assert r.functions[f]["score"] == 0
        assert all(message in c.message and f"`{f}`" in c.message for c in r.checks_for(f))
        assert all(c.passed for c in r.checks if c.function != f)
        assert r.score == r.max_score - r.functions[f]["max_score"]


def test_results_are_deterministic_per_student_and_differ_between_students():
    a, m = "regularization", "compute_cost_with_regularization.no_half"
    msgs = lambda s: [c.message for c in grade_with_student(a, InProcessStudent(a, {m.split(".")[0]: m}), s).checks]
    assert msgs("ada") == msgs("ada")
    assert msgs("ada") != msgs("bob")   # randomized inputs differ, so the reported values differ


def test_in_process_student_round_trips_through_the_wire():
    s = InProcessStudent("optimization")
    out = s.call("initialize_adam", {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))})
    assert isinstance(out, tuple) and out[0]["dW1"].shape == (2, 3)
    with pytest.raises(Exception) as info:
        s.call("initialize_adam", {"W1": object()})   # not wire data
    assert "cannot send" in str(info.value)


def test_implementations_rejects_mistake_of_other_function():
    with pytest.raises(ValueError):
        implementations("optimization", {"update_lr": "schedule_lr_decay.no_floor"})
