"""Concept mastery per student from graded work (code and quiz), stored beside the gradebook.

    record_evidence(conn, result, submitted_at=)  inside the caller's transaction (never commits)
    record_evidence_batch(conn, [(result, submitted_at)])  the same for a batch, set-based
    record_result(db_url, result)                 the same in its own transaction
    mastery_rows(db_url, student)                 [ConceptMastery] for every concept of the concept map
    review_list(db_url, student)                  concepts to review, most urgent first
    refit(db_url) / refit_if_ready(db_url)        EM fit per concept on a snapshot, short write

Evidence model (DESIGN.md "Mastery"): one *item* per graded function of a code submission (all of
the function's checks passed or not; a function whose checks are all gated -- structure, visible
example -- carries no evidence) and one per quiz question. Each item outcome of a submission is an
*attempt* (``dg_attempts``, unique per student, assignment, item, checksum). Attempts of one item
are ordered by submission time; an attempt becomes an *observation* (``dg_observations``, one row per
concept of the item) only when its outcome differs from the item's previous attempt, so re-saving or
resubmitting unchanged work adds nothing. ``dg_mastery`` is always the replay of the stored
observations in submission-time order, whatever order the submissions were graded in.

Tables (any SQLAlchemy URL; by default the course gradebook, sqlite):
  dg_attempts       student, assignment, item, checksum -> submitted_at, position, kind, concepts, correct
  dg_observations   student, concept, assignment, item, checksum -> submitted_at, position, kind, correct
  dg_mastery        (student, concept) -> p_mastery, n_obs, latest_failed
  dg_bkt_params     concept -> prior, learn, forget, guess/slip per item type (JSON), fit statistics
  dg_quiz_responses one row per (student, assignment, question, checksum): attempt, response, correct
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

from sqlalchemy import (Boolean, Column, Float, Integer, MetaData, String, Table, Text, UniqueConstraint,
                        bindparam, create_engine, inspect, select, text)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from quizzes import bkt
from reference import catalog
from quizzes.grading import question_for_check
from quizzes.practice import practice_pool
from quizzes.schema import load_concepts

THRESHOLD = 0.95
MIN_EVIDENCE = 3                 # fewer observations: "not enough evidence yet", never "mastered"
MIN_STUDENTS_FOR_REFIT = 20
MIN_OBS_FOR_REFIT = 100
REFIT_GROWTH = 1.2               # refit_if_ready: refit a fitted concept once its data grew by 20 %
REBUILD_BATCH = 200              # results per set-based evidence write when rebuilding
GATED_SUFFIXES = (".structure", ".fixed")   # results of schema 1 (no ``gated`` field): by check name

log = logging.getLogger(__name__)
metadata = MetaData()


class GradedCheck(Protocol):
    """What the mastery model reads of one check outcome (``autograder.result.CheckResult`` is one)."""
    name: str
    function: str                   # graded function (code) or answer variable ``q_<id>`` (quiz)
    passed: bool
    concepts: Sequence[str]
    response: Any                   # quiz: [option indices] | bool | number | None; code: None
    gated: bool | None              # carries no evidence alone (None: not recorded, schema 1)


class GradedResult(Protocol):
    """What the mastery model reads of one graded submission (``autograder.result.SubmissionResult``)."""
    student: str
    assignment: str
    checksum: str
    gradable: bool
    graded_at: str
    checks: Sequence[GradedCheck]


@dataclass(frozen=True)
class StoredCheck:
    name: str
    function: str
    passed: bool
    concepts: tuple[str, ...] = ()
    response: Any = None
    gated: bool | None = None


@dataclass(frozen=True)
class StoredResult:
    """The fields of a stored result document (``dg_results.result_json``, any schema version) that
    the mastery model reads: enough to rebuild the evidence without the grading side's code."""
    student: str
    assignment: str
    checksum: str
    gradable: bool
    graded_at: str
    checks: tuple[StoredCheck, ...]

    @classmethod
    def from_json(cls, document: str) -> "StoredResult":
        d = json.loads(document)
        return cls(str(d["student"]), str(d["assignment"]), str(d["checksum"]), bool(d["gradable"]),
                   str(d.get("graded_at") or ""),
                   tuple(StoredCheck(str(c["name"]), str(c["function"]), bool(c["passed"]),
                                     tuple(c.get("concepts") or ()), c.get("response"), c.get("gated"))
                         for c in d.get("checks") or ()))


