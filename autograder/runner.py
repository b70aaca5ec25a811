"""Grade a whole class in parallel: a local process pool (default) or a Dask cluster.

Flow of :func:`grade_class`:

1. take the course lock (:mod:`autograder.locking`) — a second grading command refuses (or ``wait``);
2. discover submissions in nbgrader's layout ``<course>/submitted/<student>/<assignment>/<nb>.ipynb``
   for the notebooks the gradebook knows (the assignment must be released);
3. skip those whose file checksum equals the recorded one in ``dg_results`` (unless ``force``);
4. grade the rest in worker processes (:func:`grade_and_write`): each worker grades a submission and
   writes its files itself through :func:`autograder.recording.write_submission_files` — autograded
   notebook copy with the check messages in the test cells, ``timestamp.txt`` and Gradescope
   ``results.json``, each atomic; workers never write database rows;
5. the MAIN process (the course-lock holder) only commits database rows, through
   :class:`autograder.recording.Recorder` (the step ``nbgrader autograde`` uses too): gradebook rows +
   ``dg_results`` + mastery evidence in one transaction per batch. A ``kill -9`` loses only in-flight
   and buffered work; a rerun finishes the class without duplicates.

Infrastructure failures are never a student's zero: an engine ``GradingError`` after retries, a lost
Dask scheduler or task, and a result the database would not take after retries are all left
UNRECORDED (summary ``not_graded`` / ``record_errors``, exit code 1), so the next run grades them.
Pool workers die with the main process (``PR_SET_PDEATHSIG``) and never keep its lock or database
connections (:mod:`autograder.forksafe`).

Why a ``ProcessPoolExecutor`` for the local default rather than a Dask ``LocalCluster``: grading is a
flat bag of independent ~1 s tasks with small inputs/outputs, so a scheduler buys nothing locally,
while the pool starts in milliseconds (no scheduler, nanny and worker processes, no HTTP dashboard),
and it is stdlib. Workers are forked (measured: 5 tiny submissions in 0.18 s with ``fork`` vs 3.7 s
with ``forkserver``, which re-imports everything per worker); they are forked before the progress
bar's thread starts, and the main process never runs TensorFlow (forking after a TF op hangs). Dask is
used when a scheduler address is given (many machines) — or ``scheduler="local"`` for a throw-away
LocalCluster secured with a temporary TLS certificate (:mod:`autograder.dask_security`) — and then
tasks grade batches of submissions, answer in JSON, and Dask reschedules the batch of a worker that
dies mid-task (:mod:`autograder.dask_grading`).
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import gc
import itertools
import multiprocessing
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from nbgrader.preprocessors import AssignLatePenalties
from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table
import nbformat

from autograder import forksafe, gradebook
from autograder.locking import course_lock
from autograder import recording
from autograder.gradebook import redact_url
from autograder.recording import (Item, Outcome, Recorder, SubmittedCopy, autograded_dir,  # noqa: F401
                                  write_submission_files)
from autograder.result import SubmissionResult, file_checksum
from autograder.engine import load_suite
from autograder.sandbox import SandboxPolicy, launcher
from autograder.submission_files import submitted_problem
from autograder.tasks import (MISSING, REFUSED, InfrastructureFailure, grade_task, resolve_engine,  # noqa: F401
                              safe_grade, ungradable)                                  # (re-exported)

DEFAULT_ENGINE = "autograder.engine:grade_submission"
LOCAL_DASK = "local"         # scheduler= value that starts a throw-away Dask LocalCluster


class SchedulerUnavailable(RuntimeError):
    """The Dask scheduler given with --scheduler cannot be reached (or a LocalCluster cannot start)."""


# ---------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    notebook: str            # nbgrader notebook id (file stem)
    path: Path
    checksum: str
    refused: str | None = None   # why the file rules refuse it (autograder.submission_files); not graded


# ---------------------------------------------------------------------------------------------- discovery


def discover(course_dir: str | Path, assignment: str, notebooks: Iterable[str]) -> list[Submission]:
    """Every (student, notebook) of ``assignment`` in nbgrader's submitted/ layout, sorted by student.

    A student folder lacking one of the assignment's notebooks yields a Submission whose file does not
    exist (graded as ungradable "missing", like nbgrader's zero for a missing notebook). The file rules
    of :func:`autograder.submission_files.submitted_problem` are checked before anything is read: a
    refused submission carries the reason and is recorded ungradable without being opened."""
    root = Path(course_dir) / "submitted"
    subs = []
    if not root.is_dir():
        return subs
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        a_dir = student_dir / assignment
        if not a_dir.is_dir():
            continue
        for nb in sorted(notebooks):
            path = a_dir / f"{nb}.ipynb"
            refused = submitted_problem(a_dir, nb)
            checksum = REFUSED if refused else file_checksum(path) if path.is_file() else MISSING
            subs.append(Submission(student_dir.name, assignment, nb, path, checksum, refused))
    return subs


# ---------------------------------------------------------------------------------------------- outputs


def sync_submission_files(course_dir: str | Path, sub: Submission) -> None:
    """Give an already graded submission's autograded folder the submitted timestamp.txt and
    submission_secret.txt (a resubmission of an identical notebook gets its feedback under the new
    secret and time); see :func:`autograder.recording.sync_submission_files`."""
    recording.sync_submission_files(autograded_dir(course_dir, sub.student, sub.assignment), sub.path.parent)


@dataclass(frozen=True)
class Graded:
    """What a local grading worker sends back (plain data): the result as recorded, whether the worker
    wrote its files (:func:`autograder.recording.write_submission_files`), and why not if that failed."""
    result: SubmissionResult | InfrastructureFailure
    files_written: bool = False
    files_error: str | None = None


def copy_of(sub: Submission, db_url: str, run: str = "") -> SubmittedCopy:
    return SubmittedCopy(db_url, sub.notebook, str(sub.path), bool(sub.refused), run)


def grade_and_write(sub: Submission, *, engine: str | Callable, course_dir: str, seed: int | None, db_url: str,
                    grade_cells: dict[str, float], run: str = "") -> Graded:
    """What a local pool worker runs per submission: grade, then write the submission's files (so the
    process holding the course lock only commits rows)."""
    result = grade_task(engine, str(sub.path), sub.assignment, sub.student, course_dir, seed)
    if isinstance(result, InfrastructureFailure):
        return Graded(result)
    try:
        return Graded(write_submission_files(course_dir, result, grade_cells, copy_of(sub, db_url, run)), True)
    except Exception as exc:  # noqa: BLE001 - e.g. disk full: this result stays unrecorded, regraded next run
        return Graded(result, False, f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------------------- summary


@dataclass
class GradeSummary:
    assignment: str
    mode: str
    workers: int
    submissions: int = 0
    graded: int = 0                  # recorded in this run (gradable or not)
    skipped: int = 0
    ungradable: int = 0              # recorded as ungradable (the student's notebook, never the infrastructure)
    record_errors: list[str] = field(default_factory=list)   # graded but not recorded: the next run regrades
    not_graded: list[str] = field(default_factory=list)     # infrastructure failures, left for the next run
    scores: list[float] = field(default_factory=list)
    max_score: float = 0.0
    wall_s: float = 0.0
    grade_s: float = 0.0             # wall time of the grading phase only (pool start to last result)

    @property
    def ok(self) -> bool:
        """Every submission of the run was recorded (the exit code is 0 only then)."""
        return not self.record_errors and not self.not_graded

    @property
    def mean_score(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def seconds_per_notebook(self) -> float | None:
        return self.grade_s / self.graded if self.graded else None


# ---------------------------------------------------------------------------------------------- executors


def _local_pool(workers: int) -> cf.ProcessPoolExecutor:
    """Forked workers that die with this process and hold none of its descriptors (see forksafe)."""
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                  initializer=forksafe.die_with_parent)


def _submit_all(pool, todo, task) -> dict:
    return {pool.submit(task, s): s for s in todo}


def _run_local(todo, task, workers, seed) -> Iterator[tuple[Submission, Graded | SubmissionResult]]:
    """Start grading NOW (workers are forked here, before any progress-bar thread exists) and return
    an iterator of (submission, :class:`Graded`) in completion order; ``task`` is
    :func:`grade_and_write` with its settings bound."""
    if workers == 1:                        # in-process, sequential: no pool to pay for
        return ((s, task(s)) for s in todo)
    pool = _local_pool(workers)
    return _drain(pool, _submit_all(pool, todo, task), task, workers, seed)


def _drain(pool, futures, task, workers, seed):
    """Yield results as they complete. If a worker process dies (e.g. OOM-killed), every unfinished
    future fails with BrokenProcessPool, culprit and bystanders alike: they are retried in a fresh
    pool; a submission caught in a second break is then graded ALONE in its own one-process pool, and
    only if that breaks too is it recorded as ungradable — an innocent submission never gets a zero."""
    broken_once: set[Submission] = set()
    suspects: list[Submission] = []
    while futures:
        retry = []
        try:
            for fut in cf.as_completed(futures):
                sub = futures[fut]
                try:
                    yield sub, fut.result()
                except cf.process.BrokenProcessPool:
                    if sub in broken_once:
                        suspects.append(sub)
                    else:
                        broken_once.add(sub)
                        retry.append(sub)
        finally:
            pool.shutdown(wait=not retry, cancel_futures=True)
        futures = {}
        if retry:
            pool = _local_pool(workers)
            futures = _submit_all(pool, retry, task)
    for sub in suspects:
        with _local_pool(1) as alone:
            fut = alone.submit(task, sub)
            try:
                yield sub, fut.result()
            except cf.process.BrokenProcessPool:
                yield sub, ungradable(sub.path, sub.assignment, sub.student,
                                      "grader error: the grading process died on this notebook (also when "
                                      "graded alone)", seed=seed)


def _run_dask(todo, engine, course_dir, seed, scheduler, workers,
              security=None) -> Iterator[tuple[Submission, SubmissionResult | InfrastructureFailure]]:
    """Connect (a bad address fails before any grading) and grade ``todo`` on a Dask cluster in batches
    (:mod:`autograder.dask_grading`). Imported here: ``distributed`` costs 0.7–1 s to import (measured on
    2 loaded cores) and the local pool never needs it."""
    from autograder import dask_grading
    try:
        connection = dask_grading.connect(None if scheduler == LOCAL_DASK else scheduler, workers, security)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError(bad address) ...
        raise SchedulerUnavailable(f"cannot use the Dask scheduler {scheduler!r}: {type(exc).__name__}: {exc}") \
            from exc
    return dask_grading.run(connection, todo, engine, course_dir, seed, workers)


# ---------------------------------------------------------------------------------------------- main


@dataclasses.dataclass(frozen=True)
class CourseSettings:
    """What the runner takes from the course's nbgrader_config.py (as nbgrader autograde would)."""
    db_url: str | None = None
    course_id: str = ""
    engine: str | None = None        # DeepgradeGrade.engine: the grade function nbgrader autograde uses
    late_penalty: Callable[[str, float, float], float | None] | None = None


