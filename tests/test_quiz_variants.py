"""Every question renders and grades on 200 variants; variants are reproducible per (student, question)."""
from __future__ import annotations

import math

import pytest

from quizzes import variant as V
from quizzes.grading import grade_answer, make_variant, parse_answer, show_answer, within
from quizzes.schema import PLACEHOLDER_RE, bank

STUDENTS = [f"student{i:03d}" for i in range(200)]
QUESTIONS = sorted(bank().values(), key=lambda q: q.id)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_question_renders_and_grades_on_200_variants(q):
    seen_params, seen_orders = set(), set()
    for s in STUDENTS:
        v = make_variant(q, s)
        text = v.text
        assert not PLACEHOLDER_RE.search(text), f"{q.id}: unfilled placeholder in {text!r}"
        expected = v.expected()
        if q.type in ("numeric", "param_numeric"):
            assert isinstance(expected, float) and math.isfinite(expected), (q.id, v.params)
            for value, _ in v.distractor_values():
                assert math.isfinite(value) and not within(value, expected, q.tolerance), \
                    f"{q.id} {v.params}: distractor {value} within tolerance of {expected}"
                wrong = grade_answer(v, value)
                assert not wrong.passed
        verdict = grade_answer(v, expected)
        assert verdict.passed, (q.id, s, verdict.message)
        # the answer line of a message reads back to the same answer
        assert parse_answer(v, show_answer(verdict.answer)) == verdict.answer
        seen_params.add(tuple(sorted(v.params.items())))
        seen_orders.add(v.order)
    if q.parameterized:
        assert len(seen_params) > 5, f"{q.id}: parameters hardly vary"
    if q.is_choice and q.shuffle:
        assert len(seen_orders) > 3, f"{q.id}: option order hardly varies"


def test_variants_are_reproducible_and_student_specific():
    q = bank()["w2_adam_v_corrected"]
    a1, a2, b = make_variant(q, "ada"), make_variant(q, "ada"), make_variant(q, "bob")
    assert a1 == a2
    assert (a1.params, a1.order) != (b.params, b.order) or a1.params != make_variant(q, "cy").params
    assert make_variant(q, "ada", space="practice:1").params != a1.params or \
        make_variant(q, "ada", space="practice:2").params != a1.params


def test_wrong_choices_fail_with_their_feedback():
    q = bank()["w1_bv_diagnose_variance"]
    v = make_variant(q, "ada")
    correct = v.expected()
    for letter, text in v.displayed_choices():
        verdict = grade_answer(v, letter)
        assert verdict.passed == (letter == correct)
        if letter != correct:
            fb = next(c.feedback for c in q.choices if c.text == text)
            assert fb in verdict.message and verdict.message.startswith(f"Your answer: {letter}")
            assert q.explanation in verdict.message


def test_multi_select_is_all_or_nothing_and_accepts_list_or_string():
    q = bank()["w1_bv_variance_fixes"]
    v = make_variant(q, "ada")
    right = v.expected()
    assert grade_answer(v, list(reversed(right))).passed
    assert grade_answer(v, ", ".join(right).lower()).passed
    partial = grade_answer(v, right[:-1])
    assert not partial.passed and "left out 1 correct option" in partial.message


@pytest.mark.parametrize("qid, raw, reason", [
    ("w1_bv_diagnose_variance", None, "no answer given"),
    ("w1_bv_diagnose_variance", "Z", "not one of the options"),
    ("w1_bv_diagnose_variance", ["A", "B"], "exactly one letter"),
    ("w1_tdt_no_test_ok", "maybe", "True or False"),
    ("w2_lrd_inverse", "fast", "is not a number"),
    ("w2_lrd_inverse", True, "not True/False"),
    ("w2_lrd_inverse", float("nan"), "finite"),
])
def test_badly_formed_answers_fail_with_a_reason(qid, raw, reason):
    v = make_variant(bank()[qid], "ada")
    verdict = grade_answer(v, raw)
    assert not verdict.passed and reason in verdict.message


def test_numpy_numbers_are_accepted():
    import numpy as np
    v = make_variant(bank()["w2_lrd_inverse"], "ada")
    e = v.expected()
    assert grade_answer(v, np.float64(e)).passed and grade_answer(v, np.array([[e]])).passed
    assert not grade_answer(v, np.array([e, e])).passed


def test_numeric_tolerance_and_distractor_feedback():
    q = bank()["w2_ewa_corrected_t3"]
    v = make_variant(q, "ada")
    e = v.expected()
    assert grade_answer(v, e * 1.005).passed and not grade_answer(v, e * 1.02).passed
    uncorrected = v.distractor_values()[0][0]
    msg = grade_answer(v, uncorrected).message
    assert "before bias correction" in msg


def test_parameter_draws_respect_declared_ranges():
    import random
    rng = random.Random(0)
    for _ in range(500):
        x = V.draw_param({"min": 0.5, "max": 0.9, "step": 0.05}, rng)
        assert 0.5 <= x <= 0.9 and abs(round(x / 0.05) * 0.05 - x) < 1e-9
        n = V.draw_param({"min": 2, "max": 10}, rng)
        assert isinstance(n, int) and 2 <= n <= 10
        y = V.draw_param({"min": -4, "max": -1, "log10": True, "digits": 2}, rng)
        assert 1e-4 * 0.95 <= y <= 0.1 * 1.05
