"""The week-1 source notebooks run, validate, release without solutions, and pass with them pasted back.

These execute notebooks (the slow part of CI): each runs once top to bottom with nbclient, once under
``nbgrader validate``; the released copies run without their experiment cells.
"""
from __future__ import annotations

import ast
import inspect
import json
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.course import build as B
from autograder.course.nbbuild import SKIP_TAG
from course_fixtures import ASSIGNMENTS, built_course, nbgrader, released_course  # noqa: F401

pytestmark = pytest.mark.slow

#: budget for one notebook top to bottom on a 2-core CI machine (the target is well under it)
MAX_SECONDS = 30


def _execute(nb: nbformat.NotebookNode, folder: Path, timeout: int = 120) -> float:
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", shutdown_kernel="immediate",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return time.perf_counter() - start


def _errors(nb) -> list[str]:
    return [f"{c.get('id')}: {o['ename']}: {o['evalue']}" for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o["output_type"] == "error"]


def _is_solution(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def _body_lines(func) -> list[str]:
    """Stripped statement lines of ``func``'s body (docstring and comments excluded)."""
    src = textwrap.dedent(inspect.getsource(func))
    fn = ast.parse(src).body[0]
    body = fn.body[1:] if (isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant)) \
        else fn.body
    lines = src.splitlines()
    out = []
    for stmt in body:
        for line in lines[stmt.lineno - 1:stmt.end_lineno]:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_executes_without_errors(built_course, assignment):
    path = built_course.source_nb(assignment)
    nb = nbformat.read(path, as_version=4)
    seconds = _execute(nb, path.parent)
    assert _errors(nb) == []
    passed = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    for cell in passed:
        text = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
        assert "All visible checks passed." in text, cell.id
    images = sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    if assignment != "gradient_checking":            # data plot + one figure per experiment
        assert images >= 4, f"{assignment}: only {images} figures"
    assert seconds < MAX_SECONDS, f"{assignment} took {seconds:.1f} s"
    print(f"{assignment}: executed in {seconds:.1f} s")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_validate_passes(built_course, assignment):
    proc = nbgrader(built_course.root, "validate", str(built_course.source_nb(assignment)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_code(released_course, assignment):
    """No statement line that only a graded function's body has (not also in a given cell or helper)
    survives into the released notebook or any released file."""
    folder = released_course.release_dir(assignment)
    texts = [p.read_text(encoding="utf-8") for p in folder.glob("*.py")]
    texts += ["".join(c["source"]) for p in folder.glob("*.ipynb")
              for c in json.loads(p.read_text(encoding="utf-8"))["cells"]]
    assert len(texts) >= 4
    released_lines = {line.strip() for text in texts for line in text.splitlines()}
    nb = B.build_notebook(assignment)
    given = "\n".join(c["source"] for c in nb.cells if not _is_solution(c))
    given += "\n" + B.helpers_source(assignment, nb)
    given_lines = {line.strip() for line in given.splitlines()}
    checked = 0
    exercises = B.solution_functions(assignment)
    for fname, func in exercises.items():
        secret = [line for line in _body_lines(func) if line not in given_lines and len(line) > 8]
        assert secret, f"{fname}: nothing to check"
        checked += len(secret)
        leaked = [line for line in secret if line in released_lines]
        assert not leaked, f"{fname}: solution lines in the release: {leaked}"
    assert checked >= 2 * len(exercises)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_solution_cells_raise_not_implemented(released_course, assignment):
    nb = released_course.released_nb(assignment)
    folder = released_course.release_dir(assignment)
    solutions = [c for c in nb["cells"] if _is_solution(c)]
    assert len(solutions) == len(B.graded_names(assignment))
    sys.path.insert(0, str(folder))
    try:
        ns: dict = {}
        exec(f"import numpy as np\nfrom {assignment}_utils import *", ns)
        for cell in solutions:
            src = "".join(cell["source"])
            assert "### BEGIN SOLUTION" not in src and "raise NotImplementedError()" in src
            defined = [n.name for n in ast.parse(src).body if isinstance(n, ast.FunctionDef)]
            assert len(defined) == 1
            exec(src, ns)
            func = ns[defined[0]]
            assert func.__doc__, "the docstring stays visible"
            required = [p for p in inspect.signature(func).parameters.values() if p.default is p.empty]
            with pytest.raises(NotImplementedError):
                func(*[None] * len(required))
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m.endswith("_utils") or m in ("dg_datasets", "dg_plotting")]:
            del sys.modules[name]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_with_solutions_pasted_back_passes_visible_checks(released_course, assignment):
    released = released_course.released_nb(assignment)
    source = nbformat.read(released_course.source_nb(assignment), as_version=4)
    solution_by_id = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if _is_solution(c)}
    nb = nbformat.reads(json.dumps(released), as_version=4)
    cells = []
    for cell in nb.cells:
        if SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            continue                          # the experiments: not needed to check the solutions
        if _is_solution(cell):
            cell.source = solution_by_id[cell.metadata["nbgrader"]["grade_id"]]
        cells.append(cell)
    nb.cells = cells
    _execute(nb, released_course.release_dir(assignment))
    assert _errors(nb) == []
    graded = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert len(graded) == len(B.graded_names(assignment))
    for cell in graded:
        text = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
        assert "All visible checks passed." in text, cell.id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_without_solutions_fails_every_visible_check(released_course, assignment):
    """The visible checks can fail: on the released (unsolved) notebook each one raises."""
    nb = nbformat.reads(json.dumps(released_course.released_nb(assignment)), as_version=4)
    nb.cells = [c for c in nb.cells if SKIP_TAG not in c.get("metadata", {}).get("tags", [])]
    NotebookClient(nb, timeout=120, kernel_name="python3", shutdown_kernel="immediate", allow_errors=True,
                   resources={"metadata": {"path": str(released_course.release_dir(assignment))}}).execute()
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            errors = [o for o in cell.outputs if o["output_type"] == "error"]
            assert errors and errors[0]["ename"] == "NotImplementedError", cell.id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_cells_the_grader_runs_need_no_data(built_course, tmp_path, assignment):
    """What the engine executes (all code cells but deepgrade-skip and visible tests), with the
    solutions in place, runs without the .h5 data and defines every graded function."""
    import shutil
    folder = tmp_path / assignment
    shutil.copytree(built_course.source_nb(assignment).parent, folder, ignore=shutil.ignore_patterns("*.h5"))
    nb = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
    run = [c for c in nb.cells if c.cell_type == "code" and SKIP_TAG not in c.metadata.get("tags", [])
           and not c.metadata.get("nbgrader", {}).get("grade")]
    sys.path.insert(0, str(folder))
    try:
        ns: dict = {}
        for cell in run:
            exec(cell.source, ns)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m.endswith("_utils") or m in ("dg_datasets", "dg_plotting")]:
            del sys.modules[name]
    assert set(B.graded_names(assignment)) <= {k for k, v in ns.items() if callable(v)}
