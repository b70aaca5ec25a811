"""Quiz grading through the check framework and the engine (in-process and in the real sandbox)."""
from __future__ import annotations

import json

import pytest

from autograder.checks.framework import run_suite
from autograder.engine import grade_submission, grade_with_student
from autograder.quiz_checks import quiz_suite
from quizzes.grading import answer_from_message, make_variant, quiz_questions, week_of
from quizzes.schema import bank
from tests.quiz_helpers import AnswerSheet, correct_answers, fill_notebook


def test_suite_has_one_check_per_question_with_points_and_concepts():
    suite = quiz_suite("quiz_week2", "ada")
    qs = quiz_questions("quiz_week2")
    assert [c.name for c in suite.checks] == [f"q_{q.id}" for q in qs]
    assert [c.function for c in suite.checks] == [f"q_{q.id}" for q in qs]
    assert [c.points for c in suite.checks] == [q.points for q in qs]
    assert [c.concepts for c in suite.checks] == [q.concepts for q in qs]
    assert all(c.needs == () for c in suite.checks)
    with pytest.raises(ValueError):
        week_of("optimization")


def test_right_answers_pass_and_the_engine_scores_them():
    answers = correct_answers("quiz_week1", "ada")
    outcomes = run_suite(quiz_suite("quiz_week1", "ada"), AnswerSheet(answers), seed=0)
    assert all(o.passed for o in outcomes), [o.message for o in outcomes if not o.passed]
    result = grade_with_student("quiz_week1", AnswerSheet(answers), "ada")
    total = sum(q.points for q in quiz_questions("quiz_week1"))
    assert result.score == pytest.approx(total) == result.max_score
    assert set(result.grade_cells) == {f"test_q_{q.id}" for q in quiz_questions("quiz_week1")}


def test_another_students_answers_do_not_transfer():
    mine = correct_answers("quiz_week2", "ada")
    theirs = correct_answers("quiz_week2", "bob")
    result = grade_with_student("quiz_week2", AnswerSheet(theirs), "ada")
    differing = {k for k in mine if mine[k] != theirs[k]}
    assert differing, "variants of two students should differ somewhere"
    failed = {c.name for c in result.checks if not c.passed}
    assert failed and failed <= differing


def test_wrong_missing_and_unreadable_answers_explain_and_keep_the_answer_line():
    answers = correct_answers("quiz_week3", "ada")
    qs = quiz_questions("quiz_week3")
    choice_q = next(q for q in qs if q.type == "single")
    numeric_q = next(q for q in qs if q.parameterized)
    v = make_variant(choice_q, "ada")
    wrong_letter = next(L for L, _ in v.displayed_choices() if L != v.expected())
    answers[f"q_{choice_q.id}"] = wrong_letter
    answers[f"q_{numeric_q.id}"] = "twelve"
    missing_q = qs[-1]
    del answers[f"q_{missing_q.id}"]
    answers["STUDENT_ID"] = "bob"
    result = grade_with_student("quiz_week3", AnswerSheet(answers), "ada")
    by_name = {c.name: c for c in result.checks}
    c = by_name[f"q_{choice_q.id}"]
    assert not c.passed and answer_from_message(c.message) == wrong_letter
    assert choice_q.explanation in c.message
    assert "STUDENT_ID 'bob'" in c.message
    n = by_name[f"q_{numeric_q.id}"]
    assert not n.passed and "is not a number" in n.message
    m = by_name[f"q_{missing_q.id}"]
    assert not m.passed and "not defined in your notebook" in m.message
    assert answer_from_message(m.message) == "(no answer)"
    assert sum(not c.passed for c in result.checks) == 3
    # the structured response: bank-order option indices, None when there is no readable answer
    assert c.response == (v.order[v.letters.index(wrong_letter)],)
    assert n.response is None and m.response is None


def test_a_passed_numeric_check_records_the_number_given_not_the_expected_one():
    answers = correct_answers("quiz_week3", "ada")
    q = next(q for q in quiz_questions("quiz_week3") if q.type in ("numeric", "param_numeric"))
    expected = make_variant(q, "ada").expected()
    close = float(expected) * (1 + 1e-9) + 1e-12           # inside every tolerance, not equal
    answers[f"q_{q.id}"] = close
    check = next(c for c in grade_with_student("quiz_week3", AnswerSheet(answers), "ada").checks
                 if c.name == f"q_{q.id}")
    assert check.passed and check.message == "passed" and check.response == close != expected


@pytest.mark.slow
def test_filled_quiz_notebook_grades_in_the_sandbox(tmp_path):
    from quizzes.release import build_quiz
    folder = build_quiz(3, tmp_path)
    nb_path = folder / "quiz_week3.ipynb"
    nb = json.loads(nb_path.read_text())
    answers = correct_answers("quiz_week3", "ada")
    first = next(q for q in quiz_questions("quiz_week3") if q.type == "single")
    v = make_variant(first, "ada")
    answers[f"q_{first.id}"] = next(L for L, _ in v.displayed_choices() if L != v.expected())
    sub = tmp_path / "submitted.ipynb"
    sub.write_text(json.dumps(fill_notebook(nb, answers)))
    r = grade_submission(sub, "quiz_week3", "ada", course_dir=tmp_path)
    assert r.gradable and r.cell_errors == [], r.cell_errors
    failed = [c.name for c in r.checks if not c.passed]
    assert failed == [f"q_{first.id}"]
    total = sum(q.points for q in quiz_questions("quiz_week3"))
    assert r.max_score == pytest.approx(total)
    assert r.score == pytest.approx(total - first.points)
    assert all(c.concepts for c in r.checks)
