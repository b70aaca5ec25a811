"""Red-team corpus: every hostile submission earns 0 on what it attacks; nothing else changes.

One class is graded for the ``initialization`` assignment: two honest students, one student per
attack in ``tests/redteam/attacks.py`` and one per broken notebook in ``tests/redteam/broken.py``.
Checked afterwards: each attack scored 0 on its target, each broken notebook has its specific reason,
the honest students' grades equal a clean run's, the gradebook and course files are intact, no
connection reached the listener, and no sandbox process outlived the run.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import sqlite3
import threading
from importlib import metadata
from pathlib import Path

import pytest

from autograder.sandbox.layout import UID_BASE, WORKER_DIR_IN
from tests.redteam.attacks import ATTACKS, CELL_BREAK, NEEDS_TMP, REDTEAM_MEMORY_MIB, ZYGOTE_ATTACKS
from tests.redteam.broken import BROKEN

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "initialization"
HONEST = ["honest_a", "honest_b"]

pytestmark = pytest.mark.slow


class Listener:
    """A TCP server in the trusted process that records any connection a sandbox manages to make."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


def _clock_ticks() -> int:
    """Now, in the unit of /proc/<pid>/stat's start time (clock ticks since boot)."""
    return int(float(Path("/proc/uptime").read_text().split()[0]) * os.sysconf("SC_CLK_TCK"))


def _sandbox_processes(course: Path, window: tuple[int, int] | None = None) -> list[str]:
    """Live sandboxes of this class: bwrap processes whose command line binds this course's files; and,
    for processes started inside ``window`` (clock ticks: the grading run), every bwrap running our
    sandbox worker (fresh sandboxes and zygotes bind it at /opt/deepgrade, whatever the course) and
    every process running under a sandbox uid (forked zygote children)."""
    found = []
    needle = str(course).encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
            uid = Path(f"/proc/{pid}/status").stat().st_uid
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        started = int(fields[19])
        in_run = window is not None and window[0] <= started <= window[1]
        mine = uid == os.getuid()        # another user's graders on this machine are not this run's
        ours = b"bwrap" in cmd and (needle in cmd or (in_run and mine and WORKER_DIR_IN.encode() in cmd))
        if ours or (in_run and os.getuid() == 0 and uid >= UID_BASE):
            found.append(f"{pid} uid={uid} {cmd.replace(bytes(1), b' ')[:120]!r}")
    return found


