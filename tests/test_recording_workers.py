"""Recording off the critical path (issue 15): local pool workers write each submission's files
(``autograder.recording.write_submission_files``), the process holding the course lock only commits
rows; a failure to write files leaves the submission unrecorded for the next run."""
from __future__ import annotations

import errno
import json
import os

from autograder import recording
from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, released_course, submit  # noqa: F401

ENGINE = "gradingcourse:fake_grade"


def _log_writes(monkeypatch, log):
    """Append "<pid> <file name>" for every atomic write, in this process and in forked workers."""
    real = recording.atomic_write

    def logged(path, text):
        real(path, text)
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()} {path.parent.parent.name} {path.name}\n")
    monkeypatch.setattr(recording, "atomic_write", logged)


def test_pool_workers_write_the_files_and_the_lock_holder_only_commits_rows(course, monkeypatch, tmp_path):
    students = ["ann", "bob", "cyd", "dee"]
    for s in students[:-1]:
        submit(course, s)
    submit(course, "dee", raw="{not json")                   # ungradable: completed by the worker
    log = tmp_path / "writes.log"
    _log_writes(monkeypatch, log)
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    assert summary.ok and summary.graded == 4 and summary.ungradable == 1
    writes = [line.split() for line in log.read_text().splitlines()]
    assert {(s, name) for _, s, name in writes} >= {(s, "results.json") for s in students} | \
        {(s, f"{ASSIGNMENT}.ipynb") for s in students[:-1]}
    assert all(int(pid) != os.getpid() for pid, _, _ in writes), writes     # no file written by the parent
    assert len({pid for pid, _, _ in writes}) == 2                           # both workers wrote
    dee = json.loads((course / "autograded" / "dee" / ASSIGNMENT / "results.json").read_text())
    assert dee["score"] == 0.0 and "could not be graded" in dee["output"]


def test_a_worker_that_cannot_write_files_leaves_the_submission_for_the_next_run(course, monkeypatch):
    for s in ("ann", "bob"):
        submit(course, s)
    real = recording.atomic_write

    def full_for_bob(path, text):
        if path.parent.parent.name == "bob" and path.name == "results.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, text)
    monkeypatch.setattr(recording, "atomic_write", full_for_bob)
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    assert not summary.ok and summary.graded == 1
    assert [e.split(":")[0] for e in summary.record_errors] == [f"bob/{ASSIGNMENT}"]
    assert "No space left" in summary.record_errors[0]
    monkeypatch.undo()
    again = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    assert again.ok and again.skipped == 1 and again.graded == 1
    assert (course / "autograded" / "bob" / ASSIGNMENT / "results.json").is_file()


def _verdict(validator, cell):
    try:
        validator.validate_cell(cell)
        return None
    except Exception as exc:  # noqa: BLE001 - compared as type and message
        return type(exc).__name__, str(exc).splitlines()[0]


