"""What a grading worker runs — a local pool process or a Dask worker — and nothing more.

Kept apart from :mod:`autograder.runner` so a worker imports only this, the result type and the engine:
the runner's recording side imports nbgrader (measured 3.5 s idle, 8 s on a loaded machine), which a
Dask worker must not pay before its first task.

A task never raises: the engine's result, an ungradable result (the notebook's fault, or a grader
bug), or :class:`InfrastructureFailure` after ``engine.GradingError`` persisted through the retries
(never recorded, so the next run grades it).

:func:`grade_batch` is the Dask task: several submissions per task, answered as one JSON text (plain
data: nothing of ours is unpickled by the grading process; :func:`decode_batch` rebuilds and checks it).
"""
from __future__ import annotations

import importlib
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from autograder.engine import GradingError
from autograder.result import ResultSchemaError, SubmissionResult, file_checksum

MISSING = "missing"          # checksum recorded for a notebook that was not submitted
REFUSED = "refused"          # checksum recorded for a submission the file rules refuse (never read)


def load_callable(spec: str) -> Callable:
    """``"package.module:function"`` -> the function (clear error naming the spec)."""
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise ValueError(f"engine {spec!r} must look like 'package.module:function'")
    try:
        return getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load grading engine {spec!r}: {exc}") from exc


def resolve_engine(engine: str | Callable) -> Callable:
    return engine if callable(engine) else load_callable(engine)


def ungradable(path: str | Path, assignment: str, student: str, reason: str, *, checksum: str | None = None,
               seed: int | None = None, max_score: float = 0.0) -> SubmissionResult:
    """A zero-score result recording why a submission could not be graded (the recorder fills every
    grade cell with 0; ``max_score`` 0 is replaced by the assignment's by the runner)."""
    path = Path(path)
    return SubmissionResult(assignment=assignment, student=student, notebook=path.name,
                            checksum=checksum if checksum is not None else file_checksum(path),
                            gradable=False, ungradable_reason=reason, seed=seed, score=0.0, max_score=max_score,
                            timing={"total_s": 0.0, "sandbox_s": 0.0, "checks_s": 0.0})


@dataclass(frozen=True)
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
            if isinstance(exc, GradingError):     # infrastructure, not the student
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


def grade_task(engine: str | Callable, path: str, assignment: str, student: str, course_dir: str,
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


def grade_batch(engine: str | Callable, items: list[dict], course_dir: str, seed: int | None) -> str:
    """Grade ``items`` (each ``{"path", "assignment", "student"}``) one after the other in this process
    and answer with a JSON list, one entry per item in order: ``{"student", "assignment", "result":
    SubmissionResult.to_dict()}`` or ``{"student", "assignment", "infrastructure": reason}``.

    The sandboxes (and a zygote) the engine starts are this process's own and outlive the task (see
    :mod:`autograder.dask_grading`), so a batch pays no start-up per submission beyond the engine's.
    Student code never runs here: only in the sandboxes the engine starts."""
    out = []
    for it in items:
        r = grade_task(engine, it["path"], it["assignment"], it["student"], course_dir, seed)
        if isinstance(r, InfrastructureFailure):
            out.append({"student": r.student, "assignment": r.assignment, "infrastructure": r.reason})
        else:
            out.append({"student": r.student, "assignment": r.assignment, "result": r.to_dict()})
    return json.dumps(out)


def decode_batch(text: str, expected: list[tuple[str, str]]) -> list[SubmissionResult | InfrastructureFailure]:
    """The answer of :func:`grade_batch` for ``expected`` ``[(student, assignment), ...]`` (same order).

    Anything but a well-formed answer for exactly those submissions (not JSON, another length, another
    student, an invalid SubmissionResult) is the infrastructure's failure for every one of them: never a
    student's zero."""
    def failed(reason: str) -> list[InfrastructureFailure]:
        return [InfrastructureFailure(st, a, f"malformed answer from a grading worker: {reason}")
                for st, a in expected]

    try:
        entries = json.loads(text) if isinstance(text, str) else None
    except ValueError as exc:
        return failed(f"not JSON ({exc})")
    if not isinstance(entries, list) or len(entries) != len(expected):
        return failed(f"expected a list of {len(expected)} results")
    out: list[SubmissionResult | InfrastructureFailure] = []
    for (student, assignment), e in zip(expected, entries):
        if not isinstance(e, dict) or (e.get("student"), e.get("assignment")) != (student, assignment):
            return failed(f"the answers do not match the submissions sent ({student}/{assignment})")
        if "infrastructure" in e:
            out.append(InfrastructureFailure(student, assignment, str(e["infrastructure"])[:1000]))
            continue
        try:
            r = SubmissionResult.from_dict(e.get("result"))
        except (ResultSchemaError, TypeError, ValueError) as exc:
            return failed(f"invalid result for {student}/{assignment} ({exc})")
        if (r.student, r.assignment) != (student, assignment):
            return failed(f"the result names {r.student}/{r.assignment}, not {student}/{assignment}")
        out.append(r)
    return out