def course_settings(course_dir: str | Path) -> CourseSettings:
    """Load ``<course>/nbgrader_config.py`` (if any): the gradebook URL and nbgrader's late-submission
    plugin (``AssignLatePenalties.plugin_class``, configured like on the nbgrader path)."""
    path = Path(course_dir) / "nbgrader_config.py"
    if not path.is_file():
        return CourseSettings()
    cfg = gradebook.load_course_config(course_dir)
    late = AssignLatePenalties(config=cfg)
    plugin = late.plugin_class(parent=late)
    db_url = cfg.CourseDirectory.db_url if "db_url" in cfg.CourseDirectory else None
    course_id = cfg.CourseDirectory.course_id if "course_id" in cfg.CourseDirectory else ""
    engine = cfg.DeepgradeGrade.engine if "engine" in cfg.DeepgradeGrade else None
    return CourseSettings(db_url=db_url or None, course_id=course_id or "", engine=engine or None,
                          late_penalty=plugin.late_submission_penalty)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def grade_class(course_dir: str | Path, assignment: str, *, workers: int | None = None,
                scheduler: str | None = None, force: bool = False, progress: bool = True,
                wait: bool = False, db_url: str | None = None, seed: int | None = None,
                engine: str | Callable | None = None, students: Iterable[str] | None = None,
                on_result: Callable[[SubmissionResult], None] | None = None,
                batch_size: int = 25, dask_security=None) -> GradeSummary:
    """Grade every submission of ``assignment`` in ``course_dir``; see the module docstring.

    ``engine`` is the grade function or its import path (default: the course's
    ``c.DeepgradeGrade.engine``, the one ``nbgrader autograde`` uses, else :data:`DEFAULT_ENGINE`,
    read at call time); ``students`` limits the run to some students; ``on_result`` is called in the main
    process after each result is recorded (committed); ``dask_security`` (a
    ``distributed.security.Security``) connects to a TLS ``scheduler`` address.
    """
    course_dir = Path(course_dir).resolve()
    if not course_dir.is_dir():
        raise FileNotFoundError(f"course directory {course_dir} does not exist")
    settings = course_settings(course_dir)
    engine = engine or settings.engine or DEFAULT_ENGINE
    db_url = db_url or settings.db_url or gradebook.default_db_url(course_dir)
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    mode = ("dask-local" if scheduler == LOCAL_DASK else f"dask {scheduler}") if scheduler else \
        ("serial" if workers == 1 else "process-pool")
    summary = GradeSummary(assignment, mode, workers)
    t0 = time.perf_counter()

    with course_lock(course_dir, wait=wait, db_url=db_url):
        with gradebook.ResultStore(db_url, settings.course_id) as store:   # reads only; closed before grading
            notebooks = store.check_released(assignment)
            if len(notebooks) != 1:
                raise gradebook.GradebookError(
                    f"assignment {assignment!r} has {len(notebooks)} notebooks in the gradebook "
                    f"({sorted(notebooks)}); deepgrade grades exactly one notebook per assignment (DESIGN.md)")
            done = {} if force else store.checksums(assignment)
        subs = discover(course_dir, assignment, notebooks)
        if students is not None:
            wanted = set(students)
            subs = [s for s in subs if s.student in wanted]
        summary.submissions = len(subs)
        todo = [s for s in subs if force or done.get(s.student) != s.checksum]
        summary.skipped = len(subs) - len(todo)
        for s in subs:
            if s not in todo:          # same notebook resubmitted: its feedback follows the new secret/time
                sync_submission_files(course_dir, s)

        refused = [(s, ungradable(s.path, s.assignment, s.student, s.refused, checksum=REFUSED, seed=seed))
                   for s in todo if s.refused]
        todo = [s for s in todo if not s.refused]
        recorder = Recorder(db_url, course_dir, late_penalty=settings.late_penalty, batch_size=batch_size)
        try:
            run = uuid.uuid4().hex     # names this run: workers read the release once per run
            task = functools.partial(grade_and_write, engine=engine, course_dir=str(course_dir), seed=seed,
                                     db_url=db_url, run=run,
                                     grade_cells=recorder.grade_cell_maxima(assignment, next(iter(notebooks))))
            recorder.engine.dispose()      # workers are forked next: no pooled connection crosses the fork
            froze = False
            if todo and scheduler in (None, LOCAL_DASK) and engine == DEFAULT_ENGINE:   # both fork from here
                froze = prepare_grading_process(assignment, course_dir, todo[0].path)
            if scheduler:
                stream = _run_dask(todo, engine, course_dir, seed, scheduler, workers, dask_security)
            else:
                stream = _run_local(todo, task, min(workers, max(1, len(todo))), seed)
        except BaseException:
            recorder.close()
            raise
        t_grade = time.perf_counter()
        try:
            with _progress(progress, len(todo) + len(refused), assignment) as advance:
                for sub, graded in itertools.chain(refused, stream):
                    _record(summary, recorder, sub, graded if isinstance(graded, Graded) else Graded(graded),
                            db_url, on_result, run)
                    advance(sub.student)
        finally:
            _account(summary, recorder.close(), on_result)
            if froze:
                gc.unfreeze()      # a caller that grades again (tests, a notebook) collects as before
        summary.grade_s = time.perf_counter() - t_grade
    summary.wall_s = time.perf_counter() - t0
    return summary