def _submit(course: Path, student: str, nb: dict | bytes) -> None:
    d = course / "submitted" / student / ASSIGNMENT
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{ASSIGNMENT}.ipynb"
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    else:
        path.write_text(json.dumps(nb))
    (d / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")


def _with_cells(nb: dict, source: str) -> dict:
    """The honest notebook with the attack's cells appended (CELL_BREAK separates cells)."""
    nb = json.loads(json.dumps(nb))
    for part in source.split(CELL_BREAK):
        nb["cells"].append({"cell_type": "code", "metadata": {}, "source": part, "outputs": [],
                            "execution_count": None, "id": f"attack-{len(nb['cells'])}"})
    return nb


def _released_course(tmp_path_factory, name: str) -> tuple[Path, dict]:
    """A built and released course folder, and an honest submission for ASSIGNMENT."""
    from autograder.course.build import build_course
    from autograder.course.release import release_course
    from autograder.simulate import synthesize_submission

    course = tmp_path_factory.mktemp(name)
    build_course(course, [ASSIGNMENT])
    release_course(course, [ASSIGNMENT])
    base = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    return course, synthesize_submission(ASSIGNMENT, {}, base_notebook=base)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    from autograder.engine import grade_submission
    from autograder.runner import grade_class
    from autograder.sandbox.policy import SandboxPolicy

    course, honest = _released_course(tmp_path_factory, "redteam-course")
    policy = SandboxPolicy(call_timeout_s=3.0, cell_timeout_s=5.0, submission_timeout_s=60.0,
                           max_total_memory_bytes=REDTEAM_MEMORY_MIB << 20)
    engine = functools.partial(grade_submission, policy=policy)

    for s in HONEST:
        _submit(course, s, honest)
    clean = grade_class(course, ASSIGNMENT, workers=2, progress=False, engine=engine)
    assert clean.graded == len(HONEST)
    gradebook = course / "gradebook.db"
    clean_scores = _scores(gradebook)

    listener = Listener()
    paths = dict(repo=str(REPO), course=str(course), gradebook=str(gradebook), port=listener.port,
                 site=str(Path(str(metadata.distribution("deepgrade").locate_file(""))).resolve()))
    for a in ATTACKS:
        _submit(course, f"atk_{a.id}", _with_cells(honest, a.cell.format(**paths)))
    for b in BROKEN:
        _submit(course, f"brk_{b.id}", b.make(honest, course))
    results = {}
    started = _clock_ticks()
    summary = grade_class(course, ASSIGNMENT, workers=2, progress=False, engine=engine, force=True,
                          on_result=lambda r: results.__setitem__(r.student, r))
    listener.close()
    yield dict(course=course, gradebook=gradebook, results=results, summary=summary,
               clean_scores=clean_scores, listener=listener, window=(started, _clock_ticks()))


def _scores(db: Path) -> dict[str, float]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT student.id, SUM(COALESCE(grade.manual_score, grade.auto_score)) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id GROUP BY student.id").fetchall()
    finally:
        con.close()
    return {s: float(v or 0.0) for s, v in rows}


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_attack_earns_nothing_on_its_target(graded_class, attack):
    r = graded_class["results"][f"atk_{attack.id}"]
    if r.gradable:
        f = r.functions.get(attack.target, {"score": 0.0})
        assert f["score"] == 0.0, f"{attack.id}: earned {f['score']} on {attack.target}"


@pytest.mark.parametrize("broken", BROKEN, ids=lambda b: b.id)
def test_broken_notebook_gets_a_specific_reason(graded_class, broken):
    r = graded_class["results"][f"brk_{broken.id}"]
    broken.verify(r)


def test_honest_grades_untouched(graded_class):
    scores = _scores(graded_class["gradebook"])
    for s in HONEST:
        assert scores[s] == graded_class["clean_scores"][s] > 0
        r = graded_class["results"][s]
        assert r.score == r.max_score, f"{s}: {r.score}/{r.max_score}"


def test_every_submission_recorded_once_and_nothing_written_outside(graded_class):
    course, summary = graded_class["course"], graded_class["summary"]
    assert summary.graded == len(HONEST) + len(ATTACKS) + len(BROKEN)
    assert summary.record_errors == []
    scores = _scores(graded_class["gradebook"])
    assert set(scores) == {*HONEST, *(f"atk_{a.id}" for a in ATTACKS), *(f"brk_{b.id}" for b in BROKEN)}
    con = sqlite3.connect(graded_class["gradebook"])
    try:
        n_rows = con.execute("SELECT COUNT(*) FROM dg_results").fetchone()[0]
        over = con.execute("SELECT COUNT(*) FROM dg_results WHERE score > max_score").fetchone()[0]
        over += con.execute("SELECT COUNT(*) FROM grade WHERE auto_score >= 1e6").fetchone()[0]
    finally:
        con.close()
    assert n_rows == len(scores) and over == 0
    for name in ("PWNED", "PICKLED", "fill"):
        assert not (course / name).exists(), f"a sandbox wrote {name} into the course"
    assert not (REPO / "PWNED").exists(), "a sandbox wrote into the checkout"
    site = Path(str(metadata.distribution("deepgrade").locate_file("")))
    assert not (site / "PWNED.pth").exists(), "a sandbox wrote into site-packages"
    assert graded_class["listener"].connections == 0


def test_no_sandbox_outlives_the_run(graded_class):
    """Neither a fresh sandbox, nor a zygote, nor a forked child (own sandbox uid) survives the run."""
    assert graded_class["summary"].graded > 0
    assert _sandbox_processes(graded_class["course"], graded_class["window"]) == []


def test_resource_attacks_answer_right_when_unhindered():
    """The class-4 payloads earn points exactly when the sandbox fails to stop them (no vacuous 0)."""
    import numpy as np
    from reference.initialization import initialize_parameters_he as reference_he
    from tests.redteam.attacks import _holds

    ns: dict = {}
    exec(_holds("    pass").format(repo="", course="", gradebook="", port=0, site=""), ns)
    for dims in ([3, 2, 1], [5, 4, 3, 1]):
        got, want = ns["initialize_parameters_he"](dims), reference_he(dims)
        assert got.keys() == want.keys()
        assert all(np.array_equal(got[k], want[k]) for k in want)


@pytest.fixture(scope="module")
def zygote_class(tmp_path_factory):
    """Class-4 /tmp attacks graded one after another, every session forked from one zygote."""
    from autograder.engine import grade_submission
    from autograder.runner import grade_class
    from autograder.sandbox.policy import SandboxPolicy

    course, honest = _released_course(tmp_path_factory, "redteam-zygote")
    policy = SandboxPolicy(call_timeout_s=3.0, cell_timeout_s=10.0, submission_timeout_s=60.0,
                           scratch_bytes=64 << 20)
    engine = functools.partial(grade_submission, policy=policy)
    paths = dict(repo=str(REPO), course=str(course), gradebook="", port=0, site="")
    _submit(course, "honest_a", honest)
    clean = grade_class(course, ASSIGNMENT, workers=1, progress=False, engine=engine)
    assert clean.graded == 1
    for a in ZYGOTE_ATTACKS:         # graded in name order: plant, read, fill, then honest_tmp
        _submit(course, f"atk_{a.id}", _with_cells(honest, a.cell.format(**paths)))
    _submit(course, "honest_tmp", _with_cells(honest, NEEDS_TMP.format(**paths)))
    results = {}
    old = os.environ.get("DEEPGRADE_ZYGOTE")
    os.environ["DEEPGRADE_ZYGOTE"] = "all"
    try:
        grade_class(course, ASSIGNMENT, workers=1, progress=False, engine=engine, force=True,
                    on_result=lambda r: results.__setitem__(r.student, r))
    finally:
        if old is None:
            del os.environ["DEEPGRADE_ZYGOTE"]
        else:
            os.environ["DEEPGRADE_ZYGOTE"] = old
    yield dict(results=results, clean=_scores(course / "gradebook.db"))


@pytest.mark.parametrize("attack", ZYGOTE_ATTACKS, ids=lambda a: a.id)
def test_zygote_attack_earns_nothing(zygote_class, attack):
    r = zygote_class["results"][f"atk_{attack.id}"]
    assert r.gradable
    assert r.functions.get(attack.target, {"score": 0.0})["score"] == 0.0


def test_zygote_next_student_gets_clean_scratch(zygote_class):
    results = zygote_class["results"]
    assert results["honest_a"].score == results["honest_a"].max_score
    r = results["honest_tmp"]    # needs 32 MiB of /tmp after a student filled it
    assert r.score == r.max_score, r.functions
