"""Make stock ``nbgrader autograde`` (and the formgrader's "autograde" button) grade with our engine.

nbgrader 0.9.6 runs two preprocessor lists per notebook (``converters/autograde.py``):
``Autograde.sanitize_preprocessors`` (clear outputs, restore locked cells from the source) and then
``Autograde.autograde_preprocessors`` (stock: Execute, IgnorePattern, ClearMetadata, LimitOutput,
SaveAutoGrades, AssignLatePenalties, CheckCellMetadata). :func:`configure_autograde` swaps two of them:

* ``Execute`` -> :class:`DeepgradeGrade`: grades the submitted notebook with the engine (sandboxed hidden
  checks; nothing runs in nbgrader's kernel) and writes each check's message/hint — never hidden code
  or inputs — as a stdout stream into the test cell ``test_<f>``, so generated feedback shows them.
* ``SaveAutoGrades`` -> :class:`DeepgradeSaveGrades`: writes the scores of the TYPED result into the
  gradebook (:mod:`autograder.gradebook`), never by parsing cell outputs, plus ``results.json``.

The sanitize list gets :class:`RepairNbgraderMetadata` (damaged, copied or foreign nbgrader metadata is
dropped per cell, with the reason logged, instead of failing the submission or the class). The feedback
pipeline (:mod:`autograder.feedback_html`) gets ClearHiddenTests, :class:`MinimalTracebacks`, offline math
and deepgrade's template. The grading runner (:mod:`autograder.runner`) writes the very same annotated
notebook with :func:`annotate_notebook`, so ``nbgrader generate_feedback`` works after either path.
"""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import ClearMetadataPreprocessor, Preprocessor
import nbformat
from traitlets import Bool, Integer, Unicode

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters.autograde import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern,
                                    LimitOutput, NbGraderPreprocessor, OverwriteCells)

from autograder import forksafe, gradebook
from autograder.feedback_html import configure_feedback
from autograder.function_sets import defining_cell
from autograder.locking import course_lock
from autograder.recording import Item, Recorder
from autograder.safe_text import neutralize_notebook
from autograder.submission_files import submitted_problem
from autograder.tasks import (REFUSED, load_callable, safe_grade,  # noqa: F401 - load_callable re-exported
                              ungradable)

DEFAULT_ENGINE = "autograder.engine:grade_submission"
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


# ----------------------------------------------------------------------------------------------
# preprocessors

_GRADEBOOKS: dict[tuple[str, str, int], Gradebook] = {}


def shared_gradebook(db_url: str, course_id: str) -> Gradebook:
    """One read connection per gradebook and process for the sanitize step (stock ``OverwriteCells``
    opens a new engine, creates tables and checks the course for every notebook)."""
    key = (db_url, course_id, os.getpid())        # never reuse an engine across fork
    if key not in _GRADEBOOKS:
        _GRADEBOOKS[key] = Gradebook(db_url, course_id)
        forksafe.track_engine(_GRADEBOOKS[key].engine)
    return _GRADEBOOKS[key]


_RECORDERS: dict[tuple[str, str, int], Recorder] = {}


def shared_recorder(db_url: str, course_root: str) -> Recorder:
    """One Recorder (one connection pool) per gradebook and process: nbgrader autograde records one
    notebook per call; its connections are pooled, and no transaction stays open between calls."""
    key = (db_url, str(course_root), os.getpid())
    if key not in _RECORDERS:
        _RECORDERS[key] = Recorder(db_url, course_root)
    return _RECORDERS[key]


class CourseOverwriteCells(OverwriteCells):
    """nbgrader's ``OverwriteCells`` (restore locked cells and cell metadata from the release), opening
    the gradebook with the course's configured ``CourseDirectory.course_id`` — stock opens it with
    nbgrader's default id, which adds a ``default_course`` row to a gradebook configured for another
    course — and reusing one connection per process, its read transaction ended after each notebook."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id, self.db_url = info["notebook"], info["assignment"], info["db_url"]
        self.gradebook = shared_gradebook(self.db_url, CourseDirectory(config=self.config).course_id)
        try:
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        finally:
            self.gradebook.db.rollback()          # no transaction stays open between notebooks
        return nb, resources


class CourseOverwriteKernelspec(NbGraderPreprocessor):
    """nbgrader's ``OverwriteKernelspec`` (the released notebook's kernelspec wins) on the shared,
    course-aware gradebook connection (stock opens a new one with the default course id per notebook)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        gb = shared_gradebook(info["db_url"], CourseDirectory(config=self.config).course_id)
        try:
            kernelspec = gb.find_notebook(info["notebook"], info["assignment"]).kernelspec
        finally:
            gb.db.rollback()
        if kernelspec:
            nb.metadata["kernelspec"] = json.loads(kernelspec)
        return nb, resources


