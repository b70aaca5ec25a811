"""Write grading results into nbgrader's gradebook and into our own ``dg_results`` table.

One function does the writing: :func:`record_result` (or :meth:`ResultStore.record` when many results
are written through one connection). It

* adds the student if new and the SubmittedAssignment / SubmittedNotebook if new (mirroring
  ``Gradebook.add_submission``), through nbgrader's own ORM classes,
* sets ``auto_score`` of every grade cell ``test_<f>`` from the typed result (never from cell outputs),
  zero for an ungradable submission, whose reason is stored as the auto comment of every solution cell
  and the submitted notebook is flagged for a human to look at,
* upserts exactly one ``dg_results`` row per (student, assignment) with the notebook checksum, the
  result JSON and ``graded_at``,

all in ONE transaction: a failure rolls everything back and leaves the previous state.

The assignment and its notebooks must already be in the gradebook (``nbgrader generate_assignment``,
i.e. ``deepgrade release``); otherwise :class:`GradebookNotReady` says so.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from nbgrader.api import (Assignment, Comment, Grade, Gradebook, MissingEntry, Notebook, Student,
                          SubmittedAssignment, SubmittedNotebook)
from sqlalchemy import (Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint, select)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from autograder.safe_text import markdown_text

TEST_CELL_PREFIX = "test_"
LatePenalty = Callable[[str, float, float], "float | None"]   # (student, score, seconds late) -> penalty


class GradebookError(RuntimeError):
    """A result could not be written to the gradebook; the message says why and what to do."""


class GradebookNotReady(GradebookError):
    """The assignment (or its notebook) is not in the gradebook yet: it has not been released."""


class DGBase(DeclarativeBase):
    """Declarative base for deepgrade's own tables (separate metadata from nbgrader's)."""


class DGResult(DGBase):
    """One row per (student, assignment): the latest typed result of that submission."""

    __tablename__ = "dg_results"
    __table_args__ = (UniqueConstraint("student", "assignment", name="uq_dg_results_student_assignment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    student: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    assignment: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    notebook: Mapped[str] = mapped_column(String(256), nullable=False)
    checksum: Mapped[str] = mapped_column(String(128), nullable=False)
    gradable: Mapped[bool] = mapped_column(Boolean, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    max_score: Mapped[float] = mapped_column(Float, nullable=False)
    result_json: Mapped[str] = mapped_column(Text, nullable=False)
    graded_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


def default_db_url(course_dir: str | Path) -> str:
    """nbgrader's default gradebook location for a course directory."""
    return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


# --------------------------------------------------------------------------------------------------
# reading a SubmissionResult (autograder.result) without depending on its private details


def result_to_dict(result: Any) -> dict:
    """The JSON-able dict of a SubmissionResult (``to_dict``/``to_json``), a dataclass, or a dict."""
    if isinstance(result, Mapping):
        return dict(result)
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if hasattr(result, "to_json"):
        return json.loads(result.to_json())
    if dataclasses.is_dataclass(result):
        return dataclasses.asdict(result)
    raise TypeError(f"cannot serialise a {type(result).__name__} as a grading result")


def _get(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, Mapping):
        return result.get(name, default)
    return getattr(result, name, default)


def notebook_name(result: Any) -> str:
    """The nbgrader notebook id (file stem) a result belongs to."""
    nb = _get(result, "notebook")
    if not nb:
        raise GradebookError(f"result for {_get(result, 'student')}/{_get(result, 'assignment')} names no notebook")
    return Path(str(nb)).stem


def grade_cell_scores(result: Any) -> dict[str, float]:
    """{grade cell id: auto score} from the typed result: ``grade_cells`` if the result has it,
    else ``functions`` mapped to their test cells ``test_<f>``."""
    cells = _get(result, "grade_cells")
    if callable(cells):
        cells = cells()
    if cells:
        return {k: float(v["score"] if isinstance(v, Mapping) else v) for k, v in dict(cells).items()}
    out = {}
    for fn, fs in dict(_get(result, "functions") or {}).items():
        score = fs["score"] if isinstance(fs, Mapping) else getattr(fs, "score")
        out[f"{TEST_CELL_PREFIX}{fn}"] = float(score)
    return out


def _graded_at(result: Any) -> dt.datetime:
    value = _get(result, "graded_at")
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str) and value:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        stamp = dt.datetime.now(dt.timezone.utc)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return stamp


# --------------------------------------------------------------------------------------------------


