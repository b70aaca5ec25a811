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
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
from nbconvert.preprocessors import ClearMetadataPreprocessor, Preprocessor
from sqlalchemy import inspect as sa_inspect
from traitlets import Bool, Integer, Unicode

from nbgrader.api import GradeCell, Gradebook, MissingEntry, SourceCell, TaskCell
from nbgrader.nbgraderformat import MetadataValidator, SchemaTooNewError, SchemaTooOldError, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern,
                                    LimitOutput, NbGraderPreprocessor, OverwriteCells)

from autograder import forksafe, gradebook
from autograder.feedback_html import configure_feedback
from autograder.locking import course_lock
from autograder.recording import Item, Recorder
from autograder.annotate import (FEEDBACK_TAG, STREAM_MARK, MAX_ERROR_CHARS, MAX_KEPT_OUTPUT_CHARS, SUBMITTED_MIME,  # noqa: F401
                                 annotate_notebook, feedback_text, read_submitted_json,  # (re-exported)
                                 sanitize_preprocessors)
from autograder.submission_files import submitted_problem
from autograder.tasks import (REFUSED, load_callable, safe_grade,  # noqa: F401 - load_callable re-exported
                              ungradable)

DEFAULT_ENGINE = "autograder.engine:grade_submission"


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


@dataclass(frozen=True)
class ReleasedCells:
    """Plain-data copy of one released notebook's gradebook rows, what the sanitize step asks of the
    gradebook: its kernelspec and, per cell name, the columns of its ``SourceCell`` row (``source``) and
    of its ``GradeCell`` or ``TaskCell`` row (``graded``; a grade cell wins over a task cell of the same
    name, as nbgrader's ``find_graded_cell`` answers). Rows are ``SimpleNamespace``s of every column, so
    reading them never goes back to the database (an ORM row expires when its transaction ends)."""

    kernelspec: str | None
    source: dict[str, SimpleNamespace]
    graded: dict[str, SimpleNamespace]

    @classmethod
    def load(cls, gb: Gradebook, notebook: str, assignment: str) -> "ReleasedCells":
        """Read them in 4 queries (MissingEntry if the notebook was not released)."""
        row = gb.find_notebook(notebook, assignment)

        def rows(model) -> dict[str, SimpleNamespace]:
            columns = [c.key for c in sa_inspect(model).column_attrs]
            return {r.name: SimpleNamespace(**{k: getattr(r, k) for k in columns})
                    for r in gb.db.query(model).filter(model.notebook_id == row.id).all()}
        return cls(row.kernelspec, rows(SourceCell), {**rows(TaskCell), **rows(GradeCell)})


_RELEASED: dict[tuple, ReleasedCells] = {}


def released_cells(pp: Preprocessor, resources: dict) -> ReleasedCells:
    """The released notebook's rows for the notebook ``resources["nbgrader"]`` names, read once per
    notebook for all of the sanitize step's preprocessors (kept in ``resources["deepgrade"]``) and, when
    ``resources["deepgrade"]["run"]`` names a grading run (``deepgrade grade`` sets one per command),
    once per run and process: a release does not change during a run that holds the course lock, and a
    new run reads it again. ``nbgrader autograde`` (no run) reads it per notebook."""
    info, ours = resources["nbgrader"], resources.setdefault("deepgrade", {})
    if "released" in ours:
        return ours["released"]
    course_id = CourseDirectory(config=pp.config).course_id
    run = ours.get("run")
    key = (info["db_url"], course_id, info["notebook"], info["assignment"], run, os.getpid())
    cells = _RELEASED.get(key) if run else None
    if cells is None:
        gb = shared_gradebook(info["db_url"], course_id)
        try:
            cells = ReleasedCells.load(gb, info["notebook"], info["assignment"])
        finally:
            gb.db.rollback()          # no transaction stays open between notebooks
        if run:
            _RELEASED.clear()         # only the current run's release is kept
            _RELEASED[key] = cells
    ours["released"] = cells
    return cells


class CourseOverwriteCells(OverwriteCells):
    """nbgrader's ``OverwriteCells`` (restore locked cells and cell metadata from the release), answered
    from :func:`released_cells` instead of one or two queries per nbgrader cell (stock: 14 for an 8-cell
    notebook, ~20 ms of every autograded copy; issue 15), on the course's configured
    ``CourseDirectory.course_id`` (stock opens the gradebook with nbgrader's default id, which adds a
    ``default_course`` row to a gradebook configured for another course) and one connection per process."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id, self.db_url = info["notebook"], info["assignment"], info["db_url"]
        real = shared_gradebook(self.db_url, CourseDirectory(config=self.config).course_id)
        self.gradebook = _ReleasedNotebook(real, released_cells(self, resources), self.notebook_id,
                                           self.assignment_id)
        try:
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        finally:
            real.db.rollback()          # no transaction stays open between notebooks
        return nb, resources


class _ReleasedNotebook:
    """The gradebook as ``OverwriteCells`` asks it: the released notebook's cells from a
    :class:`ReleasedCells` (same columns, same MissingEntry for an unknown name); anything else (another
    notebook, the notebook row whose relationships ``add_missing_cells`` walks) from the database."""

    def __init__(self, gradebook: Gradebook, cells: ReleasedCells, notebook: str, assignment: str) -> None:
        self.gradebook, self.cells, self.notebook, self.assignment = gradebook, cells, notebook, assignment
        self.db = gradebook.db

    def find_notebook(self, notebook: str, assignment: str):
        return self.gradebook.find_notebook(notebook, assignment)

    def find_source_cell(self, name: str, notebook: str, assignment: str):
        return self._find(self.cells.source, "find_source_cell", name, notebook, assignment)

    def find_graded_cell(self, name: str, notebook: str, assignment: str):
        return self._find(self.cells.graded, "find_graded_cell", name, notebook, assignment)

    def _find(self, cells: dict, method: str, name: str, notebook: str, assignment: str):
        """``cells[name]`` for the loaded notebook (MissingEntry if absent); another notebook's row is
        asked of the database with the gradebook's ``method``."""
        if (notebook, assignment) != (self.notebook, self.assignment):
            return getattr(self.gradebook, method)(name, notebook, assignment)
        if name not in cells:
            raise MissingEntry()
        return cells[name]


