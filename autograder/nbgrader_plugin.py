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

The feedback pipeline gets ``ClearHiddenTests`` and :class:`MinimalTracebacks`.
The grading runner (:mod:`autograder.runner`) writes the very same annotated notebook with
:func:`annotate_notebook`, so ``nbgrader generate_feedback`` works after either path.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Integer, Unicode

from nbgrader.api import Gradebook
from nbgrader.converters.autograde import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells

from autograder import forksafe, gradebook
from autograder.locking import course_lock
from autograder.recording import Item, Recorder
from autograder.tasks import load_callable, safe_grade  # noqa: F401 - load_callable re-exported

DEFAULT_ENGINE = "autograder.engine:grade_submission"
STREAM_MARK = "deepgrade"          # stream outputs we add carry metadata {"deepgrade": true}


# ----------------------------------------------------------------------------------------------
# feedback text (shared with the runner)


def feedback_text(result: Any, function: str) -> str:
    """What a learner sees under the test cell of ``function``: score, then one line per check with
    its message and hint. Built only from the result's messages/hints (the engine never puts hidden
    code or hidden inputs there)."""
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
    return "\n".join(lines) + "\n"


def annotate_notebook(nb: Any, result: Any) -> Any:
    """Replace the outputs of every test cell ``test_<f>`` of ``nb`` (a NotebookNode or plain dict)
    with one stdout stream holding the feedback text for ``f``. Returns ``nb`` (changed in place)."""
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id", "")
        if cell.get("cell_type") != "code" or not meta.get("grade") or not gid.startswith("test_"):
            continue
        output = {"output_type": "stream", "name": "stdout", "text": feedback_text(result, gid[len("test_"):])}
        if hasattr(nb, "cells"):                       # a NotebookNode: keep node types
            from nbformat.v4 import new_output
            output = new_output(**output)
        cell["outputs"] = [output]
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
        result = safe_grade(load_callable(self.engine), str(submitted), info["assignment"], info["student"],
                            course_dir=coursedir.root, seed=self.seed)
        resources.setdefault("deepgrade", {})["result"] = result
        annotate_notebook(nb, result)
        if result.gradable:
            self.log.info("deepgrade: %s %s scored %g / %g", info["student"], info["assignment"],
                          result.score, result.max_score)
        else:
            self.log.warning("deepgrade: %s %s not gradable: %s", info["student"], info["assignment"],
                             result.ungradable_reason)
        return nb, resources


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

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


# ----------------------------------------------------------------------------------------------


def configure_autograde(c, *, engine: str = DEFAULT_ENGINE, seed: int | None = None) -> None:
    """Apply deepgrade's autograde + feedback pipeline to an nbgrader config object ``c``."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearOutput,
                                        DeduplicateIds, GetGrades, IgnorePattern, LimitOutput)
    c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, CourseOverwriteKernelspec,
                                          CourseOverwriteCells, CheckCellMetadata]
    c.Autograde.autograde_preprocessors = [
        DeepgradeGrade, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        DeepgradeSaveGrades, AssignLatePenalties, CheckCellMetadata,
    ]
    c.DeepgradeGrade.engine = engine
    c.DeepgradeGrade.seed = seed
    c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, MinimalTracebacks, CSSHTMLHeaderPreprocessor]
    # if anything still runs a kernel through nbgrader (validate), keep its tracebacks short
    c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]
