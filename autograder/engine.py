"""Grade one submission: read it safely, run its cells in the sandbox, run the hidden checks.

    result = grade_submission("submitted/ada/regularization/regularization.ipynb", "regularization",
                              "ada", course_dir=".")

Never raises for bad student input: an unreadable notebook gives ``gradable=False`` with the reason;
a missing or failing function fails only the checks that need it. Infrastructure failures (the
sandbox cannot start, the assignment's helpers cannot be imported) raise :class:`GradingError` so
that the runner can retry instead of recording a zero.

The check modules are imported once per process; the engine calls their registered checks directly
(no pytest per notebook). :func:`grade_with_student` is the same pipeline on any ``Student`` (the
in-process adapter in fast tests).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from autograder import function_sets
from autograder.checks import code_suite
from autograder.checks.adapters import SessionStudent
from autograder.checks.framework import Outcome, Student, Suite, run_suite
from autograder.imports import LAZY_HELPER, prepare_imports
from autograder.notebook import UngradableNotebook, read_submission
from autograder.quiz_checks import quiz_suite
from autograder.sandbox import StudentError, StudentSession
from autograder.result import CheckResult, SubmissionResult, file_checksum, now_iso
from reference import catalog

__all__ = ["GradingError", "grade_submission", "grade_with_student", "load_suite", "graded_suite",
           "stable_seed", "submitted_code", "ungradable",
           "function_points", "assignment_dir", "preamble", "select_cells", "open_student"]


class GradingError(RuntimeError):
    """The grader itself could not run (not the student's fault); safe to retry."""


# ------------------------------------------------------------------------------------------ setup
def stable_seed(assignment: str, student: str, code: list[str] | None = None) -> int:
    """Seed of the randomized checks of one submission.

    ``code``: the source of every code cell the engine executes (:func:`submitted_code`), in order.
    The seed is a hash of assignment, student and that code, so
    - regrading the same file (or a re-saved copy: outputs, metadata, markdown, execution counts
      changed) draws exactly the same inputs, on both grading paths (`deepgrade grade`, `nbgrader
      autograde` both call :func:`grade_submission`);
    - any change to the code that runs (a graded function, a helper cell, a table of answers kept in
      a global) draws new inputs, so answers learned from earlier feedback do not carry over.
    The source is hashed exactly as written (no normalisation: code can read its own cell text).
    ``code=None`` (no notebook: ungradable submissions, in-process tests) hashes assignment and student.
    """
    h = hashlib.sha256(f"{assignment}\0{student}".encode())
    if code is not None:
        h.update(b"\0code")
        for source in code:
            data = source.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "big") + data)
    return int.from_bytes(h.digest()[:4], "big")


def submitted_code(cells: list) -> list[str]:
    """Sources of the code cells the engine runs (``select_cells``), the input of :func:`stable_seed`."""
    return [c.source for c in select_cells(cells)]


def load_suite(assignment: str, student: str = "", course_dir: str | Path | None = None) -> Suite:
    """The hidden checks of ``assignment`` (declared runtime quiz: ``autograder.quiz_checks.quiz_suite``)."""
    if catalog.get(assignment, course_dir).runtime == "quiz":
        return quiz_suite(assignment, student)
    return code_suite(assignment, course_dir)


def assignment_dir(course_dir: str | Path, assignment: str) -> Path:
    """Folder with the assignment's student files: release/<a>/ if built, else source/<a>/."""
    course_dir = Path(course_dir)
    release = course_dir / "release" / assignment
    return release if release.is_dir() else course_dir / "source" / assignment


def preamble(assignment: str, adir: Path | None = None, course_dir: str | Path | None = None) -> str:
    """Trusted lines run before the student's cells (DESIGN.md: the notebook's first code cell):
    the declared runtime's imports, then ``from <a>_utils import *`` when ``adir`` holds that module."""
    lines = list(catalog.RUNTIME_IMPORTS[catalog.get(assignment, course_dir).runtime])
    if adir is not None and (adir / f"{assignment}_utils.py").is_file():
        lines.append(f"from {assignment}_utils import *")
    return "\n".join(lines) + "\n"


def select_cells(cells: list) -> list:
    """Code cells to execute: drop cells tagged deepgrade-skip and visible test cells."""
    return [c for c in cells if not c.skip and not (c.grade and not c.solution)]


