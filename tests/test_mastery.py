"""Bayesian Knowledge Tracing: hand-computed updates, idempotent recording, review list, EM refit."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select

from autograder.result import CheckResult, SubmissionResult
from quizzes import bkt
from quizzes.grading import make_variant
from quizzes.mastery import (engine_for, mastery_table, observations, quiz_responses, record_result, refit,
                             review_list)
from quizzes.schema import bank


def check(name, passed, concepts, message="", response=None):
    return CheckResult(name=name, function=name, points=float(passed), max_points=1.0, passed=passed,
                       message=message or ("passed" if passed else "failed"), concepts=tuple(concepts),
                       response=response)


def result(student, assignment, checks, checksum="c1"):
    return SubmissionResult(assignment=assignment, student=student, notebook=f"{assignment}.ipynb",
                            checksum=checksum, gradable=True, score=0.0, max_score=float(len(checks)),
                            checks=tuple(checks))


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


def test_guess_depends_on_question_type():
    assert bkt.guess_for("single:4") == pytest.approx(0.25)
    assert bkt.guess_for("single:2") == bkt.MAX_GUESS
    assert bkt.guess_for("multi:3") == pytest.approx(1 / 7)
    assert bkt.guess_for("truefalse") == bkt.MAX_GUESS < 0.5      # guess < 0.5 identifies the model
    assert bkt.guess_for("param_numeric") == 0.05 == bkt.guess_for("numeric")
    assert bkt.guess_for("code") == 0.1


def test_update_matches_hand_computed_values():
    # prior 0.3, learn 0.1, slip 0.1 (true/false guess is taken as 1/2 here; the default caps it at 0.45)
    # correct, guess 1/4: 0.27 / (0.27 + 0.7*0.25) = 0.606742; + 0.1 * 0.393258 = 0.646067
    p = bkt.update(0.3, True, learn=0.1, guess=0.25, slip=0.1)
    assert p == pytest.approx(0.646067, abs=1e-6)
    # wrong, guess 1/2: 0.0646067 / (0.0646067 + 0.353933*0.5) = 0.267442; + 0.1 * 0.732558 = 0.340698
    p = bkt.update(p, False, learn=0.1, guess=0.5, slip=0.1)
    assert p == pytest.approx(0.340698, abs=1e-6)
    # correct, guess 0.05: 0.306628 / (0.306628 + 0.659302*0.05) = 0.902928; + 0.1 * 0.097072 = 0.912635
    p = bkt.update(p, True, learn=0.1, guess=0.05, slip=0.1)
    assert p == pytest.approx(0.912635, abs=1e-6)


QUIZ_CHECKS = [  # (check name -> bank type), concept overridden to one concept for the hand computation
    ("q_w1_bv_diagnose_variance", True),    # single, 4 options -> guess 1/4
    ("q_w1_bv_high_both", False),           # true/false        -> guess 1/2
    ("q_w2_lrd_inverse", True),             # param_numeric     -> guess 0.05
]


def test_record_result_applies_bkt_and_is_idempotent(db):
    r = result("ada", "quiz_week1", [check(n, p, ["bias_variance"]) for n, p in QUIZ_CHECKS])
    assert record_result(db, r) == 3
    p, n = mastery_table(db, "ada")["bias_variance"]
    expected = bkt.trace([(True, "single:4"), (False, "truefalse"), (True, "param_numeric")], bkt.BKTParams())
    assert n == 3 and p == pytest.approx(expected, abs=1e-9)
    g = bkt.BKTParams()
    assert bkt.update(bkt.update(bkt.update(0.3, True, 0.1, 0.25, 0.1), False, 0.1, g.g("truefalse"), 0.1),
                      True, 0.1, 0.05, 0.1) == pytest.approx(expected)
    assert record_result(db, r) == 0                      # same submission again: nothing counted
    assert record_result(db, SubmissionResult.from_dict(r.to_dict())) == 0   # also after a JSON round trip
    with pytest.raises(TypeError, match="SubmissionResult"):
        record_result(db, r.to_dict())                    # one typed entry: a dict is converted at the edge
    assert mastery_table(db, "ada")["bias_variance"] == (pytest.approx(p), 3)
    with engine_for(db).connect() as conn:
        assert conn.execute(select(func.count()).select_from(observations)).scalar() == 3
    # a resubmission (new checksum) is new evidence only where an outcome changed (question 2)
    r2 = result("ada", "quiz_week1", [check(n, True, ["bias_variance"]) for n, _ in QUIZ_CHECKS], checksum="c2")
    assert record_result(db, r2) == 1
    p2, n2 = mastery_table(db, "ada")["bias_variance"]
    assert n2 == 4 and p2 > p


def test_a_changed_outcome_for_the_same_key_replaces_and_replays(db):
    first = result("bo", "quiz_week1", [check(n, p, ["bias_variance"]) for n, p in QUIZ_CHECKS])
    record_result(db, first)
    flipped = result("bo", "quiz_week1", [check(n, not p, ["bias_variance"]) for n, p in QUIZ_CHECKS])
    assert record_result(db, flipped) == 0
    expected = bkt.trace([(False, "single:4"), (True, "truefalse"), (False, "param_numeric")], bkt.BKTParams())
    p, n = mastery_table(db, "bo")["bias_variance"]
    assert n == 3 and p == pytest.approx(expected)


def test_a_graded_function_is_one_observation_per_concept(db):
    r = result("cy", "optimization", [check("update_parameters_with_adam.random", True, ["adam", "ewa_bias_correction"])])
    record_result(db, r)
    t = mastery_table(db, "cy")
    expected = bkt.update(0.3, True, 0.1, bkt.CODE_GUESS, 0.1)
    assert t["adam"] == (pytest.approx(expected), 1) and t["ewa_bias_correction"] == (pytest.approx(expected), 1)
    assert t["dropout"] == (pytest.approx(0.3), 0)


def test_ungradable_results_are_ignored(db):
    r = SubmissionResult(assignment="quiz_week1", student="dee", notebook="x.ipynb", checksum="z",
                         gradable=False, ungradable_reason="not JSON")
    assert record_result(db, r) == 0


def test_quiz_responses_are_stored_in_bank_order_with_attempts(db):
    q = bank()["w1_bv_diagnose_variance"]
    v = make_variant(q, "eve")
    wrong = next(L for L, _ in v.displayed_choices() if L != v.expected())
    wrong_index = v.order[v.letters.index(wrong)]
    msg = f"Your answer: {wrong}\nNot correct.\n{q.explanation}"
    record_result(db, result("eve", "quiz_week1", [check(f"q_{q.id}", False, q.concepts, msg, [wrong_index])]))
    right = check(f"q_{q.id}", True, q.concepts, response=list(q.correct_indices))
    record_result(db, result("eve", "quiz_week1", [right], checksum="c2"))
    record_result(db, result("eve", "quiz_week1", [right], checksum="c2"))
    with engine_for(db).connect() as conn:
        rows = conn.execute(select(quiz_responses).order_by(quiz_responses.c.attempt)).mappings().all()
    assert [(r["attempt"], r["correct"]) for r in rows] == [(1, False), (2, True)]
    assert json.loads(rows[0]["response"]) == [wrong_index]
    assert json.loads(rows[1]["response"]) == q.correct_indices


def test_review_list_orders_by_lowest_mastery_and_points_to_practice(db):
    record_result(db, result("fay", "regularization", [
        check("a", False, ["dropout"]), check("b", False, ["dropout"]),
        check("c", True, ["l2_regularization"]),
        check("d", True, ["weight_initialization"]), check("e", True, ["weight_initialization"]),
        check("f", True, ["weight_initialization"])]))
    items = review_list(db, "fay")
    assessed = [it for it in items if it.n_obs]
    assert [it.concept for it in assessed] == ["dropout", "l2_regularization"]
    assert items[:2] == assessed                              # unassessed concepts come after
    assert all(it.n_obs == 0 and it.p_mastery == pytest.approx(0.3) for it in items[2:])
    assert assessed[0].p_mastery < assessed[1].p_mastery
    assert all(it.p_mastery < 0.95 for it in items)
    assert "weight_initialization" not in {it.concept for it in items}    # three functions passed: mastered
    first = items[0]
    assert first.questions and all("dropout" in bank()[qid].concepts for qid in first.questions)
    assert any(s["assignment"] == "regularization" for s in first.sections)
    everything = review_list(db, "fay", threshold=0.5, include_mastered=True)
    assert {it.concept for it in everything} == set(mastery_table(db, "fay"))


def test_em_refit_recovers_parameters_and_replays_mastery(db):
    rng = np.random.default_rng(7)
    true = bkt.BKTParams(prior=0.2, learn=0.25, guess={"code": 0.2}, slip={"code": 0.05})
    for s in range(150):
        known = rng.random() < true.prior
        checks = []
        for t in range(8):
            ok = rng.random() < ((1 - true.s("code")) if known else true.g("code"))
            checks.append(check(f"momentum.case{t}", bool(ok), ["momentum"]))
            known = known or rng.random() < true.learn
        record_result(db, result(f"s{s:03d}", "optimization", checks))
    before = mastery_table(db, "s000")["momentum"][0]
    reports = {r.concept: r for r in refit(db, min_students=20, min_obs=100)}
    fitted = reports["momentum"].params
    assert reports["momentum"].status == "fitted"
    assert fitted.prior == pytest.approx(true.prior, abs=0.1)
    assert fitted.learn == pytest.approx(true.learn, abs=0.1)
    assert fitted.g("code") == pytest.approx(true.g("code"), abs=0.08)
    assert fitted.s("code") == pytest.approx(true.s("code"), abs=0.05)
    with engine_for(db).connect() as conn:
        rows = conn.execute(select(observations.c.correct).where(observations.c.student == "s000")
                            .order_by(observations.c.id)).scalars().all()
    expected = bkt.trace([(bool(c), "code") for c in rows], fitted)
    after = mastery_table(db, "s000")["momentum"][0]
    assert after == pytest.approx(expected) and after != pytest.approx(before)


def test_refit_skips_concepts_without_enough_data(db):
    record_result(db, result("gil", "optimization", [check("x", True, ["rmsprop"])]))
    (r,) = refit(db, min_students=20, min_obs=100, concepts=["rmsprop"])
    assert r.status == "skipped" and "1 students / 1 observations" in r.reason


def test_record_evidence_writes_inside_the_callers_transaction(db):
    from quizzes.mastery import engine_for, record_evidence
    r = result("hal", "batchnorm", [check("softmax.random", True, ["softmax_regression"])])
    with engine_for(db).connect() as conn:
        tx = conn.begin()
        assert record_evidence(conn, r) == 1
        tx.rollback()                                   # the caller's rollback takes the evidence too
    assert mastery_table(db, "hal")["softmax_regression"][1] == 0
    with engine_for(db).begin() as conn:
        record_evidence(conn, r)
    assert mastery_table(db, "hal")["softmax_regression"][1] == 1
