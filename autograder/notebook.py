"""Read a student submission (.ipynb) safely and quickly, without nbformat's validator.

``read_submission(path)`` returns a :class:`ParsedNotebook` with the code cells in order, or raises
:class:`UngradableNotebook` whose ``reason`` names the file and what is wrong with it. The size is
checked before reading, and only plain ``json`` is used (importing nbformat costs ~1.7 s).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["read_submission", "ParsedNotebook", "CodeCell", "UngradableNotebook",
           "DEFAULT_MAX_BYTES", "SKIP_TAG"]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
SKIP_TAG = "deepgrade-skip"


class UngradableNotebook(Exception):
    """The submission cannot be graded. ``reason`` is a one-line message naming the file."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.reason = f"{Path(path).name}: {problem}"
        super().__init__(self.reason)


@dataclass(frozen=True)
class CodeCell:
    """One code cell. ``index`` is its position among ALL cells of the notebook (0-based)."""

    index: int
    source: str
    tags: tuple[str, ...] = ()
    grade_id: str | None = None
    solution: bool = False
    grade: bool = False
    points: float | None = None
    skip: bool = False              # tagged ``deepgrade-skip``


@dataclass
class ParsedNotebook:
    path: Path
    nbformat: int
    nbformat_minor: int
    cells: list[CodeCell]
    assignment: str | None = None            # metadata.deepgrade.assignment
    duplicate_grade_ids: list[str] = field(default_factory=list)
    size_bytes: int = 0

    def by_grade_id(self, grade_id: str) -> list[CodeCell]:
        return [c for c in self.cells if c.grade_id == grade_id]

    def gradable_cells(self) -> list[CodeCell]:
        """Code cells the grader should execute (not tagged deepgrade-skip)."""
        return [c for c in self.cells if not c.skip]


def _source_text(source: Any, path: Path, index: int) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    if source is None:
        return ""
    raise UngradableNotebook(path, f"cell {index} has a source that is neither a string nor a "
                                   f"list of strings")


def _code_cell(raw: dict, index: int, path: Path) -> CodeCell:
    source = _source_text(raw.get("source", ""), path, index)
    meta = raw.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    tags_raw = meta.get("tags")
    tags = tuple(t for t in tags_raw if isinstance(t, str)) if isinstance(tags_raw, list) else ()
    nbg = meta.get("nbgrader")
    nbg = nbg if isinstance(nbg, dict) else {}
    grade_id = nbg.get("grade_id")
    points = nbg.get("points")
    return CodeCell(
        index=index,
        source=source,
        tags=tags,
        grade_id=grade_id if isinstance(grade_id, str) and grade_id else None,
        solution=nbg.get("solution") is True,
        grade=nbg.get("grade") is True,
        points=float(points) if isinstance(points, (int, float)) and not isinstance(points, bool)
        else None,
        skip=SKIP_TAG in tags,
    )


def read_submission(path: Path | str, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedNotebook:
    """Parse a submitted notebook; raise UngradableNotebook(reason) if it cannot be graded."""
    path = Path(path)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise UngradableNotebook(path, "file not found") from None
    except OSError as exc:
        raise UngradableNotebook(path, f"cannot read file ({exc.strerror})") from None
    if not path.is_file():
        raise UngradableNotebook(path, "not a regular file")
    if size == 0:
        raise UngradableNotebook(path, "empty file")
    if size > max_bytes:
        raise UngradableNotebook(path, f"too large ({size} bytes; the limit is {max_bytes} bytes)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UngradableNotebook(path, f"cannot read file ({exc.strerror})") from None
    if len(data) > max_bytes:   # grew after stat
        raise UngradableNotebook(path, f"too large (more than {max_bytes} bytes)")
    if not data.strip():
        raise UngradableNotebook(path, "empty file (only whitespace)")
    if b"\x00" in data[:8192]:
        raise UngradableNotebook(path, "binary file, not a notebook")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UngradableNotebook(path, f"not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UngradableNotebook(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: "
                                       f"{exc.msg}") from None
    except RecursionError:
        raise UngradableNotebook(path, "invalid JSON: nested too deeply") from None
    if not isinstance(nb, dict):
        raise UngradableNotebook(path, "not a notebook (no 'cells' list: the JSON is not an object)")
    major = nb.get("nbformat")
    minor = nb.get("nbformat_minor", 0)
    # the version decides how to read the rest: an nbformat 3 file has worksheets, not cells
    if isinstance(major, int) and not isinstance(major, bool) and major < 4:
        raise UngradableNotebook(path, f"nbformat {major} is too old (version 4 is required; "
                                       f"re-save the notebook in a current Jupyter)")
    if not isinstance(nb.get("cells"), list):
        raise UngradableNotebook(path, "not a notebook (no 'cells' list)")
    if not isinstance(major, int) or isinstance(major, bool):
        raise UngradableNotebook(path, "not a notebook (missing nbformat version)")
    cells: list[CodeCell] = []
    for index, raw in enumerate(nb["cells"]):
        if not isinstance(raw, dict):
            raise UngradableNotebook(path, f"cell {index} is not a JSON object")
        if raw.get("cell_type") == "code":
            cells.append(_code_cell(raw, index, path))
    seen: dict[str, int] = {}
    for c in cells:
        if c.grade_id:
            seen[c.grade_id] = seen.get(c.grade_id, 0) + 1
    duplicates = sorted(g for g, n in seen.items() if n > 1)
    meta = nb.get("metadata")
    dg = meta.get("deepgrade") if isinstance(meta, dict) else None
    assignment = dg.get("assignment") if isinstance(dg, dict) else None
    return ParsedNotebook(
        path=path,
        nbformat=major,
        nbformat_minor=minor if isinstance(minor, int) else 0,
        cells=cells,
        assignment=assignment if isinstance(assignment, str) else None,
        duplicate_grade_ids=duplicates,
        size_bytes=size,
    )
