"""Item analysis against a small hand-worked class, and from the responses the grading path stores."""
from __future__ import annotations

import pytest

from quizzes.items import Response, analyse, format_report, item_report, pearson
from quizzes.schema import Choice, Question


def q(qid, n_options=4, correct=0):
    return Question(id=qid, type="single", week=1, source="t.yaml", concepts=("dropout",), points=1.0,
                    use="quiz", text="?", explanation="!",
                    choices=tuple(Choice(f"opt{i}", i == correct) for i in range(n_options)))


# Five students, three questions.   Q1   Q2   Q3   total
#   s1                               1    1    1     3
#   s2                               1    1    0     2
#   s3                               1    0    0     1
#   s4                               0    1    0     1
#   s5                               0    0    0     0
MARKS = {"s1": (1, 1, 1), "s2": (1, 1, 0), "s3": (1, 0, 0), "s4": (0, 1, 0), "s5": (0, 0, 0)}
Q1_CHOICES = {"s1": [0], "s2": [0], "s3": [0], "s4": [1], "s5": [2]}   # option 3 (D) never chosen


def responses():
    out = []
    for s, marks in MARKS.items():
        for k, ok in enumerate(marks, start=1):
            choice = Q1_CHOICES[s] if k == 1 else ([0] if ok else [1])
            out.append(Response(s, "quiz_week1", f"q{k}", choice, bool(ok)))
    # a second attempt must not count: s5 later gets q1 right
    out.append(Response("s5", "quiz_week1", "q1", [0], True, attempt=2))
    return out


def stats():
    return {s.question: s for s in analyse(responses(), {f"q{k}": q(f"q{k}") for k in (1, 2, 3)})}


def test_difficulty_uses_first_attempts():
    st = stats()
    assert st["q1"].n == 5
    assert st["q1"].difficulty == pytest.approx(0.6)
    assert st["q2"].difficulty == pytest.approx(0.6)
    assert st["q3"].difficulty == pytest.approx(0.2)


def test_item_rest_point_biserial_by_hand():
    # q1: item (1,1,1,0,0), rest = total - item = (2,1,0,1,0)
    # means 0.6 / 0.8; sum of cross products 0.6; Sxx = 1.2; Syy = 2.8 -> r = 0.6 / sqrt(3.36) = 0.327327
    assert stats()["q1"].item_rest == pytest.approx(0.327327, abs=1e-6)
    # q3: item (1,0,0,0,0) mean 0.2, rest (2,2,1,1,0) mean 1.2
    # cross products 0.64 - 0.16 + 0.04 + 0.04 + 0.24 = 0.8; Sxx = 0.8; Syy = 2.8 -> r = 0.8 / sqrt(2.24) = 0.534522
    assert stats()["q3"].item_rest == pytest.approx(0.534522, abs=1e-6)
    assert pearson([1, 1], [2, 2]) is None


def test_upper_lower_discrimination_by_hand():
    # 27 % of 5 -> 1 student per group: upper s1 (total 3), lower s5 (total 0)
    st = stats()
    assert st["q1"].upper_lower == pytest.approx(1.0)
    assert st["q3"].upper_lower == pytest.approx(1.0)
    assert st["q2"].upper_lower == pytest.approx(1.0)


def test_choice_rates_and_flags():
    st = stats()
    assert st["q1"].choice_rates == pytest.approx({0: 0.6, 1: 0.2, 2: 0.2, 3: 0.0})
    assert "non-functional distractor(s) D" in st["q1"].flags
    assert "too hard" not in st["q3"].flags            # 0.2 is the edge, not outside
    assert "poor discrimination" not in st["q1"].flags  # r = 0.33


def test_flags_easy_hard_and_negative_discrimination():
    rs = []
    # q_easy: everyone right; q_neg: only the weakest students right; q_hard: nobody right
    totals = {"a": 4, "b": 3, "c": 2, "d": 1, "e": 0}
    for s, t in totals.items():
        rs += [Response(s, "quiz_week2", f"filler{i}", None, i < t) for i in range(4)]
        rs.append(Response(s, "quiz_week2", "q_easy", None, True))
        rs.append(Response(s, "quiz_week2", "q_neg", None, t <= 1))
        rs.append(Response(s, "quiz_week2", "q_hard", None, False))
    st = {s.question: s for s in analyse(rs)}
    assert "too easy" in st["q_easy"].flags and st["q_easy"].item_rest is None
    assert "too hard" in st["q_hard"].flags
    assert "negative discrimination" in st["q_neg"].flags and st["q_neg"].upper_lower == pytest.approx(-1.0)
    assert "q_neg" in format_report(list(st.values()))


def test_report_from_recorded_quiz_results(tmp_path):
    from autograder.engine import grade_with_student
    from quizzes.mastery import record_result
    from tests.quiz_helpers import AnswerSheet, correct_answers
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    for i, student in enumerate(["ann", "ben", "cat", "dan"]):
        answers = correct_answers("quiz_week3", student)
        for k, var in enumerate(sorted(answers)):
            if k < i * 3:
                answers[var] = None          # weaker students leave more unanswered
        record_result(db, grade_with_student("quiz_week3", AnswerSheet(answers), student))
    st = {s.question: s for s in item_report(db, "quiz_week3")}
    assert len(st) > 5 and all(s.n == 4 for s in st.values())
    assert all(0.0 <= s.difficulty <= 1.0 for s in st.values())
    single = next(s for s in st.values() if s.choice_rates)
    assert sum(single.choice_rates.values()) == pytest.approx(1.0) or single.no_answer_rate > 0


def test_stored_responses_come_from_the_response_field_never_from_the_message(tmp_path):
    """A message that quotes a different answer does not change what item analysis stores; a replay of
    a schema-1 document (no response field) keeps the response recorded before."""
    from sqlalchemy import select

    from autograder.result import CheckResult, SubmissionResult
    from quizzes.grading import quiz_questions
    from quizzes.mastery import engine_for, quiz_responses, record_result
    q = next(q for q in quiz_questions("quiz_week3") if q.type == "single")
    db = f"sqlite:///{tmp_path / 'gb.db'}"

    def result(response):
        check = CheckResult(f"q_{q.id}", f"q_{q.id}", 0.0, 1.0, False, "Your answer: A\nNot correct.",
                            concepts=tuple(q.concepts), response=response, gated=False)
        return SubmissionResult(assignment="quiz_week3", student="ann", notebook="quiz_week3.ipynb",
                                checksum="c1", gradable=True, checks=(check,))

    def stored():
        with engine_for(db).connect() as conn:
            return conn.execute(select(quiz_responses.c.response)).scalars().all()

    record_result(db, result([2]))
    assert stored() == ["[2]"]
    old = result([2]).to_dict()
    old["schema_version"] = 1
    for c in old["checks"]:
        del c["response"], c["gated"]
    record_result(db, SubmissionResult.from_dict(old))
    assert stored() == ["[2]"]
