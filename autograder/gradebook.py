"""nbgrader's gradebook plus our own ``dg_results`` table: the schema, reading, and how a result maps
onto grade cells. The WRITING is :mod:`autograder.recording` (one step for both grading paths), which

* adds the student if new and the SubmittedAssignment / SubmittedNotebook if new (the structure
  ``Gradebook.add_submission`` creates, in nbgrader's own tables),
* sets ``auto_score`` of every grade cell ``test_<f>`` from the typed result (never from cell outputs),
  zero for an ungradable submission, whose reason is stored as the auto comment of every solution cell
  and the submitted notebook is flagged for a human to look at,
* upserts exactly one ``dg_results`` row per (student, assignment) with the notebook checksum, the
  result JSON and ``graded_at``,

all in ONE transaction with the result's mastery evidence: a failure rolls everything back and leaves
the previous state.

The assignment and its notebooks must already be in the gradebook (``nbgrader generate_assignment``,
i.e. ``deepgrade release``); otherwise :class:`GradebookNotReady` says so.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import quote_plus

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import (Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint, make_url, select)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.result import SubmissionResult
from autograder.submission_files import parse_utc

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


def load_course_config(course_dir: str | Path):
    """The course's ``nbgrader_config.py`` as a traitlets Config (empty when the file is absent)."""
    path = Path(course_dir) / "nbgrader_config.py"
    if not path.is_file():
        return Config()
    try:
        return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    except Exception as exc:  # noqa: BLE001 - name the file
        raise GradebookError(f"{path}: cannot load the nbgrader config: {type(exc).__name__}: {exc}") from exc


def course_db_url(course_dir: str | Path, db_url: str | None = None) -> str:
    """The gradebook every command uses: ``db_url`` (``--db-url``) if given, else the course's
    ``c.CourseDirectory.db_url`` from nbgrader_config.py (as nbgrader's own commands), else
    ``sqlite:///<course>/gradebook.db``."""
    if db_url:
        return db_url
    cfg = load_course_config(course_dir)
    configured = cfg.CourseDirectory.db_url if "db_url" in cfg.CourseDirectory else None
    return configured or default_db_url(course_dir)


def describe_db_error(exc: BaseException, db_url: str) -> str:
    """One line for an error while using the gradebook (unreachable server, bad URL ...), password hidden."""
    if isinstance(exc, GradebookError):
        return redact_url(str(exc), db_url)
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return redact_url(f"cannot use the gradebook {db_url}: {type(orig).__name__}: {first}", db_url)


def redact_url(text: str, db_url: str | None = None) -> str:
    """``text`` with the password of ``db_url`` (or of every URL in ``text``) replaced by ``***``:
    for messages, logs and the lock file."""
    if db_url:
        try:
            password = make_url(db_url).password
        except Exception:  # noqa: BLE001 - not a URL: fall through to the pattern
            password = None
        if password:
            text = text.replace(str(password), "***")
            quoted = quote_plus(str(password))
            if quoted != password:
                text = text.replace(quoted, "***")
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


# --------------------------------------------------------------------------------------------------
# the gradebook's view of a SubmissionResult: one typed entry (callers convert other shapes at the edge)


def notebook_name(result: SubmissionResult) -> str:
    """The nbgrader notebook id (file stem) a result belongs to."""
    if not result.notebook:
        raise GradebookError(f"result for {result.student}/{result.assignment} names no notebook")
    return Path(result.notebook).stem


def grade_cell_scores(result: SubmissionResult) -> dict[str, float]:
    """{grade cell id: auto score}: the result's ``grade_cells``, else its ``functions`` mapped to their
    test cells ``test_<f>``."""
    if result.grade_cells:
        return {k: float(v["score"]) for k, v in result.grade_cells.items()}
    return {f"{TEST_CELL_PREFIX}{fn}": float(fs["score"]) for fn, fs in result.functions.items()}


def graded_at_utc(result: SubmissionResult) -> dt.datetime:
    """The result's ``graded_at`` as a naive UTC datetime (now if absent), as ``dg_results`` stores it."""
    if result.graded_at:
        stamp = dt.datetime.fromisoformat(result.graded_at.replace("Z", "+00:00"))
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

    def __init__(self, db_url: str, course_id: str = ""):
        """``course_id``: nbgrader's ``CourseDirectory.course_id`` (default ``""``: no course row, as
        nbgrader itself does)."""
        self.db_url = db_url
        try:
            self.gb = Gradebook(db_url, course_id)
            DGBase.metadata.create_all(bind=self.gb.engine)
        except Exception as exc:  # noqa: BLE001 - re-raised with the URL named (password hidden)
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise GradebookError(redact_url(f"cannot open the gradebook {db_url}: {first}", db_url)) from None

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


def already_graded(gradebook_url: str, student: str, assignment: str, checksum: str) -> bool:
    """True when (student, assignment) has a recorded result for exactly this notebook checksum."""
    with ResultStore(gradebook_url) as store:
        return store.already_graded(student, assignment, checksum)


def read_timestamp(submission_dir: str | Path) -> dt.datetime | None:
    """The submission time from nbgrader's ``timestamp.txt`` in a submission folder (None if absent)."""
    path = Path(submission_dir) / "timestamp.txt"
    if not path.is_file():
        return None
    try:
        return parse_utc(path.read_text().strip())
    except (ValueError, OverflowError) as exc:
        raise GradebookError(f"{path}: not a timestamp nbgrader can read ({exc})") from exc
