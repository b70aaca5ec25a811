"""The autograded notebook's annotations, shared by ``nbgrader autograde`` (:mod:`autograder.nbgrader_plugin`)
and ``deepgrade grade`` (:mod:`autograder.recording`): each check's message and hint as a stream output in
the test cell of its function, the submitted outputs kept where safe, and nbgrader's sanitize step."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.converters.autograde import Autograde

from autograder.function_sets import defining_cell
from autograder.safe_text import neutralize_notebook

STREAM_MARK = "deepgrade"          # stream outputs we add carry metadata {"deepgrade": true}

# ----------------------------------------------------------------------------------------------
# feedback text (shared with the runner)

FEEDBACK_TAG = "deepgrade-feedback"      # cells we insert carry this tag and metadata {"deepgrade": ...}
SUBMITTED_MIME = ("image/png", "image/jpeg", "text/plain")   # kept from the submission (no HTML/JS/SVG)
MAX_KEPT_OUTPUT_CHARS = 200_000          # per cell: larger submitted outputs are dropped, with a note
MAX_ERROR_CHARS = 600


def _cell_error_line(result: Any, cell_index: int | None) -> str | None:
    """The error of the cell that should have defined a function (e.g. an IndentationError), if any."""
    if cell_index is None:
        return None
    for err in getattr(result, "cell_errors", None) or []:
        if err.get("cell") == cell_index and err.get("status") != "import_skipped":
            text = str(err.get("evalue") or err.get("ename") or "error")[:MAX_ERROR_CHARS]
            return "  The cell that defines it stopped with an error, so nothing after that point ran:\n" + \
                "\n".join(f"    {line}" for line in text.splitlines())
    return None


def feedback_text(result: Any, function: str, cell_index: int | None = None) -> str:
    """What a learner sees after the cell of ``function``: score, then one line per check with its
    message and hint. Built only from the result's messages/hints (the engine never puts hidden code
    or hidden inputs there); ``cell_index`` (the cell that defines the function) adds that cell's
    error when the function could not be graded."""
    if not result.gradable:
        return f"Not graded automatically: {result.ungradable_reason}\n"
    fs = result.functions.get(function)
    if fs is None:
        return f"{function}: no automatic checks ran for this function.\n"
    lines = [f"{function}: {fs['score']:g} / {fs['max_score']:g} points"]
    for c in result.checks_for(function):
        mark = "PASS" if c.passed else "FAIL"
        msg = f" - {c.message}" if c.message else ""
        lines.append(f"  [{mark}] {c.name}{msg}")
        if c.hint and not c.passed:
            lines.append(f"         hint: {c.hint}")
    if fs["score"] < fs["max_score"]:
        err = _cell_error_line(result, cell_index)
        if err:
            lines.append(err)
    return "\n".join(_wrap(line) for text in lines for line in text.split("\n")) + "\n"


FEEDBACK_WIDTH = 100       # feedback lines are wrapped here: formgrader and Lab show outputs unwrapped


def _wrap(line: str) -> str:
    """``line`` folded at FEEDBACK_WIDTH columns, continuation lines indented under its text."""
    if len(line) <= FEEDBACK_WIDTH:
        return line
    indent = len(line) - len(line.lstrip(" "))
    return "\n".join(textwrap.wrap(line, FEEDBACK_WIDTH, subsequent_indent=" " * (indent + 4),
                                    break_long_words=True, break_on_hyphens=False, drop_whitespace=True))


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _submitted_outputs(raw_cell: Any) -> list[dict]:
    """The outputs a learner's own run left in ``raw_cell`` (plain JSON), restricted to plain text,
    PNG/JPEG images and error names (never HTML, JavaScript or SVG). Each becomes a display_data
    output with metadata ``{"deepgrade": {"submitted": true}}`` (streams and errors cannot carry
    metadata), so templates can mark it as submitted."""
    if not isinstance(raw_cell, dict) or not isinstance(raw_cell.get("outputs"), list):
        return []
    kept, size = [], 0
    for out in raw_cell["outputs"]:
        if not isinstance(out, dict):
            continue
        kind, data = out.get("output_type"), {}
        if kind == "stream" and isinstance(out.get("text"), (str, list)):
            data["text/plain"] = "".join(map(str, out["text"])) if isinstance(out["text"], list) else out["text"]
        elif kind in ("display_data", "execute_result") and isinstance(out.get("data"), dict):
            for mime in SUBMITTED_MIME:
                value = out["data"].get(mime)
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    value = "".join(value)
                if isinstance(value, str):
                    data[mime] = value
        elif kind == "error":
            data["text/plain"] = f"{str(out.get('ename', 'Error'))[:200]}: {str(out.get('evalue', ''))[:MAX_ERROR_CHARS]}"
        if not data or data == {"text/plain": ""}:
            continue
        size += sum(len(v) for v in data.values())
        if size > MAX_KEPT_OUTPUT_CHARS:
            data = {"text/plain": "[the rest of this cell's submitted output is too large to keep]"}
        kept.append({"output_type": "display_data", "data": data, "metadata": {"deepgrade": {"submitted": True}}})
        if size > MAX_KEPT_OUTPUT_CHARS:
            break
    return kept


SUBMITTED_NOTICE = ("**About this feedback.** The grader did not re-run your notebook: the outputs and plots "
                    "below are the ones you submitted (marked *submitted output*). The grader called your "
                    "graded functions on its own inputs; its verdict on each one is in the cell marked "
                    "*Feedback* after that function.")


def annotate_notebook(nb: Any, result: Any, submitted: dict | None = None) -> Any:
    """Put the feedback of ``result`` into ``nb`` (a NotebookNode or plain dict, changed in place):

    * each test cell ``test_<f>`` gets one stdout stream with the feedback for ``f`` (our notebooks);
    * a graded function without such a cell (a notebook in the original course's format) gets a new
      code cell right after the cell defining it, tagged ``deepgrade-feedback``; functions no cell
      defines get one at the end;
    * with ``submitted`` (the submitted notebook's JSON, same cells as ``nb``) every other code cell
      gets back the outputs the learner submitted (text and images only), marked as submitted, and a
      notice at the top says so.
    Cells a previous pass (or a learner) tagged ``deepgrade-feedback`` are dropped first; then
    ``nb`` is neutralized (:func:`autograder.safe_text.neutralize_notebook`): nothing the student wrote
    renders as HTML in the feedback."""
    node = hasattr(nb, "cells")
    cells = [c for c in nb["cells"] if FEEDBACK_TAG not in (c.get("metadata", {}).get("tags") or [])]
    raw = submitted.get("cells") if isinstance(submitted, dict) else None
    raw = raw if isinstance(raw, list) and len(raw) == len(nb["cells"]) else None
    if raw is not None:
        raw = [r for r, c in zip(raw, nb["cells"])
               if FEEDBACK_TAG not in (c.get("metadata", {}).get("tags") or [])]
    neutralize_notebook(nb)                      # after reading the tags, which it drops
    with_test_cell, restored = set(), False
    for i, cell in enumerate(cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id", "") if isinstance(meta, dict) else ""
        if cell.get("cell_type") != "code":
            continue
        if meta.get("grade") and gid.startswith("test_"):
            f = gid[len("test_"):]
            with_test_cell.add(f)
            cell["outputs"] = [_stream(feedback_text(result, f, defining_cell(cells, f)))]
        elif raw is not None:
            cell["outputs"] = _submitted_outputs(raw[i])
            restored = restored or bool(cell["outputs"])
    functions = list(getattr(result, "functions", {}) or {})
    if not result.gradable and not with_test_cell:
        functions = ["(notebook)"]
    inserts: list[tuple[int, dict]] = []
    for f in functions:
        if f in with_test_cell:
            continue
        at = defining_cell(cells, f) if f != "(notebook)" else None
        text = feedback_text(result, f, at)
        title = f"Feedback on {f}" if f != "(notebook)" else "Feedback"
        inserts.append((len(cells) if at is None else at + 1, {
            "cell_type": "code", "execution_count": None, "source": f"# {title} (written by the grader)",
            "id": f"dg-feedback-{len(inserts)}",
            "metadata": {"tags": [FEEDBACK_TAG], "editable": False,
                         "deepgrade": {"feedback": f, **(result.functions.get(f) or {})}},
            "outputs": [_stream(text)]}))
    # from the end, so positions stay valid; same position: later functions first, so order is kept
    for _, (at, new) in sorted(enumerate(inserts), key=lambda t: (t[1][0], t[0]), reverse=True):
        cells.insert(at, new)
    if restored:
        cells.insert(0, {"cell_type": "markdown", "source": SUBMITTED_NOTICE, "id": "dg-notice",
                         "metadata": {"tags": [FEEDBACK_TAG], "deepgrade": {"notice": True}}})
    taken = {c.get("id") for c in cells if FEEDBACK_TAG not in (c.get("metadata", {}).get("tags") or [])}
    for c in cells:                              # a learner's cell may already use one of our ids
        if FEEDBACK_TAG in (c.get("metadata", {}).get("tags") or []):
            while c["id"] in taken:
                c["id"] = f"{c['id']}-x"[:64]
            taken.add(c["id"])
    if node:
        nb.cells = [nbformat.from_dict(c) for c in cells]
    else:
        nb["cells"] = cells
    return nb


def read_submitted_json(path: str | Path, max_bytes: int = 20 * 1024 * 1024) -> dict | None:
    """The submitted notebook as plain JSON (for its outputs), or None if unreadable or too large."""
    try:
        path = Path(path)
        if not path.is_file() or path.is_symlink() or path.stat().st_size > max_bytes:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def sanitize_preprocessors(config) -> list:
    """nbgrader's ``Autograde.sanitize_preprocessors`` as the course configures them (what nbgrader
    autograde runs before grading), for the runner to sanitise its autograded copies the same way."""
    return list(Autograde(config=config).sanitize_preprocessors)
