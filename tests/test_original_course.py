"""Notebooks in the original course's format grade as they are (issue 14, part 2).

The corpus (tests/original_course.py) is our own code in that format: ``cell-<hex>`` grade ids,
``# GRADED FUNCTION`` headers, test cells calling modules we do not ship, a heavy first cell, and the
original optimization assignment's 8 graded functions.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.engine import grade_submission
from autograder.function_sets import ORIGINAL_SETS
from autograder.nbgrader_plugin import FEEDBACK_TAG, feedback_text
from original_course import INDENTATION_ERROR, original_notebook, write_original

REPO = Path(__file__).resolve().parents[1]
TESTS_DIR = str(Path(__file__).parent)
BIN = Path(sys.executable).parent
A = "optimization"
NOT_IN_ORIGINAL = {"initialize_rmsprop", "update_parameters_with_rmsprop", "exponentially_weighted_average"}


def test_heavy_imports_are_deferred_and_missing_modules_skipped():
    """The rewritten first cell binds lazy modules: nothing heavy is imported until used; rcParams set
    before use are applied on first use; imports of modules nobody has are skipped with a note."""
    from autograder.imports import LAZY_HELPER, prepare_imports
    from autograder.notebook import CodeCell
    source = "\n".join(line for line in original_notebook()["cells"][2]["source"].splitlines()
                       if not line.startswith("%"))          # the sandbox neutralizes magics itself
    prepared = prepare_imports([CodeCell(index=2, source=source)], None)
    assert prepared.lazy
    assert sorted(n["evalue"].split("'")[1] for n in prepared.notes) == ["opt_utils_v1a", "public_tests",
                                                                       "testCases"]
    program = LAZY_HELPER + prepared.cells[0].source + """
