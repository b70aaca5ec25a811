"""Broken (not hostile) submissions: each gets a clear, specific outcome and the run goes on.

``make(honest, course)`` returns the notebook (dict) or raw bytes to submit, starting from an honest
``initialization`` notebook; ``verify(result)`` asserts on the SubmissionResult.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FUNCS = ("initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he")


@dataclass(frozen=True)
class Broken:
    id: str
    make: Callable[[dict, Path], "dict | bytes"]
    verify: Callable[[object], None]


def _ungradable(*words: str) -> Callable:
    def verify(r):
        assert not r.gradable, f"expected ungradable, got {r.score}/{r.max_score}"
        reason = (r.ungradable_reason or "").lower()
        assert any(w in reason for w in words), f"reason {r.ungradable_reason!r} should mention one of {words}"
        assert r.score == 0
    return verify


def _full_marks(r):
    assert r.gradable, r.ungradable_reason
    assert r.score == r.max_score > 0, f"{r.score}/{r.max_score}"


def _only_lost(fn: str, *words: str) -> Callable:
    def verify(r):
        assert r.gradable, r.ungradable_reason
        assert r.functions[fn]["score"] == 0.0
        for other in FUNCS:
            if other != fn:
                assert r.functions[other]["score"] == r.functions[other]["max_score"] > 0, other
        text = " ".join(c.message for c in r.checks_for(fn)).lower() + " " + json.dumps(r.cell_errors).lower()
        assert any(w.lower() in text for w in words), f"no specific reason for {fn}: {text[:300]}"
    return verify


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _src(cell: dict) -> str:
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def _defining(nb: dict, fn: str) -> dict:
    return next(c for c in _code_cells(nb) if f"def {fn}(" in _src(c))


def _edit(fn: Callable[[dict], None]) -> Callable[[dict, Path], dict]:
    def make(honest: dict, course: Path) -> dict:
        nb = copy.deepcopy(honest)
        fn(nb)
        return nb
    return make


def _strip_metadata(nb):
    for c in nb["cells"]:
        c["metadata"] = {}


def _duplicate_ids(nb):
    cell = _defining(nb, "initialize_parameters_he")
    nb["cells"].insert(nb["cells"].index(cell), copy.deepcopy(cell))


def _delete_zeros(nb):
    nb["cells"].remove(_defining(nb, "initialize_parameters_zeros"))


def _reorder(nb):
    code = _code_cells(nb)
    others = [c for c in nb["cells"] if c["cell_type"] != "code"]
    nb["cells"] = others + code[::-1]


def _merge(nb):
    code = _code_cells(nb)
    merged = dict(code[0], source="\n\n".join(_src(c) for c in code), metadata={})
    nb["cells"] = [c for c in nb["cells"] if c["cell_type"] != "code"] + [merged]


def _syntax_error(nb):
    cell = _defining(nb, "initialize_parameters_he")
    cell["source"] = _src(cell).replace("def initialize_parameters_he(layers_dims):",
                                        "def initialize_parameters_he(layers_dims)")


def _missing_package(nb):
    cell = _defining(nb, "initialize_parameters_he")
    cell["source"] = "import not_a_real_package_for_deepgrade\n" + _src(cell)


def _raises(nb):
    cell = _defining(nb, "initialize_parameters_he")
    cell["source"] = ("def initialize_parameters_he(layers_dims):\n"
                      "    raise ValueError('I have not finished this yet')\n")


def _nbformat3(honest, course):
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                       "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1"}]}]}).encode()


def _huge(honest, course):
    filler = "# " + "x" * 1000 + "\n"
    nb = copy.deepcopy(honest)
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "id": "huge",
                        "source": filler * (200 * 1024)})            # ~200 MB
    return json.dumps(nb).encode()


def _other_assignment(honest, course):
    from autograder.simulate import synthesize_submission
    base = course / "source" / "regularization" / "regularization.ipynb"
    return synthesize_submission("regularization", {}, base_notebook=base if base.exists() else None)


def _other_assignment_verify(r):
    if not r.gradable:
        assert "assignment" in (r.ungradable_reason or "").lower()
        return
    assert r.score == 0
    assert all("not defined" in c.message for c in r.checks), [c.message for c in r.checks][:3]


BROKEN: list[Broken] = [
    Broken("invalid_json", lambda h, c: b'{"cells": [{"cell_type": "code", "source": "x = ', _ungradable("json")),
    Broken("empty_file", lambda h, c: b"", _ungradable("empty")),
    Broken("binary_file", lambda h, c: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64,
           _ungradable("binary", "utf-8", "not text")),
    Broken("nbformat_3", _nbformat3, _ungradable("nbformat")),
    Broken("huge_200mb", _huge, _ungradable("large", "size", "mb")),
    Broken("metadata_stripped", _edit(_strip_metadata), _full_marks),
    Broken("duplicated_grade_ids", _edit(_duplicate_ids), _full_marks),
    Broken("cells_reordered", _edit(_reorder), _full_marks),
    Broken("cells_merged", _edit(_merge), _full_marks),
    Broken("cell_deleted", _edit(_delete_zeros), _only_lost("initialize_parameters_zeros", "not defined")),
    Broken("syntax_error", _edit(_syntax_error), _only_lost("initialize_parameters_he", "syntax")),
    Broken("missing_package", _edit(_missing_package),
           _only_lost("initialize_parameters_he", "not_a_real_package", "modulenotfound", "not defined")),
    Broken("function_raises", _edit(_raises), _only_lost("initialize_parameters_he", "not finished", "valueerror")),
    Broken("other_assignment", _other_assignment, _other_assignment_verify),
]