def _item_columns() -> list[Column]:
    """Columns naming one item outcome of one submission (shared by attempts and observations)."""
    return [Column("id", Integer, primary_key=True, autoincrement=True),
            Column("student", String(128), nullable=False, index=True),
            Column("assignment", String(128), nullable=False),
            Column("item", String(256), nullable=False),              # graded function or question id
            Column("checksum", String(128), nullable=False),
            Column("submitted_at", String(32), nullable=False),       # time_key(): sortable UTC text
            Column("position", Integer, nullable=False),              # order inside the submission
            Column("kind", String(32), nullable=False),
            Column("correct", Boolean, nullable=False)]


attempts = Table(
    "dg_attempts", metadata, *_item_columns(),
    Column("concepts", Text, nullable=False),          # JSON list of concept ids
    Column("recorded_at", String(40), nullable=False),
    UniqueConstraint("student", "assignment", "item", "checksum", name="uq_dg_attempt"),
)

observations = Table(
    "dg_observations", metadata, *_item_columns(),
    Column("concept", String(64), nullable=False, index=True),
    UniqueConstraint("student", "assignment", "item", "checksum", "concept", name="uq_dg_observation2"),
)

mastery = Table(
    "dg_mastery", metadata,
    Column("student", String(128), primary_key=True),
    Column("concept", String(64), primary_key=True),
    Column("p_mastery", Float, nullable=False),
    Column("n_obs", Integer, nullable=False),
    Column("latest_failed", Boolean, nullable=False),
    Column("updated_at", String(40), nullable=False),
)

