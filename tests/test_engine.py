"""The grading engine end to end through the real sandbox (plus its small pure helpers)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.engine import (function_points, grade_submission, load_suite, select_cells, stable_seed,
                               submitted_code)
from autograder.notebook import read_submission
from autograder.sandbox import SandboxPolicy
from autograder.simulate import synthesize_submission, write_notebook

REPO = Path(__file__).resolve().parents[1]
NUMPY_ASSIGNMENTS = ["initialization", "regularization", "gradient_checking", "optimization", "batchnorm"]


def _source(a: str) -> Path:
    return REPO / "source" / a / f"{a}.ipynb"


def _notebook_points(a: str) -> dict[str, float]:
    nb = json.loads(_source(a).read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"] for c in nb["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade") and c["metadata"]["nbgrader"].get("points")}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", NUMPY_ASSIGNMENTS)
def test_source_notebook_gets_full_marks_in_the_sandbox(assignment):
    path = _source(assignment)
    r = grade_submission(path, assignment, "ref", course_dir=REPO)
    assert r.gradable and r.cell_errors == []
    assert [c.name for c in r.checks if not c.passed] == []
    points = _notebook_points(assignment)
    assert r.max_score == pytest.approx(sum(points.values())) and r.score == r.max_score
    assert {k: v["max_score"] for k, v in r.grade_cells.items()} == pytest.approx(points)
    assert r.checksum == hashlib.sha256(path.read_bytes()).hexdigest()
    code = submitted_code(read_submission(path).cells)     # the seed follows the code that runs
    assert r.seed == stable_seed(assignment, "ref", code) != stable_seed(assignment, "ref") and r.sandbox_mode
    assert r.timing["total_s"] >= r.timing["sandbox_s"] > 0


@pytest.mark.slow
@pytest.mark.tensorflow
def test_tensorflow_notebook_gets_full_marks_in_the_sandbox():
    r = grade_submission(_source("tensorflow"), "tensorflow", "ref", course_dir=REPO)
    assert [c.name for c in r.checks if not c.passed] == [] and r.score == r.max_score > 0


@pytest.mark.slow
def test_mistakes_missing_raising_and_cell_errors_through_the_sandbox(tmp_path):
    a = "regularization"
    nb = synthesize_submission(a, {"compute_cost_with_regularization": "compute_cost_with_regularization.no_half",
                                   "forward_propagation_with_dropout": "missing",
                                   "backward_propagation_with_dropout": "raises"}, base_notebook=_source(a))
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                        "source": "undefined_name + 1"})
    r = grade_submission(write_notebook(nb, tmp_path / "nb.ipynb"), a, "sim", course_dir=REPO)
    f = r.functions
    assert f["backward_propagation_with_regularization"]["score"] == f["backward_propagation_with_regularization"]["max_score"]
    assert f["forward_propagation_with_dropout"]["score"] == 0 == f["backward_propagation_with_dropout"]["score"]
    assert 0 <= f["compute_cost_with_regularization"]["score"] < f["compute_cost_with_regularization"]["max_score"]
    assert "compute_cost_with_regularization.no_half" in r.mistakes
    assert all("not defined in your notebook" in c.message for c in r.checks_for("forward_propagation_with_dropout"))
    assert all("NotImplementedError" in c.message for c in r.checks_for("backward_propagation_with_dropout"))
    assert [e["ename"] for e in r.cell_errors] == ["NameError"]


@pytest.mark.slow
def test_a_hanging_function_fails_only_its_checks(tmp_path):
    a = "optimization"
    nb = synthesize_submission(a, {}, base_notebook=_source(a))
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                        "source": "def update_lr(learning_rate0, epoch_num, decay_rate):\n    while True:\n        pass\n"})
    policy = SandboxPolicy(call_timeout_s=1.0)
    r = grade_submission(write_notebook(nb, tmp_path / "nb.ipynb"), a, "slowpoke", course_dir=REPO, policy=policy)
    assert r.functions["update_lr"]["score"] == 0
    assert all("too long" in c.message or "stopped" in c.message for c in r.checks_for("update_lr"))
    assert all(c.passed for c in r.checks if c.function != "update_lr")
    assert r.timing["total_s"] < 20


@pytest.mark.parametrize("content, reason", [(b"{not json", "invalid JSON"), (b"", "empty"),
                                             (b'{"cells": [], "nbformat": 3}', "too old")])
def test_unreadable_notebook_is_ungradable_with_a_reason(tmp_path, content, reason):
    p = tmp_path / "bad.ipynb"
    p.write_bytes(content)
    r = grade_submission(p, "initialization", "x", course_dir=REPO)
    assert not r.gradable and reason in r.ungradable_reason and r.score == 0
    assert r.max_score == pytest.approx(sum(_notebook_points("initialization").values()))
    assert r.checks == () and r.to_gradescope()["tests"] == []


def test_missing_file_and_wrong_assignment_are_ungradable(tmp_path):
    r = grade_submission(tmp_path / "nope.ipynb", "optimization", "x", course_dir=REPO)
    assert not r.gradable and "not found" in r.ungradable_reason
    nb = synthesize_submission("initialization")
    r = grade_submission(write_notebook(nb, tmp_path / "nb.ipynb"), "batchnorm", "x", course_dir=REPO)
    assert not r.gradable and "'initialization'" in r.ungradable_reason


def test_select_cells_drops_skipped_and_visible_test_cells():
    cells = read_submission(_source("optimization")).cells
    kept = select_cells(cells)
    assert not any(c.skip for c in kept)
    assert not any(c.grade and not c.solution for c in kept)
    assert {c.grade_id for c in kept if c.solution} == {f"ex_{f}" for f in load_suite("optimization").functions}


def test_function_points_and_seed():
    assert function_points(REPO, "batchnorm") == {k.removeprefix("test_"): v
                                                   for k, v in _notebook_points("batchnorm").items()}
    assert function_points(None, "batchnorm") == {}
    assert stable_seed("a", "s") == stable_seed("a", "s") != stable_seed("a", "t")


@pytest.mark.slow
def test_check_module_runs_under_plain_pytest_on_a_notebook(tmp_path):
    a = "initialization"
    bad = write_notebook(synthesize_submission(a, {"initialize_parameters_he": "initialize_parameters_he.scale_sqrt_1_over_n"},
                                               base_notebook=_source(a)), tmp_path / "he.ipynb")
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"autograder/checks/test_{a}.py",
            "--course-dir", str(REPO)]
    ok = subprocess.run(base + ["--submission", str(_source(a))], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout[-2000:]
    n = len(load_suite(a).checks)
    assert f"{n} passed" in ok.stdout
    fail = subprocess.run(base + ["--submission", str(bad)], cwd=REPO, capture_output=True, text=True)
    assert fail.returncode == 1
    assert "initialize_parameters_he" in fail.stdout and "Hint:" in fail.stdout
    ref = subprocess.run(base + ["--reference"], cwd=REPO, capture_output=True, text=True)
    assert ref.returncode == 0 and f"{n} passed" in ref.stdout


@pytest.mark.slow
def test_minimal_synthesized_notebook_grades_like_the_source(tmp_path):
    a = "gradient_checking"
    p = write_notebook(synthesize_submission(a), tmp_path / "minimal.ipynb")
    r = grade_submission(p, a, "minimal", course_dir=REPO)
    assert r.gradable and r.cell_errors == [] and r.score == r.max_score > 0


def test_command_line_prints_result_json(tmp_path, capsys):
    from autograder.engine import main
    from autograder.result import SubmissionResult
    p = tmp_path / "bad.ipynb"
    p.write_text("{")
    assert main([str(p), "initialization", "ada", "--course-dir", str(REPO)]) == 0
    r = SubmissionResult.from_json(capsys.readouterr().out)
    assert not r.gradable and r.student == "ada"
    main([str(p), "initialization", "ada", "--course-dir", str(REPO), "--gradescope"])
    assert "could not be graded" in json.loads(capsys.readouterr().out)["output"]
