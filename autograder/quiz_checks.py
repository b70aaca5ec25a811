"""The quiz assignments ``quiz_week<N>`` as hidden checks: one check per question (``q_<id>``).

The quiz package knows questions, variants and how an answer is graded (:mod:`quizzes.grading`);
this module only wraps that in the check framework the engine runs.
"""
from __future__ import annotations

from typing import Any

from autograder.checks.framework import CheckFailed, CheckSpec, Suite
from quizzes.grading import ANSWER_PREFIX, NO_ANSWER, answer_variable, grade_answer, make_variant, quiz_questions
from quizzes.schema import Question


def _student_id_note(student_obj: Any, student: str, cache: dict) -> str:
    """A warning when the notebook's STUDENT_ID differs from the graded student's id."""
    if "note" not in cache:
        note = ""
        try:
            shown = student_obj.get("STUDENT_ID")
        except Exception:
            shown = None
        if isinstance(shown, str) and shown.strip() and shown.strip() != student:
            note = (f"Note: your notebook showed the questions for STUDENT_ID {shown.strip()!r}, but you "
                    f"are graded as {student!r} with your own variant of each question.")
        cache["note"] = note
    return cache["note"]


def _body(question: Question, student: str, cache: dict):
    var = answer_variable(question.id)

    def body(t) -> None:
        variant = make_variant(question, student)
        try:
            raw = t.student.get(var)
        except Exception as exc:
            kind = getattr(exc, "kind", None)
            if kind is None:
                raise
            reason = (f"`{var}` is not defined in your notebook" if kind == "missing" else
                      f"`{var}` could not be read ({kind}); use a string, a list of strings, True/False or a number")
            raise CheckFailed(f"{ANSWER_PREFIX}{NO_ANSWER}\n{reason}.\n{question.explanation}") from None
        verdict = grade_answer(variant, raw)
        t.response = verdict.response
        if not verdict.passed:
            note = _student_id_note(t.student, student, cache)
            raise CheckFailed(verdict.message + (f"\n{note}" if note else ""), response=verdict.response)
    body.__name__ = var
    return body


def quiz_suite(assignment: str, student: str):
    """The framework ``Suite`` grading ``student``'s quiz notebook: one check per question."""
    suite = Suite(assignment)
    cache: dict = {}
    for q in quiz_questions(assignment):
        var = answer_variable(q.id)
        suite.add(CheckSpec(name=var, function=var, points=q.points, concepts=tuple(q.concepts),
                            failure="", body=_body(q, str(student), cache), needs=(), randomized=False))
    return suite
