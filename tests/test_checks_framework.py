"""Comparison helpers and check registration of the hidden-check framework."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.checks.framework import (CheckFailed, Suite, diff, run_suite, structure_diff, tf_variable,
                                         unwrap_markers, value_diff)


def test_structure_diff_names_the_wrong_key_and_shape():
    exp = {"W1": np.zeros((2, 3)), "b1": np.zeros((2, 1))}
    assert "missing key(s) ['b1']" in structure_diff({"W1": np.zeros((2, 3))}, exp)
    assert "unexpected key(s) ['W2']" in structure_diff({**exp, "W2": np.zeros(1)}, exp)
    msg = structure_diff({"W1": np.zeros((3, 2)), "b1": np.zeros((2, 1))}, exp)
    assert "`output['W1']` has shape (3, 2); expected (2, 3)" == msg
    assert "has 1 items; expected 2" in structure_diff((1,), (1, 2))
    assert "should be a number" in structure_diff(np.zeros(3), 1.0)
    assert structure_diff(np.array([[0.5]]), 0.5) is None        # a (1, 1) cost is a number


def test_value_diff_uses_explicit_tolerances():
    e = np.array([1.0, 2.0, 3.0])
    assert value_diff(e + 1e-9, e) is None
    assert value_diff(e + 1e-3, e, rtol=1e-2) is None
    msg = value_diff(e + np.array([0, 0, 0.5]), e)
    assert "1 of 3 entries" in msg and "(2,)" in msg
    assert diff([1, {"a": 2.0}], [1, {"a": 2.5}]) == "`output[1]['a']` is 2; expected 2.5"
    assert diff("x", "y") == "`output` is 'x'; expected 'y'"


def test_markers_are_unwrapped_for_the_trusted_side():
    arr = np.ones((2, 2))
    out = unwrap_markers({"W": tf_variable(arr), "k": [tf_variable(arr)]})
    assert isinstance(out["W"], np.ndarray) and isinstance(out["k"][0], np.ndarray)


class _Student:
    def __init__(self, fns):
        self.fns = fns

    def has(self, fn):
        return fn in self.fns

    def call(self, fn, *a, **k):
        return self.fns[fn](*a, **k)

    def get(self, name):
        raise KeyError(name)


def test_suite_runs_checks_and_reports_failures_with_prefix():
    s = Suite("demo")

    @s.check("double", points=2, failure="double x", reveal=True)   # (a visible example)
    def wrong(t):
        t.compare(t.call(3), 6)

    @s.check("double", points=1)
    def raises_assert(t):
        raise CheckFailed("nope", hint="try again")

    @s.check("triple")
    def absent(t):
        t.call(1)

    out = run_suite(s, _Student({"double": lambda x: x + x + 1}), seed=1)
    assert [o.passed for o in out] == [False, False, False]
    assert out[0].message == "double x: `output` is 7; expected 6"
    assert out[1].hint == "try again"
    assert out[2].message == "`triple` is not defined in your notebook"
    assert s.points_by_function() == {"double": 3.0, "triple": 1.0}
    with pytest.raises(ValueError):
        s.check("double", name="double.wrong")(lambda t: None)


def test_per_check_random_generator_is_independent_of_order():
    s = Suite("demo")
    seen = {}

    @s.check("f", name="a")
    def a(t):
        seen.setdefault("a", []).append(t.rng.random())

    @s.check("f", name="b")
    def b(t):
        seen.setdefault("b", []).append(t.rng.random())

    stu = _Student({"f": lambda: 0})
    run_suite(s, stu, seed=7)
    s.checks.reverse()
    run_suite(s, stu, seed=7)
    assert seen["a"][0] == seen["a"][1] and seen["b"][0] == seen["b"][1] and seen["a"][0] != seen["b"][0]


def test_hidden_value_differences_say_how_far_without_the_number():
    e = np.array([[0.4242, -1.5], [2.0, 0.0]])
    msg = value_diff(e * np.array([[2.0, 1.0], [1.0, 1.0]]), e, reveal=False)
    assert msg == ("`output` differs from the expected values in 1 of 4 entries "
                   "(e.g. the entry at index (0, 0) is about 2 times the expected value)")
    assert "0.4242" not in msg and "0.8484" not in msg
    assert value_diff(-0.31, 0.31, reveal=False) == "`output` has the wrong sign"
    assert value_diff(0.3101, 0.31, reveal=False) == "`output` is off by less than 1%"
    assert value_diff(1.0, 0.0, reveal=False) == "`output` should be 0"
    assert value_diff(float("nan"), 0.31, reveal=False) == "`output` is nan, not a finite number"
    assert value_diff("x", "y", reveal=False) == "`output` is not the expected value"


def test_inputs_in_plain_words_and_the_missing_layer_note():
    from autograder.checks.compare import describe_inputs, missing_key_note
    from reference.optimization import update_parameters_with_gd
    params = {"W1": np.zeros((3, 4)), "b1": np.zeros((3, 1))}
    grads = {"dW1": np.zeros((3, 4)), "db1": np.zeros((3, 1))}
    words = describe_inputs(update_parameters_with_gd, (params, grads, 0.01), {})
    assert words == ("parameters: parameters of a 1-layer network (W1 (3, 4), b1 (3, 1)); grads: dW/db entries of a "
                     "1-layer network (dW1 (3, 4), db1 (3, 1)); learning_rate: 0.01")
    note = missing_key_note("KeyError: 'W2'", (params, grads, 0.01), {})
    assert "has 1 layer, so there is no 'W2'" in note
    assert missing_key_note("KeyError: 'W1'", (params,), {}) == ""
    assert describe_inputs(None, (np.zeros((2, 5)), (np.ones(3), np.ones((2, 2)))), {}) == (
        "argument 1: an array of shape (2, 5); argument 2: a tuple of 2 arrays of shapes (3,), (2, 2)")


def test_a_failure_names_the_inputs_of_the_call_as_they_were_passed():
    """The inputs' words are written only when a message needs them (issue 15); a check that changes
    its dict after the call must still see the call's inputs described, and a call error names them."""
    s = Suite("demo")

    @s.check("layers")
    def reuses_its_dict(t):
        params = {"W1": np.zeros((3, 4)), "b1": np.zeros((3, 1))}
        out = t.call(params)
        params["W2"] = np.zeros((1, 3))          # the check builds its next case in the same dict
        out.shape                                # the learner's output breaks the check's assumption

    @s.check("layers")
    def call_error(t):
        t.call({"W1": np.zeros((3, 4)), "b1": np.zeros((3, 1))})

    @s.check("layers")
    def passes(t):
        t.compare(t.call({"W1": np.zeros((2, 2))}), None)

    out = run_suite(s, _Student({"layers": lambda p: None}), seed=1)
    assert [o.passed for o in out] == [False, True, True]
    assert out[0].message.endswith("The call's inputs were argument 1: parameters of a 1-layer network "
                                   "(W1 (3, 4), b1 (3, 1))"), out[0].message
    out = run_suite(s, _Student({"layers": lambda p: p["W9"]}), seed=1)
    assert out[1].message == ("your output could not be checked (KeyError: 'W9'). The call's inputs were "
                              "argument 1: parameters of a 1-layer network (W1 (3, 4), b1 (3, 1))")
