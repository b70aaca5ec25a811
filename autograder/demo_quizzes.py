"""The demo's weekly quizzes: release them and answer them for a simulated class.

Answers follow the class's latent knowledge (:class:`autograder.classsim.Knowledge`): a student who
knows every concept of a question answers it correctly with probability 1 - slip, where the slip
``0.05 + 0.15 * sigmoid(b_q)`` grows with a difficulty ``b_q ~ N(0, 0.8)`` drawn per question from
the seed; one who does not is right by guessing (1/k of k options, 0.1 for multi-select, 1/2 for
true/false, 0.03 for numbers). Answering is practice: the quiz's concepts may be learned afterwards.
Wrong answers pick a plausible distractor (another option, the flipped truth value, a known wrong
numeric value). Each answer is written into the student's copy of the released notebook, in the
answer cell, exactly where a student types it.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np

from autograder import classsim
from autograder.quiz_cli import release_quizzes
from quizzes.grading import answer_variable, make_variant, quiz_questions
from quizzes.schema import WEEKS


def release(workdir: Path) -> list[str]:
    """Build and release the three weekly quizzes; returns their assignment names."""
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


def guess_rate(question) -> float:
    """Chance of a right answer without knowing the concepts (the simulation's truth)."""
    if question.type == "single":
        return 1.0 / max(len(question.choices), 1)
    return {"multi": 0.1, "truefalse": 0.5}.get(question.type, 0.03)


def answer_notebook(released: dict, student: classsim.SimStudent, questions, difficulty: dict[str, float],
                    rng: np.random.Generator, knowledge: classsim.Knowledge) -> dict:
    """A copy of the released quiz notebook with this student's answers filled in."""
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
        p = knowledge.p_right(student.id, q.concepts, guess=guess_rate(q),
                              slip=0.05 + 0.15 * classsim.sigmoid(difficulty[q.id]))
        answer = variant.expected() if rng.random() < p else _wrong_answer(variant, rng)
        cell["source"] = f"{var} = {answer!r}\n"
    knowledge.practise(student.id, dict.fromkeys(c for q in questions for c in q.concepts))
    return nb


def simulate(workdir: Path, name: str, students: list[classsim.SimStudent], seed: int,
             knowledge: classsim.Knowledge, timestamp) -> None:
    """Write every simulated student's answered notebook of quiz ``name`` (quiz_week<N>) into
    submitted/; ``timestamp(student)`` gives nbgrader's submission time text."""
    k = int(name.removeprefix("quiz_week"))
    released = json.loads((workdir / "release" / name / f"{name}.ipynb").read_text())
    questions = quiz_questions(name)
    qrng = np.random.default_rng([seed, 1000 + k])
    difficulty = {q.id: float(qrng.normal(0, 0.8)) for q in questions}
    rng = np.random.default_rng([seed, 2000 + k])
    for s in students:
        nb = answer_notebook(released, s, questions, difficulty, rng, knowledge)
        classsim.write_submission(workdir, s.id, name, json.dumps(nb, indent=1).encode(), timestamp(s.id))
