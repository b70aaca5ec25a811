"""The one recording step from a SubmissionResult to the course's records, for both grading paths.

``deepgrade grade`` (runner) and ``nbgrader autograde`` (plugin) both hand each result to a
:class:`Recorder`. Per result, in this order:

1. files, each written atomically (temp file + rename) by :func:`write_submission_files`:
   ``autograded/<student>/<a>/results.json`` (Gradescope), and on the runner path also the annotated
   notebook and ``timestamp.txt``/``submission_secret.txt`` (nbgrader writes those itself on its own
   path). On the runner path a grading WORKER calls it right after grading (plain data in, the
   completed result out), so the process holding the course lock never parses or writes a notebook;
   results whose files nobody wrote yet (refused, a crashed worker's, the nbgrader plugin's) get them
   written by :meth:`Recorder.add` through the same function;
2. the database, in ONE transaction per batch: nbgrader's gradebook rows (student, submission
   structure, ``auto_score`` of each grade cell from the typed result, the reason of an ungradable
   submission as auto comment + flag, the late penalty), our ``dg_results`` row, and the result's
   mastery evidence (``quizzes.mastery.record_evidence_batch`` on the same connection). Results and evidence
   commit or roll back together: a kill or an outage between them cannot lose evidence.

Files before rows: a worker or recorder killed between the two leaves files of a result that is not
recorded, which the next run grades and writes again; a recorded result always has its files.

Batching: results are buffered in memory (not in an open transaction) and written by a handful of
set-based statements per batch, the mastery evidence too (``quizzes.mastery.record_evidence_batch``):
``batch_size`` results, or whatever arrived once the oldest buffered result is ``batch_seconds`` old,
and at :meth:`Recorder.close`. A buffered result lost to a kill was
never recorded, so the next run grades it again.

Failures: a transient database error (connection lost, server restarting, a concurrent writer) is
retried with back-off (``retries`` times); then the batch is split and every result tried alone, so
one bad result (e.g. a grade cell the gradebook lacks) never takes its neighbours down. What still
fails is reported as an :class:`Outcome` with ``recorded=False`` and is NOT recorded: the runner
exits non-zero and the next run grades it again.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import nbformat
from nbgrader.api import (Assignment, Comment, Grade, Notebook, Student, SubmittedAssignment,
                          SubmittedNotebook, new_uuid)
from sqlalchemy import bindparam, create_engine, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from autograder import forksafe
from autograder.annotate import annotate_notebook, read_submitted_json, sanitize_preprocessors
from autograder.gradebook import (DGBase, DGResult, GradebookError, GradebookNotReady, LatePenalty,
                                  default_db_url, grade_cell_scores, graded_at_utc, load_course_config,
                                  notebook_name, redact_url)
from autograder.result import SubmissionResult
from autograder.safe_text import markdown_text
from quizzes import mastery

log = logging.getLogger(__name__)

RETRIES = 4             # transient database errors: attempts after the first, back-off doubling from
RETRY_DELAY = 0.5       # RETRY_DELAY seconds (0.5 + 1 + 2 + 4 s: a server restart fits)

_student, _sub, _subnb = Student.__table__, SubmittedAssignment.__table__, SubmittedNotebook.__table__
_grade, _comment, _dg = Grade.__table__, Comment.__table__, DGResult.__table__


def atomic_write(path: Path, text: str) -> None:
    """Write via a temp file in the same folder + rename, so a kill never leaves a half-written file;
    temp files a killed run left behind are removed."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)        # e.g. disk full: no partial file stays behind
        raise


# ---------------------------------------------------------------------------------------------- files


#: files nbgrader's exchange writes beside a submission; feedback release/fetch read them from
#: autograded/ -> feedback/ (the secret names the feedback file, the timestamp its folder)
SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")
MAX_SUBMISSION_FILE_BYTES = 4096


@dataclass(frozen=True)
class SubmittedCopy:
    """What the runner's autograded notebook copy needs (plain data: it travels to grading workers)."""
    db_url: str                 # the gradebook nbgrader's sanitize step reads the released cells from
    notebook: str               # nbgrader notebook id (file stem)
    path: str                   # the submitted notebook
    refused: bool = False       # the file rules refused it: never opened
    run: str = ""               # the grading run (one per command): the release is read once per run


