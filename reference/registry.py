"""Which reference function is graded under which name, and which helpers each notebook gives.

Views over the declarations (:mod:`reference.catalog`): nothing is listed here.

GRADED[assignment][function_name] -> the trusted reference callable (for the TensorFlow assignment,
the NumPy twin of the function learners write with TensorFlow).

HELPERS[assignment] -> {student-visible name: reference callable} of the given helper functions
that learners' solutions call by name (the declaration's ``[helpers]``), in the order their source
should be copied. A helper may live under a different reference name (e.g. the optimization
assignment's ``compute_cost`` is :func:`reference.nets.compute_cost_sum`); copy its source and rename
the ``def``. Every helper is self-contained: it only uses ``np`` and other helpers of the same assignment.

Both include the instructor's own assignments of the course last named (``catalog.declared``).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Callable

from reference import catalog

#: the course's own code assignments, in course order (with an instructor's additions: ``catalog.code_assignments()``)
ASSIGNMENTS = catalog.code_assignments()


class _PerAssignment(Mapping):
    """{code assignment: {name: callable}} computed from the declarations on first use of each."""

    def __init__(self, what: Callable[[catalog.Assignment], dict[str, Callable]]):
        self._what = what
        self._cache: dict[tuple[str, str], dict[str, Callable]] = {}

    def __getitem__(self, name: str) -> dict[str, Callable]:
        try:
            decl = catalog.get(name)
        except KeyError:
            raise KeyError(name) from None
        if decl.runtime == "quiz":
            raise KeyError(name)
        key = (name, str(decl.path))
        if key not in self._cache:
            self._cache[key] = self._what(decl)
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(catalog.code_assignments())

    def __len__(self) -> int:
        return len(catalog.code_assignments())


GRADED: Mapping[str, dict[str, Callable]] = _PerAssignment(catalog.Assignment.graded_functions)
HELPERS: Mapping[str, dict[str, Callable]] = _PerAssignment(catalog.Assignment.helper_functions)

HELPER_FUNCTIONS = HELPERS  # older name


def graded(assignment: str, function: str) -> Callable:
    """The reference callable for a graded function, with a clear error for unknown names."""
    if assignment not in GRADED:
        raise KeyError(f"unknown assignment {assignment!r}; known: {', '.join(catalog.code_assignments())}")
    if function not in GRADED[assignment]:
        raise KeyError(f"{function!r} is not graded in {assignment!r}; graded: {', '.join(GRADED[assignment])}")
    return GRADED[assignment][function]
