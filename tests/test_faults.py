"""Faults mid-run on the SQLite gradebook and the local pool: the database or the disk becomes
unwritable, the database hiccups, a sandbox starts too slowly. Never a false zero, nothing
half-written, a non-zero exit when something was not recorded, and a rerun finishes the class with
every submission recorded exactly once.

(Real PostgreSQL, a real Dask cluster and killed grading processes: tests/test_faults_infra.py;
hostile and broken notebooks: tests/test_redteam.py.)
"""
from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from autograder import recording
from autograder.cli import main as cli
from autograder.runner import grade_class
from gradingcourse import course, db_url, released_course, submit  # noqa: F401

ENGINE = "gradingcourse:fake_grade"
N = 6


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch):
    monkeypatch.setattr(recording, "RETRY_DELAY", 0.01)


def _class(root):
    for i in range(N):
        submit(root, f"s{i}", {"add": "    return a + b"})


def _rows(root) -> tuple[list[tuple], int, int]:
    eng = create_engine(db_url(root))
    with eng.connect() as con:
        rows = con.execute(text("SELECT student, score FROM dg_results ORDER BY student")).all()
        grades = con.execute(text("SELECT COUNT(*) FROM grade")).scalar()
        evidence = con.execute(text("SELECT COUNT(*) FROM dg_observations")).scalar()
    eng.dispose()
    return [tuple(r) for r in rows], grades, evidence


