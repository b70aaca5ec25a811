"""Student-originated text in what grading writes: size caps, Markdown escaping, a neutralized notebook.

Anything a submission controls -- exception messages, printed output, returned values quoted in a
diff, notebook metadata, cell sources, student and file names -- can reach the gradebook, Gradescope's
``results.json``, our HTML/Markdown reports and nbgrader's feedback HTML. This module is the one place
that makes such text harmless:

* :func:`cap` bounds a string (``results.json``, the gradebook row and every report stay small however
  large a student's output or dict is); :mod:`autograder.result` applies it when a result is built;
* :func:`markdown_text` turns text into one Markdown line that renders literally (no heading, list,
  table row, link, image, autolink or raw HTML can be forged);
* :func:`neutralize_notebook` makes a submitted notebook safe to render as feedback HTML (nbgrader's
  feedback template renders Markdown cells and ``grade_id`` unescaped).
HTML reports need nothing here: their Jinja templates autoescape.
"""
from __future__ import annotations

import re
from typing import Any

MAX_MESSAGE_CHARS = 2_000      # a check message, hint or ungradable reason
MAX_NAME_CHARS = 200           # a check/function/student/notebook name, a mistake id
MAX_LIST_ITEMS = 50            # cell errors kept per result; concepts per check

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|!~&])")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")
_AUTOLINK = re.compile(r"(?i)(://|www\.)")
SAFE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,100}")


def cap(text: Any, limit: int = MAX_MESSAGE_CHARS) -> Any:
    """``text`` cut to ``limit`` characters with a note of how much was cut (non-strings unchanged)."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return f"{text[:limit]} ... [{len(text) - limit} more characters cut]"


def markdown_text(text: Any) -> str:
    """One Markdown line that renders as exactly this text: line breaks become spaces, control and
    bidi-override characters are dropped, Markdown/HTML punctuation is backslash-escaped and
    ``://``/``www.`` are broken so no autolink forms."""
    text = _CONTROL.sub("", _LINE_BREAKS.sub(" ", str(text)))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _AUTOLINK.sub(lambda m: m.group(1).replace("/", "\\/").replace(".", "\\."), text)


def spreadsheet_text(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @`` (or tab/CR) would start a
    formula (``=HYPERLINK(...)``), so such text gets a leading apostrophe (OWASP's advice)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _html_text(source: str) -> str:
    """Markdown source whose raw HTML, links and images render as text (``&``/``<``/``>`` become
    entities; ``[``/``]`` are escaped, so no link or image syntax survives)."""
    return (source.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("[", "\\[").replace("]", "\\]"))


def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


_NBGRADER_KEYS = {"schema_version": int, "grade": bool, "solution": bool, "locked": bool, "task": bool,
                  "points": (int, float), "grade_id": str, "checksum": str, "cell_type": str,
                  "score": (int, float), "comment": str}


def _safe_nbgrader(meta: Any) -> dict:
    """The nbgrader cell metadata with known keys of the right type only; none at all when the
    ``grade_id`` (rendered unescaped by nbgrader's feedback template) is not a plain identifier -- no
    released cell has such an id, so the cell is an ordinary one the student added."""
    if not isinstance(meta, dict) or not SAFE_ID.fullmatch(str(meta.get("grade_id", ""))):
        return {}
    out = {k: v for k, v in meta.items() if k in _NBGRADER_KEYS and isinstance(v, _NBGRADER_KEYS[k])
           and not (isinstance(v, bool) and _NBGRADER_KEYS[k] is not bool)}
    if "comment" in out:
        out["comment"] = markdown_text(cap(out["comment"]))
    return out


def neutralize_notebook(nb: Any) -> Any:
    """Make a submitted notebook (NotebookNode or dict, changed in place and returned) safe to render
    as feedback HTML: notebook metadata reduced to a plain Python kernelspec/language; cell metadata
    reduced to type-checked nbgrader keys; outputs and attachments dropped (the grader adds its own
    outputs afterwards); raw HTML, links and images in Markdown and raw cells shown as text."""
    wrap = _wrapper(nb)
    kernelspec = nb.get("metadata", {}).get("kernelspec") or {}
    name = kernelspec.get("name") if isinstance(kernelspec, dict) else None
    nb["metadata"] = wrap({
        "kernelspec": {"name": name if isinstance(name, str) and SAFE_ID.fullmatch(name) else "python3",
                       "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    for cell in nb.get("cells", []):
        kind = cell.get("cell_type")
        meta = {}
        ng = _safe_nbgrader(cell.get("metadata", {}).get("nbgrader"))
        if ng:
            meta["nbgrader"] = ng
        cell["metadata"] = wrap(meta)
        cell.pop("attachments", None)
        if kind == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        elif kind in ("markdown", "raw"):
            cell["source"] = _html_text(_source(cell))
        else:                                  # an unknown cell type: keep nothing of it
            cell["cell_type"], cell["source"] = "raw", ""
    return nb


def _wrapper(nb: Any):
    if hasattr(nb, "cells"):                   # a NotebookNode: keep attribute access working
        from nbformat import from_dict   # lazy: +1.7 s start-up; results and reports never need it
        return from_dict
    return lambda d: d