def test_the_compiled_metadata_validator_agrees_with_nbgraders(released_course):
    """The sanitize step's schema compiled once gives nbgrader's verdict on every cell, good or damaged."""
    import copy

    import nbformat
    from nbgrader.nbgraderformat import MetadataValidator

    from autograder.nbgrader_plugin import CompiledMetadataValidator
    nb = nbformat.read(str(released_course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    cells = [c for c in nb.cells if "nbgrader" in c.metadata]
    damaged = []
    for change in ({"points": "many"}, {"grade_id": 7}, {"schema_version": 2}, {"schema_version": 9},
                   {"grade": "yes"}, {"extra": 1}):
        for c in cells[:3]:
            d = copy.deepcopy(c)
            d.metadata["nbgrader"].update(change)
            damaged.append(d)
    d = copy.deepcopy(cells[0])
    del d.metadata["nbgrader"]["grade_id"]
    damaged.append(d)
    stock, compiled = MetadataValidator(), CompiledMetadataValidator()
    verdicts = [(_verdict(stock, c), _verdict(compiled, c)) for c in cells + damaged]
    assert all(a == b for a, b in verdicts), verdicts
    assert sum(a is None for a, _ in verdicts) == len(cells)                 # the good ones pass
    assert sum(a is not None for a, _ in verdicts) >= len(damaged) - 3       # most damage is caught


def test_the_compiled_validator_remembers_only_valid_metadata(released_course):
    """Its memo of valid cells (issue 15) never turns a damaged cell valid, on any pass."""
    import copy

    import nbformat

    from autograder.nbgrader_plugin import CompiledMetadataValidator
    nb = nbformat.read(str(released_course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if "nbgrader" in c.metadata)
    bad = copy.deepcopy(cell)
    bad.metadata["nbgrader"]["points"] = "many"
    v = CompiledMetadataValidator()
    for _ in range(3):
        assert _verdict(v, cell) is None
        assert _verdict(v, bad) is not None


def test_overwriting_cells_from_one_load_of_the_release_gives_stocks_notebook(course):
    """CourseOverwriteCells answers nbgrader's per-cell questions from one load of the released cells
    (issue 15); on a tampered submission (locked cell edited, points raised, a cell's type changed, an
    unknown grade id) it must restore exactly what stock OverwriteCells restores."""
    import copy

    import nbformat
    from nbgrader.preprocessors import OverwriteCells
    from traitlets.config import Config

    from autograder.nbgrader_plugin import CourseOverwriteCells
    from gradingcourse import db_url
    nb = nbformat.read(str(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
    locked = next(c for c in graded if c.metadata["nbgrader"].get("locked"))
    locked.source += "\nassert False  # learner edit"
    grade = next(c for c in graded if c.metadata["nbgrader"].get("grade"))
    grade.metadata["nbgrader"]["points"] = 99
    graded[-1].cell_type = "markdown" if graded[-1].cell_type == "code" else "code"
    first_id = graded[0].metadata["nbgrader"]["grade_id"]
    graded[0].metadata["nbgrader"]["grade_id"] = "not_in_this_release"
    resources = {"nbgrader": {"notebook": ASSIGNMENT, "assignment": ASSIGNMENT, "student": "ann",
                              "db_url": db_url(course)}}
    for add_missing in (False, True):      # with add_missing_cells, a deleted grade cell comes back
        cfg = Config()
        cfg.CourseDirectory.root = str(course)
        cfg.OverwriteCells.add_missing_cells = add_missing
        tampered = copy.deepcopy(nb)
        if add_missing:   # (nbgrader's add_missing_cells fails on an unknown grade id: restore that one)
            tampered.cells.remove(next(c for c in tampered.cells if c.get("id") == grade.get("id")))
            tampered.cells[nb.cells.index(graded[0])].metadata["nbgrader"]["grade_id"] = first_id
        stock, _ = OverwriteCells(config=cfg).preprocess(copy.deepcopy(tampered), copy.deepcopy(resources))
        for run in ({}, {"deepgrade": {"run": "run-1"}}, {"deepgrade": {"run": "run-1"}}):   # cold, then cached
            ours, _ = CourseOverwriteCells(config=cfg).preprocess(copy.deepcopy(tampered),
                                                                  {**copy.deepcopy(resources), **copy.deepcopy(run)})
            assert _without_ids(ours) == _without_ids(stock)
        assert "learner edit" not in nbformat.writes(ours)                 # the locked cell was restored
        assert f'"grade_id": "{grade.metadata["nbgrader"]["grade_id"]}"' in nbformat.writes(ours)


def _without_ids(nb) -> str:
    """The notebook's JSON without cell ids (a re-added missing cell gets a random one)."""
    import copy
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.pop("id", None)
    return json.dumps(nb, sort_keys=True, indent=1)


def test_a_release_changed_between_runs_is_read_again(course):
    """The released cells are read once per grading run (issue 15): the next run, and nbgrader
    autograde (no run), see a release changed in the gradebook; only the run that read it reuses it."""
    import nbformat
    from nbgrader.api import Gradebook, SourceCell
    from nbgrader.utils import compute_checksum
    from traitlets.config import Config

    from autograder.nbgrader_plugin import CourseOverwriteCells
    from gradingcourse import db_url
    nb = nbformat.read(str(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    locked = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("locked"))
    locked.source += "\n# learner edit"
    cfg = Config()
    cfg.CourseDirectory.root = str(course)

    def restored(run):
        resources = {"nbgrader": {"notebook": ASSIGNMENT, "assignment": ASSIGNMENT, "student": "ann",
                                  "db_url": db_url(course)}, "deepgrade": {"run": run} if run else {}}
        out, _ = CourseOverwriteCells(config=cfg).preprocess(nbformat.from_dict(nb), resources)
        return next(c for c in out.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                    == locked.metadata["nbgrader"]["grade_id"]).source

    before = restored("run-1")
    assert "learner edit" not in before
    v2 = nbformat.from_dict(locked)
    v2.source = locked.source.replace("\n# learner edit", "\n# release v2")
    with Gradebook(db_url(course)) as gb:     # the instructor edits the release
        row = gb.db.query(SourceCell).filter(SourceCell.name == locked.metadata["nbgrader"]["grade_id"]).one()
        row.source, row.checksum = v2.source, compute_checksum(v2)
        gb.db.commit()
    assert restored("run-1") == before                   # the run that read the release keeps it
    assert restored("run-2").endswith("# release v2")    # a new run reads it again
    assert restored(None).endswith("# release v2")       # nbgrader autograde reads it per notebook


def test_the_pre_fork_heap_freeze_lasts_only_for_the_run(course, monkeypatch, tmp_path):
    """grade_class freezes the warmed-up heap before forking (issue 15) and unfreezes it when done, so a
    process that grades again (tests, a notebook) keeps collecting its garbage; a heap the caller froze
    itself is left as it was."""
    import gc

    from autograder import runner
    from gradingcourse import submit
    for s in ("ann", "bob"):
        submit(course, s)
    calls = []
    real = runner.prepare_grading_process

    def spy(*args):
        froze = real(*args)
        calls.append((froze, gc.get_freeze_count() > 0))
        return froze
    monkeypatch.setattr(runner, "prepare_grading_process", spy)
    monkeypatch.setattr(runner, "DEFAULT_ENGINE", ENGINE)       # the warm-up runs for the default engine
    gc.unfreeze()
    assert grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False, force=True).ok
    assert calls == [(True, True)] and gc.get_freeze_count() == 0
    gc.freeze()                                                   # the caller's own freeze
    try:
        assert grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False, force=True).ok
        assert calls[-1] == (False, True) and gc.get_freeze_count() > 0   # not undone by grade_class
    finally:
        gc.unfreeze()


def test_submission_times_read_as_nbgrader_reads_them():
    """The fast path for the exchange's own timestamp form (issue 15) gives nbgrader's parse_utc's
    datetime, and anything else (other forms, impossible dates) is nbgrader's answer or error."""
    import datetime as dt
    import random

    import pytest
    from nbgrader.utils import parse_utc as nbgrader_parse_utc

    from autograder.submission_files import parse_utc
    rng = random.Random(7)
    samples = ["2026-11-25 12:00:00.000000 UTC", "2026-11-25 12:00:00 UTC", "2024-02-29 23:59:59.999999 UTC",
               "2026-11-25 12:00:00.5 UTC", "2026-11-25 12:00:00.000000 +0100", "2026-11-25T12:00:00+02:00",
               "2026-11-25 12:00:00.000000 America/New_York", "2026-11-25 12:00:00"]
    for _ in range(200):
        t = dt.datetime(2000, 1, 1) + dt.timedelta(seconds=rng.uniform(0, 1e9))
        samples.append(f"{t:%Y-%m-%d %H:%M:%S.%f} UTC")
    for text in samples:
        assert parse_utc(text) == nbgrader_parse_utc(text), text
    for bad in ("2026-02-30 12:00:00.000000 UTC", "2026-13-01 00:00:00 UTC", "yesterday UTC"):
        with pytest.raises(ValueError) as ours:
            parse_utc(bad)
        with pytest.raises(ValueError) as theirs:
            nbgrader_parse_utc(bad)
        assert str(ours.value) == str(theirs.value)
