"""Grade a whole class in parallel: a local process pool (default) or a Dask cluster.

Flow of :func:`grade_class`:

1. take the course lock (:mod:`autograder.locking`) — a second grading command refuses (or ``wait``);
2. discover submissions in nbgrader's layout ``<course>/submitted/<student>/<assignment>/<nb>.ipynb``
   for the notebooks the gradebook knows (the assignment must be released);
3. skip those whose file checksum equals the recorded one in ``dg_results`` (unless ``force``);
4. grade the rest in worker processes; workers only compute (they never touch the gradebook);
5. the MAIN process records each result as it completes — autograded notebook copy with the check
   messages in the test cells (as ``nbgrader autograde`` with our plugin writes it) and Gradescope
   ``results.json`` first, then one gradebook transaction, then the mastery update. A ``kill -9`` loses
   only in-flight work; a rerun finishes the class without duplicates.

Why a ``ProcessPoolExecutor`` for the local default rather than a Dask ``LocalCluster``: grading is a
flat bag of independent ~1 s tasks with small inputs/outputs, so a scheduler buys nothing locally,
while the pool starts in milliseconds (no scheduler, nanny and worker processes, no HTTP dashboard),
and it is stdlib. Workers are forked (measured: 5 tiny submissions in 0.18 s with ``fork`` vs 3.7 s
with ``forkserver``, which re-imports everything per worker); they are forked before the progress
bar's thread starts, and the main process never runs TensorFlow (forking after a TF op hangs). Dask is used when a scheduler address is given (many machines) — or
``scheduler="local"`` for a throw-away LocalCluster secured with a temporary TLS certificate
(:mod:`autograder.dask_security`) — and then Dask reschedules the tasks of a worker that dies mid-task.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import itertools
import json
import multiprocessing
import os
import statistics
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from autograder.result import SubmissionResult, file_checksum

DEFAULT_ENGINE = "autograder.engine:grade_submission"
MISSING = "missing"          # checksum recorded for a notebook that was not submitted
REFUSED = "refused"          # checksum recorded for a submission the file rules refuse (never read)
LOCAL_DASK = "local"         # scheduler= value that starts a throw-away Dask LocalCluster


# ---------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    notebook: str            # nbgrader notebook id (file stem)
    path: Path
    checksum: str
    refused: str | None = None   # why the file rules refuse it (autograder.submission_files); not graded


def resolve_engine(engine: str | Callable) -> Callable:
    if callable(engine):
        return engine
    from autograder.nbgrader_plugin import load_callable
    return load_callable(engine)


def ungradable(path: str | Path, assignment: str, student: str, reason: str, *, checksum: str | None = None,
               seed: int | None = None) -> SubmissionResult:
    """A zero-score result recording why a submission could not be graded."""
    path = Path(path)
    return SubmissionResult(assignment=assignment, student=student, notebook=path.name,
                            checksum=checksum if checksum is not None else file_checksum(path),
                            gradable=False, ungradable_reason=reason, seed=seed)


def _is_infrastructure_error(exc: BaseException) -> bool:
    """``engine.GradingError``: the sandbox/preamble failed — not the student's fault (DESIGN: retry,
    never record a zero)."""
    try:
        from autograder.engine import GradingError
    except Exception:  # noqa: BLE001 - an engine that cannot import fails every task anyway
        return False
    return isinstance(exc, GradingError)


@dataclasses.dataclass(frozen=True)
class InfrastructureFailure:
    """A submission the grading infrastructure could not grade after retries: nothing is recorded,
    so the next run grades it again."""
    student: str
    assignment: str
    reason: str


def safe_grade(grade_fn: Callable, path: str, assignment: str, student: str, *, course_dir: str | Path,
               seed: int | None = None, retries: int = 2, retry_delay: float = 0.5) -> SubmissionResult:
    """Call the engine. An ``engine.GradingError`` (infrastructure) is retried ``retries`` times and then
    re-raised; ANY other exception (or a wrong return type) becomes an ungradable result with the reason."""
    if not Path(path).is_file():
        return ungradable(path, assignment, student, f"no notebook submitted: {Path(path).name} is missing",
                          checksum=MISSING, seed=seed)
    for attempt in range(retries + 1):
        try:
            result = grade_fn(str(path), assignment, student, course_dir=str(course_dir), seed=seed)
            break
        except Exception as exc:  # noqa: BLE001 - one broken submission never stops the batch
            if _is_infrastructure_error(exc):
                if attempt == retries:
                    raise
                time.sleep(retry_delay * (attempt + 1))
                continue
            last = traceback.extract_tb(exc.__traceback__)[-1:] or [None]
            where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last[0] else ""
            return ungradable(path, assignment, student, f"grader error: {type(exc).__name__}: {exc}{where}",
                              seed=seed)
    if not isinstance(result, SubmissionResult):
        return ungradable(path, assignment, student,
                          f"grader error: engine returned {type(result).__name__}, not SubmissionResult", seed=seed)
    return result


def _grade_task(engine: str | Callable, path: str, assignment: str, student: str, course_dir: str,
                seed: int | None) -> SubmissionResult | InfrastructureFailure:
    """What a worker runs (top-level so it pickles by reference)."""
    try:
        fn = resolve_engine(engine)
    except Exception as exc:  # noqa: BLE001
        return ungradable(path, assignment, student, f"grader error: {exc}", seed=seed)
    try:
        return safe_grade(fn, path, assignment, student, course_dir=course_dir, seed=seed)
    except Exception as exc:  # noqa: BLE001 - only GradingError gets here (after retries)
        return InfrastructureFailure(student, assignment, f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------------------- discovery


def discover(course_dir: str | Path, assignment: str, notebooks: Iterable[str]) -> list[Submission]:
    """Every (student, notebook) of ``assignment`` in nbgrader's submitted/ layout, sorted by student.

    A student folder lacking one of the assignment's notebooks yields a Submission whose file does not
    exist (graded as ungradable "missing", like nbgrader's zero for a missing notebook). The file rules
    of :func:`autograder.submission_files.submitted_problem` are checked before anything is read: a
    refused submission carries the reason and is recorded ungradable without being opened."""
    from autograder.submission_files import submitted_problem
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


def autograded_dir(course_dir: str | Path, student: str, assignment: str) -> Path:
    return Path(course_dir) / "autograded" / student / assignment


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temp file + rename, so a kill never leaves a half-written file; temp files a killed
    run left behind are removed."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_autograded(course_dir: str | Path, db_url: str, sub: Submission, result: SubmissionResult) -> Path:
    """Write ``autograded/<student>/<a>/<nb>.ipynb`` as nbgrader's autograde does (sanitised with
    nbgrader's own preprocessors, then our check messages in the test cells), its timestamp.txt and
    the Gradescope ``results.json``. Returns the folder. An unreadable notebook gets results.json only."""
    out = autograded_dir(course_dir, sub.student, sub.assignment)
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / "results.json", json.dumps(result.to_gradescope(), indent=1))
    if sub.refused:                  # never open what the file rules refused
        return out
    sync_submission_files(course_dir, sub)
    nb = _sanitized(db_url, sub) if result.gradable or sub.path.is_file() else None
    if nb is not None:
        import nbformat
        from autograder.nbgrader_plugin import annotate_notebook
        from autograder.nbgrader_plugin import read_submitted_json
        annotate_notebook(nb, result, read_submitted_json(sub.path))
        _atomic_write(out / f"{sub.notebook}.ipynb", nbformat.writes(nb))
    return out


#: files nbgrader's exchange writes beside a submission; feedback release/fetch read them from
#: autograded/ -> feedback/ (the secret names the feedback file, the timestamp its folder)
SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")
MAX_SUBMISSION_FILE_BYTES = 4096


def sync_submission_files(course_dir: str | Path, sub: Submission) -> None:
    """Make ``autograded/<student>/<a>/``'s timestamp.txt and submission_secret.txt equal the submitted
    copy's (or absent when the submitted folder has none), as ``nbgrader autograde`` does by copying the
    submission folder. Run for every discovered submission, also those skipped as already graded, so a
    resubmission of an identical notebook still gets its feedback under the new secret and time.
    Only small regular files are copied (never a symlink)."""
    out = autograded_dir(course_dir, sub.student, sub.assignment)
    if not out.is_dir():
        return
    for name in SUBMISSION_FILES:
        src, dest = sub.path.parent / name, out / name
        if src.is_file() and not src.is_symlink() and src.stat().st_size <= MAX_SUBMISSION_FILE_BYTES:
            text = src.read_text(errors="replace")
            if not dest.is_file() or dest.is_symlink() or dest.read_text(errors="replace") != text:
                dest.unlink(missing_ok=True)
                _atomic_write(dest, text)
        elif dest.exists() or dest.is_symlink():
            dest.unlink()


def _sanitized(db_url: str, sub: Submission):
    """The submitted notebook through nbgrader's ``Autograde.sanitize_preprocessors`` (None if unreadable)."""
    import nbformat
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells,
                                        OverwriteKernelspec)

    from autograder.nbgrader_plugin import RepairNbgraderMetadata
    try:
        nb = nbformat.read(str(sub.path), as_version=4)
    except Exception:  # noqa: BLE001 - unreadable: the result already says why
        return None
    resources = {"nbgrader": {"student": sub.student, "assignment": sub.assignment,
                              "notebook": sub.notebook, "db_url": db_url}}
    try:
        for pp in (ClearOutput, RepairNbgraderMetadata, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
                   CheckCellMetadata):
            nb, resources = pp().preprocess(nb, resources)
    except Exception:  # noqa: BLE001 - nbgrader refuses damaged metadata; keep the raw notebook
        nb = nbformat.read(str(sub.path), as_version=4)
    return nb


