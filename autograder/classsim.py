"""Simulate a class: who gets what right, which known mistakes they make, who breaks things.

Deterministic for a seed. Each student has an ability ``theta ~ N(0, 1)``. With a :class:`Knowledge`
(the demo), every student also knows each concept or not: known at the start with probability
``sigmoid(0.2 + 1.5 theta)``, learned after each piece of work on it with probability
``sigmoid(-0.5 + theta)`` (practice), never forgotten; a graded function is right with probability
0.9 when the student knows all of its concepts and 0.15 otherwise. This latent truth is what the demo
compares the shown mastery with. Without one, for every graded function
the chance of a correct solution is ``sigmoid(1.6 + 1.2 * theta)`` (most students are right); a wrong
solution is one of the function's known mistakes, earlier (more common) mistakes more likely; a few
functions are left unattempted. A small share of notebooks is broken (bad JSON, empty, syntax error)
or hostile (reads the reference, loops forever, patches numpy). The notebooks themselves are made by
:func:`autograder.simulate.synthesize_submission` from the released notebook, exactly as a student's
edited copy would look.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.simulate import synthesize_submission
from reference.mistakes import mistakes_for
from reference.registry import GRADED

BROKEN_KINDS = ("invalid_json", "empty", "syntax_error")
HOSTILE_CELLS = {
    # appended cells: each tries to win credit without solving anything; the grader must give 0 for it
    "reads_reference": "import reference.initialization as _r  # the reference is not visible in the sandbox\n",
    "patches_numpy": "import numpy as _np\n_np.allclose = lambda *a, **k: True\n_np.testing.assert_allclose = lambda *a, **k: None\n",
    "infinite_loop": "while True:\n    pass\n",
}


@dataclass(frozen=True)
class SimStudent:
    id: str
    ability: float


@dataclass
class SimSubmission:
    """What one simulated student hands in for one assignment."""
    student: str
    assignment: str
    choices: dict[str, str | None] = field(default_factory=dict)   # function -> None | mistake id | "missing"
    broken: str | None = None
    hostile: str | None = None


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class Knowledge:
    """Latent per-concept knowledge of a simulated class that grows as students practise.

    ``known[(student, concept)]`` is drawn on first use; :meth:`practise` is called after each piece of
    work on a concept (a learning opportunity). Deterministic for a seed and a call order.
    """
    SLIP = 0.1
    GUESS = 0.15

    def __init__(self, students: list[SimStudent], seed: int):
        self.ability = {s.id: s.ability for s in students}
        self.rng = np.random.default_rng([seed, 77])
        self.known: dict[tuple[str, str], bool] = {}

    def knows(self, student: str, concept: str) -> bool:
        key = (student, concept)
        if key not in self.known:
            self.known[key] = bool(self.rng.random() < sigmoid(0.2 + 1.5 * self.ability[student]))
        return self.known[key]

    def knows_all(self, student: str, concepts) -> bool:
        return all([self.knows(student, c) for c in concepts])

    def p_right(self, student: str, concepts, guess: float | None = None, slip: float | None = None) -> float:
        """Chance a piece of work on ``concepts`` is right: 1 - slip if all are known, else guess."""
        if self.knows_all(student, concepts):
            return 1.0 - (self.SLIP if slip is None else slip)
        return self.GUESS if guess is None else guess

    def practise(self, student: str, concepts) -> None:
        for c in concepts:
            if not self.knows(student, c) and self.rng.random() < sigmoid(-0.5 + self.ability[student]):
                self.known[(student, c)] = True


def make_students(n: int, seed: int) -> list[SimStudent]:
    rng = np.random.default_rng(seed)
    return [SimStudent(f"student{i + 1:03d}", float(a)) for i, a in enumerate(rng.normal(size=n))]


def plan_submission(student: SimStudent, assignment: str, functions: list[str],
                    mistakes: dict[str, list[str]], rng: np.random.Generator, *,
                    broken_rate: float = 0.02, hostile_rate: float = 0.015,
                    knowledge: Knowledge | None = None,
                    concepts: dict[str, tuple[str, ...]] | None = None) -> SimSubmission:
    """Choose, for one student and assignment, a solution per function (reference, mistake, missing).

    With ``knowledge`` (and ``concepts``: function -> concept ids) a function is right with the
    latent-knowledge probability, and the student practises the assignment's concepts afterwards."""
    sub = SimSubmission(student.id, assignment)
    u = rng.random()
    if u < broken_rate:
        sub.broken = BROKEN_KINDS[int(rng.integers(len(BROKEN_KINDS)))]
    elif u < broken_rate + hostile_rate:
        sub.hostile = list(HOSTILE_CELLS)[int(rng.integers(len(HOSTILE_CELLS)))]
    p_right = sigmoid(1.6 + 1.2 * student.ability)
    for f in functions:
        r = rng.random()
        if knowledge is not None:
            p_right = knowledge.p_right(student.id, (concepts or {}).get(f, ()))
        if r < p_right:
            sub.choices[f] = None
        elif r > 0.985 or not mistakes.get(f):
            sub.choices[f] = "missing"
        else:
            options = mistakes[f]
            weights = 1.0 / np.arange(1, len(options) + 1)
            sub.choices[f] = options[int(rng.choice(len(options), p=weights / weights.sum()))]
    if knowledge is not None:
        knowledge.practise(student.id, dict.fromkeys(c for f in functions for c in (concepts or {}).get(f, ())))
    return sub


def render_submission(sub: SimSubmission, base_notebook: Path) -> bytes:
    """The notebook file bytes for a planned submission."""
    if sub.broken == "invalid_json":
        return b'{"cells": [{"cell_type": "code", "source": "def '
    if sub.broken == "empty":
        return b""
    nb = synthesize_submission(sub.assignment, sub.choices, base_notebook=base_notebook)
    extra = None
    if sub.broken == "syntax_error":
        extra = "def this_is_broken(:\n    pass\n"
    elif sub.hostile:
        extra = HOSTILE_CELLS[sub.hostile]
    if extra:
        nb["cells"].append({"cell_type": "code", "metadata": {}, "source": extra, "outputs": [],
                            "execution_count": None, "id": f"sim-extra-{len(nb['cells'])}"})
    return json.dumps(nb, indent=1).encode()


def write_submission(course: Path, student: str, assignment: str, data: bytes, timestamp: str) -> Path:
    """Place a notebook in nbgrader's submitted/ layout (what ``nbgrader collect`` produces)."""
    d = course / "submitted" / student / assignment
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{assignment}.ipynb"
    path.write_bytes(data)
    (d / "timestamp.txt").write_text(timestamp)
    return path


def write_simulated_class(course: Path, assignment: str, n: int, seed: int, timestamp: str) -> None:
    """Write ``n`` simulated students' notebooks of ``assignment`` (correct functions and known mistakes,
    no broken or hostile notebooks) into ``course/submitted``, from its released notebook (the bench's
    classes: ``bench/scale.py``, ``bench/scaling.py``)."""
    functions = list(GRADED[assignment])
    mistakes = {f: [m.id for m in mistakes_for(assignment, f)] for f in functions}
    rng = np.random.default_rng(seed)
    base = course / "release" / assignment / f"{assignment}.ipynb"
    for s in make_students(n, seed):
        sub = plan_submission(s, assignment, functions, mistakes, rng, broken_rate=0.0, hostile_rate=0.0)
        write_submission(course, s.id, assignment, render_submission(sub, base), timestamp)
