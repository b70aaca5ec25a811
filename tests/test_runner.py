"""autograder.runner: parallel class grading, resume, crash safety, locking, Dask."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from autograder.gradebook import ResultStore
from autograder.locking import CourseLocked, course_lock
from autograder.runner import discover, grade_class
from gradingcourse import (ASSIGNMENT, EXPECTED, course, db_url, fake_grade, gradebook_scores,  # noqa: F401
                           released_course, standard_class, submit)

ENGINE = "gradingcourse:fake_grade"
TESTS_DIR = str(Path(__file__).parent)


def _rows(root) -> list[tuple]:
    eng = create_engine(db_url(root))
    if "dg_results" not in inspect(eng).get_table_names():
        return []
    with eng.connect() as con:
        rows = con.execute(text("SELECT student, assignment, score FROM dg_results ORDER BY student")).all()
    eng.dispose()
    return [tuple(r) for r in rows]


def _scores(root) -> dict[str, float]:
    return {s: score for s, _, score in _rows(root)}


def test_broken_submissions_never_stop_the_batch(course):
    standard_class(course)
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    assert (summary.submissions, summary.graded, summary.ungradable, summary.record_errors) == (5, 5, 2, [])
    assert _scores(course) == EXPECTED
    with ResultStore(db_url(course)) as store:
        reasons = {r.student: json.loads(r.result_json)["ungradable_reason"] for r in store.results()}
    assert "not a valid notebook" in reasons["dave"]
    assert reasons["eve"].startswith("grader error: RuntimeError: simulated engine bug")
    assert summary.mean_score == pytest.approx(sum(EXPECTED.values()) / 5)
    # autograded copies + Gradescope JSON beside them, as nbgrader's layout expects
    out = course / "autograded" / "bob" / ASSIGNMENT
    nb = json.loads((out / f"{ASSIGNMENT}.ipynb").read_text())
    test_add = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "test_add")
    assert "hint: look at how add combines a and b" in "".join(test_add["outputs"][0]["text"])
    assert json.loads((out / "results.json").read_text())["score"] == 4.0
    assert (course / "autograded" / "dave" / ASSIGNMENT / "results.json").is_file()
    assert not (course / "autograded" / "dave" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()


def test_serial_pool_and_dask_give_identical_gradebook_scores(course, tmp_path):
    import shutil
    standard_class(course)
    copies = {}
    for name in ("serial", "pool", "dask"):
        copies[name] = tmp_path / name
        shutil.copytree(course, copies[name])
    grade_class(copies["serial"], ASSIGNMENT, workers=1, engine=ENGINE, progress=False)
    grade_class(copies["pool"], ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    s = grade_class(copies["dask"], ASSIGNMENT, workers=2, scheduler="local", engine=ENGINE, progress=False)
    assert s.mode == "dask-local" and s.graded == 5
    reference = gradebook_scores(copies["serial"])
    assert reference["bob"] == {"test_add": 1.0, "test_mul": 3.0}
    assert gradebook_scores(copies["pool"]) == reference
    assert gradebook_scores(copies["dask"]) == reference


def test_resume_skips_finished_and_regrades_changed(course):
    standard_class(course)
    grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    seen = []
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False,
                          on_result=lambda r: seen.append(r.student))
    assert (summary.graded, summary.skipped) == (0, 5) and seen == []
    submit(course, "carol")                       # resubmitted (new checksum)
    submit(course, "gina", {"mul": "    return a * b  # half"})  # new student
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False,
                          on_result=lambda r: seen.append(r.student))
    assert sorted(seen) == ["carol", "gina"] and summary.skipped == 4
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False, force=True)
    assert (summary.graded, summary.skipped) == (6, 0)
    rows = _rows(course)
    assert len(rows) == len({(s, a) for s, a, _ in rows}) == 6
    assert _scores(course)["carol"] == 5.0 and _scores(course)["gina"] == 3.5


def test_missing_notebook_is_ungradable_not_skipped(course):
    (course / "submitted" / "hal" / ASSIGNMENT).mkdir(parents=True)
    subs = discover(course, ASSIGNMENT, [ASSIGNMENT])
    assert [(s.student, s.checksum) for s in subs] == [("hal", "missing")]
    summary = grade_class(course, ASSIGNMENT, workers=1, engine=ENGINE, progress=False)
    assert summary.ungradable == 1
    with ResultStore(db_url(course)) as store:
        row = store.get("hal", ASSIGNMENT)
    assert "no notebook submitted" in row.result_json and row.max_score == 5.0


def test_second_grading_command_is_refused(course):
    standard_class(course)
    with course_lock(course):
        with pytest.raises(CourseLocked, match="another grading command.*--wait"):
            grade_class(course, ASSIGNMENT, workers=1, engine=ENGINE, progress=False)
        with pytest.raises(CourseLocked):
            with course_lock(course, wait=True, timeout=0.5):
                pass
    assert _rows(course) == []
    grade_class(course, ASSIGNMENT, workers=1, engine=ENGINE, progress=False)  # free again
    assert len(_rows(course)) == 5


def test_cli_refuses_while_locked_and_grades_after(course):
    standard_class(course)
    env = {**os.environ, "PYTHONPATH": TESTS_DIR}
    cmd = [sys.executable, "-m", "autograder.cli", "grade", ASSIGNMENT, "--course", str(course), "--no-progress"]
    with course_lock(course):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and "another grading command is running" in proc.stderr


def test_kill_9_mid_run_then_rerun_finishes_without_duplicates(course):
    n = 16                                    # ~8 s of work on 2 workers: time to kill mid-run
    for i in range(n):
        submit(course, f"s{i}", {"add": "    return a + b  # slow"})
    script = (f"import sys; sys.path.insert(0, {TESTS_DIR!r})\n"
              "from autograder.runner import grade_class\n"
              "if __name__ == '__main__':\n"
              f"    grade_class({str(course)!r}, {ASSIGNMENT!r}, workers=2, engine={ENGINE!r}, progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_rows(course) if (course / "gradebook.db").exists() else []) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)                     # main process and its workers
    proc.wait()
    done_before = len(_rows(course))
    assert 2 <= done_before < n
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    assert summary.skipped == done_before and summary.graded == n - done_before
    rows = _rows(course)
    assert [s for s, _, _ in rows] == sorted(f"s{i}" for i in range(n))
    assert all(score == 5.0 for _, _, score in rows)


@pytest.mark.parametrize("scheduler", [None, "local"], ids=["pool", "dask"])
def test_a_worker_killed_mid_task_is_retried(course, scheduler):
    submit(course, "ivy", {"add": "    return a + b  # die-once"})
    submit(course, "jo")
    summary = grade_class(course, ASSIGNMENT, workers=2, scheduler=scheduler, engine=ENGINE, progress=False)
    assert (course / "submitted" / "ivy" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb.died").exists()
    assert summary.ungradable == 0
    assert _scores(course) == {"ivy": 5.0, "jo": 5.0}


def test_each_recorded_result_updates_mastery(course):
    standard_class(course)
    grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    eng = create_engine(db_url(course))
    with eng.connect() as con:
        observed = dict(con.execute(text(
            "SELECT student, count(*) FROM dg_observations GROUP BY student")).all())
        mastered = {s for (s,) in con.execute(text("SELECT DISTINCT student FROM dg_mastery"))}
    eng.dispose()
    assert observed == {"alice": 2, "bob": 2, "carol": 2}          # one per graded function; ungradable: none
    assert mastered == {"alice", "bob", "carol"}


def test_collect_lists_new_changed_and_graded(course):
    from click.testing import CliRunner

    from autograder.cli import main
    from autograder.runner import submission_status
    submit(course, "alice")
    submit(course, "bob")
    grade_class(course, ASSIGNMENT, workers=1, engine=ENGINE, progress=False)
    submit(course, "bob", {"add": "    return a - b  # half"})
    submit(course, "cy")
    status = {r["student"]: (r["status"], r["score"]) for r in submission_status(course, ASSIGNMENT)}
    assert status == {"alice": ("graded", 5.0), "bob": ("changed", 5.0), "cy": ("new", None)}
    res = CliRunner().invoke(main, ["collect", ASSIGNMENT, "--course", str(course), "--no-exchange"])
    assert res.exit_code == 0, res.output
    assert "2 to grade" in res.output


def test_grading_on_a_dask_scheduler_address(course):
    from distributed import LocalCluster
    submit(course, "alice")
    submit(course, "bob", {"add": "    return a - b  # half"})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = grade_class(course, ASSIGNMENT, scheduler=cluster.scheduler_address, engine=ENGINE,
                              progress=False)
    assert summary.mode.startswith("dask tcp://") and summary.graded == 2
    assert _scores(course) == {"alice": 5.0, "bob": 4.0}


def test_infrastructure_errors_are_retried_and_never_recorded_as_zero(course):
    submit(course, "kim", {"add": "    return a + b  # infra-once"})
    submit(course, "lee", {"add": "    return a + b  # infra-fail"})
    submit(course, "max")
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    assert _scores(course) == {"kim": 5.0, "max": 5.0}              # kim retried in the worker
    assert len(summary.not_graded) == 1 and summary.not_graded[0].startswith("lee/tiny: GradingError")
    assert summary.graded == 2 and summary.ungradable == 0
    submit(course, "lee")                                           # the infrastructure is back
    summary = grade_class(course, ASSIGNMENT, workers=1, engine=ENGINE, progress=False)
    assert summary.graded == 1 and summary.skipped == 2 and _scores(course)["lee"] == 5.0


def test_a_notebook_that_always_kills_its_worker_does_not_zero_the_others(course):
    submit(course, "killer", {"add": "    return a + b  # die-always"})
    for name in ("n1", "n2", "n3", "n4"):
        submit(course, name, {"add": "    return a + b  # slow"} if name == "n1" else None)
    summary = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
    assert _scores(course) == {"killer": 0.0, "n1": 5.0, "n2": 5.0, "n3": 5.0, "n4": 5.0}
    assert summary.ungradable == 1
    with ResultStore(db_url(course)) as store:
        assert "also when graded alone" in store.get("killer", ASSIGNMENT).result_json


def test_an_unreachable_scheduler_is_a_clear_error_and_records_nothing(course):
    from autograder.runner import SchedulerUnavailable
    submit(course, "alice")
    with pytest.raises(SchedulerUnavailable, match="bogus://nowhere:1.*unknown address scheme"):
        grade_class(course, ASSIGNMENT, scheduler="bogus://nowhere:1", engine=ENGINE, progress=False)
    assert _rows(course) == []


def test_other_database_url_and_student_filter(course, tmp_path):
    import shutil
    elsewhere = tmp_path / "elsewhere" / "grades.sqlite"
    elsewhere.parent.mkdir()
    shutil.move(course / "gradebook.db", elsewhere)
    standard_class(course)
    url = f"sqlite:///{elsewhere}"
    summary = grade_class(course, ASSIGNMENT, workers=1, engine=ENGINE, progress=False, db_url=url,
                          students=["alice", "bob"])
    assert summary.submissions == 2 and summary.graded == 2
    assert not (course / "gradebook.db").exists()
    with ResultStore(url) as store:
        assert {r.student: r.score for r in store.results()} == {"alice": 5.0, "bob": 4.0}
