"""Synthesize student notebooks (tests and the demo): each graded function written as the reference,
as a known mistake, left out, or raising.

    nb = synthesize_submission("regularization",
                               {"compute_cost_with_regularization": "compute_cost_with_regularization.no_lambd",
                                "forward_propagation_with_dropout": "missing"},
                               base_notebook=Path("source/regularization/regularization.ipynb"))

Function bodies come from the trusted implementations by ``inspect.getsource``, bundled with what
they use (module-level helpers, constants, the ``core`` + ``knobs`` of a mistake variant) so that the
cell is self-contained next to the assignment's given helpers (``<assignment>_utils``).
"""
from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
import types
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from reference import catalog
from reference.mistakes import MISTAKES
from reference.registry import GRADED, HELPERS

__all__ = ["synthesize_submission", "function_source", "write_notebook"]

MISSING, RAISES = "missing", "raises"


def _reference_impl(assignment: str, function: str) -> Callable:
    """What a correct student writes: the declared ``solutions`` (the TF assignment's TensorFlow code),
    else the NumPy reference."""
    return catalog.get(assignment).solution_functions()[function]


def _helper_names(assignment: str) -> dict[str, Any]:
    return dict(HELPERS.get(assignment, {}))


def _lambda_source(fn: Callable) -> str:
    """Source text of a lambda, found in its file by line number and matching bytecode."""
    path = inspect.getsourcefile(fn)
    text = Path(path).read_text(encoding="utf-8")
    code = fn.__code__
    candidates = [ast.get_source_segment(text, node) for node in ast.walk(ast.parse(text))
                  if isinstance(node, ast.Lambda) and node.lineno == code.co_firstlineno]

    def signature(c: types.CodeType) -> tuple:
        return c.co_varnames, c.co_names, tuple(x for x in c.co_consts if not isinstance(x, types.CodeType))

    for seg in candidates:
        inner = next((c for c in compile(seg, path, "eval").co_consts if isinstance(c, types.CodeType)), None)
        if inner is not None and signature(inner) == signature(code):
            return f"({seg})"
    if len(candidates) == 1:
        return f"({candidates[0]})"
    raise ValueError(f"cannot find the source of {fn!r} among {candidates}")


class _Bundler:
    """Collects the source of a function and everything it references, in definition order."""

    def __init__(self, assignment: str, root: str | None = None):
        self.helpers = _helper_names(assignment)
        # other graded functions are the student's own, defined in their own cells: call them by name,
        # never bundle the reference's copy (it would overwrite the student's version of that function)
        self.other_graded = set(GRADED.get(assignment, {})) - {root}
        self.defs: dict[str, str] = {}          # name -> source (insertion order = definition order)
        self.imports: set[str] = set()

    def _is_helper(self, name: str, value: Any) -> bool:
        return name in self.helpers and (self.helpers[name] is value or callable(value))

    def value_expr(self, value: Any, hint: str) -> str:
        """A Python expression for a knob/constant value (functions are bundled by name)."""
        name = getattr(value, "__name__", None)
        if callable(value) and isinstance(name, str) and getattr(np, name, None) is value:
            self.imports.add("import numpy as np")
            return f"np.{name}"
        if isinstance(value, types.FunctionType) and value.__name__ == "<lambda>":
            return self._resolve_globals(value, _lambda_source(value))
        if isinstance(value, types.FunctionType):
            return self.add_function(value, value.__name__)
        if isinstance(value, np.ndarray):
            self.imports.add("import numpy as np")
            return f"np.array({value.tolist()!r}, dtype={str(value.dtype)!r})"
        if isinstance(value, np.generic):
            return repr(value.item())
        if isinstance(value, (int, float, str, bool, type(None), tuple, list, dict)):
            return repr(value)
        raise TypeError(f"cannot write {hint}={value!r} as source")

    def add_function(self, fn: Callable, name: str) -> str:
        """Bundle ``fn`` under ``name`` (renaming its def); returns the name to call it by."""
        if name in self.defs:
            return name
        if self._is_helper(name, fn):
            return name
        nonlocals = inspect.getclosurevars(fn).nonlocals if fn.__closure__ else {}
        if "core" in nonlocals and "knobs" in nonlocals:        # reference.mistakes variant()
            return self._add_variant(fn, name, nonlocals["core"], nonlocals["knobs"])
        src = textwrap.dedent(inspect.getsource(fn))
        self.defs[name] = ""                                    # reserve (recursion guard)
        src = self._resolve_globals(fn, src)
        tree = ast.parse(src)
        node = tree.body[0]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != name:
            src = re.sub(rf"^(\s*(?:async\s+)?def\s+){re.escape(node.name)}\b", rf"\g<1>{name}", src, count=1,
                         flags=re.M)
        self.defs[name] = src
        return name

    def _add_variant(self, fn: Callable, name: str, core: Callable, knobs: dict) -> str:
        core_name = self.add_function(core, core.__name__)
        sig = inspect.signature(fn)
        call_args = [p.name for p in sig.parameters.values()]
        call_args += [f"{k}={self.value_expr(v, k)}" for k, v in knobs.items()]
        self.defs[name] = f"def {name}{sig}:\n    return {core_name}({', '.join(call_args)})\n"
        return name

    def _resolve_globals(self, fn: Callable, src: str) -> str:
        """Bundle referenced globals; rewrite ``module.attr`` uses of non-numpy modules to ``attr``."""
        g = fn.__globals__
        tree = ast.parse(src)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        for name in sorted(names):
            if name not in g or name == fn.__name__:
                continue
            value = g[name]
            if isinstance(value, types.ModuleType):
                if value is np:
                    self.imports.add(f"import numpy as {name}" if name != "numpy" else "import numpy")
                elif value.__name__.startswith("tensorflow"):
                    self.imports.add(f"import tensorflow as {name}")
                elif value.__name__ in ("math",):
                    self.imports.add(f"import {value.__name__} as {name}")
                else:   # e.g. `ref.compute_cost` -> bundle compute_cost, call it by its bare name
                    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                             and isinstance(n.value, ast.Name) and n.value.id == name}
                    for attr in sorted(attrs):
                        self._add_global(attr, getattr(value, attr))
                    src = re.sub(rf"\b{re.escape(name)}\.(\w+)", r"\1", src)
            elif isinstance(value, types.FunctionType):
                self._add_global(name, value)
            elif isinstance(value, (int, float, str, tuple, np.ndarray)) and not isinstance(value, bool):
                self._add_global(name, value)
        return src

    def _add_global(self, name: str, value: Any) -> None:
        if name in self.other_graded:
            return
        if isinstance(value, types.FunctionType):
            self.add_function(value, name)
        elif name not in self.defs and not self._is_helper(name, value):
            self.defs[name] = f"{name} = {self.value_expr(value, name)}\n"

    def source(self) -> str:
        head = "\n".join(sorted(self.imports)) + "\n\n\n" if self.imports else ""
        return head + "\n\n".join(s.rstrip() + "\n" for s in self.defs.values() if s)


