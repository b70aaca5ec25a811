"""Fixtures of the course-building tests: ONE course built and released into a temporary folder per
test session, shared by tests/test_course_build.py and tests/test_notebooks.py.

Import what you need (``from course_fixtures import built_course, released_course``). The cache lives
at module level, so every test module that imports these fixtures gets the same folder (a fixture
imported into two modules is two fixture definitions to pytest, but one build here).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.course.build import REPO_ROOT, build_course
from autograder.course.release import release_course

#: the assignments whose notebooks these tests cover (the course's week-1 notebooks)
ASSIGNMENTS = ("initialization", "regularization", "gradient_checking")
BIN = Path(sys.executable).parent

_cache: dict[str, object] = {}


@dataclass(frozen=True)
class Course:
    root: Path

    def source_nb(self, assignment: str) -> Path:
        return self.root / "source" / assignment / f"{assignment}.ipynb"

    def release_dir(self, assignment: str) -> Path:
        return self.root / "release" / assignment

    def released_nb(self, assignment: str) -> dict:
        return json.loads((self.release_dir(assignment) / f"{assignment}.ipynb").read_text(encoding="utf-8"))


def nbgrader(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the venv's nbgrader in ``root`` (its bin dir on PATH: nbgrader calls alembic by name)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def built_course(tmp_path_factory) -> Course:
    """A fresh course folder with our assignments built (notebooks, helpers, data, config)."""
    if "built" not in _cache:
        root = tmp_path_factory.mktemp("course")
        build_course(root, list(ASSIGNMENTS))
        _cache["built"] = Course(root)
    return _cache["built"]


@pytest.fixture(scope="session")
def released_course(built_course: Course) -> Course:
    """``built_course`` after ``release_course`` (nbgrader generate_assignment, --force)."""
    if "released" not in _cache:
        reports = release_course(built_course.root, list(ASSIGNMENTS), force=True)
        assert [r.status for r in reports] == ["released"] * len(ASSIGNMENTS)
        _cache["released"] = built_course
    return _cache["released"]


def committed_source(assignment: str) -> Path:
    return REPO_ROOT / "source" / assignment
