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
