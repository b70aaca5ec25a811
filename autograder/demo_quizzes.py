"""The demo's weekly quizzes: release them and answer them for a simulated class.

Answers follow a simple ability model: student ``i`` answers question ``q`` correctly with
probability ``sigmoid(1.0 + 1.3 * theta_i - b_q)`` where the difficulty ``b_q ~ N(0, 0.8)`` is drawn
per question from the seed; wrong answers pick a plausible distractor (another option, the flipped
truth value, a known wrong numeric value). Each answer is written into the student's copy of the
released notebook, in the answer cell, exactly where a student types it.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np

from autograder import classsim


def release(workdir: Path) -> list[str]:
    """Build and release the three weekly quizzes; returns their assignment names."""
    from quizzes.release import release_quizzes
    from quizzes.schema import WEEKS

    release_quizzes(workdir, list(WEEKS))
    return [f"quiz_week{w}" for w in WEEKS]


def _wrong_answer(variant, rng: np.random.Generator):
    q = variant.question
    expected = variant.expected()
    if q.type == "single":
        others = [L for L in variant.letters if L != expected]
        return others[int(rng.integers(len(others)))]
    if q.type == "multi":
        letters = variant.letters
        pick = sorted(set(expected) ^ {letters[int(rng.integers(len(letters)))]})
        return pick or [L for L in letters if L not in expected][:1]
    if q.type == "truefalse":
        return not expected
    wrong = [v for v, _ in variant.distractor_values() if math.isfinite(v)]
    if wrong:
        return float(wrong[int(rng.integers(len(wrong)))])
    return float(expected) * 1.5 + 1.0


def answer_notebook(released: dict, student: classsim.SimStudent, questions, difficulty: dict[str, float],
                    rng: np.random.Generator) -> dict:
    """A copy of the released quiz notebook with this student's answers filled in."""
    from quizzes.grading import answer_variable, make_variant

    nb = copy.deepcopy(released)
    by_id = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]}
    for cell in nb["cells"]:
        if cell.get("id") == "setup":
            cell["source"] = "".join(cell["source"]).replace('STUDENT_ID = ""', f'STUDENT_ID = "{student.id}"')
    for q in questions:
        var = answer_variable(q.id)
        cell = by_id.get(f"ex_{var}")
        if cell is None:
            continue
        variant = make_variant(q, student.id)
        p = classsim.sigmoid(1.0 + 1.3 * student.ability - difficulty[q.id])
        answer = variant.expected() if rng.random() < p else _wrong_answer(variant, rng)
        cell["source"] = f"{var} = {answer!r}\n"
    return nb


def simulate(workdir: Path, quiz_names: list[str], students: list[classsim.SimStudent], seed: int) -> None:
    """Write every simulated student's answered quiz notebook into submitted/."""
    from quizzes.grading import quiz_questions

    for k, name in enumerate(quiz_names):
        released = json.loads((workdir / "release" / name / f"{name}.ipynb").read_text())
        questions = quiz_questions(name)
        qrng = np.random.default_rng([seed, 1000 + k])
        difficulty = {q.id: float(qrng.normal(0, 0.8)) for q in questions}
        rng = np.random.default_rng([seed, 2000 + k])
        for s in students:
            nb = answer_notebook(released, s, questions, difficulty, rng)
            classsim.write_submission(workdir, s.id, name, json.dumps(nb, indent=1).encode(),
                                      "2026-11-25 12:00:00.000000 UTC")