def function_source(assignment: str, function: str, choice: str | None = None) -> str:
    """Self-contained source defining ``function`` as the reference (None), a mistake id, or "raises"."""
    if choice == MISSING:
        return f"# {function}: not attempted\n"
    if choice == RAISES:
        return f"def {function}(*args, **kwargs):\n    raise NotImplementedError()\n"
    if choice is None:
        impl = _reference_impl(assignment, function)
    else:
        mistake = MISTAKES[choice]
        if mistake.function != function:
            raise ValueError(f"mistake {choice!r} belongs to {mistake.function!r}, not {function!r}")
        impl = mistake.impl
    b = _Bundler(assignment, root=function)
    b.add_function(impl, function)
    return b.source()


def _code_cell(source: str, metadata: dict | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": metadata or {}, "outputs": [],
            "source": source}


def _preamble_source(assignment: str) -> str:
    lines = list(catalog.RUNTIME_IMPORTS[catalog.get(assignment).runtime])
    lines.append(f"from {assignment}_utils import *")
    return "\n".join(lines) + "\n"


def synthesize_submission(assignment: str, choices: Mapping[str, str | None] | None = None,
                          base_notebook: Path | str | None = None) -> dict:
    """An nbformat-4 notebook (JSON dict) of a student who wrote each graded function as ``choices`` says.

    choices: {function: None (reference) | mistake id | "missing" | "raises"}; unlisted functions are
    written as the reference. With ``base_notebook`` (source or release notebook) the solution cell
    ``ex_<f>`` of each function gets the new source and everything else is kept; otherwise the
    notebook is the imports cell plus one cell per function.
    """
    functions = list(GRADED[assignment])
    choices = dict(choices or {})
    unknown = set(choices) - set(functions)
    if unknown:
        raise KeyError(f"not graded in {assignment!r}: {sorted(unknown)}")
    sources = {f: function_source(assignment, f, choices.get(f)) for f in functions}
    if base_notebook is None:
        cells = [_code_cell(_preamble_source(assignment))]
        cells += [_code_cell(sources[f], {"nbgrader": {"grade_id": f"ex_{f}", "solution": True, "grade": False,
                                                       "locked": False, "schema_version": 3}})
                  for f in functions]
        return {"cells": cells, "metadata": {"deepgrade": {"assignment": assignment},
                                             "kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    nb = json.loads(Path(base_notebook).read_text(encoding="utf-8"))
    seen = set()
    for cell in nb.get("cells", []):
        gid = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id") or ""
        f = gid.removeprefix("ex_")
        if gid.startswith("ex_") and f in sources:
            cell["source"] = sources[f]
            cell["outputs"], cell["execution_count"] = [], None
            seen.add(f)
    missing_cells = [f for f in functions if f not in seen]
    if missing_cells:
        raise ValueError(f"{base_notebook}: no solution cell ex_<f> for {missing_cells}")
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def write_notebook(nb: dict, path: Path | str) -> Path:
    """Write a synthesized notebook as JSON (nbformat 4)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path
