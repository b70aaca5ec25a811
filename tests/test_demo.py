"""The README's main job, small: build, release, simulate, grade, mastery, reports — deterministic."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_demo_end_to_end_small_class(tmp_path):
    from autograder.demo import run_demo
    from autograder.exports import load_results
    from autograder.gradebook import default_db_url

    summary = run_demo(tmp_path / "course", students=4, seed=7, workers=2, assignments=["initialization"])
    names = [o.assignment for o in summary.outcomes]
    assert names == ["initialization", "quiz_week1", "quiz_week2", "quiz_week3"]
    assert all(o.submissions == 4 for o in summary.outcomes)
    results = load_results(default_db_url(tmp_path / "course"))
    assert len(results) == 16 and len({(r.student, r.assignment) for r in results}) == 16
    # mastery moved for every student and the reports exist for each of them
    reports = summary.reports_dir
    assert (reports / "instructor" / "course.html").exists()
    for s in {r.student for r in results}:
        page = (reports / "students" / s / "index.html").read_text()
        assert "Mastery" in page and "data:image/png;base64," in page
    # deterministic for a seed: the same plan gives the same notebooks
    from autograder import classsim
    a = classsim.make_students(4, 7)
    b = classsim.make_students(4, 7)
    assert a == b


def test_class_plan_is_realistic_and_seeded():
    import numpy as np

    from autograder import classsim
    from reference.mistakes import mistakes_for
    from reference.registry import GRADED

    students = classsim.make_students(200, 3)
    fns = list(GRADED["optimization"])
    mistakes = {f: [m.id for m in mistakes_for("optimization", f)] for f in fns}
    plans = [classsim.plan_submission(s, "optimization", fns, mistakes, np.random.default_rng([3, i]))
             for i, s in enumerate(students)]
    choices = [c for p in plans for c in p.choices.values()]
    correct = sum(c is None for c in choices) / len(choices)
    assert 0.6 < correct < 0.95                      # most answers right, mistakes common
    assert any(p.broken for p in plans) and any(p.hostile for p in plans)
    again = [classsim.plan_submission(s, "optimization", fns, mistakes, np.random.default_rng([3, i]))
             for i, s in enumerate(students)]
    assert [p.choices for p in plans] == [p.choices for p in again]
