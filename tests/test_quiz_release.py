"""Quiz release: the notebook and the student helper carry questions but never answers."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from quizzes.grading import make_variant, quiz_questions
from quizzes.release import build_quiz
from quizzes.schema import bank

REPO = Path(__file__).resolve().parents[1]


def _load_helper(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _secrets(week: int) -> list[str]:
    """Texts that would give answers away: explanations, option feedback, distractor feedback."""
    out = []
    for q in quiz_questions(f"quiz_week{week}"):
        out.append(q.explanation)
        out += [c.feedback for c in q.choices if c.feedback]
        out += [d.feedback for d in q.distractors]
    return [s for s in out if len(s) > 12]


@pytest.mark.parametrize("week", [1, 2, 3])
def test_source_notebook_and_helper_hold_no_answers(tmp_path, week):
    folder = build_quiz(week, tmp_path)
    nb_text = (folder / f"quiz_week{week}.ipynb").read_text()
    helper_text = (folder / f"quiz_week{week}_utils.py").read_text()
    for secret in _secrets(week):
        assert secret not in nb_text and secret not in helper_text, secret[:60]
    helper = _load_helper(folder / f"quiz_week{week}_utils.py", f"helper_w{week}")
    for q in helper._QUESTIONS:
        assert set(q) <= {"id", "type", "points", "concepts", "text", "choices", "shuffle", "params"}
        assert all(isinstance(c, str) for c in q.get("choices", []))   # option texts only, no flags
    for q in quiz_questions(f"quiz_week{week}"):
        if q.type == "numeric":
            assert repr(float(q.answer)) not in helper_text


def test_notebook_cells_follow_the_nbgrader_contract(tmp_path):
    folder = build_quiz(1, tmp_path)
    nb = json.loads((folder / "quiz_week1.ipynb").read_text())
    qs = quiz_questions("quiz_week1")
    meta = [c["metadata"].get("nbgrader") for c in nb["cells"]]
    sols = [m for m in meta if m and m["solution"]]
    tests = [m for m in meta if m and m["grade"]]
    assert [m["grade_id"] for m in sols] == [f"ex_q_{q.id}" for q in qs]
    assert [(m["grade_id"], m["points"]) for m in tests] == [(f"test_q_{q.id}", q.points) for q in qs]
    assert all(m["locked"] for m in tests)
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "from quiz_week1_utils import *" in "".join(first_code["source"])
    assert nb["metadata"]["deepgrade"]["points"] == {f"q_{q.id}": q.points for q in qs}


def test_helper_shows_the_same_variant_the_grader_uses(tmp_path, capsys, monkeypatch):
    folder = build_quiz(2, tmp_path)
    helper = _load_helper(folder / "quiz_week2_utils.py", "helper_same_variant")
    monkeypatch.setenv("DEEPGRADE_STUDENT_ID", "ada")
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    for q in quiz_questions("quiz_week2"):
        v = make_variant(q, "ada")
        hv = helper.make_variant(helper._BY_ID[q.id], "ada")
        assert (hv["params"], tuple(hv["order"])) == (v.params, v.order)
        helper.show(q.id)
        out = capsys.readouterr().out
        assert v.text in out
        for letter, text in v.displayed_choices():
            assert f"**{letter}.** {text}" in out
    monkeypatch.delenv("DEEPGRADE_STUDENT_ID")
    monkeypatch.chdir(tmp_path)
    helper.show(quiz_questions("quiz_week2")[0].id)
    assert "Set STUDENT_ID" in capsys.readouterr().out
    assert helper.check_format(quiz_questions("quiz_week2")[0].id, None) is False


@pytest.mark.slow
def test_nbgrader_release_keeps_answer_cells_runnable_and_answer_free(tmp_path):
    from autograder.quiz_cli import release_quizzes
    shutil.copy(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    lines = release_quizzes(tmp_path, [3], force=True)
    assert any("released" in line for line in lines)
    released = tmp_path / "release" / "quiz_week3"
    nb = json.loads((released / "quiz_week3.ipynb").read_text())
    assert (released / "quiz_week3_utils.py").exists()
    answer_cells = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
                    if c["metadata"].get("nbgrader", {}).get("solution")}
    for q in quiz_questions("quiz_week3"):
        src = answer_cells[f"ex_q_{q.id}"]
        assert src.startswith(f"q_{q.id} = None  # your answer")
        ns: dict = {}
        exec(compile(src, q.id, "exec"), ns)     # the stub nbgrader inserted never runs
        assert ns[f"q_{q.id}"] is None
    text = json.dumps(nb) + (released / "quiz_week3_utils.py").read_text()
    for secret in _secrets(3):
        assert secret not in text


def test_committed_quiz_sources_match_the_banks(tmp_path):
    """source/quiz_week<N>/ in the repository is what `deepgrade quiz release` writes from the banks."""
    for week in (1, 2, 3):
        fresh = build_quiz(week, tmp_path)
        committed = REPO / "source" / f"quiz_week{week}"
        for name in (f"quiz_week{week}.ipynb", f"quiz_week{week}_utils.py"):
            assert (committed / name).read_text() == (fresh / name).read_text(), \
                f"{committed / name} is stale: run `deepgrade quiz release --no-nbgrader`"
