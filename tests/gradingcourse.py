"""Test helpers for the grading plumbing (gradebook, runner, nbgrader plugin, exports).

* :func:`make_course` builds a tiny released nbgrader course in a temp folder: one assignment ``tiny``
  with two graded functions (``add`` worth 2 points, ``mul`` worth 3), released with nbgrader's own
  ``generate_assignment`` so the gradebook holds the real structure.
* :func:`submit` writes a student's submission (solution cell bodies chosen per function).
* :func:`fake_grade` is a deterministic stand-in with the engine's signature, used to test the plumbing
  independently of the sandbox: a solution containing ``raise NotImplementedError`` scores 0, one
  containing ``# half`` half the points, ``# crash-engine`` makes the grade function raise,
  ``# slow`` sleeps, ``# die-once`` kills the
  grading process the first time (``# die-always``: every time), ``# infra-fail``/``# infra-once`` raise engine.GradingError always/once; ``# long-message`` makes
  the check message ~2,000 characters long; an unreadable notebook is ungradable. Tests of the real engine live elsewhere.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from autograder.result import CheckResult, SubmissionResult, file_checksum

ASSIGNMENT = "tiny"
POINTS = {"add": 2.0, "mul": 3.0}
SOLUTIONS = {"add": "    return a + b", "mul": "    return a * b"}


def _cell(cell_type, source, nbgrader=None, **extra):
    cell = {"cell_type": cell_type, "metadata": {}, "source": source, "id": extra.pop("id")}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, **nbgrader}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def source_notebook() -> dict:
    cells = [_cell("markdown", "# Tiny assignment", id="intro"),
             _cell("code", "import math", id="setup")]
    for fn, pts in POINTS.items():
        cells.append(_cell("code", f"def {fn}(a, b):\n    ### BEGIN SOLUTION\n{SOLUTIONS[fn]}\n    ### END SOLUTION",
                           {"solution": True, "grade": False, "locked": False, "grade_id": f"ex_{fn}"},
                           id=f"ex-{fn}"))
        cells.append(_cell("code", f"assert {fn}(2, 2) == 4\n### BEGIN HIDDEN TESTS\n"
                                   f"assert {fn}(0, 0) == 0  # SECRET-HIDDEN-{fn}\n### END HIDDEN TESTS",
                           {"solution": False, "grade": True, "locked": True, "grade_id": f"test_{fn}",
                            "points": pts}, id=f"test-{fn}"))
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"},
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


CONFIG_HEAD = '''import os
c = get_config()
_here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = _here
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_here, "gradebook.db")
c.Exchange.root = os.path.join(_here, "exchange")
'''


def make_course(root: Path, *, engine: str = "gradingcourse:fake_grade") -> Path:
    """A released tiny course at ``root``; its nbgrader_config.py uses our autograde pipeline with
    ``engine`` (import path) as the grade function."""
    root = Path(root)
    src = root / "source" / ASSIGNMENT
    src.mkdir(parents=True)
    (src / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(source_notebook(), indent=1))
    (root / "nbgrader_config.py").write_text(
        CONFIG_HEAD
        + "from autograder.nbgrader_plugin import configure_autograde\n"
        + f"configure_autograde(c, engine={engine!r})\n")
    # nbgrader runs the `alembic` executable of its environment to stamp a new gradebook
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    cfg = Config()
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    cfg.Exchange.root = str(root / "exchange")
    result = NbGraderAPI(config=cfg).generate_assignment(ASSIGNMENT)
    assert result["success"], result.get("log")
    return root


def submit(root: Path, student: str, bodies: dict[str, str] | None = None, *, raw: str | None = None) -> Path:
    """Write ``submitted/<student>/tiny/tiny.ipynb`` from the released notebook with the given solution
    bodies (default: correct); ``raw`` writes those bytes instead (a broken file)."""
    root = Path(root)
    dest = root / "submitted" / student / ASSIGNMENT
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{ASSIGNMENT}.ipynb"
    if raw is not None:
        path.write_text(raw)
        return path
    nb = json.loads((root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    bodies = {**SOLUTIONS, **(bodies or {})}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if gid.startswith("ex_"):
            fn = gid[3:]
            cell["source"] = f"def {fn}(a, b):\n{bodies[fn]}\n"
    path.write_text(json.dumps(nb, indent=1))
    (dest / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    return path


def fake_grade(notebook_path, assignment, student, *, course_dir, seed=None, policy=None) -> SubmissionResult:
    """Deterministic engine stand-in (same signature as autograder.engine.grade_submission)."""
    path = Path(notebook_path)
    base = dict(assignment=assignment, student=student, notebook=path.name, checksum=file_checksum(path),
                seed=seed, max_score=sum(POINTS.values()), sandbox_mode="fake")
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return SubmissionResult(gradable=False, ungradable_reason=f"{path.name} is not a valid notebook: {exc}",
                                **base)
    def grade_id(cell):
        meta = cell.get("metadata", {}).get("nbgrader")
        return str(meta.get("grade_id", "")) if isinstance(meta, dict) else ""
    sources = {grade_id(c)[3:]: "".join(c["source"]) for c in nb["cells"] if grade_id(c).startswith("ex_")}
    if any("# crash-engine" in s for s in sources.values()):
        raise RuntimeError("simulated engine bug")
    if any("# slow" in s for s in sources.values()):
        time.sleep(1.0)
    if any("# infra-fail" in s for s in sources.values()):
        from autograder.engine import GradingError
        raise GradingError("the sandbox could not start: simulated")
    if any("# infra-once" in s for s in sources.values()):
        marker = path.with_name(path.name + ".infra")
        if not marker.exists():
            marker.write_text("failed once")
            from autograder.engine import GradingError
            raise GradingError("the sandbox could not start: simulated once")
    if any("# die-always" in s for s in sources.values()):
        os.kill(os.getpid(), 9)
    if any("# die-once" in s for s in sources.values()):
        marker = path.with_name(path.name + ".died")
        if not marker.exists():              # the first attempt kills its own worker process
            marker.write_text("died")
            os.kill(os.getpid(), 9)
    checks, functions, cells = [], {}, {}
    for fn, pts in POINTS.items():
        s = sources.get(fn, "raise NotImplementedError")
        frac = 0.0 if "NotImplementedError" in s else 0.5 if "# half" in s else 1.0
        long = " ".join(f"value[{i}]=0.{i:04d}" for i in range(100)) if "# long-message" in s else ""  # < the 2,000-character cap
        checks.append(CheckResult(name="values", function=fn, points=pts * frac, max_points=pts,
                                  concepts=("weight_initialization",), passed=frac == 1.0,
                                  message=f"{fn} values {'ok' if frac == 1 else 'wrong'}{long}",
                                  hint=None if frac == 1 else f"look at how {fn} combines a and b"))
        functions[fn] = {"score": pts * frac, "max_score": pts}
        cells[f"test_{fn}"] = dict(functions[fn])
    return SubmissionResult(gradable=True, score=sum(f["score"] for f in functions.values()),
                            functions=functions, grade_cells=cells, checks=tuple(checks), **base)


# ---------------------------------------------------------------------------------------------- fixtures
import shutil  # noqa: E402

import pytest  # noqa: E402


_TEMPLATE: dict[str, Path] = {}


@pytest.fixture(scope="session")
def released_course(tmp_path_factory) -> Path:
    """A released tiny course built once per test session (nbgrader generate_assignment costs seconds).
    Cached here rather than per importing module, so every test module shares one build."""
    if "course" not in _TEMPLATE:
        _TEMPLATE["course"] = make_course(tmp_path_factory.mktemp("tiny-template") / "course")
    return _TEMPLATE["course"]


@pytest.fixture
def course(released_course, tmp_path) -> Path:
    """A private copy of the released tiny course for one test."""
    dest = tmp_path / "course"
    shutil.copytree(released_course, dest)
    return dest


def db_url(root: Path) -> str:
    return f"sqlite:///{Path(root) / 'gradebook.db'}"


def standard_class(root: Path) -> None:
    """Five submissions: full marks, half on add, mul missing, unreadable file, engine crash."""
    submit(root, "alice")
    submit(root, "bob", {"add": "    return a - b  # half"})
    submit(root, "carol", {"mul": "    raise NotImplementedError()"})
    submit(root, "dave", raw="{not json")
    submit(root, "eve", {"add": "    return 0  # crash-engine"})


EXPECTED = {"alice": 5.0, "bob": 4.0, "carol": 2.0, "dave": 0.0, "eve": 0.0}


def gradebook_scores(root: Path) -> dict[str, dict[str, float | None]]:
    """{student: {grade cell: auto_score}} straight from nbgrader's tables."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url(root)) as gb:
        return {sub.student_id: {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
                for sub in gb.assignment_submissions(ASSIGNMENT)}
