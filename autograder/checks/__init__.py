"""Hidden checks: one module per assignment (``test_<assignment>.py``) on the framework in
``framework.py``. The modules are importable (the engine calls their registered checks directly) and
pytest-runnable (``pytest autograder/checks/test_<a>.py --submission NB.ipynb`` or ``--reference``)."""
from __future__ import annotations

import importlib

from .framework import Suite, suite_for_module

CODE_ASSIGNMENTS = ("initialization", "regularization", "gradient_checking", "optimization",
                    "batchnorm", "tensorflow")


def code_suite(assignment: str) -> Suite:
    """Import ``autograder.checks.test_<assignment>`` once and return its suite."""
    if assignment not in CODE_ASSIGNMENTS:
        raise KeyError(f"no hidden checks for assignment {assignment!r}")
    name = f"{__name__}.test_{assignment}"
    importlib.import_module(name)
    return suite_for_module(name)