class ResultStore:
    """One open connection to a course gradebook (nbgrader tables + ``dg_*`` tables).

    Use as a context manager. Only ONE process should write at a time (the grading runner's main
    process, or nbgrader's autograde); :mod:`autograder.locking` enforces that per course.
    """

    def __init__(self, db_url: str, course_id: str = "default_course"):
        self.db_url = db_url
        try:
            self.gb = Gradebook(db_url, course_id)
        except Exception as exc:  # noqa: BLE001 - re-raised with the URL named
            raise GradebookError(f"cannot open gradebook {db_url}: {exc}") from exc
        DGBase.metadata.create_all(bind=self.gb.engine)

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.gb.close()

    @property
    def session(self):
        return self.gb.db

    # ---------------------------------------------------------------- reads
    def check_released(self, assignment: str) -> list[str]:
        """Names of the assignment's notebooks; :class:`GradebookNotReady` if it was never released."""
        try:
            a = self.gb.find_assignment(assignment)
        except MissingEntry:
            raise GradebookNotReady(
                f"assignment {assignment!r} is not in the gradebook {self.db_url}: release it first "
                f"(`deepgrade release` or `nbgrader generate_assignment {assignment}`)") from None
        names = [nb.name for nb in a.notebooks]
        if not names:
            raise GradebookNotReady(
                f"assignment {assignment!r} has no notebooks in the gradebook {self.db_url}: "
                f"run `nbgrader generate_assignment {assignment} --force` first")
        return names

    def get(self, student: str, assignment: str) -> DGResult | None:
        return self.session.execute(
            select(DGResult).where(DGResult.student == student, DGResult.assignment == assignment)
        ).scalar_one_or_none()

    def already_graded(self, student: str, assignment: str, checksum: str) -> bool:
        row = self.get(student, assignment)
        return row is not None and row.checksum == checksum

    def checksums(self, assignment: str) -> dict[str, str]:
        """{student: checksum} of every recorded result of ``assignment`` (one query, for resume)."""
        rows = self.session.execute(
            select(DGResult.student, DGResult.checksum).where(DGResult.assignment == assignment)).all()
        return {s: c for s, c in rows}

    def results(self, assignment: str | None = None) -> Iterator[DGResult]:
        q = select(DGResult).order_by(DGResult.assignment, DGResult.student)
        if assignment is not None:
            q = q.where(DGResult.assignment == assignment)
        yield from self.session.execute(q).scalars()

    # ---------------------------------------------------------------- writes
    def record(self, result: Any, *, timestamp: dt.datetime | None = None,
               checksum: str | None = None, late_penalty: LatePenalty | None = None) -> DGResult:
        """Write one result (nbgrader grades + dg_results row) in a single transaction.

        ``checksum`` (the submitted file's sha256, as the runner computes it for resume) overrides the
        result's own; ``timestamp`` is the submission time (nbgrader's timestamp.txt);
        ``late_penalty(student, score, seconds_late)`` is nbgrader's late-submission plugin method
        (what ``AssignLatePenalties`` applies on the nbgrader path)."""
        s = self.session
        student = str(_get(result, "student"))
        assignment = str(_get(result, "assignment"))
        try:
            self._record(s, result, student, assignment, timestamp, checksum)
            if late_penalty is not None:
                self._late_penalty(s, student, assignment, notebook_name(result), late_penalty)
            s.commit()
        except Exception:
            s.rollback()
            raise
        return self.get(student, assignment)

    def _record(self, s, result, student: str, assignment: str, timestamp, checksum) -> None:
        self.check_released(assignment)
        nb_name = notebook_name(result)
        try:
            master_nb: Notebook = self.gb.find_notebook(nb_name, assignment)
        except MissingEntry:
            raise GradebookNotReady(
                f"notebook {nb_name!r} of assignment {assignment!r} is not in the gradebook {self.db_url}: "
                f"release the assignment first (`nbgrader generate_assignment {assignment} --force`)") from None

        if s.get(Student, student) is None:
            s.add(Student(id=student))
            s.flush()
        submission = self._submission(s, assignment, student)
        if timestamp is not None:
            submission.timestamp = timestamp
        sub_nb = s.execute(select(SubmittedNotebook).where(
            SubmittedNotebook.assignment_id == submission.id,
            SubmittedNotebook.notebook_id == master_nb.id)).scalar_one()

        gradable = bool(_get(result, "gradable"))
        reason = _get(result, "ungradable_reason") or ""
        scores = grade_cell_scores(result) if gradable else {}
        cell_names = set()
        for grade in sub_nb.grades:
            name = grade.cell.name
            cell_names.add(name)
            if not gradable:
                grade.auto_score = 0.0
            elif name in scores:
                grade.auto_score = min(scores[name], float(grade.max_score))
            else:                      # a cell our checks do not grade: leave it to a human
                grade.auto_score = None
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        unknown = set(scores) - cell_names
        if unknown:
            raise GradebookError(
                f"{student}/{assignment}: the result grades {sorted(unknown)} but notebook {nb_name!r} in the "
                f"gradebook has no such grade cells; re-release the assignment "
                f"(`nbgrader generate_assignment {assignment} --force`)")
        for comment in sub_nb.comments:
            comment.auto_comment = None if gradable else f"Not graded automatically: {markdown_text(reason)}"
        sub_nb.flagged = (not gradable) or sub_nb.flagged

        row = self.get(student, assignment)
        if row is None:
            row = DGResult(student=student, assignment=assignment)
            s.add(row)
        row.notebook = nb_name
        row.checksum = str(checksum or _get(result, "checksum") or "")
        row.gradable = gradable
        row.score = float(_get(result, "score") or 0.0) if gradable else 0.0
        row.max_score = float(_get(result, "max_score") or 0.0)
        row.result_json = json.dumps(result_to_dict(result), sort_keys=True, default=str)
        row.graded_at = _graded_at(result)
        s.flush()

    def _late_penalty(self, s, student: str, assignment: str, nb_name: str, late_penalty: LatePenalty) -> None:
        """Same rule as nbgrader's ``AssignLatePenalties``: reset, then the plugin's penalty clamped to
        [0, notebook score] when the submission is late."""
        sub = self.gb.find_submission(assignment, student)
        sub_nb = self.gb.find_submission_notebook(nb_name, assignment, student)
        sub_nb.late_submission_penalty = None
        s.flush()
        seconds = sub.total_seconds_late
        if seconds > 0:
            s.expire(sub_nb, ["score"])
            score = float(sub_nb.score)
            penalty = late_penalty(student, score, seconds)
            if penalty is not None:
                sub_nb.late_submission_penalty = min(max(float(penalty), 0.0), score)
        s.flush()

    @staticmethod
    def _submission(s, assignment: str, student: str) -> SubmittedAssignment:
        """Find or create (without committing) the submission with its full notebook/grade structure."""
        a = s.execute(select(Assignment).where(Assignment.name == assignment)).scalar_one()
        sub = s.execute(select(SubmittedAssignment).where(
            SubmittedAssignment.assignment_id == a.id,
            SubmittedAssignment.student_id == student)).scalar_one_or_none()
        if sub is None:
            sub = SubmittedAssignment(assignment=a, student=s.get(Student, student))
            s.add(sub)
        have = {nb.notebook_id for nb in sub.notebooks}
        masters = [nb for nb in a.notebooks if nb.id not in have]
        with s.no_autoflush:               # same structure as Gradebook.add_submission
            for notebook in masters:
                cells = (notebook.grade_cells, notebook.solution_cells, notebook.task_cells)
                nb = SubmittedNotebook(notebook=notebook, assignment=sub)
                s.add(nb)
                for cell in cells[0]:
                    s.add(Grade(cell_id=cell.id, notebook=nb))
                for cell in cells[1]:
                    s.add(Comment(cell_id=cell.id, notebook=nb))
                for cell in cells[2]:
                    s.add(Comment(cell_id=cell.id, notebook=nb))
                    s.add(Grade(cell_id=cell.id, notebook=nb))
        s.flush()
        return sub


