"""Stock `nbgrader autograde` with our plugin and `deepgrade grade` give the same gradebook."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.gradebook import ResultStore
from autograder.locking import course_lock
from autograder.runner import grade_class
from gradingcourse import ASSIGNMENT, course, db_url, gradebook_scores, released_course, submit  # noqa: F401

TESTS_DIR = str(Path(__file__).parent)
BIN = Path(sys.executable).parent


def _nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": TESTS_DIR, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def _class(root: Path) -> None:
    submit(root, "alice")
    submit(root, "bob", {"add": "    return a - b  # half"})
    submit(root, "carol", {"mul": "    raise NotImplementedError()"})
    submit(root, "eve", {"add": "    return 0  # crash-engine"})


def _test_outputs(root: Path, student: str) -> dict[str, list]:
    nb = json.loads((root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: c["outputs"] for c in nb["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade")}


def _dg(root: Path) -> dict[str, tuple]:
    with ResultStore(db_url(root)) as store:
        return {r.student: (r.score, r.gradable, r.checksum) for r in store.results()}


def without_times(doc: dict) -> dict:
    """A result document without what differs by nature between two runs: when it was graded and how
    long things took (``timing``, Gradescope's ``execution_time``, each check's ``duration_s``)."""
    doc = {k: v for k, v in doc.items() if k not in ("graded_at", "timing", "execution_time")}
    if isinstance(doc.get("checks"), list):
        doc["checks"] = [{k: v for k, v in c.items() if k != "duration_s"} for c in doc["checks"]]
    return doc


def _dump(root: Path, url: str | None = None) -> dict[str, list]:
    """Every row both grading paths write (ids and times that differ by nature left out)."""
    import json as _json

    from sqlalchemy import create_engine, text
    queries = {
        "course": "SELECT id FROM course",
        "student": "SELECT id FROM student",
        "submission": "SELECT student_id, timestamp FROM submitted_assignment",
        "notebook": "SELECT sa.student_id, sn.flagged, sn.late_submission_penalty FROM submitted_notebook sn "
                    "JOIN submitted_assignment sa ON sa.id = sn.assignment_id",
        "grade": "SELECT sa.student_id, c.name, g.auto_score, g.manual_score, g.needs_manual_grade FROM grade g "
                 "JOIN base_cell c ON c.id = g.cell_id JOIN submitted_notebook sn ON sn.id = g.notebook_id "
                 "JOIN submitted_assignment sa ON sa.id = sn.assignment_id",
        "comment": "SELECT sa.student_id, c.name, m.auto_comment FROM comment m JOIN base_cell c ON c.id = m.cell_id "
                   "JOIN submitted_notebook sn ON sn.id = m.notebook_id "
                   "JOIN submitted_assignment sa ON sa.id = sn.assignment_id",
        "dg_results": "SELECT student, assignment, notebook, checksum, gradable, score, max_score, result_json "
                      "FROM dg_results",
        "evidence": "SELECT student, concept, assignment, item, checksum, submitted_at, kind, correct FROM dg_observations",
        "mastery": "SELECT student, concept, p_mastery, n_obs FROM dg_mastery",
    }
    eng = create_engine(url or db_url(root))
    out = {}
    with eng.connect() as con:
        for name, sql in queries.items():
            rows = []
            for r in con.execute(text(sql)):
                r = list(r)
                if name == "dg_results":
                    r[-1] = without_times(_json.loads(r[-1]))
                rows.append(r)
            out[name] = sorted(rows, key=repr)
    eng.dispose()
    return out


def test_nbgrader_autograde_and_runner_record_identical_scores(course, tmp_path):
    _class(course)
    runner_copy = tmp_path / "runner-copy"
    shutil.copytree(course, runner_copy)

    proc = _nbgrader(course, "autograde", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "deepgrade: grading" in proc.stderr and "Executing notebook" not in proc.stderr
    grade_class(runner_copy, ASSIGNMENT, workers=2, engine="gradingcourse:fake_grade", progress=False)

    via_nbgrader, via_runner = gradebook_scores(course), gradebook_scores(runner_copy)
    assert via_nbgrader == via_runner
    assert via_nbgrader["bob"] == {"test_add": 1.0, "test_mul": 3.0}
    assert via_nbgrader["eve"] == {"test_add": 0.0, "test_mul": 0.0}
    assert _dg(course) == _dg(runner_copy)
    via_plugin, via_grade = _dump(course), _dump(runner_copy)      # one recording step: the same rows
    assert via_plugin["evidence"] and via_plugin["course"] == [["default_course"]]   # nbgrader's release made it
    for table in via_plugin:
        assert via_plugin[table] == via_grade[table], table
    for student in ("alice", "bob", "carol", "eve"):
        assert _test_outputs(course, student) == _test_outputs(runner_copy, student)
        for root in (course, runner_copy):
            gs = json.loads((root / "autograded" / student / ASSIGNMENT / "results.json").read_text())
            assert gs["score"] == _dg(course)[student][0]
        assert not list((course / "autograded").rglob(".*.tmp-*"))


def test_scores_come_from_the_typed_result_not_cell_outputs(course):
    # nbgrader's own rule (utils.determine_grade) gives full points to a test cell whose output has no
    # error; bob's half-right add must still get exactly half, from the typed result
    import nbformat
    from nbgrader.utils import determine_grade
    submit(course, "bob", {"add": "    return a - b  # half"})
    proc = _nbgrader(course, "autograde", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(course / "autograded" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    test_add = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_add")
    assert determine_grade(test_add) == (2.0, 2.0)
    assert gradebook_scores(course)["bob"] == {"test_add": 1.0, "test_mul": 3.0}


def test_feedback_shows_messages_and_hints_but_no_hidden_tests(course):
    _class(course)
    grade_class(course, ASSIGNMENT, workers=1, engine="gradingcourse:fake_grade", progress=False)
    proc = _nbgrader(course, "generate_feedback", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (course / "feedback" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "hint: look at how add combines a and b" in html
    assert "SECRET-HIDDEN" not in html and "BEGIN HIDDEN TESTS" not in html
    eve = (course / "feedback" / "eve" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "Not graded automatically: grader error" in eve


def test_nbgrader_autograde_refuses_while_a_grading_run_holds_the_course(course):
    submit(course, "alice")
    with course_lock(course):
        proc = _nbgrader(course, "autograde", ASSIGNMENT)
    assert "another grading command is running" in proc.stderr
    assert gradebook_scores(course)["alice"] == {"test_add": None, "test_mul": None}
    assert _dg(course) == {}


@pytest.mark.slow
def test_real_engine_both_paths_agree_on_initialization(tmp_path):
    """The shipped default engine, a real built + released course, three synthesized students."""
    from autograder.course.build import build_course
    from autograder.course.release import release_course
    from autograder.simulate import synthesize_submission, write_notebook
    from reference.mistakes import mistakes_for
    from reference.registry import GRADED

    a = "initialization"
    root = tmp_path / "real"
    build_course(root, [a])
    release_course(root, [a])
    functions = list(GRADED[a])
    mistake = None
    for m in (m for f in functions for m in mistakes_for(a, f)):
        try:
            synthesize_submission(a, {m.function: m.id}, base_notebook=root / "release" / a / f"{a}.ipynb")
        except Exception:  # noqa: BLE001 - some mistake variants cannot be rendered as source yet
            continue
        mistake = m
        break
    assert mistake is not None
    plans = {"perfect": {}, "partial": {functions[0]: "missing"}, "mistaken": {mistake.function: mistake.id}}
    for student, choices in plans.items():
        nb = synthesize_submission(a, choices, base_notebook=root / "release" / a / f"{a}.ipynb")
        write_notebook(nb, root / "submitted" / student / a / f"{a}.ipynb")
    runner_copy = tmp_path / "runner-copy"
    shutil.copytree(root, runner_copy)

    proc = _nbgrader(root, "autograde", a)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = grade_class(runner_copy, a, workers=2, progress=False)       # default engine
    assert summary.ungradable == 0 and not summary.record_errors

    def scores(r):
        from nbgrader.api import Gradebook
        with Gradebook(db_url(r)) as gb:
            return {s.student_id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades}
                    for s in gb.assignment_submissions(a)}
    via_nbgrader, via_runner = scores(root), scores(runner_copy)
    assert via_nbgrader == via_runner
    assert sum(via_runner["perfect"].values()) == 20.0
    assert via_runner["partial"][f"test_{functions[0]}"] == 0.0
    assert sum(via_runner["mistaken"].values()) < 20.0

    def seeds(r):   # the randomized checks' seed (from the submitted code) is the same on both paths
        with ResultStore(db_url(r)) as store:
            return {x.student: json.loads(x.result_json)["seed"] for x in store.results()}
    assert seeds(root) == seeds(runner_copy) and len(set(seeds(root).values())) == 3


def test_formgrader_autograde_button_uses_the_plugin(course, monkeypatch):
    """The formgrader's "autograde" button calls NbGraderAPI.autograde(assignment, student) in-process
    with the course's nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader
    submit(course, "bob", {"add": "    return a - b  # half"})
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    result = NbGraderAPI(config=cfg).autograde(ASSIGNMENT, "bob")
    assert result["success"], result.get("log")
    assert "deepgrade: bob tiny scored 4 / 5" in result["log"]
    assert gradebook_scores(course)["bob"] == {"test_add": 1.0, "test_mul": 3.0}


