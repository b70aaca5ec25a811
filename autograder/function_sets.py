"""Which graded functions a submission is graded on, and which grade cell records each one.

Our notebooks grade every function of ``reference.registry.GRADED[a]``. The original course's notebooks
(``# GRADED FUNCTION: <name>`` headers, opaque ``cell-<hex>`` grade ids) ask for fewer in one
assignment: its optimization notebook has 8 graded functions (no RMSprop, no exponentially weighted
average). A learner holding such a notebook must be graded on the original's set — no "not defined"
zeros and no mastery evidence for exercises that are not part of their assignment.

:func:`resolve` decides, first rule that applies:

1. the instructor's choice in ``nbgrader_config.py``: ``c.DeepgradeGrade.function_sets = {"optimization":
   "original"}`` (or ``"course"``, or an explicit list of function names);
2. the course's own notebook (``source/<a>/<a>.ipynb``, else ``release/``): when it is in the original
   format, the functions its ``# GRADED FUNCTION`` headers name;
3. the submission: a notebook in the original format gets the original assignment's FIXED set
   (:data:`ORIGINAL_SETS`; never the headers the learner happened to keep, so deleting a header
   cannot drop an exercise).

Otherwise every function of the suite. :func:`grade_cells` maps each function to the grade cell of
the course's notebook that records it (``test_<f>`` in ours; in an original-format course notebook the
first grade cell after the function's cell).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from reference import catalog
from traitlets.config.loader import PyFileConfigLoader

__all__ = ["ORIGINAL_SETS", "FunctionSet", "resolve", "graded_headers", "is_original_format",
           "defining_cell", "course_notebook", "grade_cells", "configured_choice"]

#: the original course's graded functions where they differ from ours (other assignments: the same);
#: each declaration's ``original_functions``
ORIGINAL_SETS: dict[str, tuple[str, ...]] = {name: decl.original_functions for name, decl in catalog.declared().items()
                                             if decl.original_functions}

HEADER = re.compile(r"^[ \t]*#[ \t]*GRADED FUNCTION:[ \t]*([A-Za-z_]\w*)", re.MULTILINE)
OPAQUE_ID = re.compile(r"^cell-[0-9a-f]{6,}$")


@dataclass(frozen=True)
class FunctionSet:
    functions: tuple[str, ...]       # in the suite's order
    origin: str                      # "course" | "config" | "course notebook" | "original-format notebook"

    def excluded(self, all_functions: Iterable[str]) -> list[str]:
        return [f for f in all_functions if f not in self.functions]


def graded_headers(sources: Iterable[str]) -> list[str]:
    """Function names of ``# GRADED FUNCTION: <name>`` headers, in order, each once."""
    seen: list[str] = []
    for src in sources:
        for name in HEADER.findall(src or ""):
            if name not in seen:
                seen.append(name)
    return seen


def is_original_format(cells: Iterable[Any]) -> bool:
    """``cells``: notebook.CodeCell-like objects (``.source``, ``.grade_id``). True when a cell carries a
    ``# GRADED FUNCTION`` header and none carries our ``ex_``/``test_`` grade ids."""
    cells = list(cells)
    ours = any((c.grade_id or "").startswith(("ex_", "test_")) for c in cells)
    return not ours and bool(graded_headers(c.source for c in cells))


def defining_cell(cells: list[dict], function: str) -> int | None:
    """Index (among ``cells``, raw notebook dicts) of the last code cell headed ``# GRADED FUNCTION:
    function`` or defining ``def function(`` at top level; None if none."""
    pattern = re.compile(rf"^(def[ \t]+{re.escape(function)}[ \t]*\(|[ \t]*#[ \t]*GRADED FUNCTION:[ \t]*"
                         rf"{re.escape(function)}\b)", re.MULTILINE)
    found = None
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else str(src)
            if pattern.search(src):
                found = i
    return found


# ------------------------------------------------------------------------------- course side (trusted)
def course_notebook(course_dir: str | Path | None, assignment: str) -> Path | None:
    """The course's own notebook of ``assignment`` (source/ first, then release/), or None."""
    if course_dir is None:
        return None
    for sub in ("source", "release"):
        nb = Path(course_dir) / sub / assignment / f"{assignment}.ipynb"
        if nb.is_file():
            return nb
    return None


def file_mtime(path: Path) -> float:
    """``path``'s modification time (-1.0 if it cannot be read): the cache key of trusted files."""
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


_mtime = file_mtime


