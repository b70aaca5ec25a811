"""Run the hidden checks under plain pytest.

    pytest autograder/checks/test_regularization.py --submission path/to/regularization.ipynb
    pytest autograder/checks/test_regularization.py --reference          # in-process reference

``--submission`` grades the notebook in a real sandboxed session (student files from
``--course-dir``'s release/<a>/ or source/<a>/); ``--reference`` uses the in-process reference
student. Each registered check becomes one test (``test_check[<check name>]``).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder.checks.adapters import InProcessStudent
from autograder.checks.framework import suite_for_module
from autograder.engine import open_student, select_cells, stable_seed, submitted_code
from autograder.notebook import UngradableNotebook, read_submission


def pytest_addoption(parser):
    group = parser.getgroup("deepgrade", "deepgrade hidden checks")
    group.addoption("--submission", default=None, help="student notebook (.ipynb) to check")
    group.addoption("--reference", action="store_true", help="check the trusted reference in-process")
    group.addoption("--course-dir", default=".", help="course folder holding source/ (and release/)")
    group.addoption("--seed", type=int, default=None, help="seed of the randomized inputs")
    group.addoption("--student-id", default="pytest", help="student id (sets the default seed)")


def pytest_generate_tests(metafunc):
    if "check_spec" in metafunc.fixturenames:
        suite = suite_for_module(metafunc.module.__name__)
        metafunc.parametrize("check_spec", suite.checks, ids=[c.name for c in suite.checks])


def _assignment(module) -> str:
    return suite_for_module(module.__name__).assignment


@pytest.fixture(scope="module")
def deepgrade_seed(request) -> int:
    """--seed, else the engine's seed: from the student id and, with --submission, the notebook's code."""
    seed = request.config.getoption("--seed")
    if seed is not None:
        return seed
    code, path = None, request.config.getoption("--submission")
    if path:
        try:
            code = submitted_code(read_submission(Path(path)).cells)
        except UngradableNotebook:
            code = None
    return stable_seed(_assignment(request.module), request.config.getoption("--student-id"), code)


@pytest.fixture(scope="module")
def student(request):
    """The student under test: a sandboxed notebook session or the in-process reference."""
    assignment = _assignment(request.module)
    config = request.config
    if config.getoption("--reference"):
        yield InProcessStudent(assignment)
        return
    path = config.getoption("--submission")
    if not path:
        pytest.exit("give --submission NOTEBOOK.ipynb or --reference", returncode=4)
    try:
        parsed = read_submission(Path(path))
    except UngradableNotebook as exc:
        pytest.fail(f"the notebook cannot be graded: {exc.reason}", pytrace=False)
    s, report = open_student(select_cells(parsed.cells), assignment, config.getoption("--course-dir"))
    try:
        yield s
    finally:
        s.close()
