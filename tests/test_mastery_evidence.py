"""The evidence model of mastery: what one submission contributes, in what order, and refits that never
block grading (issue 13)."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import func, select

from autograder.result import CheckResult, SubmissionResult
from quizzes import bkt, mastery
from quizzes.mastery import (attempts, engine_for, mastery_rows, mastery_table, observations, record_evidence,
                             record_result, refit, refit_if_ready, review_list)

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)


def fn_checks(function, outcomes, concepts):
    """Checks of one function of the optimization suite: ``outcomes`` {suffix: passed}."""
    return [CheckResult(name=f"{function}.{suffix}", function=function, points=float(ok), max_points=1.0,
                        passed=ok, concepts=tuple(concepts)) for suffix, ok in outcomes.items()]


def submission(student, assignment, checks, checksum, graded_at=None):
    return SubmissionResult(assignment=assignment, student=student, notebook=f"{assignment}.ipynb",
                            checksum=checksum, gradable=True, checks=tuple(checks),
                            graded_at=graded_at or T0.isoformat())


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


def n_rows(db, table, **where):
    with engine_for(db).connect() as conn:
        q = select(func.count()).select_from(table)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return conn.execute(q).scalar()


def test_record_evidence_writes_in_the_callers_transaction_and_never_commits(db):
    eng = engine_for(db)
    r = submission("ann", "optimization", fn_checks("update_parameters_with_adam", {"random": True}, ["adam"]), "c1")
    with eng.connect() as conn:
        tx = conn.begin()
        assert record_evidence(conn, r, submitted_at=T0) == 1
        assert conn.execute(select(func.count()).select_from(observations)).scalar() == 1
        tx.rollback()                                       # the caller decides: nothing was committed
    assert n_rows(db, observations) == 0 and n_rows(db, attempts) == 0
    assert mastery_table(db, "ann")["adam"][1] == 0
    with eng.begin() as conn:
        assert record_evidence(conn, r, submitted_at=T0) == 1
    assert mastery_table(db, "ann")["adam"][1] == 1


def test_a_functions_checks_collapse_to_one_outcome_and_gated_checks_carry_none_alone(db):
    checks = (fn_checks("update_parameters_with_adam",                   # structure passes, values wrong
                        {"structure": True, "fixed": False, "random": False, "edge_cases": False}, ["adam"])
              + fn_checks("initialize_adam", {"structure": True, "fixed": True, "random": True}, ["adam"])
              + fn_checks("update_lr", {"structure": True, "fixed": True}, ["learning_rate_decay"]))  # gated only
    assert record_result(db, submission("bea", "optimization", checks, "c1"), submitted_at=T0) == 2
    with engine_for(db).connect() as conn:
        rows = conn.execute(select(observations.c.item, observations.c.correct, observations.c.kind)
                            .order_by(observations.c.position)).all()
    assert [tuple(r) for r in rows] == [("update_parameters_with_adam", False, "code"),
                                        ("initialize_adam", True, "code")]
    t = mastery_table(db, "bea")
    assert t["learning_rate_decay"][1] == 0
    # the order of checks inside a submission cannot matter: one outcome per function
    expected = bkt.trace([(False, "code"), (True, "code")], bkt.BKTParams())
    assert t["adam"] == (pytest.approx(expected), 2)


def test_resaving_unchanged_work_adds_nothing_and_a_resubmission_adds_only_changed_items(db):
    adam = "update_parameters_with_adam"
    first = fn_checks(adam, {"random": False}, ["adam"]) + fn_checks("initialize_adam", {"random": True}, ["adam"])
    record_result(db, submission("cal", "optimization", first, "c1"), submitted_at=T0)
    p1 = mastery_table(db, "cal")["adam"]
    # same outcomes, new checksum (re-saved notebook), later: nothing new, mastery unchanged
    assert record_result(db, submission("cal", "optimization", first, "c2"),
                         submitted_at=T0 + dt.timedelta(hours=1)) == 0
    assert mastery_table(db, "cal")["adam"] == p1
    # the broken function fixed: exactly one new observation
    fixed = fn_checks(adam, {"random": True}, ["adam"]) + fn_checks("initialize_adam", {"random": True}, ["adam"])
    assert record_result(db, submission("cal", "optimization", fixed, "c3"),
                         submitted_at=T0 + dt.timedelta(hours=2)) == 1
    assert mastery_table(db, "cal")["adam"][1] == 3
    assert n_rows(db, attempts) == 6


def _random_class(rng, n_students=3, n_subs=4):
    """Submissions (student, assignment, checks, checksum, submitted_at) with random outcomes and times."""
    plan = {"optimization": [("update_parameters_with_adam", ["adam", "ewa_bias_correction"]),
                             ("initialize_adam", ["adam"]), ("update_parameters_with_momentum", ["momentum"])],
            "batchnorm": [("update_running_stats", ["batch_normalization", "ewa_bias_correction"]),
                          ("batchnorm_forward", ["batch_normalization"])]}
    subs = []
    for s in range(n_students):
        for a, functions in plan.items():
            for k in range(n_subs):
                checks = []
                for f, concepts in functions:
                    checks += fn_checks(f, {"structure": bool(rng.random() < 0.8),
                                            "random": bool(rng.random() < 0.5)}, concepts)
                when = T0 + dt.timedelta(hours=int(rng.integers(0, 200)), seconds=k)
                subs.append((f"s{s}", a, checks, f"{a}-{s}-{k}", when))
    return subs


def _expected_state(subs):
    """Independent reference: per (student, concept) the observation sequence the evidence model implies."""
    items = {}
    for student, a, checks, checksum, when in subs:
        by_f = {}
        for c in checks:
            by_f.setdefault(c.function, []).append(c)
        for pos, (f, cs) in enumerate(by_f.items()):
            items.setdefault((student, a, f), []).append((when, checksum, all(c.passed for c in cs), cs[0].concepts, pos))
    seqs = {}
    for (student, a, f), tries in items.items():
        prev = None
        for when, checksum, ok, concepts, pos in sorted(tries, key=lambda t: (t[0], t[1])):
            if ok == prev:
                continue
            prev = ok
            for c in concepts:
                seqs.setdefault((student, c), []).append(((when, a, pos, f, checksum), ok))
    return {k: bkt.trace([(ok, "code") for _, ok in sorted(v)], bkt.BKTParams()) for k, v in seqs.items()}, \
        {k: len(v) for k, v in seqs.items()}


def _stored(db):
    with engine_for(db).connect() as conn:
        return {(r.student, r.concept): (r.p_mastery, r.n_obs, r.latest_failed)
                for r in conn.execute(select(mastery.mastery))}


def test_mastery_follows_submission_time_not_grading_order(tmp_path):
    rng = np.random.default_rng(3)
    subs = _random_class(rng)
    p_expected, n_expected = _expected_state(subs)
    states = []
    for trial in range(4):
        db = f"sqlite:///{tmp_path / f'g{trial}.db'}"
        order = rng.permutation(len(subs))
        for i in order:
            student, a, checks, checksum, when = subs[i]
            record_result(db, submission(student, a, checks, checksum), submitted_at=when)
        if trial == 0:                                     # re-recording everything changes nothing
            for i in order[::-1]:
                student, a, checks, checksum, when = subs[i]
                assert record_result(db, submission(student, a, checks, checksum), submitted_at=when) == 0
        state = _stored(db)
        assert {k: v[1] for k, v in state.items()} == n_expected
        for k, p in p_expected.items():
            assert state[k][0] == pytest.approx(p, abs=1e-12), k
        with engine_for(db).begin() as conn:               # stored state == replay of stored observations
            for student, concept in state:
                assert mastery.replay(conn, student, concept) == pytest.approx(state[(student, concept)][0])
        reports = refit(db, min_students=2, min_obs=10)             # the fit cannot depend on the order either
        assert sum(r.status == "fitted" for r in reports) >= 2
        with engine_for(db).connect() as conn:
            fits = {r.concept: (r.prior, r.learn, r.forget, r.guess, r.slip, r.selection)
                    for r in conn.execute(select(mastery.bkt_params))}
        states.append((state, fits, _stored(db)))
    assert all(s == states[0] for s in states[1:])


def test_review_list_puts_a_concept_whose_latest_function_failed_on_top(db):
    ok = {"random": True}
    history = [fn_checks("initialize_velocity", ok, ["momentum"]),
               fn_checks("update_parameters_with_momentum", ok, ["momentum"]),
               fn_checks("initialize_rmsprop", ok, ["rmsprop"])]
    for k, checks in enumerate(history * 2):                 # alternate outcomes so each attempt is evidence
        flip = [CheckResult(**{**c.__dict__, "passed": k < 3 or c.function != "initialize_rmsprop"}) for c in checks]
        record_result(db, submission("dan", "optimization", flip, f"c{k}"), submitted_at=T0 + dt.timedelta(days=k))
    rows = {m.concept: m for m in mastery_rows(db, "dan")}
    assert rows["rmsprop"].latest_failed and not rows["rmsprop"].mastered
    items = review_list(db, "dan")
    assert items[0].concept == "rmsprop" and items[0].latest_failed
    # few observations: not mastered and said so, whatever the number
    assert rows["momentum"].n_obs == 2 and rows["momentum"].status == "not enough evidence yet"
    assert not rows["momentum"].mastered


def test_a_mastered_flag_needs_the_latest_functions_to_pass(db):
    fs = ["initialize_velocity", "update_parameters_with_momentum"]
    when = T0
    for k in range(6):                                      # right, wrong, right, ... : plenty of evidence
        checks = [c for f in fs for c in fn_checks(f, {"random": k % 2 == 0}, ["momentum"])]
        when += dt.timedelta(days=1)
        record_result(db, submission("eli", "optimization", checks, f"c{k}"), submitted_at=when)
    with engine_for(db).begin() as conn:                    # parameters under which one failure barely dents P(L)
        conn.execute(mastery.bkt_params.insert().values(
            concept="momentum", prior=0.9, learn=0.9, forget=0.0, guess=json.dumps({"code": 0.01}),
            slip=json.dumps({"code": 0.45}), n_students=1, n_obs=1, loglik=0.0, selection="{}", fitted_at="x"))
        mastery.replay(conn, "eli", "momentum")
    m = {r.concept: r for r in mastery_rows(db, "eli")}["momentum"]
    assert m.p_mastery >= 0.95 and m.latest_failed and not m.mastered


def _simulate(rng, n, T, prior, learn, forget, guess, slip):
    seqs = []
    for _ in range(n):
        known, seq = rng.random() < prior, []
        for t in range(T):
            kind = "code" if t % 2 else "single:4"
            t_ = bkt.item_type(kind)
            seq.append((bool(rng.random() < ((1 - slip[t_]) if known else guess[t_])), kind))
            known = (rng.random() >= forget) if known else (rng.random() < learn)
        seqs.append(seq)
    return seqs


def test_fit_recovers_guess_and_slip_per_item_type_near_the_bound():
    rng = np.random.default_rng(11)
    guess, slip = {"code": 0.1, "single": 0.42}, {"code": 0.05, "single": 0.3}
    r = bkt.fit(_simulate(rng, 600, 10, 0.3, 0.2, 0.0, guess, slip))
    assert r.starts >= 3
    for t in guess:
        assert r.params.guess[t] == pytest.approx(guess[t], abs=0.05)
        assert r.params.slip[t] == pytest.approx(slip[t], abs=0.05)
    assert all(v < 0.5 for v in list(r.params.guess.values()) + list(r.params.slip.values()))


def test_forgetting_is_chosen_only_when_it_predicts_held_out_students_better():
    rng = np.random.default_rng(5)
    g, s = {"code": 0.1, "single": 0.25}, {"code": 0.1, "single": 0.1}
    forgets = bkt.select_and_fit(_simulate(rng, 400, 12, 0.3, 0.2, 0.12, g, s))
    stays = bkt.select_and_fit(_simulate(rng, 400, 12, 0.3, 0.2, 0.0, g, s))
    assert forgets.forgetting and forgets.result.params.forget == pytest.approx(0.12, abs=0.05)
    assert not stays.forgetting and stays.result.params.forget == 0.0


def _class_data(db, n=30, T=6):
    rng = np.random.default_rng(2)
    for s in range(n):
        for t in range(T):
            checks = fn_checks("update_parameters_with_momentum", {"random": bool(rng.random() < 0.6)}, ["momentum"])
            record_result(db, submission(f"s{s:02d}", "optimization", checks, f"c{t}"),
                          submitted_at=T0 + dt.timedelta(days=t))


def test_grading_records_while_a_refit_is_fitting(db, monkeypatch):
    _class_data(db)
    real = bkt.select_and_fit
    seen = {}

    def fit_while_grading(*a, **k):                         # a grading write lands in the middle of the fit
        late = fn_checks("update_parameters_with_momentum", {"random": True}, ["momentum"])
        seen["added"] = record_result(db, submission("late", "optimization", late, "z"), submitted_at=T0)
        return real(*a, **k)

    monkeypatch.setattr(bkt, "select_and_fit", fit_while_grading)
    (report,) = refit(db, min_students=10, min_obs=50)
    assert report.status == "fitted" and seen["added"] == 1
    with engine_for(db).begin() as conn:                    # the late student is replayed with the new fit too
        stored = mastery_table(db, "late")["momentum"][0]
        assert stored == pytest.approx(mastery.replay(conn, "late", "momentum"))
        assert mastery.params_for(conn, "momentum").learn == pytest.approx(report.params.learn)


def test_refit_if_ready_fits_once_then_waits_for_more_data(db):
    _class_data(db, n=30, T=8)
    assert [r.concept for r in refit_if_ready(db)] == ["momentum"]
    assert refit_if_ready(db) == []                          # nothing new
    assert refit_if_ready("sqlite:////nonexistent/dir/x.db") == []     # never raises


@pytest.mark.parametrize("when", [None, "2026-11-03 10:00:00.000000 UTC"])
def test_record_result_uses_nbgraders_submission_time(tmp_path, when):
    from nbgrader.api import Gradebook
    assert mastery.time_key("2026-11-03 10:00:00.000000 UTC") == "2026-11-03T10:00:00.000000"
    assert mastery.time_key(dt.datetime(2026, 11, 3, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))) \
        == "2026-11-03T10:00:00.000000"
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    r = submission("fio", "optimization", fn_checks("initialize_adam", {"random": True}, ["adam"]), "c1",
                   graded_at="2026-12-01T00:00:00+00:00")
    if when is not None:
        with Gradebook(db) as gb:                           # what nbgrader's collect/autograde store
            gb.add_assignment("optimization")
            gb.add_student("fio")
            gb.add_submission("optimization", "fio", timestamp=dt.datetime(2026, 11, 3, 10, 0))
    record_result(db, r)
    with engine_for(db).connect() as conn:
        stamp = conn.execute(select(observations.c.submitted_at)).scalar()
    assert stamp == ("2026-11-03T10:00:00.000000" if when else "2026-12-01T00:00:00.000000")


def test_every_graded_function_of_the_suites_is_evidence():
    """Each graded function has a non-gated (key) check, so each one gives evidence."""
    from autograder.checks import CODE_ASSIGNMENTS, code_suite
    silent = []
    for a in CODE_ASSIGNMENTS:
        fs = {}
        for spec in code_suite(a).checks:
            fs.setdefault(spec.function, []).append(not spec.gated)
        silent += [f"{a}.{f}" for f, informative in fs.items() if not any(informative)]
    assert silent == []          # every function has a key check (issue 12), so every one is evidence


def test_tables_of_the_per_check_model_are_replaced_and_rebuilt_from_the_results(tmp_path):
    from sqlalchemy import create_engine, text

    from autograder.gradebook import DGResult
    db = f"sqlite:///{tmp_path / 'old.db'}"
    eng = create_engine(db)
    r = submission("gus", "optimization", fn_checks("initialize_adam", {"structure": True, "random": True}, ["adam"])
                   + fn_checks("update_parameters_with_adam", {"random": False}, ["adam"]), "c1")
    with eng.begin() as conn:                                # an existing course gradebook, earlier model
        conn.execute(text("CREATE TABLE dg_observations (id INTEGER PRIMARY KEY, student VARCHAR, concept VARCHAR, "
                          "assignment VARCHAR, check_name VARCHAR, checksum VARCHAR, kind VARCHAR, correct BOOLEAN, "
                          "recorded_at VARCHAR)"))
        conn.execute(text("CREATE TABLE dg_mastery (student VARCHAR, concept VARCHAR, p_mastery FLOAT, n_obs INTEGER, "
                          "updated_at VARCHAR, PRIMARY KEY (student, concept))"))
        conn.execute(text("INSERT INTO dg_mastery VALUES ('gus', 'adam', 0.99, 3, 'x')"))
        DGResult.__table__.create(conn)
        conn.execute(DGResult.__table__.insert().values(
            student="gus", assignment="optimization", notebook="o.ipynb", checksum="c1", gradable=True, score=0.0,
            max_score=3.0, result_json=r.to_json(), graded_at=dt.datetime(2026, 11, 2)))
    eng.dispose()
    rows = {m.concept: m for m in mastery_rows(db, "gus")}
    assert rows["adam"].n_obs == 2                           # one per function, not the old 3 checks
    assert rows["adam"].p_mastery == pytest.approx(bkt.trace([(True, "code"), (False, "code")], bkt.BKTParams()))
    assert record_result(db, r) == 0                         # and recording works on the new tables