def test_late_penalties_match_nbgrader(course, tmp_path):
    """A due date + `penalty_method = "zero"` in nbgrader_config.py: both paths zero the late student."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url(course)) as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate="2026-11-19 12:00:00 UTC")
    with (course / "nbgrader_config.py").open("a") as fh:
        fh.write('c.LateSubmissionPlugin.penalty_method = "zero"\n')
    submit(course, "alice")                                   # timestamp 2026-11-20: late
    ontime = submit(course, "bob")
    (ontime.parent / "timestamp.txt").write_text("2026-11-18 10:00:00.000000 UTC")
    runner_copy = tmp_path / "runner-copy"
    shutil.copytree(course, runner_copy)
    proc = _nbgrader(course, "autograde", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grade_class(runner_copy, ASSIGNMENT, workers=1, engine="gradingcourse:fake_grade", progress=False)

    def totals(root):
        with Gradebook(db_url(root)) as gb:
            return {s.student_id: (s.score, s.late_submission_penalty) for s in gb.assignment_submissions(ASSIGNMENT)}
    assert totals(course) == totals(runner_copy) == {"alice": (5.0, 5.0), "bob": (5.0, 0.0)}


def _damage(path: Path, how) -> None:
    nb = json.loads(path.read_text())
    how(nb["cells"])
    path.write_text(json.dumps(nb))


def _meta(cells, grade_id):
    return next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


DAMAGES = {
    # a copied test cell: the same grade id twice
    "bob": lambda cells: cells.insert(3, json.loads(json.dumps(_meta(cells, "test_add")))),
    # a cell without schema_version (stock nbgrader: SchemaTooOldError stops the whole class)
    "carol": lambda cells: _meta(cells, "test_mul")["metadata"]["nbgrader"].pop("schema_version"),
    # nbgrader metadata that is not an object
    "dave": lambda cells: cells[1]["metadata"].__setitem__("nbgrader", "junk"),
    # a grade cell without a grade id
    "erin": lambda cells: _meta(cells, "test_mul")["metadata"]["nbgrader"].pop("grade_id"),
    # a schema from a newer nbgrader (stock nbgrader: SchemaTooNewError stops the whole class)
    "frank": lambda cells: _meta(cells, "ex_add")["metadata"]["nbgrader"].__setitem__("schema_version", 99),
}


def test_damaged_nbgrader_metadata_fails_no_one_else(course, tmp_path):
    """Issue 17 part 6: one notebook with malformed or duplicated nbgrader metadata must not stop
    `nbgrader autograde` for the class; each is graded by function (as on the `deepgrade grade` path)
    and the log names the student and the reason."""
    submit(course, "alice")
    for student, how in DAMAGES.items():
        _damage(submit(course, student), how)
    submit(course, "zoe", {"mul": "    raise NotImplementedError()"})     # sorts after every damaged one
    runner_copy = tmp_path / "runner-copy"
    shutil.copytree(course, runner_copy)
    proc = _nbgrader(course, "autograde", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    grade_class(runner_copy, ASSIGNMENT, workers=1, engine="gradingcourse:fake_grade", progress=False)
    totals = {s: sum(v for v in cells.values() if v is not None) for s, cells in gradebook_scores(course).items()}
    assert totals == {"alice": 5.0, "bob": 5.0, "carol": 5.0, "dave": 5.0, "erin": 5.0, "frank": 5.0, "zoe": 2.0}
    assert gradebook_scores(course) == gradebook_scores(runner_copy)
    assert "carol/tiny: nbgrader metadata ignored" not in proc.stderr      # filled in, not dropped
    for student, reason in (("dave", "not an object"), ("erin", "does not have a grade_id"),
                            ("frank", "schema version 99")):
        assert f"deepgrade: {student}/{ASSIGNMENT}: nbgrader metadata ignored" in proc.stderr, student
        assert reason in proc.stderr, reason
    assert "bob/tiny: nbgrader metadata ignored, cell 3: a copy of the cell 'test_add'" in proc.stderr
    proc = _nbgrader(course, "generate_feedback", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((course / "feedback").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html"))) == 7
