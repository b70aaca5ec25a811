"""The benchmark keeps working (bench/bench.py): a tiny class on one NumPy assignment, our configurations
agree on every score; the stock-nbgrader wiring (autograder.checks.inkernel) scores like the engine.

Speed is never asserted here; the benchmark script measures it."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import bench  # noqa: E402

ROW_KEYS = {"config", "assignment", "workers", "notebooks", "wall_s", "notebooks_per_min", "median_s", "p95_s",
            "peak_rss_mb", "peak_tree_rss_mb", "cpu_s_per_nb", "ratio_vs_nbgrader", "scores_agree",
            "scores_compared_with", "scores"}


def test_hidden_cell_releases_to_the_visible_test_and_parses():
    visible = 'x = f(2)\nassert x == 4, "f(2) should be 4"\nprint("ok")'
    src = bench.hidden_cell_source("initialization", "initialize_parameters_he", 8, visible)
    ast.parse(src)                                          # what stock autograde executes is valid Python
    from nbgrader.preprocessors import ClearHiddenTests
    from nbformat.v4 import new_code_cell, new_notebook
    cell = new_code_cell(src, metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                     "grade_id": "test_initialize_parameters_he", "points": 8,
                                                     "schema_version": 3}})
    nb, _ = ClearHiddenTests().preprocess(new_notebook(cells=[cell]), {})
    assert nb.cells[0].source.strip() == visible             # learners see exactly the visible test


@pytest.mark.parametrize("assignment", ["initialization", "gradient_checking"])
def test_inkernel_scores_equal_engine_scores(assignment, monkeypatch, capsys):
    from autograder.checks.adapters import InProcessStudent, implementations
    from autograder.checks.inkernel import grade_cell
    from autograder.engine import function_points, grade_with_student
    from reference.mistakes import mistakes_for
    from reference.registry import GRADED

    monkeypatch.setenv("DEEPGRADE_STUDENT", "student007")
    points = function_points(REPO, assignment)
    functions = list(GRADED[assignment])
    # one mistake per function where there is one, the first function left missing
    choices = {f: (mistakes_for(assignment, f)[0].id if mistakes_for(assignment, f) else None) for f in functions}
    choices[functions[0]] = "missing"
    engine = grade_with_student(assignment, InProcessStudent(assignment, choices), "student007", course_dir=REPO)
    namespace = {"np": np, **implementations(assignment, choices)}
    for f in functions:
        got = grade_cell(assignment, f, points[f], namespace, visible="assert False, 'visible test fails'\n")
        assert got == pytest.approx(engine.functions[f]["score"], abs=1e-6), f
    out = capsys.readouterr()
    assert "visible test failed" in out.out and out.err == ""


def test_bench_small_run(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "bench.py"), "--students", "2",
                           "--assignments", "gradient_checking", "--configs", "plugin,runner1,runner2,floor",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads((out / "results.json").read_text())
    assert [r["config"] for r in rows] == ["nbgrader-deepgrade", "runner-1", "runner-2", "floor"]
    for r in rows:
        assert ROW_KEYS <= set(r), ROW_KEYS - set(r)
        assert r["assignment"] == "gradient_checking" and r["notebooks"] == 2
        assert r["notebooks_per_min"] > 0 and r["peak_rss_mb"] > 0
        assert r["scores_agree"], r["score_mismatches"]
    first = rows[0]["scores"]
    for r in rows[1:]:                                                # the same per-student totals
        assert r["scores"].keys() == first.keys()
        for s, (score, max_score) in r["scores"].items():
            assert score == pytest.approx(first[s][0], abs=1e-6) and max_score == pytest.approx(first[s][1])
    assert (out / "results.md").read_text().count("| gradient_checking |") == 4
    assert (out / "throughput.png").stat().st_size > 0
    assert not (out / "work").exists()
