"""Faults mid-run: the database or the disk becomes unwritable. A clear error, nothing half-written,
and a rerun finishes the class with every submission recorded exactly once.

(``kill -9`` mid-run, a Dask worker killed mid-task and two grading commands at once are covered in
tests/test_runner.py; hostile and broken notebooks in tests/test_redteam.py.)
"""
from __future__ import annotations

import errno

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from autograder import gradebook, runner
from autograder.cli import main as cli
from autograder.runner import grade_class
from gradingcourse import course, db_url, released_course, submit  # noqa: F401

ENGINE = "gradingcourse:fake_grade"
N = 6


def _class(root):
    for i in range(N):
        submit(root, f"s{i}", {"add": "    return a + b"})


def _rows(root) -> list[tuple]:
    eng = create_engine(db_url(root))
    with eng.connect() as con:
        rows = con.execute(text("SELECT student, score FROM dg_results ORDER BY student")).all()
        grades = con.execute(text("SELECT COUNT(*) FROM grade")).scalar()
    eng.dispose()
    return [tuple(r) for r in rows], grades


def _fail_after(monkeypatch, target, name, n_ok, exc):
    real = getattr(target, name)
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_ok:
            raise exc
        return real(*args, **kwargs)
    monkeypatch.setattr(target, name, flaky)


def _finish_and_check(root, n_done):
    summary = grade_class(root, "tiny", workers=1, engine=ENGINE, progress=False)
    assert summary.record_errors == []
    assert summary.skipped == n_done and summary.graded == N - n_done
    rows, grades = _rows(root)
    assert [s for s, _ in rows] == [f"s{i}" for i in range(N)]          # each exactly once
    assert all(score == 5.0 for _, score in rows)
    assert grades == 2 * N                                              # 2 grade cells per submission


def test_database_becomes_unwritable_mid_run(course, monkeypatch):
    _class(course)
    _fail_after(monkeypatch, gradebook.ResultStore, "record", 3,
                OperationalError("INSERT", {}, Exception("attempt to write a readonly database")))
    summary = grade_class(course, "tiny", workers=1, engine=ENGINE, progress=False)
    assert len(summary.record_errors) == N - 3
    assert all("readonly database" in e for e in summary.record_errors)
    rows, grades = _rows(course)
    assert len(rows) == 3 and grades == 2 * 3                           # nothing half-written
    monkeypatch.undo()
    _finish_and_check(course, 3)


def test_disk_becomes_full_mid_run(course, monkeypatch):
    _class(course)
    _fail_after(monkeypatch, runner, "_atomic_write", 4, OSError(errno.ENOSPC, "No space left on device"))
    summary = grade_class(course, "tiny", workers=1, engine=ENGINE, progress=False)
    assert summary.record_errors and all("No space left" in e for e in summary.record_errors)
    rows, _ = _rows(course)
    n_done = len(rows)
    assert 1 <= n_done < N
    assert not list((course / "autograded").rglob("*.tmp"))               # no partial files left behind
    monkeypatch.undo()
    _finish_and_check(course, n_done)


def test_cli_exits_non_zero_and_names_the_failures(course, monkeypatch):
    _class(course)
    _fail_after(monkeypatch, gradebook.ResultStore, "record", 0,
                OperationalError("INSERT", {}, Exception("disk I/O error")))
    monkeypatch.setattr(runner, "DEFAULT_ENGINE", ENGINE)
    result = CliRunner().invoke(cli, ["grade", "tiny", "--course", str(course), "-j", "1", "--no-progress"])
    assert result.exit_code == 1
    assert "not recorded" in result.output and "disk I/O error" in result.output
