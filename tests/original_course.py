"""A corpus of notebooks in the ORIGINAL course's format, written from our own reference code.

Learners (and instructors reusing their material) hold notebooks shaped like the original course's:
nbgrader cells with opaque ``cell-<hex>`` grade ids, solution cells headed ``# GRADED FUNCTION: <name>``,
visible test cells calling helpers from modules this project does not ship (``public_tests``,
``testCases``, ``opt_utils_v1a``), a heavy first cell (matplotlib, scipy, sklearn and those modules, plus
magics), a locked markdown cell whose nbgrader metadata lacks a grade id, and — for optimization — the
original's 8 graded functions (no RMSprop, no exponentially weighted average). The notebooks carry the
outputs a learner's run leaves (text and a PNG plot). Nothing here is copied from a learner: every
solution is our reference's source.

    nb = original_notebook("optimization", overrides={"update_lr": INDENTATION_ERROR_BODY})
"""
from __future__ import annotations

import base64
import hashlib
import importlib
import inspect
import json
import textwrap
from pathlib import Path

from autograder.function_sets import ORIGINAL_SETS

#: the heavy first cell of the original notebooks (modules the grader's sandbox may or may not ship)
FIRST_CELL = {
    "optimization": """import numpy as np
import matplotlib.pyplot as plt
import scipy.io
import math
import sklearn
import sklearn.datasets

from opt_utils_v1a import load_params_and_grads, initialize_parameters, forward_propagation
from opt_utils_v1a import compute_cost, predict, predict_dec, plot_decision_boundary, load_dataset
from copy import deepcopy
from testCases import *
from public_tests import *

%matplotlib inline
plt.rcParams['figure.figsize'] = (7.0, 4.0) # set default size of plots
plt.rcParams['image.interpolation'] = 'nearest'
plt.rcParams['image.cmap'] = 'gray'

%load_ext autoreload
%autoreload 2""",
}

#: a tiny PNG (1x1 pixel), standing for the learner's plot output
PNG_1PX = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2b1d4a90000000049454e44ae426082")).decode()

#: a solution whose body is badly indented: the cell fails to compile, the function is "not defined"
INDENTATION_ERROR = "update_lr_indentation_error"


def cell_id(*parts: str) -> str:
    """An opaque nbgrader grade id like the original's: ``cell-<16 hex>``."""
    return "cell-" + hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


def _nbgrader(grade_id: str | None, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "locked": locked, "solution": solution, "schema_version": 3, "task": False}
    if grade_id is not None:
        meta["grade_id"] = grade_id
    if points is not None:
        meta["points"] = points
    return meta


def _cell(kind: str, source: str, nbgrader: dict | None = None, outputs: list | None = None) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": source,
            "id": hashlib.sha256(source.encode()).hexdigest()[:8]}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = nbgrader
        cell["metadata"]["deletable"] = False
        cell["metadata"]["editable"] = not nbgrader.get("locked", False)
    if kind == "code":
        cell.update(outputs=outputs or [], execution_count=1 if outputs else None)
    return cell


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def solution_source(assignment: str, function: str) -> str:
    """Our reference's source of ``function``, in the original's shape (header comment, no docstring
    changes)."""
    module = importlib.import_module(f"reference.{assignment}")
    return textwrap.dedent(inspect.getsource(getattr(module, function))).rstrip() + "\n"


def broken_source(function: str, kind: str) -> str:
    if kind == INDENTATION_ERROR:
        return (f"def {function}(learning_rate0, epoch_num, decay_rate):\n"
                "    learning_rate = learning_rate0 / (1 + decay_rate * epoch_num)\n"
                "      return learning_rate\n")
    if kind == "missing":
        return f"def {function}(*args):\n    # YOUR CODE STARTS HERE\n\n    # YOUR CODE ENDS HERE\n"
    return kind                                       # any other string: the cell's body as given


def original_notebook(assignment: str = "optimization", overrides: dict[str, str] | None = None,
                      *, functions: tuple[str, ...] | None = None, points: dict[str, float] | None = None,
                      outputs: bool = True) -> dict:
    """A submitted notebook in the original course's format. ``overrides[f]`` replaces f's solution:
    ``"missing"`` (the release stub), :data:`INDENTATION_ERROR`, or any source text."""
    overrides = overrides or {}
    functions = functions or ORIGINAL_SETS[assignment]
    cells = [
        _cell("markdown", f"# {assignment.replace('_', ' ').title()} Methods\n\nUntil now, you've always "
                          "used Gradient Descent to update the parameters and minimize the cost.",
              _nbgrader(None, locked=True)),                   # locked, but no grade_id (damaged)
        _cell("markdown", "## Table of Contents\n- [1 - Packages](#1)", _nbgrader(cell_id(assignment, "toc"),
                                                                              locked=True)),
        _cell("code", FIRST_CELL[assignment], _nbgrader(cell_id(assignment, "imports"), locked=True),
              [_stream("")] if outputs else None),
    ]
    for i, f in enumerate(functions, 1):
        cells.append(_cell("markdown", f"<a name='ex-{i}'></a>\n### Exercise {i} - {f}\n\nImplement `{f}`: "
                                       "$W^{[l]} = W^{[l]} - \\alpha \\; dW^{[l]}$.",
                           _nbgrader(cell_id(assignment, f, "md"), locked=True)))
        body = overrides.get(f)
        src = solution_source(assignment, f) if body is None else broken_source(f, body)
        cells.append(_cell("code", f"# GRADED FUNCTION: {f}\n\n{src}",
                           _nbgrader(cell_id(assignment, f), solution=True)))
        test_outputs = [_stream(f"\x1b[92mAll tests passed\n")] if outputs else None
        cells.append(_cell("code", f"{f}_test({f})",
                           _nbgrader(cell_id(assignment, f, "test"), grade=True, locked=True,
                                     points=(points or {}).get(f, 10)), test_outputs))
    plot_outputs = [{"output_type": "display_data", "metadata": {},
                     "data": {"image/png": PNG_1PX, "text/plain": "<Figure size 700x400 with 1 Axes>"}},
                    _stream("Accuracy: 0.7966666666666666\n")] if outputs else None
    cells.append(_cell("code", "train_X, train_Y = load_dataset()\nplt.show()", None, plot_outputs))
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"},
                         "coursera": {"graded_item_id": "abc12", "launcher_item_id": "xyz34"}}}


def write_original(path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(original_notebook(**kwargs), indent=1))
    return path
