"""Issue 16 (done when): on the demo's simulated class, `nbgrader autograde` (our plugin) and
`deepgrade grade` write the same gradebook, the same results and the same mastery evidence.

The class is the demo's own simulation (latent knowledge, known mistakes, broken notebooks, the
demo's submission times), cut to a few students and three pieces of work so that it runs in a minute or two: two NumPy assignments and the first weekly quiz, graded in the demo's time order.
Rows are compared whole, except ids and the times that differ by nature (``graded_at``, ``timing``,
each check's ``duration_s``).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder import classsim, demo, demo_quizzes
from autograder.course.build import build_course
from autograder.course.release import release_course
from autograder.runner import grade_class
from test_nbgrader_path import _dump, _nbgrader, without_times

CODE = ["gradient_checking", "optimization"]
QUIZ = "quiz_week1"
STUDENTS = 4
SEED = 3


def _first_difference(a, b, where=""):
    """Where two nested rows/documents first differ (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{where}.{k}")
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return where, repr(a)[:300], repr(b)[:300]


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo-class")
    build_course(root, CODE)
    release_course(root, CODE)
    assert QUIZ in demo_quizzes.release(root)
    class_ = classsim.make_students(STUDENTS, SEED)
    knowledge = classsim.Knowledge(class_, SEED)
    for a in sorted(CODE + [QUIZ], key=lambda a: demo.SCHEDULE.get(a, 0)):
        if a == QUIZ:
            demo_quizzes.simulate(root, a, class_, SEED, knowledge, lambda sid, a=a: demo.submission_time(a, sid))
        else:
            demo.simulate_code_submissions(root, a, class_, SEED, knowledge)
    return root


@pytest.mark.slow
def test_both_paths_write_identical_gradebook_results_and_mastery_on_the_demo_class(demo_class, tmp_path):
    via_plugin, via_grade = tmp_path / "plugin", tmp_path / "grade"
    shutil.copytree(demo_class, via_plugin)
    shutil.copytree(demo_class, via_grade)
    for a in sorted(CODE + [QUIZ], key=lambda a: demo.SCHEDULE.get(a, 0)):
        proc = _nbgrader(via_plugin, "autograde", a)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Executing notebook" not in proc.stderr          # our engine, not nbgrader's Execute
        summary = grade_class(via_grade, a, workers=2, progress=False)
        assert summary.ok and summary.graded == STUDENTS, (summary.not_graded, summary.record_errors)

    rows_plugin, rows_grade = _dump(via_plugin), _dump(via_grade)
    assert len(rows_plugin["dg_results"]) == STUDENTS * 3
    assert rows_plugin["evidence"] and rows_plugin["mastery"]
    assert {r[1] for r in rows_plugin["grade"]}, "no graded cells recorded"
    for table in rows_plugin:
        assert rows_plugin[table] == rows_grade[table], (table, _first_difference(rows_plugin[table], rows_grade[table]))

    files_plugin = sorted(p.relative_to(via_plugin) for p in (via_plugin / "autograded").rglob("results.json"))
    files_grade = sorted(p.relative_to(via_grade) for p in (via_grade / "autograded").rglob("results.json"))
    assert files_plugin == files_grade and len(files_plugin) == STUDENTS * 3
    for rel in files_plugin:
        assert without_times(json.loads((via_plugin / rel).read_text())) == \
            without_times(json.loads((via_grade / rel).read_text())), rel
