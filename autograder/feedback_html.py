"""The feedback page ``nbgrader generate_feedback`` writes, made readable offline.

* :class:`RenderMath` turns ``$...$`` / ``$$...$$`` in markdown cells into MathML (``latex2mathml``), which
  browsers render natively: no MathJax, no CDN, formulas show without a network.
* :data:`TEMPLATE` (``feedback.html.j2``) extends nbgrader's feedback template: no MathJax script, text
  outputs wrap, the summary names each exercise, the learner's own outputs are marked as submitted.
* :class:`ClearHiddenTestsForFeedback` is nbgrader's ``ClearHiddenTests`` without the "Config option
  display_data_priority not recognized" warning every feedback run printed.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from latex2mathml.converter import convert
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from traitlets import Bool, List

__all__ = ["TEMPLATE", "RenderMath", "ClearHiddenTestsForFeedback", "render_math", "configure_feedback"]

TEMPLATE = Path(__file__).with_name("feedback.html.j2")
MAX_FORMULA_CHARS = 2000

# code spans and fences are left alone; then $$display$$ before $inline$ (no space after the opening $)
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")


def _mathml(tex: str, display: str) -> str:
    if len(tex) > MAX_FORMULA_CHARS:
        return f"<code>{html.escape(tex)}</code>"
    try:
        return convert(tex.strip(), display=display)
    except Exception:  # noqa: BLE001 - a formula latex2mathml cannot read stays visible as its source
        return f"<code>{html.escape(tex)}</code>"


def render_math(markdown: str) -> str:
    """``markdown`` with every formula outside code replaced by MathML."""
    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):              # even parts are outside code
        text = _DISPLAY.sub(lambda m: "\n\n" + _mathml(m.group(1), "block") + "\n\n", parts[i])
        parts[i] = _INLINE.sub(lambda m: _mathml(m.group(1), "inline"), text)
    return "".join(parts)


class RenderMath(Preprocessor):
    """Feedback: LaTeX in markdown cells -> MathML (see module docstring)."""

    enabled = Bool(True).tag(config=True)      # nbconvert preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = render_math(cell.source)
        return cell, resources


class ClearHiddenTestsForFeedback(ClearHiddenTests):
    """nbgrader's ClearHiddenTests; ``display_data_priority`` declared configurable as nbconvert's
    exporters configure it (nbgrader's base class re-declares it without ``config=True``)."""

    display_data_priority = List(['text/html', 'application/pdf', 'text/latex', 'image/svg+xml', 'image/png',
                                  'image/jpeg', 'text/plain']).tag(config=True)


def configure_feedback(c, *extra_preprocessors) -> None:
    """Feedback pipeline + template on an nbgrader config object ``c``."""
    c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTestsForFeedback, *extra_preprocessors, RenderMath,
                                        CSSHTMLHeaderPreprocessor]
    # GenerateFeedback keeps its template_name "feedback" (nbgrader's), which our file extends
    c.HTMLExporter.template_file = str(TEMPLATE)