# ---------------------------------------------------------------------------------------------- summary


@dataclass
class GradeSummary:
    assignment: str
    mode: str
    workers: int
    submissions: int = 0
    graded: int = 0
    skipped: int = 0
    ungradable: int = 0
    record_errors: list[str] = field(default_factory=list)
    not_graded: list[str] = field(default_factory=list)     # infrastructure failures, left for the next run
    scores: list[float] = field(default_factory=list)
    max_score: float = 0.0
    wall_s: float = 0.0
    grade_s: float = 0.0             # wall time of the grading phase only (pool start to last result)

    @property
    def mean_score(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def seconds_per_notebook(self) -> float | None:
        return self.grade_s / self.graded if self.graded else None


# ---------------------------------------------------------------------------------------------- executors


def _local_pool(workers: int) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


def _submit_all(pool, todo, engine, course_dir, seed) -> dict:
    return {pool.submit(_grade_task, engine, str(s.path), s.assignment, s.student, str(course_dir), seed): s
            for s in todo}


def _run_local(todo, engine, course_dir, seed, workers) -> Iterator[tuple[Submission, SubmissionResult]]:
    """Start grading NOW (workers are forked here, before any progress-bar thread exists) and return
    an iterator of (submission, result) in completion order."""
    if workers == 1:                        # in-process, sequential: no pool to pay for
        fn = resolve_engine(engine)
        return ((s, _grade_task(fn, str(s.path), s.assignment, s.student, str(course_dir), seed)) for s in todo)
    pool = _local_pool(workers)
    return _drain(pool, _submit_all(pool, todo, engine, course_dir, seed), engine, course_dir, seed, workers)


def _drain(pool, futures, engine, course_dir, seed, workers):
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
            futures = _submit_all(pool, retry, engine, course_dir, seed)
    for sub in suspects:
        with _local_pool(1) as alone:
            fut = alone.submit(_grade_task, engine, str(sub.path), sub.assignment, sub.student, str(course_dir),
                               seed)
            try:
                yield sub, fut.result()
            except cf.process.BrokenProcessPool:
                yield sub, ungradable(sub.path, sub.assignment, sub.student,
                                      "grader error: the grading process died on this notebook (also when "
                                      "graded alone)", seed=seed)


class SchedulerUnavailable(RuntimeError):
    """The Dask scheduler given with --scheduler cannot be reached (or a LocalCluster cannot start)."""


def _run_dask(todo, engine, course_dir, seed, scheduler, workers,
              security=None) -> Iterator[tuple[Submission, SubmissionResult]]:
    """Connect (or start a LocalCluster) and submit everything NOW — a bad address fails before any
    grading — then return an iterator of (submission, result) in completion order.

    Remote workers must see ``course_dir`` at the same path (shared file system) and have deepgrade
    installed; Dask reschedules the tasks of a worker that dies (up to its ``allowed-failures``)."""
    from distributed import Client

    from autograder.dask_security import local_secure_cluster

    cluster = None
    try:
        if scheduler == LOCAL_DASK:            # mutual TLS with a certificate made for this run
            cluster = local_secure_cluster(workers, silence_logs=40)
            client = Client(cluster)
        else:                                    # security None: Dask's configuration (dask_security)
            client = Client(scheduler, timeout="20s", security=security)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError(bad address) ...
        if cluster is not None:
            cluster.close()
        raise SchedulerUnavailable(f"cannot use the Dask scheduler {scheduler!r}: {type(exc).__name__}: {exc}") \
            from exc
    futures = {}
    for s in todo:
        fut = client.submit(_grade_task, engine, str(s.path), s.assignment, s.student, str(course_dir), seed,
                            key=f"deepgrade-{s.assignment}-{s.student}-{s.notebook}-{s.checksum[:12]}",
                            pure=False)
        futures[fut] = s
    return _drain_dask(client, cluster, futures, seed)


def _drain_dask(client, cluster, futures, seed):
    from distributed import as_completed
    from distributed.scheduler import KilledWorker
    try:
        for fut in as_completed(list(futures)):
            sub = futures.pop(fut)
            try:
                yield sub, fut.result()
            except KilledWorker as exc:
                yield sub, ungradable(sub.path, sub.assignment, sub.student,
                                      f"grader error: Dask workers died while grading this notebook ({exc})",
                                      seed=seed)
            except Exception as exc:  # noqa: BLE001 - a lost task must not stop the batch
                yield sub, ungradable(sub.path, sub.assignment, sub.student,
                                      f"grader error: {type(exc).__name__}: {exc}", seed=seed)
            finally:
                fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------------------------- main


@dataclasses.dataclass(frozen=True)
class CourseSettings:
    """What the runner takes from the course's nbgrader_config.py (as nbgrader autograde would)."""
    db_url: str | None = None
    late_penalty: Callable[[str, float, float], float | None] | None = None


def course_settings(course_dir: str | Path) -> CourseSettings:
    """Load ``<course>/nbgrader_config.py`` (if any): the gradebook URL and nbgrader's late-submission
    plugin (``AssignLatePenalties.plugin_class``, configured like on the nbgrader path)."""
    from autograder.gradebook import GradebookError
    path = Path(course_dir) / "nbgrader_config.py"
    if not path.is_file():
        return CourseSettings()
    from traitlets.config.loader import PyFileConfigLoader
    try:
        cfg = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    except Exception as exc:  # noqa: BLE001 - name the file
        raise GradebookError(f"{path}: cannot load the nbgrader config: {type(exc).__name__}: {exc}") from exc
    from nbgrader.preprocessors import AssignLatePenalties
    late = AssignLatePenalties(config=cfg)
    plugin = late.plugin_class(parent=late)
    db_url = cfg.CourseDirectory.db_url if "db_url" in cfg.CourseDirectory else None
    return CourseSettings(db_url=db_url or None, late_penalty=plugin.late_submission_penalty)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def grade_class(course_dir: str | Path, assignment: str, *, workers: int | None = None,
                scheduler: str | None = None, force: bool = False, progress: bool = True,
                wait: bool = False, db_url: str | None = None, seed: int | None = None,
                engine: str | Callable = DEFAULT_ENGINE, students: Iterable[str] | None = None,
                on_result: Callable[[SubmissionResult], None] | None = None,
                dask_security: Any = None) -> GradeSummary:
    """Grade every submission of ``assignment`` in ``course_dir``; see the module docstring.

    ``engine`` is the grade function or its import path (default: the real engine); ``students``
    limits the run to some students; ``on_result`` is called in the main process after each record;
    ``dask_security`` (a ``distributed.security.Security``) connects to a TLS ``scheduler`` address.
    """
    from autograder import gradebook
    from autograder.locking import course_lock

    course_dir = Path(course_dir).resolve()
    if not course_dir.is_dir():
        raise FileNotFoundError(f"course directory {course_dir} does not exist")
    settings = course_settings(course_dir)
    db_url = db_url or settings.db_url or gradebook.default_db_url(course_dir)
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    mode = ("dask-local" if scheduler == LOCAL_DASK else f"dask {scheduler}") if scheduler else \
        ("serial" if workers == 1 else "process-pool")
    summary = GradeSummary(assignment, mode, workers)
    t0 = time.perf_counter()

    with course_lock(course_dir, wait=wait), gradebook.ResultStore(db_url) as store:
        notebooks = store.check_released(assignment)
        if len(notebooks) != 1:
            raise gradebook.GradebookError(
                f"assignment {assignment!r} has {len(notebooks)} notebooks in the gradebook ({sorted(notebooks)}); "
                "deepgrade grades exactly one notebook per assignment (DESIGN.md)")
        max_points = float(store.gb.find_assignment(assignment).max_score or 0.0)
        subs = discover(course_dir, assignment, notebooks)
        if students is not None:
            wanted = set(students)
            subs = [s for s in subs if s.student in wanted]
        summary.submissions = len(subs)
        done = {} if force else store.checksums(assignment)
        todo = [s for s in subs if force or done.get(s.student) != s.checksum]
        summary.skipped = len(subs) - len(todo)
        for s in subs:
            if s not in todo:          # same notebook resubmitted: its feedback follows the new secret/time
                sync_submission_files(course_dir, s)

        refused = [(s, ungradable(s.path, s.assignment, s.student, s.refused, checksum=REFUSED, seed=seed))
                   for s in todo if s.refused]
        todo = [s for s in todo if not s.refused]
        if scheduler:
            stream = _run_dask(todo, engine, course_dir, seed, scheduler, workers, dask_security)
        else:
            stream = _run_local(todo, engine, course_dir, seed, min(workers, max(1, len(todo))))
        stream = itertools.chain(refused, stream)
        t_grade = time.perf_counter()
        with _progress(progress, len(todo) + len(refused), assignment) as advance:
            for sub, result in stream:
                if isinstance(result, InfrastructureFailure):      # nothing recorded: the next run retries
                    summary.not_graded.append(f"{sub.student}/{sub.assignment}: {result.reason}")
                    advance(sub.student)
                    continue
                if not result.gradable and not result.max_score:
                    result = dataclasses.replace(result, max_score=max_points)
                _record(store, course_dir, db_url, sub, result, summary, settings.late_penalty)
                if on_result is not None:
                    on_result(result)
                advance(sub.student)
        summary.grade_s = time.perf_counter() - t_grade
    summary.wall_s = time.perf_counter() - t0
    return summary


def _record(store, course_dir: Path, db_url: str, sub: Submission, result: SubmissionResult,
            summary: GradeSummary, late_penalty=None) -> None:
    from autograder import gradebook
    summary.graded += 1
    summary.max_score = max(summary.max_score, result.max_score)
    if not result.gradable:
        summary.ungradable += 1
    summary.scores.append(result.score if result.gradable else 0.0)
    try:
        write_autograded(course_dir, db_url, sub, result)     # files first: a kill before the commit regrades
        stamp = None if sub.refused else gradebook.read_timestamp(sub.path.parent)
        store.record(result, timestamp=stamp, checksum=sub.checksum,
                     late_penalty=late_penalty)
    except Exception as exc:  # noqa: BLE001 - keep grading the class; report at the end
        summary.record_errors.append(f"{sub.student}/{sub.assignment}: {type(exc).__name__}: {exc}")
        return
    gradebook.update_mastery(db_url, result)


class _progress:
    """rich progress bar (or nothing) as a context manager yielding ``advance(label)``."""

    def __init__(self, enabled: bool, total: int, assignment: str):
        self.enabled, self.total, self.assignment = enabled and total > 0, total, assignment

    def __enter__(self):
        if not self.enabled:
            return lambda label: None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
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
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    console = console or Console()
    table = Table(title=f"{summary.assignment}: {summary.mode}, {summary.workers} worker(s)")
    for col in ("submissions", "graded", "skipped", "ungradable", "mean score", "s / notebook", "wall s"):
        table.add_column(col, justify="right")
    mean = "-" if summary.mean_score is None else f"{summary.mean_score:.2f} / {summary.max_score:g}"
    spn = "-" if summary.seconds_per_notebook is None else f"{summary.seconds_per_notebook:.2f}"
    table.add_row(str(summary.submissions), str(summary.graded), str(summary.skipped), str(summary.ungradable),
                  mean, spn, f"{summary.wall_s:.1f}")
    console.print(table)
    for err in summary.record_errors:               # escape(): error text may quote a submission
        console.print(f"[red]not recorded[/red] {escape(err)}")
    for err in summary.not_graded:
        console.print(f"[red]not graded (infrastructure; rerun to retry)[/red] {escape(err)}")


def submission_status(course_dir: str | Path, assignment: str, db_url: str | None = None) -> list[dict]:
    """One dict per discovered submission: student, notebook, status ('graded' | 'changed' | 'new'),
    score/max_score of the recorded result (None when new). Read-only: no lock needed."""
    from autograder import gradebook
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
