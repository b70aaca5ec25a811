"""SubmissionResult v2: the typed, versioned outcome of grading one notebook.

Every consumer (gradebook, runner, reports, nbgrader plugin, Gradescope export) reads this and
nothing else. The JSON form is stable: ``schema_version`` is checked on load and bumped on any
incompatible change.

Shape of the JSON (all keys always present)::

    {"schema_version": 2, "assignment": str, "student": str, "notebook": str, "checksum": str,
     "gradable": bool, "ungradable_reason": str | None, "seed": int | None,
     "score": float, "max_score": float,
     "functions":   {function: {"score": float, "max_score": float}},
     "grade_cells": {grade_id: {"score": float, "max_score": float}},
     "checks": [CheckResult...], "cell_errors": [{"cell": int, "ename": str, "evalue": str}],
     "timing": {"total_s": float, "sandbox_s": float, "checks_s": float},
       (sandbox_s: wall time inside the sandbox -- start, loading the cells, the checks' calls;
        checks_s: trusted-side time of the checks, calls excluded; total_s: the whole grading)
     "sandbox_mode": str, "graded_at": ISO-8601 str}

A CheckResult is {"name", "function", "points", "max_points", "passed", "message", "hint", "mistake_id",
"concepts": [concept id], "duration_s", "response", "gated"}; ``response`` is what the learner answered
in the quiz's own terms ([option indices in bank order] | bool | number | null; null for code checks and
unanswered questions), ``gated`` whether the check's points count only once a key check of the function
passes (it then carries no mastery evidence alone). Schema 2 added ``response`` and ``gated``; documents
of schema 1 still load, with both null (unknown).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from autograder.safe_text import MAX_LIST_ITEMS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS, cap

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)        # older documents load with the fields they lack set to "unknown"


class ResultSchemaError(ValueError):
    """A JSON document is not a valid SubmissionResult of a supported schema version."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one hidden check.

    ``points`` are the (scaled) points earned, ``max_points`` the (scaled) points available;
    ``hint``/``mistake_id`` are set when a failure matched a known mistake.
    """
    name: str
    function: str
    points: float
    max_points: float
    passed: bool
    message: str = ""
    hint: str | None = None
    mistake_id: str | None = None
    concepts: tuple[str, ...] = ()
    duration_s: float = 0.0
    response: Any = None
    gated: bool | None = None

    def __post_init__(self) -> None:
        """Bound every text (messages quote student output): see :mod:`autograder.safe_text`."""
        for name, limit in (("name", MAX_NAME_CHARS), ("function", MAX_NAME_CHARS), ("message", MAX_MESSAGE_CHARS),
                            ("hint", MAX_MESSAGE_CHARS), ("mistake_id", MAX_NAME_CHARS)):
            object.__setattr__(self, name, cap(getattr(self, name), limit))
        object.__setattr__(self, "concepts", tuple(cap(c, MAX_NAME_CHARS) for c in self.concepts[:MAX_LIST_ITEMS]))
        object.__setattr__(self, "response", _response(self.response))
        if self.gated is not None and not isinstance(self.gated, bool):
            raise ResultSchemaError(f"gated must be a boolean or null, not {self.gated!r}")

    def to_dict(self) -> dict[str, Any]:
        # every field is a scalar but two (dataclasses.asdict's deep copy cost ~0.1 ms per check)
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["concepts"] = list(self.concepts)
        d["response"] = list(self.response) if isinstance(self.response, (tuple, list)) else self.response
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CheckResult":
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {"name", "function", "points", "max_points", "passed"} - d.keys()
        if missing:
            raise ResultSchemaError(f"check result lacks {sorted(missing)}")
        kw = {k: v for k, v in d.items() if k in names}
        kw["concepts"] = tuple(kw.get("concepts") or ())
        return cls(**kw)


def _response(value: Any) -> Any:
    """A quiz response as plain, bounded data: None, a bool, a finite number or a list of option indices."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and math.isfinite(value):
        return value
    if isinstance(value, (list, tuple)) and len(value) <= MAX_LIST_ITEMS and all(
            isinstance(i, int) and not isinstance(i, bool) for i in value):
        return tuple(value)
    raise ResultSchemaError(f"a check response must be null, a boolean, a number or a list of option indices, "
                            f"not {type(value).__name__}")


def _score_map(d: dict[str, Any], what: str) -> dict[str, dict[str, float]]:
    out = {}
    for k, v in d.items():
        if not isinstance(v, dict) or "score" not in v or "max_score" not in v:
            raise ResultSchemaError(f"{what}[{k!r}] must be {{score, max_score}}")
        out[str(k)] = {"score": float(v["score"]), "max_score": float(v["max_score"])}
    return out


