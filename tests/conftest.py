"""Project-wide test set-up.

The repository's ``source/<assignment>/`` folders hold the committed notebooks and helpers; the copies
of ``reference/datasets.py`` / ``reference/plotting.py`` beside them are build products (gitignored,
written by ``deepgrade build``). Tests that grade the repository's own source notebooks need them, so
they are written once per session, exactly as ``deepgrade build`` writes them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# `deepgrade grade` run by tests grades in its own process, never through a grading service the user may
# run (tests/test_grading_service.py starts its own, in a private folder, and clears this for it)
os.environ["DEEPGRADE_SERVICE"] = "off"


@pytest.fixture(scope="session", autouse=True)
def _generated_student_modules():
    from autograder.course.build import available_assignments, write_copied_modules

    for assignment in available_assignments():
        folder = REPO / "source" / assignment
        if folder.is_dir():
            write_copied_modules(folder, assignment)
