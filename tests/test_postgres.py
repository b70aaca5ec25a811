"""A course whose nbgrader_config.py points at PostgreSQL: every command uses that gradebook, errors are
one line without the password, the lock file is private and password-free, and recording is batched.
The server is real (tests/infra.py starts it on 127.0.0.1)."""
from __future__ import annotations

import csv
import stat
import sys

from click.testing import CliRunner
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from autograder.cli import main as cli
from autograder.locking import course_lock, lock_path
from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, released_course, submit  # noqa: F401
from infra import PG_PASSWORD, free_port, new_pg_course, pg_server, pg_template  # noqa: F401


def _graded_pg_course(course, pg_server, pg_template, n=4):
    url = new_pg_course(course, pg_server, pg_template)
    for i in range(n):
        submit(course, f"s{i}", {"add": "    return a - b  # half"} if i == 0 else None)
    summary = grade_class(course, ASSIGNMENT, workers=1, progress=False)
    assert summary.ok and summary.graded == n
    return url


def _course_rows(url):
    eng = create_engine(url)
    with eng.connect() as con:
        rows = sorted(r[0] for r in con.execute(text("SELECT id FROM course")))
    eng.dispose()
    return rows


def test_configured_postgres_gradebook_is_used_by_export_report_and_mastery(course, pg_server, pg_template):
    released = _course_rows(f"{pg_server.base_url}/{pg_template}")
    url = _graded_pg_course(course, pg_server, pg_template)
    runner = CliRunner()
    res = runner.invoke(cli, ["export", ASSIGNMENT, "--course", str(course)])
    assert res.exit_code == 0, res.output
    assert "4 rows" in res.output
    with open(course / "exports" / f"{ASSIGNMENT}.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(float(next(v for k, v in r.items() if k.endswith("score"))) for r in rows)[0] == 4.0
    res = runner.invoke(cli, ["mastery", "show", "s1", "--course", str(course)])
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("weight_initialization"))
    assert line.split()[2] == "2"              # one observation per graded function (2), from PostgreSQL
    res = runner.invoke(cli, ["report", "--course", str(course), "--student", "s1", "--no-instructor"])
    assert res.exit_code == 0, res.output
    assert (course / "reports" / "students" / "s1" / "index.html").is_file()
    eng = create_engine(f"sqlite:///{course / 'gradebook.db'}")     # the course's old SQLite file is untouched
    with eng.connect() as con:
        tables = {r[0] for r in con.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    eng.dispose()
    assert "dg_results" not in tables
    assert "tiny_course" in released
    assert _course_rows(url) == released          # grading, export, report and mastery add no course row


def test_unreachable_database_is_one_line_without_the_password(course):
    url = f"postgresql+psycopg://grader:{PG_PASSWORD}@127.0.0.1:{free_port()}/nowhere"
    for args in (["report"], ["export"], ["mastery", "show", "s1"], ["mastery", "refit"], ["quiz", "items"],
                 ["grade", ASSIGNMENT]):
        res = CliRunner().invoke(cli, [*args, "--course", str(course), "--db-url", url])
        assert res.exit_code == 1, (args, res.output)
        assert res.output.startswith("Error: ") and len(res.output.strip().splitlines()) == 1, (args, res.output)
        assert "Traceback" not in res.output and PG_PASSWORD not in res.output, (args, res.output)
        assert "grader:***@127.0.0.1" in res.output, (args, res.output)
    res = CliRunner().invoke(cli, ["report", "--course", str(course)], env={"DEEPGRADE_DB_URL": url})
    assert res.exit_code == 1 and "grader:***@127.0.0.1" in res.output        # the URL from the environment


def test_lock_file_is_private_and_never_shows_the_password(course, pg_server, pg_template, monkeypatch):
    url = new_pg_course(course, pg_server, pg_template)
    monkeypatch.setattr(sys, "argv", ["deepgrade", "grade", ASSIGNMENT, "--db-url", url])
    with course_lock(course, db_url=url):
        mode = stat.S_IMODE(lock_path(course).stat().st_mode)
        holder = lock_path(course).read_text()
        eng = create_engine(url)
        with eng.connect() as con:
            apps = [r[0] for r in con.execute(text("SELECT application_name FROM pg_stat_activity"))]
        eng.dispose()
    assert mode == 0o600
    assert "--db-url" in holder and PG_PASSWORD not in holder and "postgres:***@" in holder
    assert any(a.startswith("deepgrade-grading pid") for a in apps)    # the database lock names its holder


def test_both_grading_paths_write_identical_rows_on_postgres(course, pg_server, pg_template, tmp_path):
    import shutil

    from test_nbgrader_path import _class, _dump, _nbgrader
    other = tmp_path / "runner-copy"
    shutil.copytree(course, other)
    url_plugin = new_pg_course(course, pg_server, pg_template)
    url_runner = new_pg_course(other, pg_server, pg_template)
    _class(course)
    _class(other)
    proc = _nbgrader(course, "autograde", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert grade_class(other, ASSIGNMENT, workers=2, progress=False).ok
    via_plugin, via_runner = _dump(course, url_plugin), _dump(other, url_runner)
    assert via_plugin["evidence"] and len(via_plugin["dg_results"]) == 4
    for table in via_plugin:
        assert via_plugin[table] == via_runner[table], table


MASTERY_TABLES = ("dg_observations", "dg_attempts", "dg_mastery", "dg_bkt_params", "dg_quiz_responses")


def test_recording_is_batched_few_statements_per_result(course, pg_server, pg_template):
    """The whole run's statements and connections, the mastery evidence's own statements (issue 13's
    model) set apart: a few per result, not hundreds, and no connection per result."""
    url = new_pg_course(course, pg_server, pg_template)
    n = 20
    for i in range(n):
        submit(course, f"s{i}")
    counts = {"statements": 0, "connections": 0}

    def count_statement(conn, cursor, statement, *_):
        if not any(t in statement for t in MASTERY_TABLES):
            counts["statements"] += 1

    def count_connection(*_):
        counts["connections"] += 1

    event.listen(Engine, "before_cursor_execute", count_statement)
    event.listen(Pool, "connect", count_connection)                  # new database connections
    try:
        summary = grade_class(course, ASSIGNMENT, workers=1, progress=False, batch_size=n)
    finally:
        event.remove(Engine, "before_cursor_execute", count_statement)
        event.remove(Pool, "connect", count_connection)
    assert summary.ok and summary.graded == n
    # start-up reads, the sanitize step's read of the released cells per notebook, a few per batch
    assert counts["statements"] / n < 12, counts             # (before: ~30 on this tiny notebook)
    assert counts["connections"] <= 6, counts                       # (before: two per result)