import sys
heavy = [m for m in ("matplotlib", "matplotlib.pyplot", "scipy", "scipy.io", "sklearn") if m in sys.modules]
assert heavy == [], heavy
assert math.floor(2.5) == 2 and deepcopy([1]) == [1]          # the light imports ran
X, y = sklearn.datasets.make_moons(n_samples=10, random_state=0)   # first use imports for real
assert X.shape == (10, 2) and "sklearn.datasets" in sys.modules
fig = plt.figure()
assert tuple(fig.get_size_inches()) == (7.0, 4.0), fig.get_size_inches()   # rcParams replayed
print("ok")
"""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def _grade(tmp_path, name, **kwargs):
    path = write_original(tmp_path / name / f"{A}.ipynb", **kwargs)
    return grade_submission(path, A, name, course_dir=REPO)


def test_original_notebook_is_graded_on_the_original_set(tmp_path):
    r = _grade(tmp_path, "perfect")
    assert r.gradable and r.score == r.max_score == 75.0, (r.score, r.max_score)
    assert list(r.functions) == [f for f in r.functions if f in ORIGINAL_SETS[A]]
    assert set(r.functions) == set(ORIGINAL_SETS[A])
    assert not [c for c in r.checks if c.function in NOT_IN_ORIGINAL]      # no mastery evidence either
    assert set(r.grade_cells) == {f"test_{f}" for f in ORIGINAL_SETS[A]}
    skipped = [e for e in r.cell_errors if e["status"] == "import_skipped"]
    assert {e["evalue"].split("'")[1] for e in skipped} == {"opt_utils_v1a", "testCases", "public_tests"}


def test_the_error_behind_a_missing_function_is_shown(tmp_path):
    nb = original_notebook(overrides={"update_lr": INDENTATION_ERROR})
    path = tmp_path / "indent" / f"{A}.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(nb))
    r = grade_submission(path, A, "indent", course_dir=REPO)
    assert r.functions["update_lr"]["score"] == 0 and r.score == 70.0 and r.max_score == 75.0
    from autograder.function_sets import defining_cell
    text = feedback_text(r, "update_lr", defining_cell(nb["cells"], "update_lr"))
    assert "not defined" in text and "IndentationError: unexpected indent" in text


def test_dropping_a_header_does_not_drop_the_exercise(tmp_path):
    """The original's set is fixed per assignment: a learner who deletes a failing function and its
    header is still graded on it (zero), not on a smaller set."""
    nb = original_notebook()
    nb["cells"] = [c for c in nb["cells"] if "GRADED FUNCTION: update_parameters_with_adam" not in c["source"]]
    path = tmp_path / "nohead" / f"{A}.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(nb))
    r = grade_submission(path, A, "nohead", course_dir=REPO)
    assert r.max_score == 75.0 and r.functions["update_parameters_with_adam"]["score"] == 0


def test_grading_cost_of_an_original_notebook_is_at_most_twice_ours(tmp_path):
    """Median of 3 interleaved runs each (the heavy first cell would cost ~2 s without the rewrite)."""
    orig = write_original(tmp_path / "o" / f"{A}.ipynb")
    ours = REPO / "source" / A / f"{A}.ipynb"
    grade_submission(ours, A, "warm", course_dir=REPO)
    t_orig, t_ours = [], []
    for _ in range(3):
        for path, times in ((orig, t_orig), (ours, t_ours)):
            t0 = time.perf_counter()
            grade_submission(path, A, "timing", course_dir=REPO)
            times.append(time.perf_counter() - t0)
    med = lambda xs: sorted(xs)[1]  # noqa: E731
    print(f"original {med(t_orig):.3f} s, ours {med(t_ours):.3f} s")
    assert med(t_orig) <= 2 * med(t_ours), (t_orig, t_ours)


# ------------------------------------------------------------------------------------- both paths
def _nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": TESTS_DIR, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)


def _scores(root: Path) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student_id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades}
                for s in gb.assignment_submissions(A)}


def _dg(root: Path) -> dict:
    from autograder.gradebook import ResultStore
    with ResultStore(f"sqlite:///{root / 'gradebook.db'}") as store:
        return {r.student: (r.score, r.max_score) for r in store.results()}


@pytest.fixture(scope="module")
def optimization_course(tmp_path_factory) -> Path:
    from autograder.course.build import build_course
    from autograder.course.release import release_course
    root = tmp_path_factory.mktemp("orig") / "course"
    build_course(root, [A])
    release_course(root, [A])
    return root


@pytest.mark.slow
def test_both_paths_grade_original_notebooks_alike(optimization_course, tmp_path):
    from autograder.runner import grade_class
    course = tmp_path / "course"
    shutil.copytree(optimization_course, course)
    write_original(course / "submitted" / "orig" / A / f"{A}.ipynb")
    write_original(course / "submitted" / "indent" / A / f"{A}.ipynb", overrides={"update_lr": INDENTATION_ERROR})
    ours = course / "submitted" / "ours" / A
    ours.mkdir(parents=True)
    shutil.copy(course / "source" / A / f"{A}.ipynb", ours)
    runner_copy = tmp_path / "runner-copy"
    shutil.copytree(course, runner_copy)

    proc = _nbgrader(course, "autograde", A)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "grade ids this release does not know" in proc.stderr
    summary = grade_class(runner_copy, A, workers=2, progress=False)
    assert summary.ungradable == 0 and not summary.record_errors and not summary.not_graded

    assert _scores(course) == _scores(runner_copy)
    assert _dg(course) == _dg(runner_copy) == {"orig": (75.0, 75.0), "indent": (70.0, 75.0), "ours": (100.0, 100.0)}
    orig_cells = _scores(course)["orig"]
    assert all(orig_cells[f"test_{f}"] is None for f in NOT_IN_ORIGINAL)   # not the learner's: left to a human
    assert sum(v for v in orig_cells.values() if v is not None) == 75.0

    # feedback: after each graded function's cell, the cell error shown, the submitted outputs kept
    for root in (course, runner_copy):
        nb = json.loads((root / "autograded" / "indent" / A / f"{A}.ipynb").read_text())
        cells = nb["cells"]
        for f in ORIGINAL_SETS[A]:
            at = next(i for i, c in enumerate(cells) if f"# GRADED FUNCTION: {f}" in "".join(c["source"]))
            after = cells[at + 1]
            assert FEEDBACK_TAG in after["metadata"]["tags"], f
            text = "".join(after["outputs"][0]["text"])
            assert text.startswith(f"{f}: "), text
        lr = next(c for c in cells if c["metadata"].get("deepgrade", {}).get("feedback") == "update_lr")
        assert "IndentationError" in "".join(lr["outputs"][0]["text"])
        kept = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])
                if o.get("metadata", {}).get("deepgrade", {}).get("submitted")]
        assert any("image/png" in o["data"] for o in kept) and any("Accuracy" in "".join(o["data"].get("text/plain", ""))
                                                                 for o in kept)
        proc = _nbgrader(root, "generate_feedback", A)
        assert proc.returncode == 0, proc.stderr[-3000:]
        html = (root / "feedback" / "indent" / A / f"{A}.html").read_text()
        assert "IndentationError" in html and "update_parameters_with_gd: 10 / 10 points" in html

    # nbgrader autograde --force after deepgrade grade: nothing the runner wrote is lost
    before = _scores(runner_copy), _dg(runner_copy)
    proc = _nbgrader(runner_copy, "autograde", A, "--force")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (_scores(runner_copy), _dg(runner_copy)) == before
    for student in ("orig", "indent", "ours"):
        assert (runner_copy / "autograded" / student / A / "results.json").is_file()


@pytest.mark.slow
def test_instructor_pins_the_original_set_and_the_release_follows(tmp_path):
    """``c.DeepgradeGrade.function_sets = {"optimization": "original"}``: `deepgrade build` makes the
    other exercises optional, the gradebook's total is the original's, and every notebook — ours or
    the original's — is graded on those 8 functions."""
    from autograder.course.build import build_course, ensure_config
    from autograder.course.release import release_course
    from autograder.runner import grade_class
    root = tmp_path / "pinned"
    ensure_config(root)
    with (root / "nbgrader_config.py").open("a") as fh:
        fh.write('\nc.DeepgradeGrade.function_sets = {"optimization": "original"}\n')
    build_course(root, [A], data=False)
    release_course(root, [A])
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_assignment(A).max_score == 75.0
    write_original(root / "submitted" / "orig" / A / f"{A}.ipynb")
    ours = root / "submitted" / "ours" / A
    ours.mkdir(parents=True)
    shutil.copy(root / "source" / A / f"{A}.ipynb", ours)
    summary = grade_class(root, A, workers=1, progress=False)
    assert not summary.record_errors and summary.ungradable == 0
    assert _dg(root) == {"orig": (75.0, 75.0), "ours": (75.0, 75.0)}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert {s.student_id: (s.score, s.max_score) for s in gb.assignment_submissions(A)} == \
            {"orig": (75.0, 75.0), "ours": (75.0, 75.0)}