def autograded_dir(course_dir: str | Path, student: str, assignment: str) -> Path:
    return Path(course_dir) / "autograded" / student / assignment


def complete_ungradable(result: Any, grade_cells: Mapping[str, float]) -> Any:
    """An ungradable result gets the released notebook's maximum and a zero for each of its grade cells
    (``grade_cells``: {grade cell name: max score}), whichever path or builder made it."""
    if result.gradable or (result.max_score and result.grade_cells):
        return result
    cells = {name: {"score": 0.0, "max_score": mx} for name, mx in grade_cells.items()}
    return replace(result, max_score=result.max_score or sum(grade_cells.values()),
                   grade_cells=result.grade_cells or cells)


def write_submission_files(course_dir: str | Path, result: Any, grade_cells: Mapping[str, float],
                           copy: SubmittedCopy | None = None) -> Any:
    """Write one graded submission's files, each atomically, and return the result as it must be
    recorded (:func:`complete_ungradable`). Plain data in and out: a grading worker (local pool or
    Dask) calls it right after grading; :meth:`Recorder.add` calls it for results nobody wrote yet.

    Always ``autograded/<student>/<a>/results.json`` (Gradescope); with ``copy`` (``deepgrade grade``)
    also the autograded notebook as nbgrader's autograde writes it (sanitised with nbgrader's own
    preprocessors, then our check messages in the test cells; none for an unreadable or refused
    notebook) and the submission's ``timestamp.txt``/``submission_secret.txt``."""
    result = complete_ungradable(result, grade_cells)
    out = autograded_dir(course_dir, str(result.student), str(result.assignment))
    out.mkdir(parents=True, exist_ok=True)
    if copy is not None and not copy.refused:           # never open what the file rules refused
        sync_submission_files(out, Path(copy.path).parent)
        nb = _sanitized(course_dir, copy, result) if result.gradable or Path(copy.path).is_file() else None
        if nb is not None:
            annotate_notebook(nb, result, read_submitted_json(copy.path))
            # nbformat.writes would validate first, only to log: the JSON writer alone gives the same text
            atomic_write(out / f"{copy.notebook}.ipynb", nbformat.versions[nb.nbformat].writes_json(nb))
    atomic_write(out / "results.json", json.dumps(result.to_gradescope(), indent=1))
    return result


def sync_submission_files(out: Path, submitted: Path) -> None:
    """Make the autograded folder ``out``'s timestamp.txt and submission_secret.txt equal those of the
    submitted folder (or absent when it has none), as ``nbgrader autograde`` does by copying the
    submission folder. Only small regular files are copied (never a symlink)."""
    if not out.is_dir():
        return
    for name in SUBMISSION_FILES:
        src, dest = submitted / name, out / name
        if src.is_file() and not src.is_symlink() and src.stat().st_size <= MAX_SUBMISSION_FILE_BYTES:
            text = src.read_text(errors="replace")
            if not dest.is_file() or dest.is_symlink() or dest.read_text(errors="replace") != text:
                dest.unlink(missing_ok=True)
                atomic_write(dest, text)
        elif dest.exists() or dest.is_symlink():
            dest.unlink()


_CONFIGS: dict[tuple, Any] = {}


def _course_config(course_dir: str | Path):
    """The course's nbgrader config, loaded once per process while the file is unchanged."""
    path = Path(course_dir) / "nbgrader_config.py"
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        key = (str(path), None, None)
    if key not in _CONFIGS:
        _CONFIGS.clear()
        _CONFIGS[key] = load_course_config(course_dir)
    return _CONFIGS[key]


def _sanitized(course_dir: str | Path, copy: SubmittedCopy, result: Any):
    """The submitted notebook through the course's ``Autograde.sanitize_preprocessors`` (as nbgrader
    autograde runs them; None if unreadable)."""
    try:
        nb = nbformat.read(copy.path, as_version=4)
    except Exception:  # noqa: BLE001 - unreadable: the result already says why
        return None
    config = _course_config(course_dir)
    resources = {"nbgrader": {"student": str(result.student), "assignment": str(result.assignment),
                              "notebook": copy.notebook, "db_url": copy.db_url},
                 "deepgrade": {"run": copy.run} if copy.run else {}}
    try:
        for pp in sanitize_preprocessors(config):
            nb, resources = pp(config=config).preprocess(nb, resources)
    except Exception:  # noqa: BLE001 - nbgrader refuses damaged metadata; keep the raw notebook
        nb = nbformat.read(copy.path, as_version=4)
    return nb


