"""Hidden checks: one module per assignment on the framework in ``framework.py``, named by the
assignment's declaration (``checks = ...`` in ``reference/assignments/<a>.toml``; the course's own
are ``test_<assignment>.py`` here). The modules are importable (the engine calls their registered
checks directly) and pytest-runnable (``pytest autograder/checks/test_<a>.py --submission NB.ipynb``
or ``--reference``)."""
from __future__ import annotations

from pathlib import Path

from reference import catalog

from .framework import Suite, suite_for_module

#: the course's own code assignments, in course order (with an instructor's additions: ``catalog.code_assignments()``)
CODE_ASSIGNMENTS = catalog.code_assignments()


def code_suite(assignment: str, course_dir: str | Path | None = None) -> Suite:
    """Import the declared checks module of ``assignment`` once and return its suite. A course's own
    checks file is loaded as ``autograder.checks.test_<assignment>``, so ``suite_for_module(__name__)``
    names its suite after the assignment."""
    try:
        decl = catalog.get(assignment, course_dir)
    except KeyError:
        raise KeyError(f"no hidden checks for assignment {assignment!r}") from None
    if decl.runtime == "quiz":
        raise KeyError(f"no hidden checks for assignment {assignment!r} (a quiz)")
    name = f"{__name__}.test_{assignment}"
    module = decl.module("checks", name)
    return suite_for_module(module.__name__)