_mtime = function_sets.file_mtime


@lru_cache(maxsize=64)
def _notebook_points(path: str, mtime: float) -> dict[str, float]:
    """{function: points} from a trusted source/release notebook (metadata first, then test cells)."""
    if mtime < 0:
        return {}
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    points: dict[str, float] = {}
    for cell in nb.get("cells", []):
        nbg = (cell.get("metadata") or {}).get("nbgrader") or {}
        gid = nbg.get("grade_id") or ""
        if nbg.get("grade") and gid.startswith("test_") and isinstance(nbg.get("points"), (int, float)):
            points[gid.removeprefix("test_")] = float(nbg["points"])
    meta = ((nb.get("metadata") or {}).get("deepgrade") or {}).get("points") or {}
    points.update({str(k): float(v) for k, v in meta.items() if isinstance(v, (int, float))})
    return points


def function_points(course_dir: str | Path | None, assignment: str) -> dict[str, float]:
    """Points per graded function as the course's notebook declares them ({} if not built); an
    original-format course notebook declares them on the grade cell after each graded function."""
    nb = function_sets.course_notebook(course_dir, assignment)
    if nb is None:
        return {}
    return {**function_sets.course_points(course_dir, assignment), **_notebook_points(str(nb), _mtime(nb))}


def graded_suite(assignment: str, student: str, cells: list | None,
                 course_dir: str | Path | None) -> tuple[Suite, function_sets.FunctionSet]:
    """The hidden checks of the functions this submission is graded on (``function_sets.resolve``):
    checks of functions outside the learner's assignment are not run (no score, no mastery evidence)."""
    suite = load_suite(assignment, student, course_dir)
    if catalog.get(assignment, course_dir).runtime == "quiz":
        return suite, function_sets.FunctionSet(tuple(suite.points_by_function()), "course")
    fset = function_sets.resolve(assignment, suite.points_by_function(), cells, course_dir)
    if len(fset.functions) < len(suite.points_by_function()):
        keep = set(fset.functions)
        suite = dataclasses.replace(suite, checks=[c for c in suite.checks if c.function in keep],
                                    visible={f: v for f, v in suite.visible.items() if f in keep})
    return suite, fset


def _cell_names(course_dir: str | Path | None, assignment: str) -> dict[str, str]:
    """{function: grade cell id} of the course's notebook (``test_<f>`` when it does not say)."""
    if catalog.get(assignment, course_dir).runtime == "quiz":
        return {}
    return function_sets.grade_cells(course_dir, assignment)


# ------------------------------------------------------------------------------------------ scoring
def _scale(outcomes: list[Outcome], suite: Suite, points: dict[str, float]) -> tuple[list[CheckResult], dict]:
    """Check results with points scaled so each function's checks add up to its notebook points."""
    raw = suite.points_by_function()
    # gated checks (shape-only, visible example, properties, edge cases) count only once a key check
    # of the function (exact values on randomized inputs) passes; functions without one: always
    has_key = {o.spec.function for o in outcomes if o.spec.key}
    values_ok = {o.spec.function for o in outcomes if o.passed and o.spec.key}
    values_ok |= {o.spec.function for o in outcomes} - has_key
    key_names: dict[str, list[str]] = {}
    for o in outcomes:
        if o.spec.key:
            key_names.setdefault(o.spec.function, []).append(f"`{o.spec.name}`")
    results, functions = [], {}
    for o in outcomes:
        f = o.spec.function
        factor = (points[f] / raw[f]) if f in points and raw[f] else 1.0
        max_pts = o.spec.points * factor
        earned = max_pts if o.passed and (f in values_ok or not o.spec.gated) else 0.0
        message = o.message
        if o.passed and not earned:
            message = ("passed, but these points count only once the check on random inputs "
                       f"({' or '.join(key_names.get(f, []))}) passes as well")
        results.append(CheckResult(name=o.spec.name, function=f, points=earned, max_points=max_pts,
                                   passed=o.passed, message=message, hint=o.hint, mistake_id=o.mistake_id,
                                   concepts=o.spec.concepts, duration_s=round(o.duration_s, 4),
                                   response=o.response, gated=o.spec.gated))
        agg = functions.setdefault(f, {"score": 0.0, "max_score": 0.0})
        agg["score"] += earned
        agg["max_score"] += max_pts
    for agg in functions.values():
        agg["score"], agg["max_score"] = round(agg["score"], 6), round(agg["max_score"], 6)
    return results, functions


