"""Mastery evidence of a whole recording batch in a few set-based statements (issue 15): the stored
attempts, observations and mastery equal those of recording one result at a time, in any order, on
SQLite and PostgreSQL (the server is real: tests/infra.py)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import event, select

from quizzes import mastery
from quizzes.mastery import engine_for, record_evidence, record_evidence_batch
from test_mastery_evidence import _expected_state, _random_class, fn_checks, submission
from infra import pg_server  # noqa: F401

MASTERY_TABLES = ("dg_observations", "dg_attempts", "dg_mastery", "dg_bkt_params")


@pytest.fixture(params=["sqlite", "postgresql"])
def two_dbs(request, tmp_path):
    """Two empty databases of one backend."""
    if request.param == "sqlite":
        return [f"sqlite:///{tmp_path / f'g{i}.db'}" for i in range(2)]
    server = request.getfixturevalue("pg_server")
    return [server.new_database() for _ in range(2)]


def _rows(db):
    """Everything the evidence model stores, without row ids and wall-clock stamps."""
    with engine_for(db).connect() as conn:
        tries = sorted(tuple(r) for r in conn.execute(select(
            *[c for c in mastery.attempts.c if c.name not in ("id", "recorded_at")])))
        obs = sorted(tuple(r) for r in conn.execute(select(
            *[c for c in mastery.observations.c if c.name != "id"])))
        state = {(r.student, r.concept): (r.p_mastery, r.n_obs, bool(r.latest_failed))
                 for r in conn.execute(select(mastery.mastery))}
    return tries, obs, state


def _regraded(subs, rng):
    """Some submissions again: unchanged, or the same checksum at a corrected submission time."""
    again = []
    for i in rng.choice(len(subs), size=len(subs) // 3, replace=False):
        student, a, checks, checksum, when = subs[i]
        again.append((student, a, checks, checksum, when + dt.timedelta(minutes=int(rng.integers(0, 2)))))
    return again


def test_a_batch_stores_what_one_result_at_a_time_stores(two_dbs):
    one_by_one, batched = two_dbs
    rng = np.random.default_rng(11)
    subs = _random_class(rng, n_students=4, n_subs=3)
    again = _regraded(subs, rng)
    shuffled = [(subs + again)[i] for i in rng.permutation(len(subs) + len(again))]
    for student, a, checks, checksum, when in shuffled:
        with engine_for(one_by_one).begin() as conn:
            record_evidence(conn, submission(student, a, checks, checksum), submitted_at=when)
    for start in range(0, len(shuffled), 7):        # batches hold the same student several times
        chunk = shuffled[start:start + 7]
        with engine_for(batched).begin() as conn:
            record_evidence_batch(conn, [(submission(s, a, c, cs), when) for s, a, c, cs, when in chunk])
    tries_a, obs_a, state_a = _rows(one_by_one)
    tries_b, obs_b, state_b = _rows(batched)
    assert tries_a == tries_b and obs_a == obs_b
    assert state_a.keys() == state_b.keys()
    for k, (p, n, failed) in state_a.items():
        assert state_b[k] == (pytest.approx(p, abs=1e-12), n, failed), k
    # and both equal the independent reference of the evidence model (the last recorded time wins)
    final = {(s, a, cs): (s, a, c, cs, w) for s, a, c, cs, w in shuffled}
    p_expected, n_expected = _expected_state(list(final.values()))
    assert {k: v[1] for k, v in state_b.items()} == n_expected
    for k, p in p_expected.items():
        assert state_b[k][0] == pytest.approx(p, abs=1e-12), k


def test_a_batch_returns_the_new_observations_and_adds_none_when_recorded_again(two_dbs):
    db = two_dbs[0]
    checks = fn_checks("update_parameters_with_adam", {"structure": True, "random": True}, ["adam"])
    failing = fn_checks("update_parameters_with_adam", {"structure": True, "random": False}, ["adam"])
    t0 = dt.datetime(2026, 11, 2, 9, 0)
    batch = [(submission("s1", "optimization", checks, "c1"), t0),
             (submission("s1", "optimization", checks, "c2"), t0 + dt.timedelta(hours=1)),   # unchanged: none
             (submission("s1", "optimization", failing, "c3"), t0 + dt.timedelta(hours=2)),
             (submission("s2", "optimization", failing, "c1"), t0)]
    with engine_for(db).begin() as conn:
        assert record_evidence_batch(conn, batch) == 3
    with engine_for(db).begin() as conn:
        assert record_evidence_batch(conn, batch) == 0
    _, obs, state = _rows(db)
    assert len(obs) == 3
    assert state[("s1", "adam")][1:] == (2, True) and state[("s2", "adam")][1:] == (1, True)


def test_the_evidence_of_a_batch_takes_a_few_statements_not_a_few_per_observation(two_dbs):
    db = two_dbs[0]
    rng = np.random.default_rng(5)
    subs = _random_class(rng, n_students=25, n_subs=1)[:25]       # 25 results, 3 graded functions each
    with engine_for(db).begin() as conn:                           # tables exist before counting
        record_evidence_batch(conn, [])
    count = {"n": 0}

    def on_statement(conn, cursor, statement, *_):
        if any(t in statement for t in MASTERY_TABLES):
            count["n"] += 1

    eng = engine_for(db)
    event.listen(eng, "before_cursor_execute", on_statement)
    try:
        with eng.begin() as conn:
            record_evidence_batch(conn, [(submission(s, a, c, cs), w) for s, a, c, cs, w in subs])
    finally:
        event.remove(eng, "before_cursor_execute", on_statement)
    assert count["n"] <= 12, count            # (one result at a time: ~7 per observation, ~500 here)