def sanitize_preprocessors(config) -> list:
    """nbgrader's ``Autograde.sanitize_preprocessors`` as the course configures them (what nbgrader
    autograde runs before grading), for the runner to sanitise its autograded copies the same way."""
    return list(Autograde(config=config).sanitize_preprocessors)


def _course_paths(pp: Preprocessor):
    return CourseDirectory(config=pp.config)


class DeepgradeGrade(NbGraderPreprocessor):
    """Grade the submission with the deepgrade engine (replaces nbgrader's ``Execute``).

    The result travels to :class:`DeepgradeSaveGrades` in ``resources["deepgrade"]["result"]``.
    """

    engine = Unicode(DEFAULT_ENGINE, help="import path 'module:function' of the grade function "
                                          "(signature of autograder.engine.grade_submission)").tag(config=True)
    seed = Integer(None, allow_none=True, help="seed passed to the engine (None: engine default)").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        coursedir = _course_paths(self)
        submitted = Path(coursedir.format_path(coursedir.submitted_directory, info["student"],
                                               info["assignment"])) / f"{info['notebook']}.ipynb"
        self.log.info("deepgrade: grading %s", submitted)
        refused = submitted_problem(submitted.parent, info["notebook"])    # the same file rules as the runner
        if refused:                      # nbgrader already read what a link points to: keep none of it
            result = ungradable(submitted, info["assignment"], info["student"], refused, checksum=REFUSED,
                                seed=self.seed)
            for cell in nb.cells:
                cell.source = ""
        else:
            result = safe_grade(load_callable(self.engine), str(submitted), info["assignment"], info["student"],
                                course_dir=coursedir.root, seed=self.seed)
        resources.setdefault("deepgrade", {})["result"] = result
        annotate_notebook(nb, result, read_submitted_json(submitted))
        if result.gradable:
            self.log.info("deepgrade: %s %s scored %g / %g", info["student"], info["assignment"],
                          result.score, result.max_score)
        else:
            self.log.warning("deepgrade: %s %s not gradable: %s", info["student"], info["assignment"],
                             result.ungradable_reason)
        return nb, resources


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


