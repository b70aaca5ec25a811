"""Grade quiz answers: reproduce a student's variant, check the answer, explain.

The graded quiz of week N is the assignment ``quiz_week<N>``; its notebook defines one variable
``q_<question id>`` per question. ``autograder.quiz_checks.quiz_suite`` turns the week's quiz questions
into checks of the hidden-check framework (one check per question, ``function = "q_<id>"`` so the engine
maps it to the grade cell ``test_q_<id>``), each reading the answer with ``student.get("q_<id>")``.

Answer formats (what a learner writes)
  single      a letter as displayed in their variant: ``"B"``
  multi       a list of letters: ``["A", "C"]`` (a string ``"A, C"`` is accepted too)
  truefalse   ``True`` / ``False``
  numeric     a number (a numeric string is accepted)

Every failure message starts with ``Your answer: <answer as shown>`` (see :data:`ANSWER_PREFIX`) for the
learner; the response stored for item analysis is the check's structured ``response`` field (result
schema 2), never read back from the message.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from quizzes import variant as V
from quizzes.params import compute
from quizzes.schema import Question, bank, questions_for

ANSWER_PREFIX = "Your answer: "
NO_ANSWER = "(no answer)"
QUIZ_RE = re.compile(r"^quiz_week(\d+)$")
# how each type is answered (shown in notebooks and in practice mode)
FORMAT_HINT = {
    "single": 'one letter, e.g. "B"',
    "multi": 'a list of letters, e.g. ["A", "C"]',
    "truefalse": "True or False",
    "numeric": "a number, e.g. 0.25",
    "param_numeric": "a number, e.g. 0.25",
}


class AnswerFormatError(ValueError):
    """The answer is not in the form the question asks for (message says which form)."""


# ------------------------------------------------------------------------------------------------
# variants
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """One student's version of a question: parameter values and the displayed option order."""
    question: Question
    student: str
    space: str
    params: dict
    order: tuple[int, ...]           # display position -> index in the bank's choices

    @property
    def letters(self) -> list[str]:
        return V.letters(len(self.order))

    @property
    def text(self) -> str:
        return V.fill(self.question.text, self.params)

    def displayed_choices(self) -> list[tuple[str, str]]:
        return [(L, self.question.choices[i].text) for L, i in zip(self.letters, self.order)]

    def letter_of(self, original_index: int) -> str:
        return self.letters[self.order.index(original_index)]

    def expected(self) -> Any:
        """The correct answer in display terms (letters, bool or number)."""
        q = self.question
        if q.type == "single":
            return self.letter_of(q.correct_indices[0])
        if q.type == "multi":
            return sorted(self.letter_of(i) for i in q.correct_indices)
        if q.type == "truefalse":
            return bool(q.answer)
        if q.type == "numeric":
            return float(q.answer)
        return compute(q.recipe, self.params)

    def distractor_values(self) -> list[tuple[float, str]]:
        """(value, feedback) of each common wrong numeric answer for this variant."""
        out = []
        for d in self.question.distractors:
            value = compute(d.recipe, self.params) if d.recipe else d.value
            out.append((float(value), d.feedback))
        return out


def make_variant(question: Question, student: str, space: str = V.GRADED_SPACE) -> Variant:
    v = V.make_variant(question.public(), student, space)
    return Variant(question, str(student), space, v["params"], tuple(v["order"]))


# ------------------------------------------------------------------------------------------------
# reading answers
# ------------------------------------------------------------------------------------------------

def _letters_from(raw: Any, n: int) -> list[str]:
    if isinstance(raw, str):
        parts = [p for p in re.split(r"[\s,;]+", raw.strip()) if p]
        if len(parts) == 1 and len(parts[0]) > 1 and parts[0].isalpha():
            parts = list(parts[0])
    elif isinstance(raw, (list, tuple)):
        parts = list(raw)
    else:
        raise AnswerFormatError('give a list of letters, e.g. ["A", "C"]')
    valid = V.letters(n)
    out = []
    for p in parts:
        if not isinstance(p, str) or p.strip().upper().rstrip(").") not in valid:
            raise AnswerFormatError(f"{p!r} is not one of the options {', '.join(valid)}")
        out.append(p.strip().upper().rstrip(")."))
    return sorted(set(out))


