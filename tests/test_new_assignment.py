"""Issue 16, part 1: an assignment is one unit, found, not listed.

In a temporary course an instructor adds a new assignment by adding files only — its declaration,
reference functions, hidden checks, mistakes and a hand-written source notebook — and the real
`deepgrade` commands build, release, grade (sandboxed) and export it. The repository is not touched.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reference import catalog

BIN = Path(sys.executable).parent
NAME = "hello"

DECLARATION = """\
name = "hello"
title = "Hello, normalization"
runtime = "numpy"
order = 50
due_day = 25
reference = "reference.py"
checks = "checks.py"
mistakes = "mistakes.py"
data = "reference.py:write_data"

[graded]
feature_std = 3
normalize_inputs = 5

[helpers]
feature_mean = "reference.py:feature_mean"
"""

REFERENCE = '''\
"""Reference of the hello assignment (trusted: never released)."""
import h5py
import numpy as np


def feature_mean(X):
    """Mean of each feature over the examples. X: (n_x, m) -> (n_x, 1)."""
    return np.mean(X, axis=1, keepdims=True)


def feature_std(X):
    """Standard deviation of each feature over the examples. X: (n_x, m) -> (n_x, 1)."""
    return np.sqrt(np.mean((X - feature_mean(X)) ** 2, axis=1, keepdims=True))


def normalize_inputs(X):
    """Zero mean, unit variance per feature. X: (n_x, m) -> (n_x, m)."""
    return (X - feature_mean(X)) / feature_std(X)


def write_data(path):
    """A small data file learners load: X (3, 40)."""
    with h5py.File(path, "w") as f:
        f["X"] = np.random.default_rng(7).normal(5.0, 3.0, (3, 40))
'''

CHECKS = '''\
"""Hidden checks of the hello assignment (trusted: never released, never in the sandbox)."""
import numpy as np

from autograder.checks.framework import call_with, suite_for_module

S = suite_for_module(__name__)
CONCEPTS = ["input_normalization"]
SHOWN = np.array([[1.0, 2.0, 3.0, 6.0], [10.0, 20.0, 60.0, 30.0]])


def _random(rng):
    return call_with(rng.normal(rng.uniform(-5, 5), rng.uniform(0.5, 4), (int(rng.integers(2, 6)),
                                                                           int(rng.integers(5, 30)))))


S.standard("feature_std", concepts=CONCEPTS, fixed=lambda: call_with(SHOWN), random=_random,
           failure="take the square root of the mean squared distance to each feature's mean (axis=1)")
S.standard("normalize_inputs", concepts=CONCEPTS, fixed=lambda: call_with(SHOWN), random=_random,
           failure="subtract feature_mean(X), then divide by feature_std(X)")
'''

SOURCE_CELLS = [
    ("markdown", "# Hello, normalization\n\nScale every feature to zero mean and unit variance.", None),
    ("code", "import numpy as np\nfrom hello_utils import *", None),
    ("code", "def feature_std(X):\n    ### BEGIN SOLUTION\n"
             "    return np.sqrt(np.mean((X - feature_mean(X)) ** 2, axis=1, keepdims=True))\n"
             "    ### END SOLUTION", ("ex_feature_std", True, False, None)),
    ("code", "assert feature_std(np.array([[1.0, 3.0]])).shape == (1, 1)", ("test_feature_std", False, True, 3)),
    ("code", "def normalize_inputs(X):\n    ### BEGIN SOLUTION\n"
             "    return (X - feature_mean(X)) / feature_std(X)\n    ### END SOLUTION",
     ("ex_normalize_inputs", True, False, None)),
    ("code", "assert normalize_inputs(np.array([[1.0, 3.0]])).shape == (1, 2)",
     ("test_normalize_inputs", False, True, 5)),
]

MISTAKES = '''\
"""Known mistakes of the hello assignment: the spread over the wrong axis."""
import numpy as np

from reference import catalog
from reference.mistakes._base import Catalogue


def _std_across_features(X):
    return np.std(X, axis=0, keepdims=True) * np.ones((X.shape[0], 1))


def _inputs(seed):
    return (np.random.default_rng(seed).normal(2.0, 3.0, (3, 4)),), {}


cat = Catalogue("hello", catalog.get("hello").graded_functions())
cat.add("feature_std", "wrong_axis", concept="input_normalization", impl=_std_across_features,
        description="takes the spread across features (axis 0) instead of over the examples",
        hint="feature_std: the spread is taken across features (axis 0); take it over the examples "
             "(axis=1, keepdims=True)", example_inputs=_inputs, trigger="a 3 x 4 input")
MISTAKES = cat.mistakes
'''


def _notebook() -> dict:
    cells = []
    for i, (kind, source, nbg) in enumerate(SOURCE_CELLS):
        cell = {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        if nbg:
            gid, solution, grade, points = nbg
            cell["metadata"]["nbgrader"] = {"grade_id": gid, "solution": solution, "grade": grade,
                                            "locked": grade, "schema_version": 3,
                                            **({"points": points} if points else {})}
        cells.append(cell)
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}}


def add_assignment(course: Path) -> None:
    """What an instructor writes: files in two folders of the course, nothing else."""
    own = course / "assignments" / NAME
    own.mkdir(parents=True)
    (own / "assignment.toml").write_text(DECLARATION)
    (own / "reference.py").write_text(REFERENCE)
    (own / "checks.py").write_text(CHECKS)
    (own / "mistakes.py").write_text(MISTAKES)
    src = course / "source" / NAME
    src.mkdir(parents=True)
    (src / f"{NAME}.ipynb").write_text(json.dumps(_notebook(), indent=1))


def deepgrade(course: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / "deepgrade"), *args, "--course", str(course)], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"deepgrade {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def submit(course: Path, student: str, feature_std_body: str) -> None:
    nb = json.loads((course / "release" / NAME / f"{NAME}.ipynb").read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "ex_feature_std":
            cell["source"] = f"def feature_std(X):\n    {feature_std_body}\n"
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "ex_normalize_inputs":
            cell["source"] = "def normalize_inputs(X):\n    return (X - feature_mean(X)) / feature_std(X)\n"
    folder = course / "submitted" / student / NAME
    folder.mkdir(parents=True)
    (folder / f"{NAME}.ipynb").write_text(json.dumps(nb))
    (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")


@pytest.mark.slow
def test_a_new_assignment_is_added_with_its_own_files_only(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    before = sorted(p.relative_to(repo) for d in ("reference", "autograder", "quizzes", "source")
                    for p in (repo / d).rglob("*") if "__pycache__" not in p.parts)
    course = tmp_path / "course"
    course.mkdir()
    add_assignment(course)

    out = deepgrade(course, "build", "-a", NAME).stdout
    assert f"{NAME}: 2 graded functions, 8 points" in out, out
    built = course / "source" / NAME
    utils = (built / f"{NAME}_utils.py").read_text()
    assert "def feature_mean(X):" in utils and "def feature_std" not in utils    # helper given, answer not
    assert (built / f"{NAME}_data.h5").is_file()

    deepgrade(course, "release", NAME)
    released = course / "release" / NAME
    names = {p.name for p in released.rglob("*")}
    assert {f"{NAME}.ipynb", f"{NAME}_utils.py", f"{NAME}_data.h5"} <= names
    assert not names & {"assignment.toml", "reference.py", "checks.py", "mistakes.py"}
    text = "".join(p.read_text(errors="replace") for p in released.rglob("*") if p.suffix in (".py", ".ipynb"))
    assert "np.sqrt(np.mean((X - feature_mean(X)) ** 2" not in text          # the solution region is gone
    assert "suite_for_module" not in text and "wrong_axis" not in text

    submit(course, "ada", "return np.sqrt(np.mean((X - feature_mean(X)) ** 2, axis=1, keepdims=True))")
    submit(course, "bob", "return np.std(X, axis=0, keepdims=True) * np.ones((X.shape[0], 1))")
    # carl's code scores only if the trusted reference file can be read from inside the sandbox
    secret = course / "assignments" / NAME / "reference.py"
    submit(course, "carl", f"try:\n        open({str(secret)!r}).read()\n    except OSError:\n"
                           f"        return np.zeros((X.shape[0], 1))\n"
                           f"    return np.sqrt(np.mean((X - feature_mean(X)) ** 2, axis=1, keepdims=True))")
    deepgrade(course, "grade", NAME, "--no-progress", "-j", "1", timeout=600)
    deepgrade(course, "export", NAME)
    rows = {r["student"]: r for r in csv.DictReader((course / "exports" / f"{NAME}.csv").open())}
    assert set(rows) == {"ada", "bob", "carl"}, rows
    score = {s: float(r["score"]) for s, r in rows.items()}
    max_score = {s: float(r["max_score"]) for s, r in rows.items()}
    assert max_score == {"ada": 8.0, "bob": 8.0, "carl": 8.0} and score["ada"] == 8.0, rows
    assert {s: (r["feature_std"], r["normalize_inputs"]) for s, r in rows.items()} == {"ada": ("3", "5"),
                                                                                       "bob": ("0", "0"),
                                                                                       "carl": ("0", "0")}
    feedback = {p.parts[-3]: json.loads(p.read_text()) for p in (course / "autograded").rglob("results.json")}
    assert all(t["score"] == t["max_score"] for t in feedback["ada"]["tests"])
    assert any("spread is taken across features" in t["output"] for t in feedback["bob"]["tests"])  # its mistake
    mastery = {(r["student"], r["concept"]): r for r in csv.DictReader((course / "exports" / "mastery.csv").open())}
    assert int(mastery["ada", "input_normalization"]["n_obs"]) > 0       # evidence from the new checks
    assert float(mastery["ada", "input_normalization"]["p_mastery"]) > float(
        mastery["bob", "input_normalization"]["p_mastery"])
    after = sorted(p.relative_to(repo) for d in ("reference", "autograder", "quizzes", "source")
                   for p in (repo / d).rglob("*") if "__pycache__" not in p.parts)
    assert after == before, "adding an assignment to a course must not write into the package"


def test_a_broken_declaration_names_its_file_and_field(tmp_path):
    own = tmp_path / "assignments" / "broken"
    own.mkdir(parents=True)
    decl = own / "assignment.toml"
    for text, field in [('runtime = "python"\n', "runtime"),
                        ('runtime = "numpy"\nreference = "r.py"\nchecks = "c.py"\n', "[graded]"),
                        ('runtime = "numpy"\nreference = "r.py"\nchecks = "c.py"\n[graded]\nf = -1\n', "positive"),
                        ('runtime = "numpy"\nname = "other"\n', "name"),
                        ('runtime = "numpy"\ncolour = "red"\n', "unknown field"),
                        ('runtime = "numpy"\nreference = "r.py"\nchecks = "c.py"\n[graded]\nf = 1\n'
                         '[helpers]\nf = "r.py:f"\n', "give"),
                        ("runtime = [\n", "cannot read")]:
        decl.write_text(text)
        with pytest.raises(catalog.DeclarationError, match=r"assignments/broken/assignment\.toml") as exc:
            catalog.load_declaration(decl)
        assert field in str(exc.value), (text, str(exc.value))


def test_the_course_assignments_are_found_and_branch_on_their_runtime():
    found = catalog.declared()
    assert list(found)[:6] == ["initialization", "regularization", "gradient_checking", "optimization",
                               "batchnorm", "tensorflow"]
    assert {n for n, d in found.items() if d.runtime == "tensorflow"} == {"tensorflow"}
    from quizzes.schema import WEEKS
    assert {n for n, d in found.items() if d.runtime == "quiz"} == {f"quiz_week{w}" for w in WEEKS}
    for name, decl in found.items():            # every declared module exists and defines what is graded
        if decl.runtime != "quiz":
            assert list(decl.graded_functions()) == list(decl.graded), name
            assert decl.module("checks") is not None and decl.module("mistakes") is not None, name


def test_a_course_cannot_redeclare_one_of_the_course_assignments(tmp_path):
    own = tmp_path / "assignments" / "optimization"
    own.mkdir(parents=True)
    (own / "assignment.toml").write_text('runtime = "quiz"\n')
    with pytest.raises(catalog.DeclarationError, match="already name"):
        catalog.course_declarations(tmp_path)
    shutil.rmtree(own)
    assert catalog.course_declarations(tmp_path) == {}


def test_the_platform_branches_on_the_declared_runtime_not_the_name(tmp_path):
    from autograder import engine

    own = tmp_path / "assignments" / "keras_intro"
    own.mkdir(parents=True)
    (own / "assignment.toml").write_text(DECLARATION.replace('name = "hello"', 'name = "keras_intro"')
                                         .replace('runtime = "numpy"', 'runtime = "tensorflow"'))
    for name, text in (("reference.py", REFERENCE), ("checks.py", CHECKS),
                       ("mistakes.py", MISTAKES.replace('"hello"', '"keras_intro"'))):
        (own / name).write_text(text)
    try:
        assert catalog.runtime_of("keras_intro", tmp_path) == "tensorflow"
        assert "import tensorflow as tf" in engine.preamble("keras_intro", None, tmp_path)
        assert "import tensorflow as tf" not in engine.preamble("optimization", None, tmp_path)
        suite = engine.load_suite("keras_intro", "ada", tmp_path)
        assert suite.assignment == "keras_intro" and suite.functions == ["feature_std", "normalize_inputs"]
        assert {s.name for s in suite.checks if s.gated} != set()     # results record them (schema 2)
        from reference.mistakes import mistakes_for
        assert [m.id for m in mistakes_for("keras_intro", "feature_std")] == ["feature_std.wrong_axis"]
    finally:
        (tmp_path / "empty").mkdir()
        catalog.course_declarations(tmp_path / "empty")       # forget the temporary course
    with pytest.raises(KeyError, match="unknown assignment 'keras_intro'"):
        catalog.get("keras_intro", tmp_path / "empty")


def test_a_declared_module_that_does_not_exist_is_named_with_its_declaration(tmp_path):
    decl = tmp_path / "assignments" / "ghost" / "assignment.toml"
    decl.parent.mkdir(parents=True)
    decl.write_text('runtime = "numpy"\nreference = "reference.no_such_module"\nchecks = "gone.py"\n[graded]\nf = 1\n')
    loaded = catalog.load_declaration(decl)
    with pytest.raises(catalog.DeclarationError, match=r"ghost/assignment\.toml: module 'reference.no_such_module'"):
        loaded.graded_functions()
    with pytest.raises(catalog.DeclarationError, match=r"ghost/assignment\.toml: 'gone.py' does not exist"):
        loaded.module("checks")
