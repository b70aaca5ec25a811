"""autograder.gradebook: results into nbgrader's gradebook + dg_results, exactly once, atomically."""
from __future__ import annotations

import dataclasses

import pytest
from nbgrader.api import Gradebook
from sqlalchemy import create_engine, text

from autograder import gradebook, recording
from autograder.gradebook import GradebookError, GradebookNotReady, ResultStore
from gradingcourse import ASSIGNMENT, course, db_url, fake_grade, released_course, submit  # noqa: F401


def _grade(root, student, bodies=None, raw=None):
    path = submit(root, student, bodies, raw=raw)
    return fake_grade(path, ASSIGNMENT, student, course_dir=root)


def _count(root, table, where=""):
    eng = create_engine(db_url(root))
    with eng.connect() as con:
        n = con.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar_one()
    eng.dispose()
    return n


def test_record_writes_grade_cells_and_one_row_after_reruns(course):
    first = _grade(course, "alice", {"add": "    return a - b  # half"})
    recording.record_result(db_url(course), first, course)
    better = _grade(course, "alice")
    for _ in range(3):
        recording.record_result(db_url(course), better, course)
    assert _count(course, "dg_results") == 1
    assert _count(course, "submitted_assignment") == 1
    assert _count(course, "student", "WHERE id = 'alice'") == 1
    with Gradebook(db_url(course)) as gb:
        sub = gb.find_submission(ASSIGNMENT, "alice")
        grades = {g.name: (g.auto_score, g.needs_manual_grade) for nb in sub.notebooks for g in nb.grades}
        assert grades == {"test_add": (2.0, False), "test_mul": (3.0, False)}
        assert sub.score == 5.0
    with ResultStore(db_url(course)) as store:
        row = store.get("alice", ASSIGNMENT)
        assert row.score == 5.0 and row.gradable and row.checksum == better.checksum
        assert store.already_graded("alice", ASSIGNMENT, better.checksum)
        assert not store.already_graded("alice", ASSIGNMENT, first.checksum)
        assert '"schema_version": 2' in row.result_json


def test_ungradable_gets_zero_scores_and_a_recorded_reason(course):
    recording.record_result(db_url(course), _grade(course, "bob"), course)
    broken = _grade(course, "bob", raw="{not json")
    assert not broken.gradable
    recording.record_result(db_url(course), broken, course)
    with Gradebook(db_url(course)) as gb:
        sub = gb.find_submission(ASSIGNMENT, "bob")
        nb = sub.notebooks[0]
        assert {g.name: g.auto_score for g in nb.grades} == {"test_add": 0.0, "test_mul": 0.0}
        assert nb.flagged
        assert all(c.auto_comment and "not a valid notebook" in c.auto_comment for c in nb.comments)
    with ResultStore(db_url(course)) as store:
        row = store.get("bob", ASSIGNMENT)
        assert not row.gradable and row.score == 0.0 and "not a valid notebook" in row.result_json


def test_a_failed_write_leaves_the_previous_state(course):
    good = _grade(course, "carol")
    recording.record_result(db_url(course), good, course)
    bad = dataclasses.replace(_grade(course, "carol", {"mul": "    raise NotImplementedError()"}),
                              grade_cells={"test_add": {"score": 0.0, "max_score": 2.0},
                                           "test_div": {"score": 1.0, "max_score": 1.0}})
    with pytest.raises(GradebookError, match="test_div"):
        recording.record_result(db_url(course), bad, course)
    with Gradebook(db_url(course)) as gb:       # test_add was set to 0 before the error: rolled back
        sub = gb.find_submission(ASSIGNMENT, "carol")
        assert {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades} == \
            {"test_add": 2.0, "test_mul": 3.0}
    with ResultStore(db_url(course)) as store:
        assert store.get("carol", ASSIGNMENT).checksum == good.checksum


def test_a_failed_first_write_leaves_no_student_or_submission(course):
    bad = dataclasses.replace(_grade(course, "zoe"), grade_cells={"nope": {"score": 1.0, "max_score": 1.0}})
    with pytest.raises(GradebookError):
        recording.record_result(db_url(course), bad, course)
    assert _count(course, "student", "WHERE id = 'zoe'") == 0
    assert _count(course, "submitted_assignment") == 0
    assert _count(course, "dg_results") == 0


def test_unreleased_assignment_says_release_first(course):
    other = dataclasses.replace(_grade(course, "dan"), assignment="regularization")
    with pytest.raises(GradebookNotReady, match="release it first"):
        recording.record_result(db_url(course), other, course)
    wrong_nb = dataclasses.replace(_grade(course, "dan"), notebook="other.ipynb")
    with pytest.raises(GradebookNotReady, match="'other'.*release"):
        recording.record_result(db_url(course), wrong_nb, course)


def test_default_url_and_already_graded_helper(course):
    result = _grade(course, "erin")
    recording.record_result(None, result, course)            # sqlite:///<course>/gradebook.db
    assert gradebook.default_db_url(course) == db_url(course.resolve())
    assert gradebook.already_graded(db_url(course), "erin", ASSIGNMENT, result.checksum)
    assert not gradebook.already_graded(db_url(course), "erin", ASSIGNMENT, "0" * 64)
    assert not gradebook.already_graded(db_url(course), "nobody", ASSIGNMENT, result.checksum)


def test_timestamp_is_read_like_nbgrader(course):
    path = submit(course, "finn")
    stamp = gradebook.read_timestamp(path.parent)
    recording.record_result(db_url(course), fake_grade(path, ASSIGNMENT, "finn", course_dir=course), course,
                            timestamp=stamp)
    with Gradebook(db_url(course)) as gb:
        assert gb.find_submission(ASSIGNMENT, "finn").timestamp == stamp
    (path.parent / "timestamp.txt").write_text("not a time")
    with pytest.raises(GradebookError, match="timestamp.txt"):
        gradebook.read_timestamp(path.parent)
