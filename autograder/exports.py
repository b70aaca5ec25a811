"""Exports of recorded results: a class CSV and per-submission Gradescope ``results.json``.

Both read ``dg_results`` (the typed results the runner / nbgrader plugin recorded), never cell outputs.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterable

from autograder.gradebook import ResultStore
from autograder.result import SubmissionResult
from autograder.safe_text import spreadsheet_text
from quizzes.mastery import class_mastery

BASE_COLUMNS = ["student", "assignment", "score", "max_score", "gradable", "reason"]


def load_results(db_url: str, assignment: str | None = None) -> list[SubmissionResult]:
    """Every recorded result (of one assignment, or all), sorted by assignment then student."""
    with ResultStore(db_url) as store:
        rows = [(r.student, r.assignment, r.result_json) for r in store.results(assignment)]
    out = []
    for student, a, text in rows:
        try:
            out.append(SubmissionResult.from_json(text))
        except ValueError as exc:
            raise ValueError(f"dg_results row {student}/{a} in {db_url} is not a valid result: {exc}") from exc
    return out


def class_rows(results: Iterable[SubmissionResult]) -> tuple[list[str], list[dict]]:
    """(columns, rows): one row per submission; a ``<function>`` column with its score per graded
    function (empty when the submission was ungradable)."""
    results = list(results)
    functions: list[str] = []
    for r in results:
        for f in r.functions:
            if f not in functions:
                functions.append(f)
    columns = BASE_COLUMNS + functions
    rows = []
    for r in results:
        row = {"student": r.student, "assignment": r.assignment, "score": f"{r.score:g}",
               "max_score": f"{r.max_score:g}", "gradable": str(r.gradable).lower(),
               "reason": r.ungradable_reason or ""}
        for f in functions:
            fs = r.functions.get(f)
            row[f] = f"{fs['score']:g}" if fs is not None and r.gradable else ""
        rows.append(row)
    return columns, rows


def write_class_csv(db_url: str, out: str | Path, assignment: str | None = None) -> int:
    """Write the class CSV; returns the number of rows. With ``assignment=None`` all assignments go in
    one file (per-function columns are the union)."""
    columns, rows = class_rows(load_results(db_url, assignment))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows({**row, "student": spreadsheet_text(row["student"]),
                          "reason": spreadsheet_text(row["reason"])} for row in rows)
    return len(rows)


def write_gradescope(db_url: str, out_dir: str | Path, assignment: str | None = None) -> list[Path]:
    """``<out_dir>/<assignment>/<student>/results.json`` (Gradescope autograder format) per submission."""
    paths = []
    for r in load_results(db_url, assignment):
        path = Path(out_dir) / r.assignment / r.student / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(r.to_gradescope(), indent=1))
        paths.append(path)
    return paths


MASTERY_COLUMNS = ["student", "concept", "p_mastery", "n_obs", "enough_evidence", "mastered", "latest_failed",
                   "status"]


def write_mastery_csv(db_url: str, out: str | Path) -> int:
    """Class mastery CSV for LMS gradebooks and dashboards: one row per (student, concept) of every
    student with evidence, every concept of the concept map; returns the number of rows."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MASTERY_COLUMNS)
        writer.writeheader()
        for student, rows in class_mastery(db_url).items():
            for m in rows:
                d = m.to_dict()
                writer.writerow({**{k: d[k] for k in MASTERY_COLUMNS if k in d}, "student": student,
                                 "p_mastery": f"{m.p_mastery:.4f}",
                                 **{k: str(d[k]).lower() for k in ("enough_evidence", "mastered", "latest_failed")}})
                n += 1
    return n