@lru_cache(maxsize=32)
def _course_layout(path: str, mtime: float) -> tuple[tuple[str, ...], dict[str, str], dict[str, float]]:
    """(headed functions, {function: grade id}, {grade id: points}) of a trusted course notebook."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict)]
    sources = ["".join(c.get("source", "")) if isinstance(c.get("source"), list) else str(c.get("source", ""))
               for c in cells]
    headed = tuple(graded_headers(s for s, c in zip(sources, cells) if c.get("cell_type") == "code"))
    cell_of: dict[str, str] = {}
    points: dict[str, float] = {}
    for i, cell in enumerate(cells):
        nbg = (cell.get("metadata") or {}).get("nbgrader") or {}
        gid = nbg.get("grade_id")
        if nbg.get("grade") and not nbg.get("solution") and isinstance(gid, str):
            if isinstance(nbg.get("points"), (int, float)):
                points[gid] = float(nbg["points"])
            if gid.startswith("test_"):
                cell_of.setdefault(gid.removeprefix("test_"), gid)
    for f in headed:                     # original format: the first grade cell after f's cell
        start = defining_cell(cells, f)
        for cell in cells[(start or 0) + 1:]:
            nbg = (cell.get("metadata") or {}).get("nbgrader") or {}
            if HEADER.search("".join(cell.get("source", ""))):
                break
            if nbg.get("grade") and not nbg.get("solution") and isinstance(nbg.get("grade_id"), str):
                cell_of.setdefault(f, nbg["grade_id"])
                break
    return headed, cell_of, points


def grade_cells(course_dir: str | Path | None, assignment: str) -> dict[str, str]:
    """{function: grade id of the course notebook's cell recording it} ({} if there is no notebook)."""
    nb = course_notebook(course_dir, assignment)
    return dict(_course_layout(str(nb), _mtime(nb))[1]) if nb else {}


def course_points(course_dir: str | Path | None, assignment: str) -> dict[str, float]:
    """{function: points} from an ORIGINAL-format course notebook's grade cells ({} otherwise)."""
    nb = course_notebook(course_dir, assignment)
    if not nb:
        return {}
    headed, cell_of, points = _course_layout(str(nb), _mtime(nb))
    return {f: points[cell_of[f]] for f in headed if f in cell_of and cell_of[f] in points}


@lru_cache(maxsize=8)
def _config_choices(path: str, mtime: float) -> dict:
    if mtime < 0:
        return {}
    p = Path(path)
    try:
        cfg = PyFileConfigLoader(p.name, path=str(p.parent)).load_config()
    except Exception:  # noqa: BLE001 - a broken config is reported by nbgrader / the runner, not here
        return {}
    section = cfg.DeepgradeGrade if "DeepgradeGrade" in cfg else {}
    choices = section.get("function_sets", {}) if hasattr(section, "get") else {}
    return dict(choices) if isinstance(choices, dict) else {}


def configured_choice(course_dir: str | Path | None, assignment: str) -> Any:
    """``c.DeepgradeGrade.function_sets[assignment]`` of the course's nbgrader_config.py, or None."""
    if course_dir is None:
        return None
    cfg = Path(course_dir) / "nbgrader_config.py"
    return _config_choices(str(cfg), _mtime(cfg)).get(assignment)


def resolve(assignment: str, suite_functions: Iterable[str], cells: Iterable[Any] | None,
            course_dir: str | Path | None) -> FunctionSet:
    """The functions to grade (see the module docstring). ``cells``: the submission's parsed code cells
    (None when it could not be read)."""
    allf = tuple(dict.fromkeys(suite_functions))
    original = ORIGINAL_SETS.get(assignment, allf)

    def pick(names: Iterable[str], origin: str) -> FunctionSet:
        wanted = set(names)
        chosen = tuple(f for f in allf if f in wanted)
        return FunctionSet(chosen or allf, origin if chosen else "course")

    choice = configured_choice(course_dir, assignment)
    if choice == "original":
        return pick(original, "config")
    if choice == "course":
        return FunctionSet(allf, "config")
    if isinstance(choice, (list, tuple)) and choice:
        return pick((str(f) for f in choice), "config")
    nb = course_notebook(course_dir, assignment)
    if nb is not None:
        headed = _course_layout(str(nb), _mtime(nb))[0]
        if headed:
            return pick(headed, "course notebook")
    if cells is not None and is_original_format(cells):
        return pick(original, "original-format notebook")
    return FunctionSet(allf, "course")


def pinned_subset(course_dir: str | Path | None, assignment: str, all_functions: Iterable[str]) -> tuple[str, ...] | None:
    """The strict subset of ``all_functions`` the instructor's config pins for ``assignment`` (None if
    the config pins nothing smaller)."""
    allf = tuple(all_functions)
    choice = configured_choice(course_dir, assignment)
    if choice == "original":
        wanted = set(ORIGINAL_SETS.get(assignment, allf))
    elif isinstance(choice, (list, tuple)) and choice:
        wanted = {str(f) for f in choice}
    else:
        return None
    keep = tuple(f for f in allf if f in wanted)
    return keep if keep and len(keep) < len(allf) else None


OPTIONAL_NOTE = ("*Optional in this course: this exercise is not part of the graded assignment. Try it if you "
                 "like; the grader does not score it.*")


def restrict_notebook(nb: Any, keep: Iterable[str]) -> Any:
    """Our source notebook (NotebookNode) with only ``keep``'s exercises graded: every other exercise's
    test cell ``test_<f>`` stops being a grade cell (so the gradebook's total counts only ``keep``),
    its points leave ``metadata.deepgrade.points``, and a note marks the exercise optional."""
    keep = set(keep)
    noted = {c.get("id") for c in nb.cells}      # restricting twice adds no second note
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id", "")
        if gid.startswith("ex_") and gid[3:] not in keep and f"optional-{gid[3:]}"[:64] not in noted:
            import nbformat   # lazy: +1.7 s start-up (its validator), the engine never needs it otherwise
            cells.append(nbformat.v4.new_markdown_cell(OPTIONAL_NOTE, id=f"optional-{gid[3:]}"[:64]))
        if gid.startswith("test_") and gid[5:] not in keep:
            meta["grade"] = False
            meta.pop("points", None)
        cells.append(cell)
    nb.cells = cells
    points = nb.metadata.get("deepgrade", {}).get("points")
    if isinstance(points, dict):
        nb.metadata["deepgrade"]["points"] = {f: p for f, p in points.items() if f in keep}
    return nb