def prepare_grading_process(assignment: str, course_dir: Path, sample: Path) -> bool:
    """Compute here, once, before the local workers fork (they inherit it), what each grading process
    otherwise computes on its first notebook: the sandbox's self-tests and its view of the installed
    packages, the assignment's hidden-check suite, nbformat's compiled notebook schema (read from
    ``sample``, a submitted notebook). With 2 workers that was ~0.5 CPU s paid twice per run (issue 15).
    A failure here is left for the first notebook to meet, where it is reported as before. Then the heap
    is frozen (unless the caller froze one already): True if this call froze it."""
    try:
        launcher.sandbox_mode()
        launcher.seccomp_active(SandboxPolicy())
        load_suite(assignment, "", course_dir)
        nbformat.read(str(sample), as_version=4)
    except Exception:  # noqa: BLE001 - see the docstring
        pass
    if gc.get_freeze_count():
        return False
    gc.freeze()    # what exists now lives for the run: later full collections (0.14-0.17 s each) skip it
    return True


def _record(summary: GradeSummary, recorder: Recorder, sub: Submission, graded: Graded, db_url: str,
            on_result, run: str = "") -> None:
    """Hand one graded submission to the recorder (its files are written unless the worker did)."""
    result = graded.result
    if isinstance(result, InfrastructureFailure):      # nothing recorded: the next run retries
        summary.not_graded.append(f"{sub.student}/{sub.assignment}: {result.reason}")
        return
    item = Item(result, checksum=sub.checksum, submitted_at=_timestamp_or_none(sub, summary),
                copy=copy_of(sub, db_url, run), files_written=graded.files_written)
    if graded.files_error is not None:                 # not recorded: the next run grades it again
        _account(summary, [Outcome(item, False, redact_url(graded.files_error, db_url))], on_result)
        return
    _account(summary, recorder.add(item), on_result)


