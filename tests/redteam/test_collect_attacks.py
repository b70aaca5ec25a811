"""Hostile exchange submissions against ``deepgrade collect`` and hand-placed files against
``deepgrade grade`` (issue 17, part 2).

A real nbgrader exchange in a temp folder (``c.Exchange.root``): the instructor releases the tiny course
with nbgrader's own ``ExchangeReleaseAssignment`` and honest students submit with nbgrader's own
``ExchangeSubmit``; attackers then write inbound folders by hand, as any student with write access to
the inbound folder can. Checked: no link, FIFO or device is followed or copied (the rest of the
submission is kept and each refusal is named), foreign-owned folders are refused, bad or future times
are refused without blocking anyone, and a failed copy never loses the previous submission.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import shutil
import stat
import threading
from pathlib import Path

import pytest

from autograder import collect as collect_mod
from autograder.collect import collect_assignment, repair
from autograder.runner import discover, grade_class
from autograder.submission_files import kind_problem, owner_problem, parse_timestamp, system_uid
from gradingcourse import ASSIGNMENT, course, released_course  # noqa: F401

COURSE_ID = "redteam101"
ENGINE = "gradingcourse:fake_grade"
MY_UID = os.getuid()
ME = pwd.getpwuid(MY_UID).pw_name          # not getpass.getuser(): $LOGNAME may name another user
NOW = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
SECRET = "SECRET-HIDDEN"          # in the instructor's source notebook only


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _config(course: Path):
    from traitlets.config import Config
    cfg = Config()
    cfg.CourseDirectory.root = str(course)
    cfg.CourseDirectory.course_id = COURSE_ID
    cfg.Exchange.root = str(course / "exchange")
    return cfg


@pytest.fixture
def exchange(course) -> Path:
    """The tiny course with a course id, released to a fresh exchange by nbgrader itself."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeReleaseAssignment
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write(f"c.CourseDirectory.course_id = {COURSE_ID!r}\n")
    (course / "exchange").mkdir()
    os.chmod(course / "exchange", 0o777)
    cfg = _config(course)
    cd = CourseDirectory(config=cfg)
    cd.assignment_id = ASSIGNMENT
    ExchangeReleaseAssignment(coursedir=cd, config=cfg).start()
    assert (course / "exchange" / COURSE_ID / "inbound").is_dir()
    return course