def _result(assignment: str, student: str, notebook: str, checksum: str, seed: int, suite: Suite,
            outcomes: list[Outcome], points: dict[str, float], *, cell_errors: list, timing: dict,
            sandbox_mode: str, cell_names: dict[str, str] | None = None) -> SubmissionResult:
    cell_names = cell_names or {}
    checks, functions = _scale(outcomes, suite, points)
    score = round(sum(v["score"] for v in functions.values()), 6)
    max_score = round(sum(v["max_score"] for v in functions.values()), 6)
    return SubmissionResult(
        assignment=assignment, student=student, notebook=notebook, checksum=checksum, gradable=True,
        seed=seed, score=score, max_score=max_score, functions=functions,
        grade_cells={cell_names.get(f, f"test_{f}"): dict(v) for f, v in functions.items()}, checks=tuple(checks),
        cell_errors=cell_errors, timing=timing, sandbox_mode=sandbox_mode, graded_at=now_iso())


def _max_score(suite: Suite, points: dict[str, float], cell_names: dict[str, str] | None = None) -> tuple[float, dict]:
    raw = suite.points_by_function()
    per = {f: points.get(f, raw[f]) for f in raw}
    names = cell_names or {}
    return sum(per.values()), {names.get(f, f"test_{f}"): {"score": 0.0, "max_score": p} for f, p in per.items()}


def ungradable(assignment: str, student: str, notebook: str | Path, reason: str, *,
               course_dir: str | Path | None = None, seed: int | None = None,
               started: float | None = None) -> SubmissionResult:
    """A zero result that says why the notebook could not be graded."""
    suite, _ = graded_suite(assignment, student, None, course_dir)
    max_score, cells = _max_score(suite, function_points(course_dir, assignment), _cell_names(course_dir, assignment))
    total = time.perf_counter() - started if started else 0.0
    return SubmissionResult(
        assignment=assignment, student=student, notebook=str(notebook), checksum=file_checksum(notebook),
        gradable=False, ungradable_reason=reason, seed=seed, score=0.0, max_score=max_score,
        grade_cells=cells, timing={"total_s": round(total, 4), "sandbox_s": 0.0, "checks_s": 0.0},
        graded_at=now_iso())


# ------------------------------------------------------------------------------------------ grading
def grade_with_student(assignment: str, student_obj: Student, student: str = "", *, seed: int | None = None,
                       course_dir: str | Path | None = None, notebook: str = "", checksum: str = "",
                       cell_errors: list | None = None, sandbox_s: float = 0.0,
                       sandbox_mode: str | None = None, started: float | None = None,
                       suite: Suite | None = None) -> SubmissionResult:
    """Run the suite against any ``Student`` and assemble the result (the engine's core). ``suite``:
    the checks to run (default: the assignment's, restricted as for a notebook in our format)."""
    started = started or time.perf_counter()
    seed = stable_seed(assignment, student) if seed is None else int(seed)
    if suite is None:
        suite, _ = graded_suite(assignment, student, [], course_dir)
    t0 = time.perf_counter()
    sandbox_before = getattr(student_obj, "sandbox_s", 0.0)
    outcomes = run_suite(suite, student_obj, seed)
    calls_s = getattr(student_obj, "sandbox_s", 0.0) - sandbox_before
    checks_s = max(0.0, time.perf_counter() - t0 - calls_s)   # trusted-side check time only
    sandbox_s += calls_s
    timing = {"total_s": round(time.perf_counter() - started, 4), "sandbox_s": round(sandbox_s, 4),
              "checks_s": round(checks_s, 4)}
    return _result(assignment, student, notebook, checksum, seed, suite, outcomes,
                   function_points(course_dir, assignment), cell_errors=cell_errors or [], timing=timing,
                   sandbox_mode=sandbox_mode or getattr(student_obj, "sandbox_mode", ""),
                   cell_names=_cell_names(course_dir, assignment))


