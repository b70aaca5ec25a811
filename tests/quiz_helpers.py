"""Shared helpers for the quiz tests: fake students and filled-in quiz notebooks."""
from __future__ import annotations

from typing import Any

from quizzes.grading import answer_variable, make_variant, quiz_questions


class Missing(Exception):
    """Stands in for the sandbox's StudentError(kind="missing")."""
    kind = "missing"

    def __init__(self, name: str):
        super().__init__(f"name {name!r} is not defined")
        self.message = str(self)


class AnswerSheet:
    """A ``Student`` whose notebook namespace is a dict of variables (what ``get`` reads)."""
    sandbox_mode = "in-process"

    def __init__(self, values: dict[str, Any]):
        self.values = dict(values)

    def has(self, fn: str) -> bool:
        return False

    def call(self, fn, *args, **kwargs):
        raise Missing(fn)

    def get(self, name: str) -> Any:
        if name not in self.values:
            raise Missing(name)
        return self.values[name]


def correct_answers(assignment: str, student: str) -> dict[str, Any]:
    """{q_<id>: the right answer for this student's variant} for every question of the quiz."""
    return {answer_variable(q.id): make_variant(q, student).expected() for q in quiz_questions(assignment)}


def fill_notebook(nb: dict, answers: dict[str, Any]) -> dict:
    """Put answers into the answer cells (``q_<id> = None`` -> ``q_<id> = <answer>``)."""
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if gid.startswith("ex_q_"):
            var = gid[len("ex_"):]
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if var in answers:
                src = src.replace(f"{var} = None", f"{var} = {answers[var]!r}", 1)
            cell["source"] = src
    return nb
