"""Bring the regions of a source notebook that come from ``reference/`` up to date, and nothing else.

The source notebook ``source/<a>/<a>.ipynb`` is the instructor's: prose, visible tests, points and
given cells are edited there (in Jupyter, as with any nbgrader course). Two kinds of region inside it
are copies of the reference package and are rewritten by ``deepgrade build``:

- a **solution region**: the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of the
  exercise cell ``ex_<f>`` — the body of the reference function (signature and docstring above the
  region stay as the notebook has them; a signature that no longer matches the reference is an error);
- an **example region**: the lines between ``### BEGIN EXAMPLE`` and ``### END EXAMPLE`` of the visible
  test cell ``test_<f>`` — the visible example's inputs and call, declared once in
  ``autograder/checks/test_<a>.py`` (``S.examples``) and also used by the hidden check ``<f>.fixed``.

Every other character of the notebook is kept. Functions here work on cell sources (strings) and
return the new source; ``autograder.course.build`` applies them to notebooks and files.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Callable

SKIP_TAG = "deepgrade-skip"
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_EXAMPLE, END_EXAMPLE = "### BEGIN EXAMPLE", "### END EXAMPLE"


class RegionError(ValueError):
    """A cell lacks the markers of a region, or its function no longer matches the reference."""


def function_source(func: Callable, name: str | None = None) -> str:
    """``func``'s source, dedented, optionally renamed to ``name`` (the ``def`` line only)."""
    src = textwrap.dedent(inspect.getsource(func))
    if name and name != func.__name__:
        head = f"def {func.__name__}("
        if head not in src:
            raise ValueError(f"cannot rename {func.__qualname__}: no {head!r} line")
        src = src.replace(head, f"def {name}(", 1)
    return src.rstrip() + "\n"


def solution_source(func: Callable, name: str | None = None) -> str:
    """``func``'s source with its body (after the docstring) inside a solution region, renamed to
    ``name`` if given: what an exercise cell holds. nbgrader's ClearSolutions replaces the region with
    ``raise NotImplementedError()`` on release; signature and docstring stay visible."""
    src = textwrap.dedent(inspect.getsource(func))
    fn = ast.parse(src).body[0]
    if not isinstance(fn, ast.FunctionDef):
        raise TypeError(f"{func.__qualname__} is not a plain function")
    if fn.decorator_list:                     # the student must see a plain def
        raise ValueError(f"{func.__qualname__}: decorated functions cannot be exercises")
    body = fn.body
    has_doc = (isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
               and isinstance(body[0].value.value, str))
    if has_doc and len(body) == 1:
        raise ValueError(f"{func.__qualname__} has a docstring but no body")
    first_code = body[1] if has_doc else body[0]
    lines = src.splitlines()
    head_end = first_code.lineno - 1          # lines before the first body statement (0-based index)
    while head_end > 0 and lines[head_end - 1].strip().startswith("#"):
        head_end -= 1                          # comments right above the first statement are solution
    indent = " " * first_code.col_offset
    out = lines[:head_end] + [f"{indent}{BEGIN_SOLUTION}"] + lines[head_end:] + [f"{indent}{END_SOLUTION}"]
    text = "\n".join(out).rstrip() + "\n"
    if name and name != func.__name__:
        text = text.replace(f"def {func.__name__}(", f"def {name}(", 1)
    return text


def _region(lines: list[str], begin: str, end: str, what: str) -> tuple[int, int]:
    """Indexes of the begin and end marker lines (exactly one of each, begin first)."""
    starts = [i for i, line in enumerate(lines) if line.strip() == begin]
    ends = [i for i, line in enumerate(lines) if line.strip() == end]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise RegionError(f"{what} needs one {begin!r} line followed by one {end!r} line")
    return starts[0], ends[0]


def replace_region(source: str, begin: str, end: str, new_lines: list[str], what: str) -> str:
    """``source`` with the lines strictly between its ``begin``/``end`` markers replaced by ``new_lines``;
    marker lines and everything outside them are kept byte for byte."""
    lines = source.split("\n")
    i, j = _region(lines, begin, end, what)
    return "\n".join(lines[:i + 1] + new_lines + lines[j:])


def region_lines(source: str, begin: str, end: str, what: str) -> list[str]:
    """The lines strictly between the markers."""
    lines = source.split("\n")
    i, j = _region(lines, begin, end, what)
    return lines[i + 1:j]


def _signature(source: str, name: str, what: str) -> str:
    """The parameter list of the top-level ``def name`` in ``source`` (as normalised source)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise RegionError(f"{what} does not parse: {exc}") from exc
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if len(defs) != 1:
        raise RegionError(f"{what} must define `{name}` exactly once")
    return ast.unparse(defs[0].args)


def sync_solution(cell_source: str, func: Callable, name: str) -> str:
    """The exercise cell ``cell_source`` with its solution region replaced by ``func``'s body.

    Raises :class:`RegionError` if the cell has no region or its ``def name(...)`` has other parameters
    than the reference (an edit the instructor has to make by hand, in the notebook)."""
    what = f"the exercise cell of `{name}`"
    reference = solution_source(func, name)
    mine, theirs = _signature(cell_source, name, what), _signature(reference, name, "the reference")
    if mine != theirs:
        raise RegionError(f"{what} takes ({mine}) but the reference takes ({theirs}); "
                          f"change the def line in the notebook")
    body = region_lines(reference, BEGIN_SOLUTION, END_SOLUTION, "the reference")
    return replace_region(cell_source, BEGIN_SOLUTION, END_SOLUTION, body, what)


def sync_example(cell_source: str, example_source: str, name: str) -> str:
    """The visible test cell ``cell_source`` with its example region replaced by ``example_source``."""
    return replace_region(cell_source, BEGIN_EXAMPLE, END_EXAMPLE, example_source.rstrip("\n").split("\n"),
                          f"the visible test cell of `{name}`")
