"""Concept mastery per student from graded checks (code and quiz), stored beside the gradebook.

    record_result(db_url, result)      after each SubmissionResult is written (gradebook/runner)
    mastery_table(db_url, student)     {concept: (p_mastery, n_obs)}
    review_list(db_url, student)       concepts to review, weakest first, with questions and sections
    refit(db_url)                      EM refit of (prior, learn, guess, slip) per concept

Tables (any SQLAlchemy URL; by default the course gradebook, sqlite):
  dg_observations   one row per (student, assignment, check name, checksum, concept): correct,
                    kind (guess class: single:k, multi:k, truefalse, numeric, param_numeric, code)
  dg_mastery        (student, concept) -> p_mastery, n_obs
  dg_bkt_params     concept -> fitted prior, learn, guess, slip (absent: defaults of quizzes.bkt)
  dg_quiz_responses one row per (student, assignment, question, checksum): attempt, response, correct

Idempotency: re-recording the same submission (same checksum) changes nothing; a changed outcome
for an existing key replaces the observation and replays that student's concept from the log.
A new observation is applied with one constant-time BKT update.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (Boolean, Column, Float, Integer, MetaData, String, Table, Text, UniqueConstraint,
                        create_engine, select)
from sqlalchemy.engine import Connection, Engine

from quizzes import bkt

THRESHOLD = 0.95
MIN_STUDENTS_FOR_REFIT = 20
MIN_OBS_FOR_REFIT = 100

metadata = MetaData()

observations = Table(
    "dg_observations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("student", String(128), nullable=False, index=True),
    Column("concept", String(64), nullable=False, index=True),
    Column("assignment", String(128), nullable=False),
    Column("check_name", String(256), nullable=False),
    Column("checksum", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    UniqueConstraint("student", "assignment", "check_name", "checksum", "concept", name="uq_dg_observation"),
)

mastery = Table(
    "dg_mastery", metadata,
    Column("student", String(128), primary_key=True),
    Column("concept", String(64), primary_key=True),
    Column("p_mastery", Float, nullable=False),
    Column("n_obs", Integer, nullable=False),
    Column("updated_at", String(40), nullable=False),
)

bkt_params = Table(
    "dg_bkt_params", metadata,
    Column("concept", String(64), primary_key=True),
    Column("prior", Float, nullable=False),
    Column("learn", Float, nullable=False),
    Column("guess", Float, nullable=False),
    Column("slip", Float, nullable=False),
    Column("n_students", Integer, nullable=False),
    Column("n_obs", Integer, nullable=False),
    Column("loglik", Float, nullable=False),
    Column("fitted_at", String(40), nullable=False),
)

quiz_responses = Table(
    "dg_quiz_responses", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("student", String(128), nullable=False, index=True),
    Column("assignment", String(128), nullable=False),
    Column("question", String(128), nullable=False, index=True),
    Column("checksum", String(128), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("response", Text, nullable=True),       # JSON: [option indices] | bool | number | null
    Column("correct", Boolean, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    UniqueConstraint("student", "assignment", "question", "checksum", name="uq_dg_quiz_response"),
)

_ENGINES: dict[str, Engine] = {}


def engine_for(db_url: str) -> Engine:
    """A cached engine with our tables created (idempotent)."""
    eng = _ENGINES.get(db_url)
    if eng is None:
        kwargs = {"connect_args": {"timeout": 30}} if db_url.startswith("sqlite") else {}
        eng = create_engine(db_url, **kwargs)
        metadata.create_all(eng)
        _ENGINES[db_url] = eng
    return eng


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------------

def params_for(conn: Connection, concept: str) -> bkt.BKTParams:
    row = conn.execute(select(bkt_params).where(bkt_params.c.concept == concept)).mappings().first()
    if row is None:
        return bkt.BKTParams()
    return bkt.BKTParams(row["prior"], row["learn"], row["guess"], row["slip"])


def _guess(params: bkt.BKTParams, kind: str) -> float:
    return params.guess if params.guess is not None else bkt.guess_for(kind)


# ------------------------------------------------------------------------------------------------
# recording
# ------------------------------------------------------------------------------------------------

def _as_result(result: Any):
    from autograder.result import SubmissionResult
    if isinstance(result, SubmissionResult):
        return result
    if isinstance(result, dict):
        return SubmissionResult.from_dict(result)
    if hasattr(result, "to_dict"):
        return SubmissionResult.from_dict(result.to_dict())
    raise TypeError(f"record_result needs a SubmissionResult, got {type(result).__name__}")


def check_kind(assignment: str, check_name: str) -> str:
    """Guess class of a check: quiz questions by type and option count, everything else ``code``."""
    if assignment.startswith("quiz_"):
        from quizzes.grading import question_for_check
        q = question_for_check(check_name)
        if q is not None:
            return f"{q.type}:{len(q.choices)}" if q.is_choice else q.type
    return "code"


def _set_mastery(conn: Connection, student: str, concept: str, p: float, n: int) -> None:
    key = (mastery.c.student == student) & (mastery.c.concept == concept)
    if conn.execute(select(mastery.c.student).where(key)).first():
        conn.execute(mastery.update().where(key).values(p_mastery=p, n_obs=n, updated_at=_now()))
    else:
        conn.execute(mastery.insert().values(student=student, concept=concept, p_mastery=p, n_obs=n,
                                             updated_at=_now()))


def replay(conn: Connection, student: str, concept: str) -> float:
    """Recompute P(L) of (student, concept) from the observation log, in recording order."""
    params = params_for(conn, concept)
    rows = conn.execute(select(observations.c.correct, observations.c.kind)
                        .where((observations.c.student == student) & (observations.c.concept == concept))
                        .order_by(observations.c.id)).all()
    p = bkt.trace([(bool(r.correct), bkt.guess_for(r.kind)) for r in rows], params)
    _set_mastery(conn, student, concept, p, len(rows))
    return p


def _observe(conn: Connection, student: str, concept: str, kind: str, correct: bool) -> None:
    """One constant-time BKT step from the stored P(L) (prior if none)."""
    params = params_for(conn, concept)
    row = conn.execute(select(mastery.c.p_mastery, mastery.c.n_obs).where(
        (mastery.c.student == student) & (mastery.c.concept == concept))).first()
    p, n = (row.p_mastery, row.n_obs) if row else (params.prior, 0)
    p = bkt.update(p, correct, params.learn, _guess(params, kind), params.slip)
    _set_mastery(conn, student, concept, p, n + 1)


def _record_response(conn: Connection, result, check) -> None:
    from quizzes.grading import make_variant, question_for_check, response_from_check
    q = question_for_check(check.name)
    if q is None:
        return
    response = response_from_check(make_variant(q, result.student), check.passed, check.message)
    base = ((quiz_responses.c.student == result.student) & (quiz_responses.c.assignment == result.assignment)
            & (quiz_responses.c.question == q.id))
    values = dict(response=json.dumps(response), correct=bool(check.passed), recorded_at=_now())
    existing = conn.execute(select(quiz_responses.c.id).where(base & (quiz_responses.c.checksum == result.checksum))).first()
    if existing:
        conn.execute(quiz_responses.update().where(quiz_responses.c.id == existing.id).values(**values))
        return
    attempts = conn.execute(select(quiz_responses.c.attempt).where(base)).scalars().all()
    conn.execute(quiz_responses.insert().values(student=result.student, assignment=result.assignment,
                                                question=q.id, checksum=result.checksum,
                                                attempt=max(attempts, default=0) + 1, **values))


def record_result(db_url: str, result: Any) -> int:
    """Update mastery (and quiz responses) from one SubmissionResult in its own transaction; returns
    the number of new observations. See :func:`record_evidence`."""
    with engine_for(db_url).begin() as conn:
        return record_evidence(conn, result)


def record_evidence(conn: Connection, result: Any, *, submitted_at: dt.datetime | None = None) -> int:
    """Write the mastery evidence of one SubmissionResult on ``conn``, inside the CALLER's open
    transaction (never commits), so a result and its evidence are recorded together. Returns the
    number of new observations.

    Every check with concepts is one observation per concept. Safe to call again for the same
    submission: keys (student, assignment, check name, checksum, concept) are never counted twice.
    ``submitted_at`` (nbgrader's submission time) is accepted for the evidence model of issue 13.
    """
    res = _as_result(result)
    if not res.gradable:
        return 0
    added = 0
    replays: set[str] = set()
    for check in res.checks:
        kind = check_kind(res.assignment, check.name)
        for concept in check.concepts:
            key = ((observations.c.student == res.student) & (observations.c.assignment == res.assignment)
                   & (observations.c.check_name == check.name) & (observations.c.checksum == res.checksum)
                   & (observations.c.concept == concept))
            row = conn.execute(select(observations.c.id, observations.c.correct).where(key)).first()
            if row is not None:
                if bool(row.correct) != bool(check.passed):
                    conn.execute(observations.update().where(observations.c.id == row.id)
                                 .values(correct=bool(check.passed), kind=kind, recorded_at=_now()))
                    replays.add(concept)
                continue
            conn.execute(observations.insert().values(
                student=res.student, concept=concept, assignment=res.assignment, check_name=check.name,
                checksum=res.checksum, kind=kind, correct=bool(check.passed), recorded_at=_now()))
            added += 1
            if concept not in replays:
                _observe(conn, res.student, concept, kind, bool(check.passed))
        if res.assignment.startswith("quiz_"):
            _record_response(conn, res, check)
    for concept in replays:
        replay(conn, res.student, concept)
    return added


# ------------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------------

def mastery_table(db_url: str, student: str) -> dict[str, tuple[float, int]]:
    """{concept: (P(mastered), number of observations)} for every concept of the concept map."""
    from quizzes.schema import load_concepts
    with engine_for(db_url).connect() as conn:
        rows = {r.concept: (r.p_mastery, r.n_obs) for r in
                conn.execute(select(mastery).where(mastery.c.student == student))}
        out = {}
        for cid in load_concepts():
            out[cid] = rows.get(cid) or (params_for(conn, cid).prior, 0)
    return out


@dataclass(frozen=True)
class ReviewItem:
    concept: str
    name: str
    week: int
    p_mastery: float
    n_obs: int
    mastered: bool
    questions: tuple[str, ...]      # practice pool question ids for this concept
    sections: tuple[dict, ...]      # notebook sections (assignment, section, functions)


def review_list(db_url: str, student: str, threshold: float = THRESHOLD,
                include_mastered: bool = False) -> list[ReviewItem]:
    """Concepts below ``threshold`` ordered by lowest mastery (concepts with no observations yet come
    last), each pointing at practice questions and notebook sections."""
    from quizzes.practice import practice_pool
    from quizzes.schema import load_concepts
    concepts = load_concepts()
    table = mastery_table(db_url, student)
    items = []
    for cid, (p, n) in table.items():
        c = concepts[cid]
        if p >= threshold and not include_mastered:
            continue
        qs = tuple(q.id for q in practice_pool(c.week) if cid in q.concepts)
        items.append(ReviewItem(cid, c.name, c.week, p, n, p >= threshold, qs, c.practice))
    # assessed concepts first (lowest mastery first), then concepts without any evidence yet
    items.sort(key=lambda it: (it.n_obs == 0, it.p_mastery, it.concept))
    return items


# ------------------------------------------------------------------------------------------------
# refitting
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RefitReport:
    concept: str
    status: str            # "fitted" | "skipped"
    reason: str
    params: bkt.BKTParams | None = None


def refit(db_url: str, min_students: int = MIN_STUDENTS_FOR_REFIT, min_obs: int = MIN_OBS_FOR_REFIT,
          concepts: list[str] | None = None) -> list[RefitReport]:
    """EM refit per concept with enough data, then replay every student's mastery of that concept."""
    reports = []
    with engine_for(db_url).begin() as conn:
        names = concepts or sorted(set(conn.execute(select(observations.c.concept)).scalars()))
        for concept in names:
            rows = conn.execute(select(observations.c.student, observations.c.correct)
                                .where(observations.c.concept == concept).order_by(observations.c.id)).all()
            seqs: dict[str, list[int]] = {}
            for r in rows:
                seqs.setdefault(r.student, []).append(int(bool(r.correct)))
            if len(seqs) < min_students or len(rows) < min_obs:
                reports.append(RefitReport(concept, "skipped",
                                           f"{len(seqs)} students / {len(rows)} observations "
                                           f"(need {min_students} / {min_obs})"))
                continue
            result = bkt.fit(list(seqs.values()), params_for(conn, concept))
            p = result.params
            values = dict(prior=p.prior, learn=p.learn, guess=p.guess, slip=p.slip, n_students=len(seqs),
                          n_obs=len(rows), loglik=result.loglik, fitted_at=_now())
            if conn.execute(select(bkt_params.c.concept).where(bkt_params.c.concept == concept)).first():
                conn.execute(bkt_params.update().where(bkt_params.c.concept == concept).values(**values))
            else:
                conn.execute(bkt_params.insert().values(concept=concept, **values))
            for student in seqs:
                replay(conn, student, concept)
            reports.append(RefitReport(concept, "fitted", f"{len(seqs)} students, {len(rows)} observations, "
                                       f"{result.iterations} EM iterations", p))
    return reports