def file_checksum(path: str | Path) -> str:
    """sha256 hex digest of the file's bytes ("" if it cannot be read)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def now_iso() -> str:
    """Current UTC time, ISO-8601 with seconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SubmissionResult:
    """The grade of one student's notebook for one assignment (schema_version 2).

    Frozen at the top level; the dict/list members are plain data built once by the engine.
    """
    assignment: str
    student: str
    notebook: str
    checksum: str
    gradable: bool
    ungradable_reason: str | None = None
    seed: int | None = None
    score: float = 0.0
    max_score: float = 0.0
    functions: dict[str, dict[str, float]] = field(default_factory=dict)
    grade_cells: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: tuple[CheckResult, ...] = ()
    cell_errors: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=lambda: {"total_s": 0.0, "sandbox_s": 0.0,
                                                                 "checks_s": 0.0})
    sandbox_mode: str = ""
    graded_at: str = field(default_factory=now_iso)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        """Bound what a submission controls (names, the ungradable reason, cell errors): a hostile
        notebook cannot grow results.json, the gradebook row or a report."""
        # the notebook is named by its file name, never by a path on the grading machine: the same
        # submission graded in another copy of the course (or by the other grading path) gives the same result
        object.__setattr__(self, "notebook", PurePath(str(self.notebook)).name)
        for name in ("assignment", "student", "notebook"):
            object.__setattr__(self, name, cap(getattr(self, name), MAX_NAME_CHARS))
        object.__setattr__(self, "ungradable_reason", cap(self.ungradable_reason, MAX_MESSAGE_CHARS))
        object.__setattr__(self, "cell_errors", [{k: cap(v, MAX_MESSAGE_CHARS) for k, v in e.items()}
                                                 for e in self.cell_errors[:MAX_LIST_ITEMS]])

    # ---- derived views -------------------------------------------------------------------
    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def mistakes(self) -> list[str]:
        """mistake ids matched on failed checks, in order, without repeats."""
        seen: list[str] = []
        for c in self.checks:
            if c.mistake_id and c.mistake_id not in seen:
                seen.append(c.mistake_id)
        return seen

    def checks_for(self, function: str) -> list[CheckResult]:
        return [c for c in self.checks if c.function == function]

    # ---- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "assignment": self.assignment, "student": self.student, "notebook": self.notebook,
            "checksum": self.checksum, "gradable": self.gradable,
            "ungradable_reason": self.ungradable_reason, "seed": self.seed,
            "score": self.score, "max_score": self.max_score,
            "functions": {k: dict(v) for k, v in self.functions.items()},
            "grade_cells": {k: dict(v) for k, v in self.grade_cells.items()},
            "checks": [c.to_dict() for c in self.checks],
            "cell_errors": [dict(e) for e in self.cell_errors],
            "timing": dict(self.timing), "sandbox_mode": self.sandbox_mode,
            "graded_at": self.graded_at,
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SubmissionResult":
        if not isinstance(d, dict):
            raise ResultSchemaError("a SubmissionResult must be a JSON object")
        version = d.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ResultSchemaError(f"unsupported schema_version {version!r} (this version reads "
                                    f"{', '.join(map(str, READABLE_VERSIONS))})")
        required = ["assignment", "student", "notebook", "checksum", "gradable", "score", "max_score"]
        missing = [k for k in required if k not in d]
        if missing:
            raise ResultSchemaError(f"SubmissionResult lacks {missing}")
        if not isinstance(d["gradable"], bool):
            raise ResultSchemaError("gradable must be a boolean")
        timing = {k: float(v) for k, v in (d.get("timing") or {}).items()}
        return cls(
            assignment=str(d["assignment"]), student=str(d["student"]), notebook=str(d["notebook"]),
            checksum=str(d["checksum"]), gradable=d["gradable"],
            ungradable_reason=d.get("ungradable_reason"), seed=d.get("seed"),
            score=float(d["score"]), max_score=float(d["max_score"]),
            functions=_score_map(d.get("functions") or {}, "functions"),
            grade_cells=_score_map(d.get("grade_cells") or {}, "grade_cells"),
            checks=tuple(CheckResult.from_dict(c) for c in d.get("checks") or ()),
            cell_errors=[dict(e) for e in d.get("cell_errors") or ()],
            timing={"total_s": 0.0, "sandbox_s": 0.0, "checks_s": 0.0, **timing},
            sandbox_mode=str(d.get("sandbox_mode") or ""),
            graded_at=str(d.get("graded_at") or ""),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "SubmissionResult":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ResultSchemaError(f"not JSON: {e}") from e
        return cls.from_dict(data)

    # ---- Gradescope ----------------------------------------------------------------------
    def to_gradescope(self, visibility: str = "visible") -> dict[str, Any]:
        """Gradescope autograder ``results.json``: one test per check, with hints in the output."""
        tests = []
        for c in self.checks:
            out = c.message or ("passed" if c.passed else "failed")
            if c.hint:
                out += f"\nHint: {c.hint}"
            tests.append({
                "name": c.name if c.name.startswith(f"{c.function}.") else f"{c.function}: {c.name}",
                "score": round(c.points, 4), "max_score": round(c.max_points, 4),
                "output": out, "visibility": visibility,
                "tags": list(c.concepts),
            })
        if self.gradable:
            summary = f"{self.assignment}: {self.score:g} / {self.max_score:g}"
            if self.cell_errors:
                summary += f"\n{len(self.cell_errors)} notebook cell(s) raised errors while running."
        else:
            summary = f"This notebook could not be graded: {self.ungradable_reason}"
        return {
            "score": round(self.score, 4),
            "max_score": round(self.max_score, 4),
            "execution_time": round(self.timing.get("total_s", 0.0), 3),
            "output": summary,
            "visibility": visibility,
            "tests": tests,
        }
