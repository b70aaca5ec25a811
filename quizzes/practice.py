"""Practice mode: ``deepgrade quiz practice --week N`` in a terminal, immediate feedback.

The pool of a week is its practice-only questions plus its *parameterized* quiz questions; the
latter are drawn in a separate seed space (``practice:<random nonce>``) so their numbers are fresh.
Fixed-answer quiz questions (choice, true/false, fixed numeric) never appear: their explanations
would give away the graded quiz. When the learner's id is known, a practice variant whose
parameters coincide with that learner's graded variant is redrawn (the id comes from ``--student`` or,
like the quiz helper, from DEEPGRADE_STUDENT_ID / JUPYTERHUB_USER / a ``.deepgrade_student`` file).
"""
from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from quizzes.grading import AnswerFormatError, FORMAT_HINT, Variant, grade_answer, make_variant, parse_answer
from quizzes.schema import Question, load_concepts, questions_for


def default_student() -> str | None:
    """The learner's id from the environment (as the quiz helper finds it), or None."""
    for var in ("DEEPGRADE_STUDENT_ID", "JUPYTERHUB_USER"):
        if os.environ.get(var, "").strip():
            return os.environ[var].strip()
    for folder in (Path.cwd(), Path.home()):
        f = folder / ".deepgrade_student"
        if f.is_file() and f.read_text(encoding="utf-8").strip():
            return f.read_text(encoding="utf-8").strip()
    return None


def practice_pool(week: int, concept: str | None = None) -> list[Question]:
    pool = [q for q in questions_for(week, use=None) if q.use == "practice" or q.parameterized]
    if concept:
        pool = [q for q in pool if concept in q.concepts]
    return pool


def practice_variant(question: Question, nonce: str, student: str | None = None) -> Variant:
    """A fresh variant; never the same parameters as ``student``'s graded variant."""
    graded = make_variant(question, student).params if (student and question.use == "quiz") else None
    for attempt in range(20):
        v = make_variant(question, student or "anonymous", space=f"practice:{nonce}:{attempt}")
        if graded is None or v.params != graded:
            return v
    raise RuntimeError(f"could not draw a practice variant of {question.id} unlike the graded one")


def render(variant: Variant, number: int | None = None) -> str:
    q = variant.question
    head = f"Question {number}" if number else "Question"
    lines = [f"{head} [{', '.join(q.concepts)}]", variant.text]
    for letter, text in variant.displayed_choices():
        lines.append(f"  {letter}. {text}")
    lines.append(f"Answer: {FORMAT_HINT[q.type]}  (s = skip, q = quit)")
    return "\n".join(lines)


def parse_typed(variant: Variant, typed: str):
    """A terminal answer as Python data: letters/lists/booleans stay strings, numbers are parsed."""
    text = typed.strip()
    q = variant.question
    if q.type == "multi":
        return [p for p in text.replace(",", " ").split() if p]
    return text


@dataclass
class PracticeSummary:
    asked: int = 0
    correct: int = 0
    skipped: int = 0
    by_concept: dict = field(default_factory=dict)


def run_practice(week: int, count: int = 10, *, concept: str | None = None, student: str | None = None,
                 seed: int | None = None, ask: Callable[[str], str] = input,
                 say: Callable[[str], None] = print) -> PracticeSummary:
    """Ask up to ``count`` questions of the week's pool, grading each answer immediately."""
    if concept:
        known = load_concepts()
        if concept not in known:
            raise ValueError(f"unknown concept {concept!r}; valid ids: {', '.join(sorted(known))}")
    pool = practice_pool(week, concept)
    student = student or default_student()
    if not pool:
        weeks_concepts = sorted({c for q in practice_pool(week) for c in q.concepts})
        raise ValueError(f"no practice questions for week {week}" + (
            f" and concept {concept}; week {week} has: {', '.join(weeks_concepts)}" if concept else ""))
    rng = random.Random(seed)
    nonce = str(seed) if seed is not None else secrets.token_hex(8)
    picked = rng.sample(pool, min(count, len(pool)))
    summary = PracticeSummary()
    for n, q in enumerate(picked, start=1):
        v = practice_variant(q, nonce, student)
        say("")
        say(render(v, n))
        typed = _ask_until_readable(v, ask, say)
        if typed is QUIT:
            break
        if typed is SKIP:
            summary.skipped += 1
            continue
        verdict = grade_answer(v, parse_typed(v, typed))
        summary.asked += 1
        summary.correct += verdict.passed
        for c in q.concepts:
            got, total = summary.by_concept.get(c, (0, 0))
            summary.by_concept[c] = (got + verdict.passed, total + 1)
        lines = verdict.message.splitlines()[1:]
        if not verdict.passed:
            lines.insert(1, f"Expected: {_expected_text(v)}")
        say("\n".join(lines))
    say("")
    say(f"Practice done: {summary.correct}/{summary.asked} correct, {summary.skipped} skipped.")
    return summary


QUIT, SKIP = object(), object()
MAX_RETRIES = 5


def _ask_until_readable(v: Variant, ask: Callable[[str], str], say: Callable[[str], None]):
    """The learner's typed answer once it has the question's form; a mistyped one (``yes`` for a
    true/false question, ``B?`` for a letter) is explained and asked again, not scored wrong.
    Returns the text, ``QUIT`` or ``SKIP`` (also after MAX_RETRIES unreadable answers)."""
    for _ in range(MAX_RETRIES):
        typed = ask("> ").strip()
        if typed.lower() in ("q", "quit", "exit"):
            return QUIT
        if typed.lower() in ("s", "skip", ""):
            return SKIP
        try:
            parse_answer(v, parse_typed(v, typed))
        except AnswerFormatError as exc:
            say(f"I cannot read {typed!r} as an answer: {exc}. Try again ({FORMAT_HINT[v.question.type]}; "
                "s = skip, q = quit).")
            continue
        return typed
    say("Skipped after several unreadable answers.")
    return SKIP


def _expected_text(v: Variant) -> str:
    e = v.expected()
    if isinstance(e, list):
        return ", ".join(e)
    if isinstance(e, float):
        return f"{e:.6g}"
    return str(e)