class RepairNbgraderMetadata(NbGraderPreprocessor):
    """Sanitize step before ``DeduplicateIds``: a cell whose nbgrader metadata nbgrader would refuse
    (not an object, no grade id, a schema version of another nbgrader, fields the schema rejects), whose
    grade id this assignment's release does not know (a notebook from another course, e.g. the
    original course's ``cell-<hex>`` ids) or that copies another cell's grade id loses that metadata
    and stays an ordinary cell. Stock nbgrader
    fails the submission on these — and a missing ``schema_version`` stops the whole class. The
    deepgrade engine grades by function from the submitted file, so nothing is lost; each repair is
    logged with the student and the reason (and kept in ``resources["deepgrade"]["repairs"]``)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        gb = shared_gradebook(info["db_url"], CourseDirectory(config=self.config).course_id)
        try:
            known = {c.name for c in gb.find_notebook(info["notebook"], info["assignment"]).source_cells}
        except MissingEntry:
            known = None
        finally:
            gb.db.rollback()
        repairs, seen = [], set()
        for index, cell in enumerate(nb.cells):
            problem = metadata_problem(cell, known)
            if problem:
                cell.metadata.pop("nbgrader", None)
                repairs.append(f"cell {index}: {problem}")
        # a copied cell: keep the LAST cell with a grade id, as nbgrader's DeduplicateIds does, but drop the
        # metadata entirely (DeduplicateIds leaves an empty dict, which later stops the class as "schema 0")
        for index in range(len(nb.cells) - 1, -1, -1):
            meta = nb.cells[index].metadata.get("nbgrader")
            gid = meta.get("grade_id") if isinstance(meta, dict) else None
            if gid and (meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task")):
                if gid in seen:
                    nb.cells[index].metadata.pop("nbgrader")
                    repairs.append(f"cell {index}: a copy of the cell {gid!r} (the last copy is kept)")
                seen.add(gid)
        unknown = [r for r in repairs if r.endswith("is not part of this assignment's release")]
        if unknown:
            self.log.warning("deepgrade: %s/%s: %d cells carry grade ids this release does not know (a notebook "
                             "from another course?): their nbgrader metadata is ignored; grading is by "
                             "function", info.get("student"), info.get("assignment"), len(unknown))
        for line in (r for r in repairs if r not in unknown):
            self.log.warning("deepgrade: %s/%s: nbgrader metadata ignored, %s", info.get("student"),
                             info.get("assignment"), line)
        resources.setdefault("deepgrade", {})["repairs"] = repairs
        return nb, resources


def metadata_problem(cell: Any, known: set[str] | None) -> str | None:
    """Why nbgrader would refuse ``cell``'s nbgrader metadata (None if it is fine or absent). A missing
    ``schema_version`` on otherwise current metadata is filled in (nbgrader would stop the class)."""
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return "the nbgrader metadata is not an object"
    validator = MetadataValidator()
    version = meta.get("schema_version")
    if version is None and {"grade", "solution", "locked"} <= set(meta):
        meta["schema_version"] = version = validator.schema_version
    if version != validator.schema_version:
        return f"nbgrader metadata schema version {version!r} (this nbgrader reads {validator.schema_version})"
    try:
        validator.validate_cell(cell)
    except Exception as exc:  # noqa: BLE001 - jsonschema/nbgrader validation errors, KeyError, TypeError
        return f"invalid nbgrader metadata ({str(exc).splitlines()[0][:200]})"
    flagged = meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task")
    if flagged and known is not None and meta.get("grade_id") not in known:
        return f"grade id {str(meta.get('grade_id'))[:80]!r} is not part of this assignment's release"
    return None


class DeepgradeSaveGrades(NbGraderPreprocessor):
    """Record the typed result (replaces nbgrader's ``SaveAutoGrades``) through the same step as
    ``deepgrade grade`` (:class:`autograder.recording.Recorder`): ``results.json`` written atomically,
    then gradebook rows + ``dg_results`` + mastery evidence in one transaction, all under the course
    lock (and a shared gradebook's database lock). A result the database would not take fails this
    notebook, so nbgrader reports it and the next ``autograde`` grades it again."""

    def preprocess(self, nb, resources):
        result = resources.get("deepgrade", {}).get("result")
        if result is None:
            raise RuntimeError("DeepgradeSaveGrades needs DeepgradeGrade earlier in "
                               "Autograde.autograde_preprocessors (see autograder.nbgrader_plugin)")
        info = resources["nbgrader"]
        coursedir = _course_paths(self)
        submitted = Path(coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"]))
        item = Item(result, submitted_at=gradebook.read_timestamp(submitted))
        with course_lock(coursedir.root, what="nbgrader autograde", db_url=info["db_url"]):
            outcome = shared_recorder(info["db_url"], coursedir.root).record_now(item)
        if not outcome.recorded:
            raise gradebook.GradebookError(f"{info['student']}/{info['assignment']} not recorded: {outcome.error}")
        return nb, resources


class MinimalTracebacks(Preprocessor):
    """Feedback: reduce every error output to ``Name: message`` (no frames, no hidden source lines)."""

    enabled = Bool(True).tag(config=True)      # nbconvert preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


# ----------------------------------------------------------------------------------------------


def configure_autograde(c, *, engine: str = DEFAULT_ENGINE, seed: int | None = None) -> None:
    """Apply deepgrade's autograde + feedback pipeline to an nbgrader config object ``c``."""
    c.Autograde.sanitize_preprocessors = [ClearOutput, RepairNbgraderMetadata, DeduplicateIds,
                                          CourseOverwriteKernelspec, CourseOverwriteCells, CheckCellMetadata]
    c.Autograde.autograde_preprocessors = [
        DeepgradeGrade, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        DeepgradeSaveGrades, AssignLatePenalties, CheckCellMetadata,
    ]
    c.DeepgradeGrade.engine = engine
    c.DeepgradeGrade.seed = seed
    configure_feedback(c, MinimalTracebacks)
    # if anything still runs a kernel through nbgrader (validate), keep its tracebacks short
    c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]