@pytest.mark.slow
def test_an_instructor_reusing_original_material(tmp_path):
    """The course's own notebook is in the original format (cell-<hex> grade cells): the gradebook knows
    those cells, and both paths record each function's score in the grade cell after its header."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from autograder.runner import grade_class
    from gradingcourse import CONFIG_HEAD
    root = tmp_path / "reuse"
    source = original_notebook(outputs=False)
    source["cells"][0]["metadata"].pop("nbgrader")          # the instructor's own copy is valid nbgrader
    (root / "source" / A).mkdir(parents=True)
    (root / "source" / A / f"{A}.ipynb").write_text(json.dumps(source))
    (root / "nbgrader_config.py").write_text(
        CONFIG_HEAD + "from autograder.nbgrader_plugin import configure_autograde\nconfigure_autograde(c)\n")
    cfg = Config()
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    assert NbGraderAPI(config=cfg).generate_assignment(A)["success"]
    write_original(root / "submitted" / "ada" / A / f"{A}.ipynb")
    write_original(root / "submitted" / "bo" / A / f"{A}.ipynb", overrides={"update_lr": INDENTATION_ERROR})
    runner_copy = tmp_path / "runner-copy"
    shutil.copytree(root, runner_copy)
    proc = _nbgrader(root, "autograde", A)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "grade ids this release does not know" not in proc.stderr
    summary = grade_class(runner_copy, A, workers=1, progress=False)
    assert not summary.record_errors and summary.ungradable == 0
    assert _scores(root) == _scores(runner_copy)
    assert _dg(root) == {"ada": (80.0, 80.0), "bo": (70.0, 80.0)}
    from original_course import cell_id
    assert _scores(root)["bo"][cell_id(A, "update_lr", "test")] == 0.0
    assert sum(_scores(root)["ada"].values()) == 80.0


def test_only_course_helper_modules_are_skipped():
    """A missing module that is not one of the original course's helpers still fails its cell (as on
    the learner's machine): the red-team case ``missing_package`` keeps losing that function's points."""
    from autograder.imports import prepare_imports
    from autograder.notebook import CodeCell
    src = ("import not_a_real_package_for_deepgrade\nfrom reg_utils import relu\nimport testCases_v4a\n"
           "from public_tests import *\nimport numpy as np\n")
    prepared = prepare_imports([CodeCell(index=0, source=src)], None)
    lines = prepared.cells[0].source.splitlines()
    assert lines == ["import not_a_real_package_for_deepgrade", "pass", "pass", "pass", "import numpy as np"]
    assert len(prepared.notes) == 3 and not prepared.lazy