def _timestamp_or_none(sub: Submission, summary: GradeSummary):
    try:
        return None if sub.refused else gradebook.read_timestamp(sub.path.parent)
    except gradebook.GradebookError as exc:      # recorded without a time; the instructor is told
        summary.record_errors.append(f"{sub.student}/{sub.assignment}: {exc} (recorded without a timestamp)")
        return None


def _account(summary: GradeSummary, outcomes: list[Outcome], on_result) -> None:
    """Count what the database actually took: only recorded results are graded/ungradable/scored."""
    for o in outcomes:
        result = o.item.result
        if not o.recorded:
            summary.record_errors.append(f"{result.student}/{result.assignment}: {o.error}")
            continue
        summary.graded += 1
        summary.max_score = max(summary.max_score, result.max_score)
        if not result.gradable:
            summary.ungradable += 1
        summary.scores.append(result.score if result.gradable else 0.0)
        if on_result is not None:
            on_result(result)


class _progress:
    """rich progress bar (or nothing) as a context manager yielding ``advance(label)``."""

    def __init__(self, enabled: bool, total: int, assignment: str):
        self.enabled, self.total, self.assignment = enabled and total > 0, total, assignment

    def __enter__(self):
        if not self.enabled:
            return lambda label: None
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
                            transient=False)
        self.bar.__enter__()
        task = self.bar.add_task(f"grading {self.assignment}", total=self.total, last="")
        return lambda label: self.bar.update(task, advance=1, last=label)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
        return False