class CourseOverwriteKernelspec(NbGraderPreprocessor):
    """nbgrader's ``OverwriteKernelspec`` (the released notebook's kernelspec wins), from
    :func:`released_cells` (stock opens a new connection with the default course id per notebook)."""

    def preprocess(self, nb, resources):
        kernelspec = released_cells(self, resources).kernelspec
        if kernelspec:
            nb.metadata["kernelspec"] = json.loads(kernelspec)
        return nb, resources


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
        try:
            known = set(released_cells(self, resources).source)
        except MissingEntry:
            known = None
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


_VALIDATORS: list = []


def _validator() -> "CompiledMetadataValidator":
    """One validator per process (nbgrader's reads its schema file on every instantiation)."""
    if not _VALIDATORS:
        _VALIDATORS.append(CompiledMetadataValidator())
    return _VALIDATORS[0]


_VALID_METADATA: set[str] = set()   # canonical JSON of nbgrader cell metadata already validated


class _CompiledSchema(BaseMetadataValidator):
    """nbgrader's cell check (schema version, then the JSON schema) with the schema compiled once per
    process: stock ``jsonschema.validate`` checks the schema itself again for every cell (~15 ms per
    cell, most of the sanitize step's CPU). Same rules, same errors."""

    _compiled = None

    def validate_cell(self, cell) -> None:
        if "nbgrader" not in cell.metadata:
            return
        version = cell.metadata["nbgrader"].get("schema_version", 0)
        if version < self.schema_version:
            raise SchemaTooOldError(f"Outdated schema version: {version} (expected {self.schema_version})",
                                    version, self.schema_version)
        if version > self.schema_version:
            raise SchemaTooNewError(f"Schema version is too new: {version} (expected {self.schema_version})",
                                    version, self.schema_version)
        try:
            key = json.dumps(cell.metadata["nbgrader"], sort_keys=True)
        except (TypeError, ValueError):   # not plain JSON: validated every time
            key = None
        if key is not None and key in _VALID_METADATA:        # the same metadata as a cell already found valid (most cells of
            return                        # every submission carry the release's): ~0.3 ms per cell saved
        if type(self)._compiled is None:
            cls = jsonschema.validators.validator_for(self.schema)
            cls.check_schema(self.schema)
            type(self)._compiled = cls(self.schema)
        error = jsonschema.exceptions.best_match(type(self)._compiled.iter_errors(cell.metadata["nbgrader"]))
        if error is not None:
            raise error
        if key is not None:
            if len(_VALID_METADATA) > 4096:
                _VALID_METADATA.clear()
            _VALID_METADATA.add(key)


class CompiledMetadataValidator(MetadataValidator, _CompiledSchema):
    """nbgrader's ``MetadataValidator`` (its own checks run first in the MRO, then :class:`_CompiledSchema`
    instead of stock schema validation)."""


class CompiledCheckCellMetadata(CheckCellMetadata):
    """nbgrader's ``CheckCellMetadata`` with :class:`CompiledMetadataValidator` (same checks and errors)."""

    def preprocess(self, nb, resources):
        try:
            CompiledMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg)
        return nb, resources


def metadata_problem(cell: Any, known: set[str] | None) -> str | None:
    """Why nbgrader would refuse ``cell``'s nbgrader metadata (None if it is fine or absent). A missing
    ``schema_version`` on otherwise current metadata is filled in (nbgrader would stop the class)."""
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return "the nbgrader metadata is not an object"
    validator = _validator()
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
                                          CourseOverwriteKernelspec, CourseOverwriteCells,
                                          CompiledCheckCellMetadata]
    c.Autograde.autograde_preprocessors = [
        DeepgradeGrade, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        DeepgradeSaveGrades, AssignLatePenalties, CompiledCheckCellMetadata,
    ]
    c.DeepgradeGrade.engine = engine
    c.DeepgradeGrade.seed = seed
    configure_feedback(c, MinimalTracebacks)
    # if anything still runs a kernel through nbgrader (validate), keep its tracebacks short
    c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]