def open_student(cells: list, assignment: str, course_dir: str | Path, policy: Any = None, *,
                 extra_preamble: str = ""):
    """Start a sandbox on the assignment's student files and load ``cells`` after the preamble
    (plus ``extra_preamble``, trusted code such as ``imports.LAZY_HELPER``).

    Returns ``(SessionStudent, LoadReport)``; raises GradingError if the sandbox or the preamble fails.
    """

    adir = assignment_dir(course_dir, assignment)
    try:
        session = StudentSession(adir if adir.is_dir() else None, policy,
                                 use_tensorflow=catalog.get(assignment, course_dir).runtime == "tensorflow")
    except RuntimeError as exc:   # SandboxUnavailable / TrustedContentVisible: never a student's zero
        raise GradingError(str(exc)) from exc
    step = "start"
    try:
        session.start()
        step = "load the notebook (preamble)"
        report = session.load(cells, preamble(assignment, adir if adir.is_dir() else None, course_dir)
                              + extra_preamble)
        if not report.alive:   # a top-level cell hung or crashed: reload without it
            step = "restart"
            report = session.restart()
    except StudentError as exc:
        session.close()
        raise GradingError(f"the sandbox could not {step}: {exc}") from exc
    except BaseException:
        session.close()    # never leave a sandbox behind
        raise
    return SessionStudent(session, report.defined), report


def _cell_errors(report: Any) -> list[dict]:
    return [{"cell": c.index, "status": c.status, "ename": c.error_type, "evalue": c.message[:500]}
            for c in report.errors]


def grade_submission(notebook_path: str | Path, assignment: str, student: str, *,
                     course_dir: str | Path = ".", seed: int | None = None, policy: Any = None) -> SubmissionResult:
    """Grade one notebook of ``student`` for ``assignment`` (see module docstring)."""

    started = time.perf_counter()
    notebook_path = Path(notebook_path)
    fixed_seed = seed is not None
    seed = stable_seed(assignment, student) if seed is None else int(seed)
    try:
        catalog.get(assignment, course_dir)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    try:
        parsed = read_submission(notebook_path)
    except UngradableNotebook as exc:
        return ungradable(assignment, student, notebook_path, exc.reason, course_dir=course_dir,
                          seed=seed, started=started)
    if parsed.assignment and parsed.assignment != assignment:
        return ungradable(assignment, student, notebook_path,
                          f"{notebook_path.name}: this notebook belongs to the assignment "
                          f"{parsed.assignment!r}, not {assignment!r}",
                          course_dir=course_dir, seed=seed, started=started)
    checksum = file_checksum(notebook_path)
    if not fixed_seed:
        seed = stable_seed(assignment, student, submitted_code(parsed.cells))
    suite, _ = graded_suite(assignment, student, parsed.cells, course_dir)
    adir = assignment_dir(course_dir, assignment)
    prepared = prepare_imports(select_cells(parsed.cells), adir if adir.is_dir() else None)
    t0 = time.perf_counter()
    student_obj, report = open_student(prepared.cells, assignment, course_dir, policy,
                                       extra_preamble=LAZY_HELPER if prepared.lazy else "")
    load_s = time.perf_counter() - t0
    try:
        return grade_with_student(assignment, student_obj, student, seed=seed, course_dir=course_dir,
                                  notebook=str(notebook_path), checksum=checksum,
                                  cell_errors=sorted(_cell_errors(report) + prepared.notes,
                                                     key=lambda e: e["cell"]), sandbox_s=load_s,
                                  sandbox_mode=student_obj.session.mode, started=started, suite=suite)
    finally:
        student_obj.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.engine NOTEBOOK ASSIGNMENT STUDENT [--course-dir D] [--seed N] [--gradescope]``:
    grade one notebook and print the SubmissionResult JSON (or Gradescope's results.json)."""
    ap = argparse.ArgumentParser(prog="python -m autograder.engine", description=main.__doc__)
    ap.add_argument("notebook")
    ap.add_argument("assignment")
    ap.add_argument("student")
    ap.add_argument("--course-dir", default=".")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--gradescope", action="store_true", help="print Gradescope's results.json instead")
    a = ap.parse_args(argv)
    r = grade_submission(a.notebook, a.assignment, a.student, course_dir=a.course_dir, seed=a.seed)
    print(json.dumps(r.to_gradescope(), indent=1) if a.gradescope else r.to_json(indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