bkt_params = Table(
    "dg_bkt_params", metadata,
    Column("concept", String(64), primary_key=True),
    Column("prior", Float, nullable=False),
    Column("learn", Float, nullable=False),
    Column("forget", Float, nullable=False),
    Column("guess", Text, nullable=False),             # JSON {item type: guess}
    Column("slip", Text, nullable=False),              # JSON {item type: slip}
    Column("n_students", Integer, nullable=False),
    Column("n_obs", Integer, nullable=False),
    Column("loglik", Float, nullable=False),
    Column("selection", Text, nullable=False),         # JSON: held-out log-likelihoods, forgetting chosen
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
_READY: set[str] = set()
_NBGRADER_TABLES: dict[str, bool] = {}


def engine_for(db_url: str) -> Engine:
    """A cached engine with our tables created (idempotent)."""
    eng = _ENGINES.get(db_url)
    if eng is None:
        kwargs = {"connect_args": {"timeout": 30}} if db_url.startswith("sqlite") else {}
        eng = create_engine(db_url, **kwargs)
        with eng.begin() as conn:
            _ensure_tables(conn)
        _ENGINES[db_url] = eng
    return eng


#: tables of the earlier evidence model (one observation per check), recognised by a missing column
LEGACY_MARKERS = {"dg_observations": "item", "dg_mastery": "latest_failed", "dg_bkt_params": "forget"}


def _ensure_tables(conn: Connection) -> None:
    """Create our tables on this connection's database once per process (inside its transaction).

    Tables of the earlier evidence model are derived data: they are dropped, recreated, and the
    evidence is rebuilt from the recorded results (``dg_results``) with nbgrader's submission times."""
    key = conn.engine.url.render_as_string(hide_password=False)
    if key in _READY:
        return
    insp = inspect(conn)
    legacy = [t for t, col in LEGACY_MARKERS.items()
              if insp.has_table(t) and col not in {c["name"] for c in insp.get_columns(t)}]
    for t in legacy:
        conn.execute(text(f"DROP TABLE {t}"))
    metadata.create_all(conn)
    _READY.add(key)
    if legacy:
        log.warning("mastery tables of the earlier evidence model replaced (%s); rebuilt %d results",
                    ", ".join(legacy), rebuild(conn))


def rebuild(conn: Connection) -> int:
    """Record the evidence of every result in ``dg_results`` again (inside the caller's transaction),
    each at nbgrader's submission time when the gradebook has it; returns the number of results."""
    if not inspect(conn).has_table("dg_results"):
        return 0
    rows = conn.execute(text("SELECT result_json FROM dg_results")).scalars().all()
    for start in range(0, len(rows), REBUILD_BATCH):
        results = [StoredResult.from_json(doc) for doc in rows[start:start + REBUILD_BATCH]]
        record_evidence_batch(conn, [(res, _as_datetime(_nbgrader_timestamp(conn, res.student, res.assignment)))
                                     for res in results])
    return len(rows)


def _as_datetime(stamp: dt.datetime | str | None) -> dt.datetime | None:
    key = time_key(stamp)
    return dt.datetime.fromisoformat(key) if key else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def time_key(when: dt.datetime | str | None) -> str | None:
    """A fixed-width UTC string that sorts like the time (naive datetimes are UTC, as nbgrader's)."""
    if when is None or when == "":
        return None
    if isinstance(when, str):
        s = when.strip().replace(" UTC", "").replace("Z", "+00:00")
        try:
            when = dt.datetime.fromisoformat(s)
        except ValueError:
            return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")


# ------------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------------

def _params_from_row(row) -> bkt.BKTParams:
    return bkt.BKTParams(row["prior"], row["learn"], row["forget"], json.loads(row["guess"]),
                         json.loads(row["slip"]))


def params_for(conn: Connection, concept: str) -> bkt.BKTParams:
    row = conn.execute(select(bkt_params).where(bkt_params.c.concept == concept)).mappings().first()
    return bkt.BKTParams() if row is None else _params_from_row(row)


# ------------------------------------------------------------------------------------------------
# evidence of one result
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    """One item outcome of one submission: a graded function or a quiz question."""
    item: str
    kind: str                   # code | single:k | multi:k | truefalse | numeric | param_numeric
    concepts: tuple[str, ...]
    correct: bool
    position: int               # order of the item inside the submission


def _typed(result: GradedResult) -> GradedResult:
    """The result itself; a plain dict or JSON text is refused (the grading side converts at its edge)."""
    if isinstance(result, (dict, str, bytes)) or not hasattr(result, "checks"):
        raise TypeError(f"mastery records a graded result (autograder.result.SubmissionResult), not a "
                        f"{type(result).__name__}")
    return result


def check_kind(assignment: str, check_name: str) -> str:
    """Observation kind of a check: quiz questions by type and option count, everything else ``code``."""
    if catalog.runtime_of(assignment) == "quiz":
        q = question_for_check(check_name)
        if q is not None:
            return f"{q.type}:{len(q.choices)}" if q.is_choice else q.type
    return "code"


def is_gated(check: GradedCheck) -> bool:
    """A check that carries no evidence alone (structure, visible example, ...): as the result records
    it; results of schema 1 did not record it, their gated checks are known by name."""
    gated = getattr(check, "gated", None)
    return check.name.endswith(GATED_SUFFIXES) if gated is None else bool(gated)


def evidence_items(result: GradedResult) -> list[Evidence]:
    """The evidence in one gradable result: one item per graded function (code) or question (quiz)."""
    out: list[Evidence] = []
    if catalog.runtime_of(result.assignment) == "quiz":
        for i, c in enumerate(result.checks):
            q = question_for_check(c.name)
            if q is not None and (c.concepts or q.concepts):
                out.append(Evidence(q.id, check_kind(result.assignment, c.name), tuple(c.concepts or q.concepts),
                                    bool(c.passed), i))
        return out
    by_function: dict[str, list] = {}
    for c in result.checks:
        by_function.setdefault(c.function, []).append(c)
    for i, (function, checks) in enumerate(by_function.items()):
        informative = [c for c in checks if not is_gated(c)]
        concepts = tuple(dict.fromkeys(k for c in checks for k in c.concepts))
        if informative and concepts:
            out.append(Evidence(function, "code", concepts, all(c.passed for c in checks), i))
    return out


# ------------------------------------------------------------------------------------------------
# recording
# ------------------------------------------------------------------------------------------------

def _record_response(conn: Connection, result: GradedResult, check: GradedCheck) -> None:
    """One quiz answer for item analysis: the check's recorded ``response`` (never its message)."""
    q = question_for_check(check.name)
    if q is None:
        return
    response = getattr(check, "response", None)
    response = list(response) if isinstance(response, tuple) else response
    base = ((quiz_responses.c.student == result.student) & (quiz_responses.c.assignment == result.assignment)
            & (quiz_responses.c.question == q.id))
    values = dict(response=json.dumps(response), correct=bool(check.passed), recorded_at=_now())
    existing = conn.execute(select(quiz_responses.c.id).where(base & (quiz_responses.c.checksum == result.checksum))).first()
    if existing:
        if response is None:        # a result of schema 1 (no response field): keep what was recorded
            del values["response"]
        conn.execute(quiz_responses.update().where(quiz_responses.c.id == existing.id).values(**values))
        return
    attempts_so_far = conn.execute(select(quiz_responses.c.attempt).where(base)).scalars().all()
    conn.execute(quiz_responses.insert().values(student=result.student, assignment=result.assignment,
                                                question=q.id, checksum=result.checksum,
                                                attempt=max(attempts_so_far, default=0) + 1, **values))


def _attempt_values(ev: Evidence, when: str) -> dict:
    return dict(submitted_at=when, position=ev.position, kind=ev.kind, concepts=json.dumps(list(ev.concepts)),
                correct=ev.correct)


def _store_attempts(conn: Connection, subs: list[tuple[GradedResult, str, list[Evidence]]]) -> set[tuple]:
    """Upsert the attempts of ``subs`` [(result, submission time key, evidence)] in one read and at most
    one insert and one update; later entries of the same (student, assignment, item, checksum) win.
    Returns the (student, assignment, item) keys whose attempts changed."""
    keys = {(res.student, res.assignment, ev.item) for res, _, evs in subs for ev in evs}
    students = sorted({k[0] for k in keys})
    assignments = sorted({k[1] for k in keys})
    stored: dict[tuple, dict[str, dict]] = {}
    for row in conn.execute(select(attempts).where(attempts.c.student.in_(students),
                                                   attempts.c.assignment.in_(assignments))).mappings():
        key = (row["student"], row["assignment"], row["item"])
        if key in keys:
            stored.setdefault(key, {})[row["checksum"]] = dict(row)
    now, changed, inserts, updates = _now(), set(), {}, {}
    for res, when, evs in subs:
        for ev in evs:
            key = (res.student, res.assignment, ev.item)
            values = _attempt_values(ev, when)
            row = stored.setdefault(key, {}).get(res.checksum)
            if row is None:
                row = dict(student=res.student, assignment=res.assignment, item=ev.item, checksum=res.checksum,
                           recorded_at=now, **values)
                stored[key][res.checksum] = row
                inserts[(key, res.checksum)] = row
            elif any(row[k] != v for k, v in values.items()):
                row.update(values, recorded_at=now)
                if "id" in row:
                    updates[(key, res.checksum)] = row
            else:
                continue
            changed.add(key)
    if inserts:
        conn.execute(attempts.insert(), list(inserts.values()))
    if updates:
        conn.execute(attempts.update().where(attempts.c.id == bindparam("b_id")),
                     [{"b_id": r["id"], "recorded_at": r["recorded_at"],
                       **{k: r[k] for k in ("submitted_at", "position", "kind", "concepts", "correct")}}
                      for r in updates.values()])
    return changed


def _derive_observations(conn: Connection, keys: set[tuple]) -> tuple[int, set[tuple[str, str]]]:
    """Rebuild the observations of the (student, assignment, item) ``keys`` from their attempts, in one
    read of each table and at most one delete and one insert; returns (net new rows, touched (student,
    concept) pairs).

    Attempts in submission-time order; an attempt is an observation when its outcome differs from the
    previous attempt's (the first attempt always is)."""
    if not keys:
        return 0, set()
    students = sorted({k[0] for k in keys})
    assignments = sorted({k[1] for k in keys})
    in_keys = (lambda t: t.c.student.in_(students) & t.c.assignment.in_(assignments))
    tries: dict[tuple, list] = {}
    for a in conn.execute(select(attempts).where(in_keys(attempts))).mappings():
        key = (a["student"], a["assignment"], a["item"])
        if key in keys:
            tries.setdefault(key, []).append(a)
    have: dict[tuple, dict] = {}
    for r in conn.execute(select(observations).where(in_keys(observations))).mappings():
        key = (r["student"], r["assignment"], r["item"])
        if key in keys:
            have[(*key, r["checksum"], r["concept"])] = r
    wanted: dict[tuple, dict] = {}
    for key, rows in tries.items():
        previous = None
        for a in sorted(rows, key=lambda a: (a["submitted_at"], a["checksum"])):
            if previous is not None and bool(a["correct"]) == previous:
                continue
            previous = bool(a["correct"])
            for concept in json.loads(a["concepts"]):
                wanted[(*key, a["checksum"], concept)] = dict(submitted_at=a["submitted_at"], position=a["position"],
                                                             kind=a["kind"], correct=bool(a["correct"]))
    stale = {k for k, r in have.items() if k not in wanted or any(r[f] != v for f, v in wanted[k].items())}
    if stale:
        conn.execute(observations.delete().where(observations.c.id == bindparam("b_id")),
                     [{"b_id": have[k]["id"]} for k in stale])
    new = [dict(student=k[0], assignment=k[1], item=k[2], checksum=k[3], concept=k[4], **v)
           for k, v in wanted.items() if k not in have or k in stale]
    if new:
        conn.execute(observations.insert(), new)
    touched = {(k[0], k[4]) for k in stale} | {(r["student"], r["concept"]) for r in new}
    return len(wanted) - len(have), touched


def _ordered(rows: Iterable) -> list:
    """Observations in submission-time order (ties: assignment, position in the submission, item)."""
    return sorted(rows, key=lambda r: (r.submitted_at, r.assignment, r.position, r.item, r.checksum))


def _latest_failed(rows: list) -> bool:
    """True when a graded function on the concept fails in the student's latest code submission
    (a function's state carries over from its last observation: unchanged work adds none)."""
    code = [r for r in rows if r.kind == "code"]
    if not code:
        return False
    state = {}
    for r in code:
        state[(r.assignment, r.item)] = bool(r.correct)
    latest = code[-1].assignment
    return not all(ok for (a, _), ok in state.items() if a == latest)


def _set_mastery(conn: Connection, student: str, concept: str, rows: list, params: bkt.BKTParams) -> None:
    _store_mastery(conn, {(student, concept): rows}, {concept: params})


def _store_mastery(conn: Connection, seqs: dict[tuple[str, str], list], params: dict[str, bkt.BKTParams]) -> None:
    """Write P(L) of every (student, concept) of ``seqs`` (its ordered observation rows) in one read and
    at most one insert and one update."""
    if not seqs:
        return
    students = sorted({k[0] for k in seqs})
    concepts = sorted({k[1] for k in seqs})
    have = {(r.student, r.concept) for r in conn.execute(select(mastery.c.student, mastery.c.concept).where(
        mastery.c.student.in_(students), mastery.c.concept.in_(concepts)))}
    now, inserts, updates = _now(), [], []
    for (student, concept), rows in seqs.items():
        values = dict(p_mastery=bkt.trace([(bool(r.correct), r.kind) for r in rows], params[concept]),
                      n_obs=len(rows), latest_failed=_latest_failed(rows), updated_at=now)
        if (student, concept) in have:
            updates.append({"b_student": student, "b_concept": concept, **values})
        else:
            inserts.append({"student": student, "concept": concept, **values})
    if inserts:
        conn.execute(mastery.insert(), inserts)
    if updates:
        conn.execute(mastery.update().where((mastery.c.student == bindparam("b_student"))
                                            & (mastery.c.concept == bindparam("b_concept"))), updates)


def _params_of(conn: Connection, concepts: Iterable[str]) -> dict[str, bkt.BKTParams]:
    """{concept: its fitted parameters, or the defaults} in one read."""
    concepts = sorted(set(concepts))
    fitted = {r["concept"]: _params_from_row(r) for r in conn.execute(
        select(bkt_params).where(bkt_params.c.concept.in_(concepts))).mappings()}
    return {c: fitted.get(c, bkt.BKTParams()) for c in concepts}


def _replay_many(conn: Connection, pairs: set[tuple[str, str]]) -> None:
    """:func:`replay` of every (student, concept) pair in one read of the observations."""
    if not pairs:
        return
    students = sorted({p[0] for p in pairs})
    concepts = sorted({p[1] for p in pairs})
    seqs: dict[tuple[str, str], list] = {p: [] for p in pairs}
    for r in conn.execute(select(*_obs_columns()).where(observations.c.student.in_(students),
                                                        observations.c.concept.in_(concepts))):
        if (r.student, r.concept) in seqs:
            seqs[(r.student, r.concept)].append(r)
    _store_mastery(conn, {p: _ordered(rows) for p, rows in seqs.items()}, _params_of(conn, concepts))


def _obs_columns():
    return (observations.c.student, observations.c.concept, observations.c.assignment, observations.c.item,
            observations.c.checksum, observations.c.submitted_at, observations.c.position,
            observations.c.kind, observations.c.correct)


def replay(conn: Connection, student: str, concept: str) -> float:
    """Recompute and store P(L) of (student, concept) from its observations in submission-time order."""
    rows = _ordered(conn.execute(select(*_obs_columns()).where(
        (observations.c.student == student) & (observations.c.concept == concept))).all())
    params = params_for(conn, concept)
    _set_mastery(conn, student, concept, rows, params)
    return bkt.trace([(bool(r.correct), r.kind) for r in rows], params)


def record_evidence(conn: Connection, result: GradedResult, *, submitted_at: dt.datetime | None = None) -> int:
    """Write one result's evidence inside the caller's open transaction (never commits).

    ``submitted_at``: nbgrader's submission time (None: ``result.graded_at``). Returns the number of
    new observations (net: an attempt that makes a later identical one redundant counts nothing).
    """
    return record_evidence_batch(conn, [(result, submitted_at)])


def record_evidence_batch(conn: Connection, entries: Sequence[tuple[Any, dt.datetime | None]]) -> int:
    """:func:`record_evidence` of many results [(result, submitted_at)] at once, set-based: one read per
    table, then bulk inserts/updates (about ten statements per batch, whatever its size). The stored
    rows and mastery equal those of recording the results one at a time in this order. Returns the
    number of new observations (net)."""
    _ensure_tables(conn)
    subs = []
    for result, submitted_at in entries:
        res = _typed(result)
        if res.gradable:
            when = (time_key(submitted_at) or time_key(res.graded_at)
                    or time_key(dt.datetime.now(dt.timezone.utc)))
            subs.append((res, when, evidence_items(res)))
    if not subs:
        return 0
    added, touched = _derive_observations(conn, _store_attempts(conn, subs))
    for res, _, _ in subs:
        if catalog.runtime_of(res.assignment) == "quiz":
            for check in res.checks:
                _record_response(conn, res, check)
    _replay_many(conn, touched)
    return max(0, added)


def _nbgrader_timestamp(conn: Connection, student: str, assignment: str) -> dt.datetime | str | None:
    """nbgrader's submission timestamp of (student, assignment) when the gradebook holds one."""
    key = conn.engine.url.render_as_string(hide_password=False)
    if key not in _NBGRADER_TABLES:        # a failing query would abort the caller's transaction
        _NBGRADER_TABLES[key] = inspect(conn).has_table("submitted_assignment")
    if not _NBGRADER_TABLES[key]:
        return None
    try:
        return conn.execute(text(
            "SELECT s.timestamp FROM submitted_assignment s JOIN assignment a ON s.assignment_id = a.id "
            "WHERE s.student_id = :student AND a.name = :assignment"),
            {"student": student, "assignment": assignment}).scalar()
    except SQLAlchemyError:
        return None


def record_result(db_url: str, result: GradedResult, *, submitted_at: dt.datetime | None = None) -> int:
    """:func:`record_evidence` in its own transaction. Without ``submitted_at`` the submission time is
    read from nbgrader's gradebook when it has one (same database), else ``result.graded_at``."""
    res = _typed(result)
    with engine_for(db_url).begin() as conn:
        if submitted_at is None and res.gradable:
            submitted_at = _as_datetime(_nbgrader_timestamp(conn, res.student, res.assignment))
        return record_evidence(conn, res, submitted_at=submitted_at)


# ------------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConceptMastery:
    """What a report or export shows for one (student, concept)."""
    student: str
    concept: str
    p_mastery: float
    n_obs: int
    latest_failed: bool
    threshold: float = THRESHOLD

    @property
    def enough_evidence(self) -> bool:
        return self.n_obs >= MIN_EVIDENCE

    @property
    def mastered(self) -> bool:
        """Shown as mastered: above the threshold, on enough evidence, and no graded function on the
        concept failing in the latest code submission."""
        return self.p_mastery >= self.threshold and self.enough_evidence and not self.latest_failed

    @property
    def status(self) -> str:
        if self.n_obs == 0:
            return "not assessed yet"
        if not self.enough_evidence:
            return "not enough evidence yet"
        return "mastered" if self.mastered else "not mastered yet"

    def to_dict(self) -> dict:
        return {"concept": self.concept, "p_mastery": round(self.p_mastery, 6), "mastered": self.mastered,
                "n_obs": self.n_obs, "enough_evidence": self.enough_evidence,
                "latest_failed": self.latest_failed, "status": self.status}


def class_mastery(db_url: str, students: Iterable[str] | None = None,
                  threshold: float = THRESHOLD) -> dict[str, list[ConceptMastery]]:
    """{student: [ConceptMastery for every concept of the concept map, in course order]}; students
    default to everyone with evidence."""
    concepts = list(load_concepts())
    with engine_for(db_url).connect() as conn:
        stored: dict[str, dict[str, Any]] = {}
        for r in conn.execute(select(mastery)):
            stored.setdefault(r.student, {})[r.concept] = r
        priors = {c: params_for(conn, c).prior for c in concepts}
    out = {}
    for s in (sorted(stored) if students is None else students):
        rows = stored.get(s, {})
        out[s] = [ConceptMastery(s, c, rows[c].p_mastery, rows[c].n_obs, bool(rows[c].latest_failed), threshold)
                  if c in rows else ConceptMastery(s, c, priors[c], 0, False, threshold) for c in concepts]
    return out


def mastery_rows(db_url: str, student: str, threshold: float = THRESHOLD) -> list[ConceptMastery]:
    return class_mastery(db_url, [student], threshold)[student]


def mastery_table(db_url: str, student: str) -> dict[str, tuple[float, int]]:
    """{concept: (P(mastered), number of observations)} for every concept of the concept map."""
    return {m.concept: (m.p_mastery, m.n_obs) for m in mastery_rows(db_url, student)}


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
    latest_failed: bool = False
    enough_evidence: bool = True


def review_list(db_url: str, student: str, threshold: float = THRESHOLD,
                include_mastered: bool = False) -> list[ReviewItem]:
    """Concepts not shown as mastered, most urgent first: a graded function on the concept failing in
    the latest submission, then lowest mastery; concepts without evidence come last. Each points at
    practice questions and notebook sections."""
    concepts = load_concepts()
    items = []
    for m in mastery_rows(db_url, student, threshold):
        if m.mastered and not include_mastered:
            continue
        c = concepts[m.concept]
        qs = tuple(q.id for q in practice_pool(c.week) if m.concept in q.concepts)
        items.append(ReviewItem(m.concept, c.name, c.week, m.p_mastery, m.n_obs, m.mastered, qs, c.practice,
                                m.latest_failed, m.enough_evidence))
    items.sort(key=lambda it: (it.n_obs == 0, it.mastered, not it.latest_failed, it.p_mastery, it.concept))
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
    forgetting: bool = False


def _snapshot(db_url: str, concepts: list[str] | None) -> tuple[dict[str, dict[str, list]], dict]:
    """({concept: {student: ordered observation rows}}, {concept: stored params row}) in one short read."""
    with engine_for(db_url).connect() as conn:
        q = select(*_obs_columns())
        if concepts:
            q = q.where(observations.c.concept.in_(concepts))
        rows = conn.execute(q).all()
        fitted = {r["concept"]: dict(r) for r in conn.execute(select(bkt_params)).mappings()}
    per: dict[str, dict[str, list]] = {}
    for r in rows:
        per.setdefault(r.concept, {}).setdefault(r.student, []).append(r)
    return {c: {s: _ordered(v) for s, v in by.items()} for c, by in per.items()}, fitted


def _write_fit(conn: Connection, concept: str, sel: bkt.Selection, n_students: int, n_obs: int) -> None:
    p = sel.result.params
    values = dict(prior=p.prior, learn=p.learn, forget=p.forget, guess=json.dumps(dict(p.guess)),
                  slip=json.dumps(dict(p.slip)), n_students=n_students, n_obs=n_obs, loglik=sel.result.loglik,
                  selection=json.dumps({"forgetting": sel.forgetting, "heldout_no_forget": sel.heldout_no_forget,
                                        "heldout_forget": sel.heldout_forget}),
                  fitted_at=_now())
    if conn.execute(select(bkt_params.c.concept).where(bkt_params.c.concept == concept)).first():
        conn.execute(bkt_params.update().where(bkt_params.c.concept == concept).values(**values))
    else:
        conn.execute(bkt_params.insert().values(concept=concept, **values))
    rows = conn.execute(select(*_obs_columns()).where(observations.c.concept == concept)).all()
    per: dict[str, list] = {}
    for r in rows:                       # replay from what is stored now (grading may have added some)
        per.setdefault(r.student, []).append(r)
    _store_mastery(conn, {(student, concept): _ordered(seq) for student, seq in per.items()}, {concept: p})


def refit(db_url: str, min_students: int = MIN_STUDENTS_FOR_REFIT, min_obs: int = MIN_OBS_FOR_REFIT,
          concepts: list[str] | None = None, *, forgetting: str = "auto", only_grown: bool = False,
          seed: int = 0) -> list[RefitReport]:
    """EM fit per concept with enough data (several starts; forgetting ``"auto"``: kept when it predicts
    held-out students better, ``"off"``: never), then every student's mastery of the concept replayed.

    The fit runs on a snapshot read in one short transaction; parameters and replayed states are
    written in one short transaction, so grading is never blocked for the length of a fit.
    ``only_grown``: skip concepts whose data has not grown by REFIT_GROWTH since their last fit.
    """
    snap, fitted = _snapshot(db_url, concepts)
    names = concepts or sorted(snap)
    reports, results = [], []
    for concept in names:
        seqs = snap.get(concept, {})
        n_obs = sum(len(v) for v in seqs.values())
        if len(seqs) < min_students or n_obs < min_obs:
            reports.append(RefitReport(concept, "skipped", f"{len(seqs)} students / {n_obs} observations "
                                       f"(need {min_students} / {min_obs})"))
            continue
        old = fitted.get(concept)
        if only_grown and old is not None and n_obs < REFIT_GROWTH * old["n_obs"]:
            reports.append(RefitReport(concept, "skipped", f"fitted on {old['n_obs']} observations, "
                                       f"{n_obs} now"))
            continue
        # students in a fixed order: the fit (its folds, its ties) must not depend on grading order
        data = [[(bool(r.correct), r.kind) for r in seqs[student]] for student in sorted(seqs)]
        start = _params_from_row(old) if old else None
        if forgetting == "off":
            sel = bkt.Selection(bkt.fit(data, start, seed=seed), False, None, None)
        else:
            sel = bkt.select_and_fit(data, start, seed=seed)
        results.append((concept, sel, len(seqs), n_obs))
        p = sel.result.params
        reports.append(RefitReport(concept, "fitted", f"{len(seqs)} students, {n_obs} observations, "
                                   f"{sel.result.iterations} EM iterations, best of {sel.result.starts} starts"
                                   + (", forgetting" if sel.forgetting else ""), p, sel.forgetting))
    if results:
        with engine_for(db_url).begin() as conn:
            for concept, sel, n_students, n_obs in results:
                _write_fit(conn, concept, sel, n_students, n_obs)
    return reports


def refit_if_ready(db_url: str) -> list[RefitReport]:
    """Refit every concept that has enough data and grew since its last fit; never raises (grading
    must not fail because of a refit): problems are logged and give an empty list."""
    try:
        return [r for r in refit(db_url, only_grown=True) if r.status == "fitted"]
    except Exception as exc:  # noqa: BLE001 - the grades are recorded; mastery can be refitted later
        log.warning("mastery refit failed for %s: %s", db_url, exc)
        return []


# ------------------------------------------------------------------------------------------------
# audit (demo, validation)
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Audit:
    """Sanity of the shown flags against the raw evidence (the issue's done-when checks).

    mastered: flags shown; all_failed_latest: flags on a concept whose every graded function failed in
    the student's latest code submission on it (from the attempts, not the observations);
    mostly_wrong_last5: flags where most of the last five observations are wrong."""
    mastered: int
    all_failed_latest: int
    mostly_wrong_last5: int


def audit(db_url: str, threshold: float = THRESHOLD) -> Audit:
    shown = {(s, m.concept) for s, rows in class_mastery(db_url, None, threshold).items() for m in rows if m.mastered}
    with engine_for(db_url).connect() as conn:
        tries = conn.execute(select(attempts.c.student, attempts.c.assignment, attempts.c.checksum,
                                    attempts.c.submitted_at, attempts.c.concepts, attempts.c.correct)
                             .where(attempts.c.kind == "code")).all()
        obs = conn.execute(select(*_obs_columns())).all()
    latest: dict[tuple[str, str], tuple[str, str, str]] = {}
    outcomes: dict[tuple[str, str, str, str], list[bool]] = {}
    for t in tries:
        for c in json.loads(t.concepts):
            key = (t.student, c)
            sub = (t.submitted_at, t.assignment, t.checksum)
            latest[key] = max(latest.get(key, sub), sub)
            outcomes.setdefault((t.student, c, t.assignment, t.checksum), []).append(bool(t.correct))
    failed = {k for k, (_, a, cs) in latest.items() if not any(outcomes[(k[0], k[1], a, cs)])}
    per: dict[tuple[str, str], list] = {}
    for r in obs:
        per.setdefault((r.student, r.concept), []).append(r)
    last5_wrong = {k for k, rows in per.items()
                   if sum(not r.correct for r in _ordered(rows)[-5:]) * 2 > len(_ordered(rows)[-5:])}
    return Audit(len(shown), len(shown & failed), len(shown & last5_wrong))