def _fail_after(monkeypatch, target, name, n_ok, exc, *, times=None):
    """Make ``target.name`` raise ``exc`` after ``n_ok`` good calls (``times`` failures, then fine)."""
    real = getattr(target, name)
    calls = {"n": 0, "failed": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_ok and (times is None or calls["failed"] < times):
            calls["failed"] += 1
            raise exc
        return real(*args, **kwargs)
    monkeypatch.setattr(target, name, flaky)
    return calls


def _finish_and_check(root, n_done):
    summary = grade_class(root, "tiny", workers=1, engine=ENGINE, progress=False)
    assert summary.record_errors == [] and summary.ok
    assert summary.skipped == n_done and summary.graded == N - n_done
    rows, grades, evidence = _rows(root)
    assert [s for s, _ in rows] == [f"s{i}" for i in range(N)]          # each exactly once
    assert all(score == 5.0 for _, score in rows)
    assert grades == 2 * N                                              # 2 grade cells per submission
    assert evidence == 2 * N                 # one observation per graded function (2), one concept each


READONLY = OperationalError("INSERT", {}, Exception("attempt to write a readonly database"))


def test_database_becomes_unwritable_mid_run(course, monkeypatch):
    _class(course)
    calls = _fail_after(monkeypatch, recording.Recorder, "_write_batch", 3, READONLY)
    summary = grade_class(course, "tiny", workers=1, engine=ENGINE, progress=False, batch_size=1)
    assert calls["failed"] == (N - 3) * (recording.RETRIES + 1)          # each retried, then given up
    assert len(summary.record_errors) == N - 3 and not summary.ok
    assert all("readonly database" in e for e in summary.record_errors)
    assert summary.graded == 3 and len(summary.scores) == 3             # the summary counts what was recorded
    rows, grades, evidence = _rows(course)
    assert len(rows) == 3 and grades == 2 * 3 and evidence == 2 * 3     # nothing half-written
    monkeypatch.undo()
    _finish_and_check(course, 3)


def test_a_database_hiccup_is_retried_and_everything_is_recorded(course, monkeypatch):
    _class(course)
    calls = _fail_after(monkeypatch, recording.Recorder, "_write_batch", 1, READONLY, times=2)
    summary = grade_class(course, "tiny", workers=1, engine=ENGINE, progress=False, batch_size=2)
    assert calls["failed"] == 2 and summary.ok and summary.graded == N
    rows, grades, evidence = _rows(course)
    assert len(rows) == N and grades == 2 * N and evidence == 2 * N


def test_one_bad_result_in_a_batch_does_not_take_its_neighbours_down(course, monkeypatch):
    _class(course)
    real = recording._check_cells

    def strict(item, master):
        if item.result.student == "s2":
            raise recording.GradebookError("s2/tiny: the result grades ['test_div'] but ...")
        real(item, master)
    monkeypatch.setattr(recording, "_check_cells", strict)
    summary = grade_class(course, "tiny", workers=1, engine=ENGINE, progress=False, batch_size=N)
    assert summary.graded == N - 1 and [e.split(":")[0] for e in summary.record_errors] == ["s2/tiny"]
    rows, _, _ = _rows(course)
    assert [s for s, _ in rows] == [f"s{i}" for i in range(N) if i != 2]


def test_disk_becomes_full_mid_run(course, monkeypatch):
    _class(course)
    real_write = Path.write_text
    calls = {"n": 0}

    def full_disk(self, data, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 8 and ".tmp-" in self.name:
            real_write(self, data[: len(data) // 2], *args, **kwargs)       # a partial temp file, then ENOSPC
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data, *args, **kwargs)
    monkeypatch.setattr(Path, "write_text", full_disk)
    summary = grade_class(course, "tiny", workers=1, engine=ENGINE, progress=False, batch_size=1)
    assert summary.record_errors and all("No space left" in e for e in summary.record_errors)
    assert not summary.ok
    rows, _, _ = _rows(course)
    n_done = len(rows)
    assert 1 <= n_done < N
    leftovers = list((course / "autograded").rglob(".*.tmp-*"))
    assert leftovers == []                                              # no partial files left behind
    monkeypatch.undo()
    _finish_and_check(course, n_done)


def test_cli_exits_non_zero_and_names_the_failures(course, monkeypatch):
    _class(course)
    _fail_after(monkeypatch, recording.Recorder, "_write_batch", 0,
                OperationalError("INSERT", {}, Exception("disk I/O error")))
    # no engine given: `deepgrade grade` uses the course's c.DeepgradeGrade.engine, like nbgrader autograde
    result = CliRunner().invoke(cli, ["grade", "tiny", "--course", str(course), "-j", "1", "--no-progress"])
    assert result.exit_code == 1
    assert result.output.count("not recorded (rerun to retry)") == N and "disk I/O error" in result.output
    monkeypatch.undo()
    result = CliRunner().invoke(cli, ["grade", "tiny", "--course", str(course), "-j", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows, _, _ = _rows(course)
    assert [score for _, score in rows] == [5.0] * N                  # the course's (fake) engine graded them


def test_zygote_start_up_timeout_is_an_infrastructure_error_with_a_fallback(monkeypatch):
    """A zygote that does not answer within its start-up timeout: a ZygoteError naming the cause (not
    an AttributeError from reading a closed log), and a session falls back to one sandbox per session."""
    from autograder.sandbox import SandboxPolicy, StudentSession, sandbox_mode, zygote
    if sandbox_mode() != "bwrap":
        pytest.fail(f"the zygote needs bubblewrap; sandbox mode here is {sandbox_mode()!r}")
    real_request = zygote.Zygote._request

    def slow_ping(self, msg, fds=None):
        if msg.get("op") == "ping":
            raise socket.timeout("timed out")          # what a start-up slower than the timeout raises
        return real_request(self, msg, fds)
    monkeypatch.setattr(zygote.Zygote, "_request", slow_ping)
    with pytest.raises(zygote.ZygoteError, match="zygote did not start: timed out"):
        zygote.Zygote(None, SandboxPolicy(), use_tensorflow=False)
    zygote.close_shared_zygotes()
    monkeypatch.setenv("DEEPGRADE_ZYGOTE", "all")
    with StudentSession(None, SandboxPolicy()) as session:
        session.load([{"index": 0, "source": "def f(x):\n    return 2 * x\n"}])
        assert session.call("f", 21) == 42
        assert session.zygote is False                 # fell back to a sandbox of its own


def test_mastery_evidence_can_always_be_rebuilt_from_stored_results(course):
    _class(course)
    submit(course, "s0", {"add": "    return a - b  # half"})
    assert grade_class(course, "tiny", workers=1, engine=ENGINE, progress=False).ok
    eng = create_engine(db_url(course))

    def mastery_rows():
        with eng.connect() as con:
            return sorted(tuple(r) for r in con.execute(text(
                "SELECT student, concept, p_mastery, n_obs FROM dg_mastery")))
    before = mastery_rows()
    with eng.begin() as con:                       # evidence lost (say, restored from an old backup)
        con.execute(text("DELETE FROM dg_observations"))
        con.execute(text("DELETE FROM dg_mastery"))
    assert recording.rebuild_evidence(db_url(course)) == N
    assert recording.rebuild_evidence(db_url(course)) == N     # idempotent: nothing counted twice
    assert mastery_rows() == before and len(before) == N
    eng.dispose()
