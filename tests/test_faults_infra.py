"""The fault matrix on real infrastructure: a PostgreSQL server and a multi-process Dask cluster started
here on 127.0.0.1 (tests/infra.py), real ``deepgrade grade`` processes killed with SIGKILL/SIGTERM.

After every fault a plain rerun completes with every score equal to a clean run's, no false zero was
ever recorded, no mastery evidence is missing, no worker is orphaned and no lock is stale. The tiny
course and its fake engine (tests/gradingcourse.py) keep each case to a few seconds: the faults here
are in the infrastructure, not in the sandbox (the slow-sandbox case is in tests/test_faults.py).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from autograder import recording
from autograder.locking import CourseLocked, course_lock
from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, db_url, released_course, submit  # noqa: F401
from infra import (BIN, PG_PASSWORD, TESTS_DIR, DaskCluster, alive, new_pg_course, pg_server,  # noqa: F401
                   pg_template, wait_until)

SLOW = {"add": "    return a + b  # slow"}                       # 1 s per submission in the fake engine
HALF_SLOW = {"add": "    return a - b  # half slow"}
STUDENTS = {f"s{i}": (HALF_SLOW if i % 3 == 0 else SLOW) for i in range(6)}
EVIDENCE_PER_SUBMISSION = 2     # one mastery observation per graded function of the tiny notebook
CLEAN = {s: (4.0 if i % 3 == 0 else 5.0) for i, s in enumerate(STUDENTS)}     # scores of a clean run


@pytest.fixture(params=["sqlite", "postgres"])
def graded_course(request, course) -> tuple[Path, str]:
    """(course folder with the class submitted, gradebook URL) on each backend."""
    url = db_url(course)
    if request.param == "postgres":
        url = new_pg_course(course, request.getfixturevalue("pg_server"), request.getfixturevalue("pg_template"))
    for student, bodies in STUDENTS.items():
        submit(course, student, bodies)
    return course, url


def _query(url: str, sql: str, **params) -> list[tuple]:
    eng = create_engine(url)
    try:
        with eng.connect() as con:
            return [tuple(r) for r in con.execute(text(sql), params)]
    finally:
        eng.dispose()


def scores(url: str) -> dict[str, float]:
    return dict(_query(url, "SELECT student, score FROM dg_results"))


def evidence(url: str) -> dict[str, int]:
    try:
        return dict(_query(url, "SELECT student, count(*) FROM dg_observations GROUP BY student"))
    except Exception:  # noqa: BLE001 - table not created yet: nothing recorded
        return {}


def assert_no_false_zero(url: str) -> None:
    """Whatever was recorded so far is a true score (never a zero for an infrastructure failure), and
    every recorded result has its evidence."""
    recorded = scores(url)
    assert all(recorded[s] == CLEAN[s] for s in recorded), recorded
    ev = evidence(url)
    assert all(ev.get(s) == EVIDENCE_PER_SUBMISSION for s in recorded), (recorded, ev)


def assert_lock_free(root: Path, url: str) -> None:
    with course_lock(root, db_url=url):          # neither the file nor the database lock is held
        pass


def assert_rerun_completes(root: Path, url: str) -> None:
    assert_no_false_zero(url)
    assert_lock_free(root, url)
    summary = grade_class(root, ASSIGNMENT, workers=2, progress=False)
    assert summary.ok, (summary.not_graded, summary.record_errors)
    assert scores(url) == CLEAN
    assert evidence(url) == {s: EVIDENCE_PER_SUBMISSION for s in CLEAN}
    if url.startswith("postgresql"):
        open_tx = _query(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")
        assert open_tx == [(0,)]


def after_first_result(fault):
    """An ``on_result`` callback that injects ``fault()`` once, right after the first recorded result
    (mid-run); ``.seen`` lists the students recorded."""
    def on_result(result):
        on_result.seen.append(result.student)
        if len(on_result.seen) == 1:
            fault()
    on_result.seen = []
    return on_result


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


# ---------------------------------------------------------------------------------------------- the process


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_grading_process_killed_leaves_no_orphan_no_stale_lock(graded_course, sig):
    root, url = graded_course
    env = {**os.environ, "PYTHONPATH": TESTS_DIR}
    proc = subprocess.Popen([str(BIN / "deepgrade"), "grade", ASSIGNMENT, "--course", str(root), "-j", "2",
                             "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_until(lambda: len(_children(proc.pid)) >= 2, 60, "the pool workers")
    time.sleep(1.5)                                     # mid-run: some results done, workers busy
    workers = _children(proc.pid)
    assert workers and proc.poll() is None
    os.kill(proc.pid, sig)                              # the main process only, as a scheduler or OOM would
    proc.wait(timeout=30)
    wait_until(lambda: not any(alive(p) for p in workers), 10, f"workers {workers} to die with their parent")
    if url.startswith("postgresql"):                    # its sessions (and advisory lock) are gone too
        wait_until(lambda: _query(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
                                       ":pat", pat=f"%pid {proc.pid} %") == [(0,)], 10, "its sessions to end")
    assert len(scores(url)) < len(CLEAN)                # it was really killed mid-run
    assert_rerun_completes(root, url)


# ---------------------------------------------------------------------------------------------- Dask


@pytest.fixture
def cluster():
    c = DaskCluster(workers=2)
    yield c
    c.close()


def test_scheduler_killed_mid_run_records_no_zero_and_exits_non_zero(graded_course, cluster):
    root, url = graded_course
    summary = grade_class(root, ASSIGNMENT, scheduler=cluster.address, progress=False, batch_size=1,
                          on_result=after_first_result(lambda: cluster.kill(cluster.scheduler)))
    assert not summary.ok and summary.not_graded
    assert all("scheduler" in reason or "Dask" in reason for reason in summary.not_graded)
    assert summary.graded + len(summary.not_graded) == len(CLEAN)
    assert len(scores(url)) == summary.graded                # the lost ones are not recorded at all
    assert_rerun_completes(root, url)


def test_dask_worker_killed_mid_run_loses_nothing(graded_course, cluster):
    root, url = graded_course
    summary = grade_class(root, ASSIGNMENT, scheduler=cluster.address, progress=False, batch_size=1,
                          on_result=after_first_result(lambda: cluster.kill(cluster.workers[0])))
    assert summary.ok and summary.ungradable == 0
    assert scores(url) == CLEAN
    assert_rerun_completes(root, url)


# ---------------------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_course(course, pg_server, pg_template):
    url = new_pg_course(course, pg_server, pg_template)
    for student, bodies in STUDENTS.items():
        submit(course, student, bodies)
    return course, url, pg_server


def test_database_restarted_mid_run_is_retried_and_everything_recorded(pg_course, caplog):
    root, url, server = pg_course

    def restart_later():
        time.sleep(2.5)
        server.start()

    restart = threading.Thread(target=restart_later)

    def outage():
        server.stop()                               # down now: the next result's write meets it
        restart.start()

    with caplog.at_level("WARNING", logger="autograder.recording"):
        summary = grade_class(root, ASSIGNMENT, workers=2, progress=False, batch_size=1,
                              on_result=after_first_result(outage))
    restart.join()
    assert any("retrying" in r.getMessage() for r in caplog.records)     # it did meet the outage
    assert summary.ok, summary.record_errors
    assert scores(url) == CLEAN
    assert_rerun_completes(root, url)


def test_database_down_for_good_leaves_results_unrecorded_then_rerun_finishes(pg_course, monkeypatch):
    root, url, server = pg_course
    monkeypatch.setattr(recording, "RETRY_DELAY", 0.05)
    stop = after_first_result(server.stop)
    try:
        summary = grade_class(root, ASSIGNMENT, workers=2, progress=False, batch_size=1, on_result=stop)
    finally:
        server.start()
    assert not summary.ok and summary.graded == 1
    assert len(summary.record_errors) == len(CLEAN) - 1
    assert all(PG_PASSWORD not in e for e in summary.record_errors)
    assert list(scores(url)) == stop.seen
    assert_rerun_completes(root, url)


def test_two_graders_on_one_database_take_turns(pg_course, tmp_path):
    """Two course copies (two machines) grade into one PostgreSQL gradebook: the database's advisory
    lock makes the second wait (or refuse), so nothing collides and no evidence is lost."""
    root, url, _ = pg_course
    other = tmp_path / "copy"
    shutil.copytree(root, other)
    submit(other, "t1")
    submit(other, "t2", {"mul": "    return a * b  # half"})
    with course_lock(root, db_url=url):
        with pytest.raises(CourseLocked, match="shared gradebook") as refused:
            grade_class(other, ASSIGNMENT, workers=1, progress=False)
    assert PG_PASSWORD not in str(refused.value)
    summaries, first_is_recording = {}, threading.Event()

    def run_first():
        summaries["first"] = grade_class(root, ASSIGNMENT, workers=1, progress=False, wait=True, batch_size=1,
                                         on_result=lambda r: first_is_recording.set())

    first = threading.Thread(target=run_first)
    first.start()
    assert first_is_recording.wait(60)                         # the first holds the locks now
    summaries["second"] = grade_class(other, ASSIGNMENT, workers=1, progress=False, wait=True)
    first.join()
    assert summaries["first"].ok and summaries["second"].ok
    assert summaries["second"].skipped == len(CLEAN)          # it waited for the first to record them
    assert summaries["second"].graded == 2
    assert scores(url) == {**CLEAN, "t1": 5.0, "t2": 3.5}
    assert evidence(url) == {s: EVIDENCE_PER_SUBMISSION for s in [*CLEAN, "t1", "t2"]}
    assert _query(url, "SELECT count(*) FROM submitted_assignment") == [(len(CLEAN) + 2,)]