def record_result(gradebook_url: str | None, result: Any, course_dir: str | Path | None = None, *,
                  course_id: str = "default_course", timestamp: dt.datetime | None = None,
                  checksum: str | None = None) -> DGResult:
    """Write one SubmissionResult into the gradebook (nbgrader grades + ``dg_results``), atomically.

    ``gradebook_url`` may be None: then ``sqlite:///<course_dir>/gradebook.db``.
    """
    if gradebook_url is None:
        if course_dir is None:
            raise ValueError("record_result needs a gradebook URL or a course directory")
        gradebook_url = default_db_url(course_dir)
    with ResultStore(gradebook_url, course_id) as store:
        row = store.record(result, timestamp=timestamp, checksum=checksum)
        store.session.expunge(row)
        return row


def already_graded(gradebook_url: str, student: str, assignment: str, checksum: str) -> bool:
    """True when (student, assignment) has a recorded result for exactly this notebook checksum."""
    with ResultStore(gradebook_url) as store:
        return store.already_graded(student, assignment, checksum)


def read_timestamp(submission_dir: str | Path) -> dt.datetime | None:
    """The submission time from nbgrader's ``timestamp.txt`` in a submission folder (None if absent)."""
    path = Path(submission_dir) / "timestamp.txt"
    if not path.is_file():
        return None
    from nbgrader.utils import parse_utc
    try:
        return parse_utc(path.read_text().strip())
    except (ValueError, OverflowError) as exc:
        raise GradebookError(f"{path}: not a timestamp nbgrader can read ({exc})") from exc


def update_mastery(db_url: str, result: Any) -> bool:
    """Feed the result to ``quizzes.mastery.record_result(db_url, result)`` when that module provides
    it; returns whether it was called. Grading never fails because of mastery: errors are logged."""
    try:
        from quizzes.mastery import record_result as mastery_record
    except ImportError:
        return False
    try:
        mastery_record(db_url, result)
    except Exception as exc:  # noqa: BLE001 - the grade is already safely recorded
        import logging
        logging.getLogger(__name__).warning("mastery update failed for %s/%s: %s",
                                            _get(result, "student"), _get(result, "assignment"), exc)
        return False
    return True
