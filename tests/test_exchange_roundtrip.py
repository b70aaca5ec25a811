"""nbgrader's exchange end to end, as an instructor and a student use it (issue 14, part 1).

release -> fetch -> submit -> collect -> grade -> generate/release/fetch feedback, then two resubmissions:
a changed notebook graded with ``nbgrader autograde`` (our plugin) and an identical notebook that
``deepgrade grade`` skips as already graded. Every round's feedback must reach the student, filed under
that round's submission time. The exchange lives in a temp folder (``c.Exchange.root``); the student is
the current unix user, as nbgrader's exchange requires.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, released_course  # noqa: F401

TESTS_DIR = str(Path(__file__).parent)
BIN = Path(sys.executable).parent
COURSE_ID = "roundtrip101"


def _env(home: Path) -> dict:
    return {**os.environ, "PYTHONPATH": TESTS_DIR, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / ".local-jupyter")}


def _run(cwd: Path, home: Path, *args: str) -> str:
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=_env(home), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


class Student:
    """A learner's side of the exchange: own folder, own nbgrader cache, no course config."""

    def __init__(self, root: Path, exchange: Path):
        self.home, self.exchange = root, exchange
        self.home.mkdir()
        self.flags = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}",
                      f"--Exchange.cache={root / '.nbgrader-cache'}"]

    def nbgrader(self, *args: str) -> str:
        return _run(self.home, self.home, "nbgrader", *args, *self.flags)

    @property
    def notebook(self) -> Path:
        return self.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

    def solve(self, add_body: str) -> None:
        nb = json.loads(self.notebook.read_text())
        for cell in nb["cells"]:
            gid = cell["metadata"].get("nbgrader", {}).get("grade_id", "")
            if gid.startswith("ex_"):
                fn = gid[3:]
                body = add_body if fn == "add" else "    return a * b"
                cell["source"] = f"def {fn}(a, b):\n{body}\n"
        self.notebook.write_text(json.dumps(nb, indent=1))

    def feedback(self) -> dict[str, str]:
        """{timestamp folder: feedback html} as fetch_feedback filed them."""
        root = self.home / ASSIGNMENT / "feedback"
        return {p.parent.name: p.read_text() for p in sorted(root.glob(f"*/{ASSIGNMENT}.html"))}


class Instructor:
    """The instructor's nbgrader commands, in process through NbGraderAPI (what formgrader's buttons
    call) with the course's own nbgrader_config.py: no interpreter start-up per command."""

    def __init__(self, course: Path, monkeypatch):
        from nbgrader.apps import NbGraderAPI
        from traitlets.config.loader import PyFileConfigLoader
        monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.chdir(course)
        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        self.api = NbGraderAPI(config=cfg)

    def __call__(self, command: str, *args, **kwargs) -> None:
        result = getattr(self.api, command)(*args, **kwargs)
        assert result["success"], f"{command} failed:\n{result.get('log', '')[-3000:]}\n{result.get('error', '')}"

    def release_feedback(self) -> None:
        self("generate_feedback", ASSIGNMENT)
        self("release_feedback", ASSIGNMENT)


def _submitted_stamp(course: Path, student: str) -> str:
    return (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").read_text().strip()


def test_feedback_reaches_the_student_after_either_grading_path_and_resubmissions(course, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from autograder.cli import main
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    os.chmod(exchange, 0o777)
    with (course / "nbgrader_config.py").open("a") as fh:
        fh.write(f"c.CourseDirectory.course_id = {COURSE_ID!r}\nc.Exchange.root = {str(exchange)!r}\n")
    instructor = Instructor(course, monkeypatch)
    instructor("release_assignment", ASSIGNMENT)
    me = Student(tmp_path / "student-home", exchange)
    me.nbgrader("fetch_assignment", ASSIGNMENT)

    # round 1: half of `add` right; collected with `deepgrade collect`, graded with `deepgrade grade`'s runner
    me.solve("    return a - b  # half")
    me.nbgrader("submit", ASSIGNMENT)
    out = CliRunner().invoke(main, ["collect", ASSIGNMENT, "--course", str(course)])
    assert out.exit_code == 0 and "new" in out.output, out.output
    student = next(p.name for p in (course / "submitted").iterdir())
    summary = grade_class(course, ASSIGNMENT, workers=1, engine="gradingcourse:fake_grade", progress=False)
    assert summary.graded == 1
    autograded = course / "autograded" / student / ASSIGNMENT
    submitted = course / "submitted" / student / ASSIGNMENT
    for name in ("timestamp.txt", "submission_secret.txt"):
        assert (autograded / name).read_text() == (submitted / name).read_text(), name
    instructor.release_feedback()
    me.nbgrader("fetch_feedback", ASSIGNMENT)
    first = _submitted_stamp(course, student)
    got = me.feedback()
    assert list(got) == [first] and "add values wrong" in got[first]

    # round 2: fixed, resubmitted; graded with nbgrader's autograde (formgrader's button) + our plugin
    time.sleep(1.1)
    me.solve("    return a + b")
    me.nbgrader("submit", ASSIGNMENT)
    instructor("collect", ASSIGNMENT)
    second = _submitted_stamp(course, student)
    assert second != first
    instructor("autograde", ASSIGNMENT, student)
    assert (autograded / "submission_secret.txt").read_text() == (submitted / "submission_secret.txt").read_text()
    instructor.release_feedback()
    me.nbgrader("fetch_feedback", ASSIGNMENT)
    got = me.feedback()
    assert sorted(got) == sorted([first, second])
    assert "add values ok" in got[second] and "add values wrong" in got[first]

    # round 3: the identical notebook submitted again: `deepgrade grade` skips it, the feedback follows
    time.sleep(1.1)
    me.nbgrader("submit", ASSIGNMENT)
    instructor("collect", ASSIGNMENT)
    third = _submitted_stamp(course, student)
    summary = grade_class(course, ASSIGNMENT, workers=1, engine="gradingcourse:fake_grade", progress=False)
    assert summary.skipped == 1 and summary.graded == 0
    for name in ("timestamp.txt", "submission_secret.txt"):
        assert (autograded / name).read_text() == (submitted / name).read_text(), name
    instructor.release_feedback()
    me.nbgrader("fetch_feedback", ASSIGNMENT)
    got = me.feedback()
    assert sorted(got) == sorted([first, second, third])
    assert "add values ok" in got[third]
