"""Build nbgrader source notebooks whose solution regions come from the reference package.

One source of truth: an exercise cell is the reference function's own signature and docstring, with
its body wrapped in ``### BEGIN SOLUTION`` / ``### END SOLUTION``. Rebuilding the notebook after the
reference changes can never leave the two apart (``tests/test_notebooks.py`` rebuilds and compares).

Usage (in ``autograder/course/notebooks/<assignment>.py``)::

    nb = NotebookBuilder("regularization")
    nb.md("# Regularization ...")
    nb.code("import numpy as np", tags=[])
    nb.exercise(reference.regularization.compute_cost_with_regularization, points=10,
                tests="assert ...")
    nb.code("train(...)", skip=True)          # tagged deepgrade-skip: the grader never runs it
    return nb.notebook()
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Callable

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SKIP_TAG = "deepgrade-skip"


def function_source(func: Callable, name: str | None = None) -> str:
    """``func``'s source, dedented, optionally renamed to ``name`` (the ``def`` line only)."""
    src = textwrap.dedent(inspect.getsource(func))
    if name and name != func.__name__:
        head = f"def {func.__name__}("
        if head not in src:
            raise ValueError(f"cannot rename {func.__qualname__}: no {head!r} line")
        src = src.replace(head, f"def {name}(", 1)
    return src.rstrip() + "\n"


def solution_source(func: Callable) -> str:
    """Return ``func``'s source with its body (after the docstring) inside a solution region.

    The signature and docstring stay visible to the student; nbgrader's ClearSolutions replaces
    the region with ``raise NotImplementedError()`` on release.
    """
    src = textwrap.dedent(inspect.getsource(func))
    tree = ast.parse(src)
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef):
        raise TypeError(f"{func.__qualname__} is not a plain function")
    lines = src.splitlines()
    body = fn.body
    has_doc = (isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
               and isinstance(body[0].value.value, str))
    first_code = body[1] if has_doc else body[0]
    if has_doc and len(body) == 1:
        raise ValueError(f"{func.__qualname__} has a docstring but no body")
    # decorators are not allowed: the student must see a plain def
    if fn.decorator_list:
        raise ValueError(f"{func.__qualname__}: decorated functions cannot be exercises")
    head_end = first_code.lineno - 1          # lines before the first body statement (0-based index)
    # comments directly above the first statement belong to the solution
    while head_end > 0 and lines[head_end - 1].strip().startswith("#"):
        head_end -= 1
    head = lines[:head_end]
    body_lines = lines[head_end:]
    indent = " " * first_code.col_offset
    out = head + [f"{indent}### BEGIN SOLUTION"] + body_lines + [f"{indent}### END SOLUTION"]
    return "\n".join(out).rstrip() + "\n"