def parse_answer(variant: Variant, raw: Any) -> Any:
    """The answer in canonical display form (letter, sorted letters, bool, float); raises
    :class:`AnswerFormatError` with a learner-facing reason."""
    q = variant.question
    if raw is None:
        raise AnswerFormatError("no answer given (the variable is still None)")
    if q.type == "single":
        letters = _letters_from(raw, len(q.choices)) if isinstance(raw, str) else None
        if not letters or len(letters) != 1:
            raise AnswerFormatError('give exactly one letter as a string, e.g. "B"')
        return letters[0]
    if q.type == "multi":
        letters = _letters_from(raw, len(q.choices))
        if not letters:
            raise AnswerFormatError('select at least one option, e.g. ["A", "C"]')
        return letters
    if q.type == "truefalse":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise AnswerFormatError("answer True or False")
    if isinstance(raw, bool):
        raise AnswerFormatError("give a number, not True/False")
    if getattr(raw, "shape", None) is not None and getattr(raw, "size", 0) == 1:
        raw = raw.reshape(-1)[0].item()          # a NumPy scalar or 1-element array
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise AnswerFormatError(f"{raw!r} is not a number") from None
    else:
        raise AnswerFormatError("give a single number, e.g. 0.125")
    if not math.isfinite(value):
        raise AnswerFormatError("give a finite number")
    return value


def show_answer(answer: Any) -> str:
    """How an answer appears after ``Your answer:`` (and is read back by :func:`parse_answer`)."""
    if isinstance(answer, list):
        return ", ".join(answer)
    if isinstance(answer, float):
        return repr(answer)
    return str(answer)


def within(value: float, target: float, tolerance: dict) -> bool:
    allowed = max(tolerance.get("abs", 0.0), tolerance.get("rel", 0.0) * abs(target))
    return abs(value - target) <= allowed


# ------------------------------------------------------------------------------------------------
# verdicts
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str
    answer: Any            # canonical display answer, or None if unanswered / unreadable
    response: Any          # bank-order response: [indices] | bool | float | None


def to_response(variant: Variant, answer: Any) -> Any:
    """Display answer -> bank-order response (option indices as in the bank, or the value)."""
    q = variant.question
    if answer is None:
        return None
    if q.is_choice:
        letters = [answer] if isinstance(answer, str) else answer
        return sorted(variant.order[variant.letters.index(L)] for L in letters)
    return answer


def _choice_feedback(variant: Variant, answer: Any) -> list[str]:
    q = variant.question
    chosen = to_response(variant, answer)
    notes = []
    for i in chosen:
        c = q.choices[i]
        if c.feedback and not c.correct:
            notes.append(f"{variant.letter_of(i)}: {c.feedback}")
    if q.type == "multi":
        missed = [i for i in q.correct_indices if i not in chosen]
        if missed:
            notes.append(f"You left out {len(missed)} correct option(s).")
    return notes


def grade_answer(variant: Variant, raw: Any) -> Verdict:
    """Check ``raw`` against the variant; the message explains in either case."""
    q = variant.question
    try:
        answer = parse_answer(variant, raw)
    except AnswerFormatError as e:
        shown = NO_ANSWER if raw is None else repr(raw)[:80]
        return Verdict(False, f"{ANSWER_PREFIX}{shown}\nNot graded as correct: {e}.\n{q.explanation}", None, None)
    expected = variant.expected()
    if q.type in ("numeric", "param_numeric"):
        passed = within(answer, expected, q.tolerance)
    else:
        passed = answer == expected
    notes: list[str] = []
    if not passed:
        if q.is_choice:
            notes = _choice_feedback(variant, answer)
        elif q.type != "truefalse":
            for value, feedback in variant.distractor_values():
                if within(answer, value, q.tolerance):
                    notes.append(feedback)
                    break
    head = f"{ANSWER_PREFIX}{show_answer(answer)}"
    verdict = "Correct." if passed else "Not correct."
    message = "\n".join([head, verdict, *notes, q.explanation])
    return Verdict(passed, message, answer, to_response(variant, answer))


def answer_from_message(message: str) -> str | None:
    """The ``Your answer:`` text of a check message (None if absent)."""
    for line in (message or "").splitlines():
        if line.startswith(ANSWER_PREFIX):
            return line[len(ANSWER_PREFIX):].strip()
    return None


# ------------------------------------------------------------------------------------------------
# the framework suite
# ------------------------------------------------------------------------------------------------

def week_of(assignment: str) -> int:
    m = QUIZ_RE.match(assignment)
    if not m:
        raise ValueError(f"{assignment!r} is not a quiz assignment (expected quiz_week<N>)")
    return int(m.group(1))


def answer_variable(qid: str) -> str:
    return f"q_{qid}"


def quiz_questions(assignment: str) -> list[Question]:
    """The graded questions of a quiz assignment, in notebook order."""
    return questions_for(week_of(assignment), "quiz")


def question_for_check(check_name: str) -> Question | None:
    """The bank question behind a quiz check name ``q_<id>`` (None for other checks)."""
    if not check_name.startswith("q_"):
        return None
    return bank().get(check_name[2:])