def _student_notebook(course: Path, body: str = "    return a + b") -> str:
    nb = json.loads((course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if gid.startswith("ex_"):
            cell["source"] = f"def {gid[3:]}(a, b):\n{body.replace('+', '*') if gid == 'ex_mul' else body}\n"
    return json.dumps(nb)


def nbgrader_submit(course: Path, tmp_path: Path, student: str, body: str = "    return a + b") -> None:
    """``nbgrader submit`` of ``student`` with nbgrader's own exchange code."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeSubmit
    home = tmp_path / f"home-{student}"
    (home / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    (home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text(_student_notebook(course, body))
    cfg = _config(course)
    cfg.Exchange.assignment_dir = str(home)
    cfg.Exchange.cache = str(tmp_path / "nbgrader_cache")
    cd = CourseDirectory(config=cfg)
    cd.assignment_id = ASSIGNMENT
    cd.student_id = student
    ExchangeSubmit(coursedir=cd, authenticator=Authenticator(config=cfg), config=cfg).start()


def forge(course: Path, student: str, when: str, *, notebook: str | None = None, stamp: str | None = None,
          suffix: str = "forged") -> Path:
    """An inbound folder written by hand, as a hostile student can."""
    d = course / "exchange" / COURSE_ID / "inbound" / f"{student}+{ASSIGNMENT}+{when}+{suffix}"
    d.mkdir()
    if notebook is not None:
        (d / f"{ASSIGNMENT}.ipynb").write_text(notebook)
    (d / "timestamp.txt").write_text(stamp if stamp is not None else when)
    return d


def submitted(course: Path, student: str) -> Path:
    return course / "submitted" / student / ASSIGNMENT


def _no_links_or_specials(root: Path) -> None:
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(d, name))
            assert stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1), \
                os.path.join(d, name)


# ---------------------------------------------------------------------------------------------- links


def test_links_fifos_and_devices_are_never_followed_and_the_rest_is_kept(exchange, tmp_path):
    course = exchange
    nbgrader_submit(course, tmp_path, "honest")
    source_nb = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert SECRET in source_nb.read_text()
    when = _stamp(NOW - dt.timedelta(minutes=5))
    # 1: the notebook is a link to the instructor's source notebook (solutions + hidden tests)
    d = forge(course, "linker", when)
    os.symlink(source_nb, d / f"{ASSIGNMENT}.ipynb")
    (d / "notes.txt").write_text("kept")
    # 2: an endless file and a FIFO beside a real notebook, a linked folder, a hard link
    d = forge(course, "endless", when, notebook=_student_notebook(course))
    os.symlink("/dev/zero", d / "zeros.bin")
    os.mkfifo(d / "pipe")
    os.symlink(course / "source", d / "src")
    os.link(source_nb, d / "hard.ipynb")
    (d / "sub").mkdir()
    os.symlink("../../../../../source", d / "sub" / "up")
    if os.geteuid() == 0:                            # a real device node needs CAP_MKNOD
        os.mknod(d / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    # 3: the timestamp.txt itself is a link to a hidden file; the whole inbound folder is a link
    d = forge(course, "stamplink", when, notebook=_student_notebook(course))
    (d / "timestamp.txt").unlink()
    os.symlink(source_nb, d / "timestamp.txt")
    os.symlink(course / "source" / ASSIGNMENT,
               course / "exchange" / COURSE_ID / "inbound" / f"dirlink+{ASSIGNMENT}+{when}+x")

    done = threading.Event()
    result = {}

    def run():
        result["report"] = collect_assignment(course, ASSIGNMENT)
        done.set()
    threading.Thread(target=run, daemon=True).start()
    assert done.wait(60), "collect hung on a FIFO or an endless file"
    report = result["report"]

    assert sorted(report.collected) == ["endless", "honest", "linker"]
    refused = {r.student: r.reason for r in report.refused}
    assert "symbolic link" in refused["stamplink"] and "symbolic link" in refused["dirlink"]
    skipped = {r.what.split("/", 1)[1]: r.reason for r in report.skipped_files}
    assert "symbolic link" in skipped[f"{ASSIGNMENT}.ipynb"]
    assert "symbolic link" in skipped["zeros.bin"] and "symbolic link" in skipped["src"]
    assert "symbolic link" in skipped["sub/up"]
    assert "FIFO" in skipped["pipe"] and "hard links" in skipped["hard.ipynb"]
    if os.geteuid() == 0:
        assert "device" in skipped["null"]
    # the rest of each submission is kept; nothing of the instructor's arrives in submitted/
    assert (submitted(course, "linker") / "notes.txt").read_text() == "kept"
    assert not (submitted(course, "linker") / f"{ASSIGNMENT}.ipynb").exists()
    assert json.loads((submitted(course, "endless") / f"{ASSIGNMENT}.ipynb").read_text())["cells"]
    assert (submitted(course, "endless") / "sub").is_dir()
    _no_links_or_specials(course / "submitted")
    for p in (course / "submitted").rglob("*"):
        assert p.is_dir() or SECRET not in p.read_text(errors="replace"), p
    # grading afterwards: the link-attacker has no notebook (0, "missing"), the others are graded
    summary = grade_class(course, ASSIGNMENT, workers=1, engine=ENGINE, progress=False)
    assert summary.graded == 3 and summary.record_errors == []


def test_the_cli_names_every_refusal_in_the_summary_and_the_log(exchange, tmp_path):
    from click.testing import CliRunner

    from autograder.cli import main
    course = exchange
    nbgrader_submit(course, tmp_path, "honest")
    d = forge(course, "linker", _stamp(NOW - dt.timedelta(minutes=1)), notebook=_student_notebook(course))
    os.symlink(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", d / "solution.ipynb")
    forge(course, "later", "2099-01-01 00:00:00.000000 UTC", notebook=_student_notebook(course))
    res = CliRunner().invoke(main, ["collect", ASSIGNMENT, "--course", str(course)])
    assert res.exit_code == 1, res.output
    assert "collected 2 (0 updated), 0 unchanged, 1 refused, 1 file(s) refused" in res.output
    assert "REFUSED file" in res.output and "solution.ipynb is a symbolic link" in res.output
    assert "REFUSED submission" in res.output and "in the future" in res.output
    assert "2 to grade" in res.output
    logged = (course / "collect.log").read_text()
    assert "solution.ipynb is a symbolic link" in logged and "in the future" in logged
    assert "collected 'honest'" in logged


# ---------------------------------------------------------------------------------------------- owners


def test_a_folder_owned_by_another_user_is_refused(exchange, tmp_path):
    course = exchange
    when = _stamp(NOW - dt.timedelta(minutes=3))
    # the victim is a system user ("daemon"); the attacker (this process's user) writes in their name
    victim = "daemon"
    assert system_uid(victim) is not None and system_uid(victim) != MY_UID
    forge(course, victim, when, notebook=_student_notebook(course, "    return 42  # mine"))
    # a student who is not a system user, forged by a user who is another student of the course
    forge(course, "not-a-system-user-xq", when, notebook=_student_notebook(course))
    forge(course, ME, when, notebook=_student_notebook(course))                 # the attacker's own work
    report = collect_assignment(course, ASSIGNMENT)
    refused = {r.student: r.reason for r in report.refused}
    assert "cheating attempt" in refused[victim] and f"not by {victim}" in refused[victim]
    assert "another student of the course" in refused["not-a-system-user-xq"]
    assert report.collected == [ME]
    assert not submitted(course, victim).exists()
    if os.geteuid() == 0:        # the victim's own folder (root can hand it over): collected, except a
        uid = system_uid(victim)  # file inside that is still someone else's
        own = forge(course, victim, _stamp(NOW - dt.timedelta(minutes=1)), notebook=_student_notebook(course),
                    suffix="own")
        (own / "planted.txt").write_text("not the victim's")
        for p in (own, own / "timestamp.txt", own / f"{ASSIGNMENT}.ipynb"):
            os.chown(p, uid, -1)
        report = collect_assignment(course, ASSIGNMENT)
        assert report.collected == [victim], report
        assert [r.what.rsplit("/", 1)[1] for r in report.skipped_files] == ["planted.txt"]
        assert "owned by uid 0" in report.skipped_files[0].reason
        shutil.rmtree(submitted(course, victim))
    # nbgrader's CollectApp.check_owner = False turns the owner check off, as in nbgrader
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write("c.CollectApp.check_owner = False\n")
    report = collect_assignment(course, ASSIGNMENT)
    assert victim in report.collected


def test_owner_rule_for_students_who_are_not_system_users():
    # a shared exchange written by one service account: its owner cannot name the student
    assert owner_problem("alice-not-a-user", MY_UID, {"bob"}) is None
    assert owner_problem("alice-not-a-user", MY_UID, {ME}) is not None
    assert owner_problem(ME, MY_UID, set()) is None
    assert owner_problem("daemon", MY_UID, set()) is not None


# ---------------------------------------------------------------------------------------------- times


@pytest.mark.parametrize("bad", ["not a date", "2099-01-01 00:00:00.000000 UTC", "99999999999999999999",
                                 "\x1b[31m;rm -rf /", ""])
def test_parse_timestamp_rejects_with_a_reason(bad):
    when, problem = parse_timestamp(bad, now=NOW)
    assert when is None and problem


def test_bad_and_future_times_never_block_anyone(exchange, tmp_path):
    course = exchange
    nbgrader_submit(course, tmp_path, "victim")
    first = collect_assignment(course, ASSIGNMENT)
    assert first.collected == ["victim"]
    # the victim's submitted copy gets a garbage timestamp.txt (hand-edited / another tool)
    (submitted(course, "victim") / "timestamp.txt").write_text("garbage")
    old = _stamp(NOW - dt.timedelta(hours=1))
    # attackers: a folder name that is not a date, a far-future one, a garbage / future timestamp.txt
    forge(course, "mallory", "notadate", notebook=_student_notebook(course), stamp=old)
    forge(course, "mallory", "2099-12-31 23:59:59.000000 UTC", notebook=_student_notebook(course), suffix="f1")
    forge(course, "mallory", old, notebook=_student_notebook(course), stamp="2099-01-01 00:00:00 UTC", suffix="f2")
    forge(course, "mallory", _stamp(NOW - dt.timedelta(hours=2)), notebook=_student_notebook(course),
          stamp="Tuesday?", suffix="f3")
    report = collect_assignment(course, ASSIGNMENT)
    reasons = [r.reason for r in report.refused if r.student == "mallory"]
    assert any("submission time that is not a date" in r for r in reasons)
    assert any("submission time that is in the future" in r for r in reasons)
    assert any("timestamp.txt that is in the future" in r for r in reasons)
    assert any("timestamp.txt that is not a date" in r for r in reasons)
    assert "mallory" not in report.collected and not submitted(course, "mallory").exists()
    # the victim's later real submission replaces the copy whose timestamp was garbage
    nbgrader_submit(course, tmp_path, "victim", "    return a + b  # second")
    report = collect_assignment(course, ASSIGNMENT)
    assert report.collected == ["victim"] and report.updated == ["victim"], report
    assert "# second" in (submitted(course, "victim") / f"{ASSIGNMENT}.ipynb").read_text()
    assert parse_timestamp((submitted(course, "victim") / "timestamp.txt").read_text())[0] is not None
    # the attacker's later VALID submission is collected despite the refused ones
    forge(course, "mallory", _stamp(NOW), notebook=_student_notebook(course), suffix="ok")
    report = collect_assignment(course, ASSIGNMENT)
    assert report.collected == ["mallory"]
    # and a second collect changes nothing
    report = collect_assignment(course, ASSIGNMENT)
    assert report.collected == [] and sorted(report.unchanged) == ["mallory", "victim"]


def test_student_ids_that_are_not_safe_folder_names_are_refused(exchange):
    course = exchange
    when = _stamp(NOW - dt.timedelta(minutes=1))
    for student in ("..", ".hidden", "a\nb"):
        forge(course, student, when, notebook=_student_notebook(course), suffix=f"s{len(student)}")
    report = collect_assignment(course, ASSIGNMENT)
    assert report.collected == [] and len(report.refused) == 3
    assert all("safe folder name" in r.reason for r in report.refused)
    assert not (course / ASSIGNMENT).exists() and not (course / "submitted").exists()


# ---------------------------------------------------------------------------------------------- swap


def test_a_failed_copy_keeps_the_previous_submission(exchange, tmp_path, monkeypatch):
    course = exchange
    nbgrader_submit(course, tmp_path, "kim", "    return a + b  # first")
    assert collect_assignment(course, ASSIGNMENT).collected == ["kim"]
    first = (submitted(course, "kim") / f"{ASSIGNMENT}.ipynb").read_text()
    home = tmp_path / "home-kim" / ASSIGNMENT
    for i in range(5):
        (home / f"data{i}.txt").write_text("x" * 1000)
    nbgrader_submit(course, tmp_path, "kim", "    return a + b  # second")
    real_file = collect_mod._Copy.file
    calls = []

    def failing(self, src_fd, name, dest, path):
        calls.append(name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device (injected)")
        return real_file(self, src_fd, name, dest, path)
    monkeypatch.setattr(collect_mod._Copy, "file", failing)
    report = collect_assignment(course, ASSIGNMENT)
    assert report.collected == [] and "previous copy in submitted/ is kept" in report.refused[0].reason
    assert (submitted(course, "kim") / f"{ASSIGNMENT}.ipynb").read_text() == first
    assert sorted(p.name for p in (course / "submitted" / "kim").iterdir()) == [ASSIGNMENT]
    monkeypatch.setattr(collect_mod._Copy, "file", real_file)
    # too large for the course's max_dir_size: refused whole, previous copy kept
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write("c.CourseDirectory.max_dir_size = 4\n")           # kB
    report = collect_assignment(course, ASSIGNMENT)
    assert report.collected == [] and "max_dir_size" in report.refused[0].reason
    assert (submitted(course, "kim") / f"{ASSIGNMENT}.ipynb").read_text() == first
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write("c.CourseDirectory.max_dir_size = 100000\n")
    monkeypatch.setattr(collect_mod, "_exchange", lambda a, b: False)     # a kernel without renameat2
    report = collect_assignment(course, ASSIGNMENT)
    assert report.updated == ["kim"]
    assert sorted(p.name for p in (course / "submitted" / "kim").iterdir()) == [ASSIGNMENT]
    assert "# second" in (submitted(course, "kim") / f"{ASSIGNMENT}.ipynb").read_text()
    assert (submitted(course, "kim") / "data4.txt").is_file()


def test_a_linked_submitted_folder_is_replaced_not_written_through(exchange, tmp_path):
    course = exchange
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not the student's")
    (course / "submitted" / "kim").mkdir(parents=True)
    os.symlink(elsewhere, submitted(course, "kim"))
    nbgrader_submit(course, tmp_path, "kim")
    assert collect_assignment(course, ASSIGNMENT).collected == ["kim"]
    assert not os.path.islink(submitted(course, "kim")) and (submitted(course, "kim") / f"{ASSIGNMENT}.ipynb").is_file()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]


def test_a_collect_killed_between_renames_is_repaired(tmp_path):
    dest = tmp_path / "submitted" / "kim" / ASSIGNMENT
    old = dest.with_name(f".{ASSIGNMENT}.collect-123-old")
    new = dest.with_name(f".{ASSIGNMENT}.collect-123-new")
    old.mkdir(parents=True)
    (old / "a.ipynb").write_text("previous")
    new.mkdir()
    (new / "a.ipynb").write_text("partial")
    repair(dest)
    assert (dest / "a.ipynb").read_text() == "previous" and not old.exists() and not new.exists()


# ---------------------------------------------------------------------------------------------- grade


def test_grade_applies_the_same_file_rules_to_submitted(course):
    from gradingcourse import submit
    source_nb = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    submit(course, "honest")
    for student in ("linked", "zeros", "fifo", "hardlinked", "badstamp", "stamplink", "dirlinked"):
        submit(course, student)
    nb = lambda s: submitted(course, s) / f"{ASSIGNMENT}.ipynb"  # noqa: E731
    nb("linked").unlink()
    os.symlink(source_nb, nb("linked"))
    nb("zeros").unlink()
    os.symlink("/dev/zero", nb("zeros"))
    nb("fifo").unlink()
    os.mkfifo(nb("fifo"))
    nb("hardlinked").unlink()
    os.link(source_nb, nb("hardlinked"))
    (submitted(course, "badstamp") / "timestamp.txt").write_text("yesterday-ish")
    (submitted(course, "stamplink") / "timestamp.txt").unlink()
    os.symlink("/dev/zero", submitted(course, "stamplink") / "timestamp.txt")
    shutil.rmtree(submitted(course, "dirlinked"))
    os.symlink(course / "source" / ASSIGNMENT, submitted(course, "dirlinked"))
    subs = {s.student: s for s in discover(course, ASSIGNMENT, [ASSIGNMENT])}
    assert subs["honest"].refused is None
    assert all(subs[s].refused for s in subs if s != "honest")

    done = threading.Event()
    out = {}

    def run():
        out["summary"] = grade_class(course, ASSIGNMENT, workers=2, engine=ENGINE, progress=False)
        done.set()
    threading.Thread(target=run, daemon=True).start()
    assert done.wait(90), "grading hung on a FIFO or an endless file"
    summary = out["summary"]
    assert summary.graded == 8 and summary.ungradable == 7 and summary.record_errors == []
    from autograder.gradebook import ResultStore
    from gradingcourse import db_url
    with ResultStore(db_url(course)) as store:
        rows = {r.student: (r.score, json.loads(r.result_json)["ungradable_reason"]) for r in store.results()}
    assert rows["honest"] == (5.0, None)
    assert "symbolic link" in rows["linked"][1] and "symbolic link" in rows["zeros"][1]
    assert "FIFO" in rows["fifo"][1] and "hard links" in rows["hardlinked"][1]
    assert "not a date" in rows["badstamp"][1] and "symbolic link" in rows["stamplink"][1]
    assert "symbolic link" in rows["dirlinked"][1]
    assert all(score == 0.0 for s, (score, _) in rows.items() if s != "honest")
    for p in (course / "autograded").rglob("results.json"):
        assert SECRET not in p.read_text(), p
    assert sorted(p.name for p in (course / "autograded" / "linked" / ASSIGNMENT).iterdir()) == ["results.json"]


def test_kind_problem_on_real_special_files(tmp_path):
    assert "device" in kind_problem(os.lstat("/dev/null"))
    os.mkfifo(tmp_path / "p")
    assert "FIFO" in kind_problem(os.lstat(tmp_path / "p"))
    os.symlink("/etc/passwd", tmp_path / "l")
    assert "symbolic link" in kind_problem(os.lstat(tmp_path / "l"))
    (tmp_path / "f").write_text("x")
    assert kind_problem(os.lstat(tmp_path / "f")) is None


def test_nbgrader_autograde_with_the_plugin_refuses_a_linked_notebook(course, monkeypatch):
    """Files placed in submitted/ by hand, graded through stock `nbgrader autograde` (+ our plugin): the
    link to the instructor's source notebook earns 0 with the reason, and neither the autograded notebook
    nor the released feedback holds anything of the source notebook (its solution regions)."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    from gradingcourse import gradebook_scores, submit
    source_nb = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert "BEGIN SOLUTION" in source_nb.read_text()
    submit(course, "linked")
    nb = submitted(course, "linked") / f"{ASSIGNMENT}.ipynb"
    nb.unlink()
    os.symlink(source_nb, nb)
    monkeypatch.setenv("PATH", f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    api = NbGraderAPI(config=cfg)
    result = api.autograde(ASSIGNMENT, "linked")
    assert result["success"], result.get("log")
    assert gradebook_scores(course)["linked"] == {"test_add": 0.0, "test_mul": 0.0}
    graded_nb = (course / "autograded" / "linked" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in graded_nb and "symbolic link" in graded_nb
    assert api.generate_feedback(ASSIGNMENT, "linked")["success"]
    page = (course / "feedback" / "linked" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "BEGIN SOLUTION" not in page and "SECRET-HIDDEN" not in page and "symbolic link" in page