# ---------------------------------------------------------------------------------------------- database


@dataclass(frozen=True)
class Item:
    """One result waiting to be written. ``checksum`` overrides the result's (the runner's file hash);
    ``submitted_at`` is nbgrader's submission timestamp (naive UTC); ``copy``: write the runner's
    autograded notebook too; ``files_written``: a worker already ran :func:`write_submission_files`."""
    result: SubmissionResult
    checksum: str | None = None
    submitted_at: dt.datetime | None = None
    copy: SubmittedCopy | None = None
    files_written: bool = False
    queued: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not isinstance(self.result, SubmissionResult):   # one typed entry: convert at the edge
            raise TypeError(f"the recording step takes a SubmissionResult, not a {type(self.result).__name__} "
                            "(convert with SubmissionResult.from_dict)")

    @property
    def key(self) -> tuple[str, str]:
        return str(self.result.student), str(self.result.assignment)


@dataclass(frozen=True)
class Outcome:
    item: Item
    recorded: bool
    error: str = ""                        # one line, password hidden
    exc: BaseException | None = None


@dataclass
class _Master:
    """The released notebook's structure (loaded once per assignment/notebook)."""
    assignment_id: str
    duedate: dt.datetime | None
    notebook_id: str
    grade_cells: dict[str, tuple[str, float]]     # name -> (cell id, max score)
    solution_cells: list[str]                     # cell ids
    task_cells: list[str]                         # cell ids (a Grade and a Comment each)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (OperationalError, IntegrityError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def make_engine(db_url: str) -> Engine:
    """An engine for recording: connections checked before use (a restarted server is not an error)."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if db_url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    return forksafe.track_engine(create_engine(db_url, **kwargs))


class Recorder:
    """Write results (files + one transaction per batch). Use as a context manager, or call
    :meth:`close`, which writes what is still buffered and returns those outcomes."""

    def __init__(self, db_url: str, course_dir: str | Path, *, late_penalty: LatePenalty | None = None,
                 batch_size: int = 25, batch_seconds: float = 2.0, retries: int | None = None,
                 retry_delay: float | None = None) -> None:
        self.db_url = db_url
        self.course_dir = Path(course_dir)
        self.late_penalty = late_penalty
        self.batch_size, self.batch_seconds = max(1, batch_size), batch_seconds
        self.retries = RETRIES if retries is None else retries
        self.retry_delay = RETRY_DELAY if retry_delay is None else retry_delay
        self.engine = make_engine(db_url)
        self._masters: dict[tuple[str, str], _Master] = {}
        self._pending: list[Item] = []
        self._tables_ready = False

    # ------------------------------------------------------------------ public
    def grade_cell_maxima(self, assignment: str, nb_name: str) -> dict[str, float]:
        """{grade cell name: max score} of the released notebook (for :func:`write_submission_files`)."""
        return {name: mx for name, (_, mx) in self._master(assignment, nb_name).grade_cells.items()}

    def add(self, item: Item) -> list[Outcome]:
        """Write the item's files now unless a worker did (:func:`write_submission_files`) and buffer
        its database write; returns the outcomes of a batch written because it became due (often empty)."""
        if not item.files_written:
            try:
                r = item.result
                maxima = {} if r.gradable else self.grade_cell_maxima(str(r.assignment), notebook_name(r))
                item = replace(item, result=write_submission_files(self.course_dir, r, maxima, item.copy),
                               files_written=True)
            except Exception as exc:  # noqa: BLE001 - e.g. disk full: this result stays unrecorded
                return [Outcome(item, False, self._describe(exc), exc)]
        self._pending.append(item)
        due = (len(self._pending) >= self.batch_size
               or time.monotonic() - self._pending[0].queued >= self.batch_seconds)
        return self.flush() if due else []

    def record_now(self, item: Item) -> Outcome:
        """Files + database for one item at once (the nbgrader plugin: one notebook per call)."""
        outcomes = self.add(item) + self.flush()
        return [o for o in outcomes if o.item.key == item.key][-1]

    def flush(self) -> list[Outcome]:
        items, self._pending = self._pending, []
        if not items:
            return []
        latest: dict[tuple[str, str], Item] = {}
        for it in items:                       # the same submission twice in a batch: the last wins
            latest[it.key] = it
        superseded = [Outcome(it, True) for it in items if latest[it.key] is not it]
        return superseded + self._write_with_retries(list(latest.values()))

    def close(self) -> list[Outcome]:
        try:
            return self.flush()
        finally:
            self.engine.dispose()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ retries and splitting
    def _write_with_retries(self, items: list[Item]) -> list[Outcome]:
        for attempt in range(self.retries + 1):
            try:
                self._write_batch(items)
                return [Outcome(it, True) for it in items]
            except Exception as exc:  # noqa: BLE001 - classified below
                if not _is_transient(exc):
                    if len(items) > 1:          # find the culprit: each result on its own
                        return [o for it in items for o in self._write_with_retries([it])]
                    return [Outcome(items[0], False, self._describe(exc), exc)]
                if attempt == self.retries:
                    return [Outcome(it, False, self._describe(exc), exc) for it in items]
                log.warning("database error while recording %d result(s), retrying: %s", len(items),
                            self._describe(exc))
                time.sleep(self.retry_delay * 2 ** attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _describe(self, exc: BaseException) -> str:
        text = str(exc).splitlines()[0] if str(exc) else ""
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            text = str(exc.orig).splitlines()[0] if str(exc.orig) else text
        return redact_url(f"{type(exc).__name__}: {text}", self.db_url)

    # ------------------------------------------------------------------ the transaction
    def _ensure_tables(self) -> None:
        if not self._tables_ready:
            DGBase.metadata.create_all(self.engine)
            mastery.metadata.create_all(self.engine)
            self._tables_ready = True

    def _master(self, assignment: str, nb_name: str) -> _Master:
        key = (assignment, nb_name)
        if key not in self._masters:
            with Session(self.engine) as s:
                a = s.execute(select(Assignment).where(Assignment.name == assignment)).scalar_one_or_none()
                if a is None:
                    raise GradebookNotReady(
                        f"assignment {assignment!r} is not in the gradebook {redact_url(self.db_url)}: release it "
                        f"first (`deepgrade release` or `nbgrader generate_assignment {assignment}`)")
                nb = s.execute(select(Notebook).where(Notebook.assignment_id == a.id,
                                                      Notebook.name == nb_name)).scalar_one_or_none()
                if nb is None:
                    raise GradebookNotReady(
                        f"notebook {nb_name!r} of assignment {assignment!r} is not in the gradebook "
                        f"{redact_url(self.db_url)}: release the assignment first "
                        f"(`nbgrader generate_assignment {assignment} --force`)")
                self._masters[key] = _Master(
                    a.id, a.duedate, nb.id, {c.name: (c.id, float(c.max_score or 0.0)) for c in nb.grade_cells},
                    [c.id for c in nb.solution_cells], [c.id for c in nb.task_cells])
        return self._masters[key]

    def _write_batch(self, items: list[Item]) -> None:
        self._ensure_tables()
        groups: dict[tuple[str, str], list[Item]] = {}
        for it in items:
            groups.setdefault((it.key[1], notebook_name(it.result)), []).append(it)
        plans = {key: (self._master(*key), group) for key, group in groups.items()}
        for master, group in plans.values():           # validate before touching the database
            for it in group:
                _check_cells(it, master)
        with self.engine.begin() as conn:
            for master, group in plans.values():
                self._write_group(conn, master, group)

    def _write_group(self, conn: Connection, m: _Master, items: list[Item]) -> None:
        students = [it.key[0] for it in items]
        have = set(conn.execute(select(_student.c.id).where(_student.c.id.in_(students))).scalars())
        new_students = [{"id": s} for s in students if s not in have]
        if new_students:
            conn.execute(_student.insert(), new_students)

        subs = {r.student_id: (r.id, r.extension) for r in conn.execute(
            select(_sub.c.id, _sub.c.student_id, _sub.c.extension).where(
                _sub.c.assignment_id == m.assignment_id, _sub.c.student_id.in_(students)))}
        new_subs = [{"id": new_uuid(), "assignment_id": m.assignment_id, "student_id": s, "timestamp": None,
                     "extension": None} for s in students if s not in subs]
        if new_subs:
            conn.execute(_sub.insert(), new_subs)
            subs.update({r["student_id"]: (r["id"], None) for r in new_subs})
        stamps = [{"b_id": subs[it.key[0]][0], "b_ts": it.submitted_at} for it in items
                  if it.submitted_at is not None]
        if stamps:
            conn.execute(_sub.update().where(_sub.c.id == bindparam("b_id")).values(timestamp=bindparam("b_ts")),
                         stamps)

        sub_ids = [subs[s][0] for s in students]
        nbs = {r.assignment_id: r.id for r in conn.execute(
            select(_subnb.c.id, _subnb.c.assignment_id).where(
                _subnb.c.notebook_id == m.notebook_id, _subnb.c.assignment_id.in_(sub_ids)))}
        new_nbs = [{"id": new_uuid(), "assignment_id": sid, "notebook_id": m.notebook_id, "flagged": False}
                   for sid in sub_ids if sid not in nbs]
        if new_nbs:                               # the structure Gradebook.add_submission creates
            conn.execute(_subnb.insert(), new_nbs)
            nbs.update({r["assignment_id"]: r["id"] for r in new_nbs})
            new_ids = [r["id"] for r in new_nbs]
            grade_cells = [cid for cid, _ in m.grade_cells.values()] + m.task_cells
            comment_cells = m.solution_cells + m.task_cells
            if grade_cells:
                conn.execute(_grade.insert(), [{"id": new_uuid(), "cell_id": c, "notebook_id": n,
                                                "needs_manual_grade": True} for n in new_ids for c in grade_cells])
            if comment_cells:
                conn.execute(_comment.insert(), [{"id": new_uuid(), "cell_id": c, "notebook_id": n}
                                                 for n in new_ids for c in comment_cells])

        nb_of = {it.key[0]: nbs[subs[it.key[0]][0]] for it in items}
        manual: dict[str, list] = {}        # submitted notebook id -> [(cell id, manual score, extra credit)]
        for row in conn.execute(
                select(_grade.c.notebook_id, _grade.c.cell_id, _grade.c.manual_score, _grade.c.extra_credit).where(
                    _grade.c.notebook_id.in_(list(nb_of.values())))):
            manual.setdefault(row.notebook_id, []).append((row.cell_id, row.manual_score, row.extra_credit))
        by_id = {cid: (name, mx) for name, (cid, mx) in m.grade_cells.items()}
        grade_rows, comment_rows, flag_rows, totals = [], [], [], {}
        for it in items:
            nb_id = nb_of[it.key[0]]
            r = it.result
            scores = grade_cell_scores(r) if r.gradable else {}
            total = 0.0
            for cell_id, manual_score, extra in manual.get(nb_id, ()):
                name, mx = by_id.get(cell_id, (None, 0.0))
                if not r.gradable and name is not None:
                    auto = 0.0
                elif name in scores:
                    auto = min(scores[name], mx)
                elif not r.gradable:
                    auto = 0.0                # a task cell of an ungradable submission
                else:
                    auto = None               # a cell our checks do not grade: a human grades it
                grade_rows.append({"b_nb": nb_id, "b_cell": cell_id, "auto_score": auto,
                                   "needs_manual_grade": manual_score is not None or auto is None})
                base = manual_score if manual_score is not None else auto
                total += 0.0 if base is None else base + (extra or 0.0)     # nbgrader's Grade.score
            totals[nb_id] = total
            comment_rows.append({"b_nb": nb_id, "auto_comment": None if r.gradable else
                                 f"Not graded automatically: {markdown_text(r.ungradable_reason or '')}"})
            if not r.gradable:
                flag_rows.append({"b_nb": nb_id})
        if grade_rows:
            conn.execute(_grade.update().where(_grade.c.notebook_id == bindparam("b_nb"),
                                               _grade.c.cell_id == bindparam("b_cell")), grade_rows)
        conn.execute(_comment.update().where(_comment.c.notebook_id == bindparam("b_nb")), comment_rows)
        if flag_rows:
            conn.execute(_subnb.update().where(_subnb.c.id == bindparam("b_nb")).values(flagged=True), flag_rows)
        if self.late_penalty is not None:
            self._late_penalties(conn, m, items, subs, nb_of, totals)

        self._upsert_results(conn, items)
        mastery.record_evidence_batch(conn, [(it.result, it.submitted_at) for it in items])

    def _late_penalties(self, conn, m: _Master, items, subs, nb_of, totals) -> None:
        """nbgrader's ``AssignLatePenalties`` rule: reset, then the plugin's penalty clamped to
        [0, notebook score] when the submission is late (after the due date + extension)."""
        rows = []
        for it in items:
            student = it.key[0]
            penalty = None
            extension = subs[student][1]
            if m.duedate is not None and it.submitted_at is not None:
                due = m.duedate + (extension or dt.timedelta(0))
                late = (it.submitted_at - due).total_seconds()
                if late > 0:
                    score = totals[nb_of[student]]
                    value = self.late_penalty(student, score, late)
                    if value is not None:
                        penalty = min(max(float(value), 0.0), score)
            rows.append({"b_nb": nb_of[student], "late_submission_penalty": penalty})
        conn.execute(_subnb.update().where(_subnb.c.id == bindparam("b_nb")), rows)

    @staticmethod
    def _upsert_results(conn: Connection, items: list[Item]) -> None:
        assignment = items[0].key[1]
        existing = {r.student: r.id for r in conn.execute(
            select(_dg.c.id, _dg.c.student).where(_dg.c.assignment == assignment,
                                                  _dg.c.student.in_([it.key[0] for it in items])))}
        inserts, updates = [], []
        for it in items:
            r = it.result
            values = {"notebook": notebook_name(r), "checksum": str(it.checksum or r.checksum or ""),
                      "gradable": bool(r.gradable),
                      "score": float(r.score or 0.0) if r.gradable else 0.0,
                      "max_score": float(r.max_score or 0.0),
                      "result_json": json.dumps(r.to_dict(), sort_keys=True),
                      "graded_at": graded_at_utc(r)}
            if it.key[0] in existing:
                updates.append({"b_id": existing[it.key[0]], **values})
            else:
                inserts.append({"student": it.key[0], "assignment": assignment, **values})
        if inserts:
            conn.execute(_dg.insert(), inserts)
        if updates:
            conn.execute(_dg.update().where(_dg.c.id == bindparam("b_id")), updates)


def _check_cells(item: Item, m: _Master) -> None:
    if not item.result.gradable:
        return
    unknown = set(grade_cell_scores(item.result)) - set(m.grade_cells)
    if unknown:
        student, assignment = item.key
        raise GradebookError(
            f"{student}/{assignment}: the result grades {sorted(unknown)} but notebook "
            f"{notebook_name(item.result)!r} in the gradebook has no such grade cells; re-release the "
            f"assignment (`nbgrader generate_assignment {assignment} --force`)")


def record_results(db_url: str, course_dir: str | Path, items: Iterable[Item], **kwargs) -> list[Outcome]:
    """Record ``items`` through one :class:`Recorder` (files + batched transactions)."""
    with Recorder(db_url, course_dir, **kwargs) as rec:
        outcomes = [o for it in items for o in rec.add(it)]
        return outcomes + rec.flush()


def record_result(db_url: str | None, result: Any, course_dir: str | Path, *,
                  timestamp: dt.datetime | None = None, checksum: str | None = None) -> None:
    """Record one result now (files + one transaction); :class:`GradebookError` if it was not recorded.
    ``db_url`` None: ``sqlite:///<course_dir>/gradebook.db``."""
    with Recorder(db_url or default_db_url(course_dir), course_dir, retries=0) as rec:
        outcome = rec.record_now(Item(result, checksum=checksum, submitted_at=timestamp))
    if not outcome.recorded:
        if isinstance(outcome.exc, GradebookError):
            raise outcome.exc
        raise GradebookError(outcome.error) from outcome.exc


def rebuild_evidence(db_url: str) -> int:
    """Replay ``record_evidence`` for every stored result (idempotent: known evidence is not added
    twice). Mastery can always be rebuilt from ``dg_results``. Returns the number of results replayed."""
    engine = make_engine(db_url)
    try:
        mastery.metadata.create_all(engine)
        with engine.begin() as conn:
            rows = conn.execute(select(_dg.c.result_json).order_by(_dg.c.graded_at, _dg.c.id)).scalars().all()
            for start in range(0, len(rows), mastery.REBUILD_BATCH):
                mastery.record_evidence_batch(conn, [(SubmissionResult.from_json(text), None)
                                                     for text in rows[start:start + mastery.REBUILD_BATCH]])
        return len(rows)
    finally:
        engine.dispose()