class NotebookBuilder:
    """Accumulate cells for one assignment's source notebook, with valid nbgrader metadata."""

    def __init__(self, assignment: str):
        self.assignment = assignment
        self.cells: list = []
        self._ids: set[str] = set()
        self.points: dict[str, float] = {}
        self.exercises: dict[str, Callable] = {}   # student-visible name -> function the solution came from
        self.given_functions: list[Callable] = []  # functions copied into given cells (see given())

    def _cell_id(self, base: str) -> str:
        cid, n = base, 1
        while cid in self._ids:
            n += 1
            cid = f"{base}-{n}"
        self._ids.add(cid)
        return cid

    def md(self, text: str) -> None:
        """A markdown cell (teaching text)."""
        cell = new_markdown_cell(textwrap.dedent(text).strip("\n"))
        cell.id = self._cell_id(f"md-{len(self.cells)}")
        self.cells.append(cell)

    def code(self, source: str, *, skip: bool = False, tags: list[str] | None = None) -> None:
        """A given (read-only for grading purposes) code cell; ``skip=True`` tags it deepgrade-skip."""
        cell = new_code_cell(textwrap.dedent(source).strip("\n"))
        cell.id = self._cell_id(f"code-{len(self.cells)}")
        all_tags = list(tags or []) + ([SKIP_TAG] if skip else [])
        if all_tags:
            cell.metadata["tags"] = all_tags
        self.cells.append(cell)

    def exercise(self, func: Callable, *, points: float, tests: str, name: str | None = None) -> None:
        """A solution cell generated from ``func`` followed by its autograded visible-test cell.

        ``name`` overrides the function name the student sees (for reference functions that live
        under a different name, e.g. the TensorFlow twins); the default is ``func.__name__``.
        """
        fname = name or func.__name__
        src = solution_source(func)
        if name and name != func.__name__:
            src = src.replace(f"def {func.__name__}(", f"def {name}(", 1)
        sol = new_code_cell(src)
        sol.id = self._cell_id(f"ex-{fname}")
        sol.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False,
                                    "grade_id": f"ex_{fname}", "schema_version": 3}
        test = new_code_cell(textwrap.dedent(tests).strip("\n"))
        test.id = self._cell_id(f"test-{fname}")
        test.metadata["nbgrader"] = {"solution": False, "grade": True, "locked": True,
                                     "grade_id": f"test_{fname}", "points": points, "schema_version": 3}
        self.cells += [sol, test]
        self.points[fname] = points
        self.exercises[fname] = func

    def given(self, func: Callable, *, name: str | None = None, skip: bool = False,
              replace: list[tuple[str, str]] | None = None, prefix: str = "") -> None:
        """A given code cell holding ``func``'s source (e.g. a training loop that must call the
        student's functions from the notebook namespace, so it cannot live in the helper module).

        ``name`` renames the function; ``replace`` is a list of exact ``(old, new)`` substitutions
        (each must match, so a reference change cannot silently drop e.g. a planted bug);
        ``prefix`` is text (a comment) put above the definition.
        """
        src = function_source(func, name=name)
        for old, new in replace or []:
            if src.count(old) != 1:
                raise ValueError(f"{func.__qualname__}: {old!r} occurs {src.count(old)} times, need 1")
            src = src.replace(old, new)
        self.code(prefix + src, skip=skip)
        self.given_functions.append(func)

    def notebook(self) -> nbformat.NotebookNode:
        nb = new_notebook(cells=[nbformat.from_dict(c) for c in self.cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nb.metadata["deepgrade"] = {"assignment": self.assignment, "points": self.points}
        return nb


def literal(value, digits: int = 8, col: int = 0) -> str:
    """Python source for ``value`` (a number or NumPy array) rounded to ``digits`` significant
    decimals, for embedding reference results as worked examples in visible test cells. ``col`` is
    the column the literal starts at (continuation lines are aligned under it)."""
    import numpy as np

    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(float(f"{float(arr):.{digits}g}"))
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.int64)
    else:
        arr = arr.astype(float) + 0.0            # no "-0." in the text
    text = np.array2string(arr, separator=", ", precision=digits, floatmode="maxprec",
                           suppress_small=False, max_line_width=100, threshold=10_000)
    pad = " " * (col + len("np.array("))
    return "np.array(" + text.replace("\n", "\n" + pad) + ")"


def assignment_source(module, name: str) -> str:
    """Source of the module-level assignment ``name = ...`` in ``module`` (e.g. a dict of functions a
    given training loop looks up), so a notebook cell can carry it without a hand-written copy."""
    src = inspect.getsource(module)
    for node in ast.parse(src).body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.get_source_segment(src, node) + "\n"
    raise ValueError(f"{module.__name__} has no module-level assignment to {name!r}")


def fill(template: str, **values) -> str:
    """Dedent ``template`` and substitute ``$name`` placeholders (``string.Template``) — for test cells
    that embed multi-line literals, which an f-string would put outside the common indentation."""
    from string import Template

    return Template(textwrap.dedent(template).strip("\n")).substitute(values)


def reference_namespace(assignment: str) -> dict:
    """A namespace like the learner's notebook after the imports cell, but with the *reference*
    graded functions: ``np``, the assignment's given helpers and ``GRADED[assignment]``. Notebook
    modules execute a visible test's set-up code in it to compute the worked example's expected values."""
    import numpy as np

    from reference.registry import GRADED, HELPERS

    return {"np": np, **HELPERS.get(assignment, {}), **GRADED[assignment]}


def run_example(assignment: str, source: str) -> dict:
    """Execute ``source`` (dedented) in :func:`reference_namespace` and return the namespace."""
    ns = reference_namespace(assignment)
    exec(compile(textwrap.dedent(source), f"<example {assignment}>", "exec"), ns)
    return ns