def print_summary(summary: GradeSummary, console=None) -> None:
    """The end-of-run table: graded, skipped, ungradable, mean score, seconds per notebook."""
    console = console or Console()
    table = Table(title=f"{summary.assignment}: {summary.mode}, {summary.workers} worker(s)")
    for col in ("submissions", "graded", "skipped", "ungradable", "not recorded", "mean score", "s / notebook",
                "wall s"):
        table.add_column(col, justify="right")
    mean = "-" if summary.mean_score is None else f"{summary.mean_score:.2f} / {summary.max_score:g}"
    spn = "-" if summary.seconds_per_notebook is None else f"{summary.seconds_per_notebook:.2f}"
    missing = len(summary.record_errors) + len(summary.not_graded)
    table.add_row(str(summary.submissions), str(summary.graded), str(summary.skipped), str(summary.ungradable),
                  f"[red]{missing}[/red]" if missing else "0", mean, spn, f"{summary.wall_s:.1f}")
    console.print(table)
    for err in summary.record_errors:               # escape(): error text may quote a submission
        console.print(f"[red]not recorded (rerun to retry)[/red] {escape(err)}")
    for err in summary.not_graded:
        console.print(f"[red]not graded (infrastructure; rerun to retry)[/red] {escape(err)}")


def submission_status(course_dir: str | Path, assignment: str, db_url: str | None = None) -> list[dict]:
    """One dict per discovered submission: student, notebook, status ('graded' | 'changed' | 'new'),
    score/max_score of the recorded result (None when new). Read-only: no lock needed."""
    course_dir = Path(course_dir).resolve()
    db_url = db_url or course_settings(course_dir).db_url or gradebook.default_db_url(course_dir)
    with gradebook.ResultStore(db_url) as store:
        subs = discover(course_dir, assignment, store.check_released(assignment))
        rows = {r.student: r for r in store.results(assignment)}
        out = []
        for s in subs:
            row = rows.get(s.student)
            status = "new" if row is None else "graded" if row.checksum == s.checksum else "changed"
            out.append({"student": s.student, "notebook": s.notebook, "status": status,
                        "score": None if row is None else row.score,
                        "max_score": None if row is None else row.max_score})
    return out
