"""Item analysis of quiz questions from the responses table (dg_quiz_responses).

Per question, on each student's FIRST attempt:
  difficulty p        proportion correct
  item-rest r_pb      Pearson correlation between the item (0/1) and the rest score (the student's
                      number of correct answers on the other questions of the same quiz)
  discrimination D    p(upper 27 %) - p(lower 27 %), groups by total quiz score (ties: student id);
                      group size max(1, round(0.27 N))
  choice rates        share of respondents selecting each option (choice questions; multi-select
                      counts every selected option)
Flags: too easy (p > 0.8), too hard (p < 0.2), poor discrimination (r_pb < 0.2), negative
discrimination (r_pb < 0), non-functional distractor (a wrong option chosen by < 5 %).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import select

from quizzes.mastery import engine_for, quiz_responses
from quizzes.schema import bank

EASY, HARD = 0.8, 0.2
POOR_DISCRIMINATION = 0.2
NONFUNCTIONAL = 0.05
GROUP_SHARE = 0.27


@dataclass(frozen=True)
class Response:
    student: str
    assignment: str
    question: str
    response: Any            # [option indices] | bool | number | None
    correct: bool
    attempt: int = 1


@dataclass
class ItemStats:
    question: str
    assignment: str
    n: int
    difficulty: float
    item_rest: float | None
    upper_lower: float | None
    choice_rates: dict[int, float] = field(default_factory=dict)
    no_answer_rate: float = 0.0
    flags: list[str] = field(default_factory=list)


def first_attempts(responses: Iterable[Response]) -> list[Response]:
    best: dict[tuple[str, str, str], Response] = {}
    for r in responses:
        key = (r.assignment, r.question, r.student)
        if key not in best or r.attempt < best[key].attempt:
            best[key] = r
    return list(best.values())


def pearson(x: list[float], y: list[float]) -> float | None:
    n = len(x)
    if n < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / math.sqrt(sxx * syy)


def _choice_rates(rs: list[Response], n_options: int | None) -> tuple[dict[int, float], float]:
    answered = [r for r in rs if isinstance(r.response, list)]
    counts: dict[int, int] = {i: 0 for i in range(n_options or 0)}
    for r in answered:
        for i in r.response:
            counts[int(i)] = counts.get(int(i), 0) + 1
    n = len(rs)
    rates = {i: (c / len(answered) if answered else 0.0) for i, c in sorted(counts.items())}
    no_answer = (n - len(answered)) / n if n else 0.0
    return rates, no_answer


def analyse(responses: Iterable[Response], questions: dict | None = None) -> list[ItemStats]:
    """Statistics for every question that has responses. ``questions`` ({id: Question}) supplies
    option counts and correct options for the choice-rate and distractor checks (optional)."""
    firsts = first_attempts(responses)
    totals: dict[tuple[str, str], int] = {}
    for r in firsts:
        totals[(r.assignment, r.student)] = totals.get((r.assignment, r.student), 0) + int(r.correct)
    by_item: dict[tuple[str, str], list[Response]] = {}
    for r in firsts:
        by_item.setdefault((r.assignment, r.question), []).append(r)
    out = []
    for (assignment, qid), rs in sorted(by_item.items()):
        rs.sort(key=lambda r: r.student)
        n = len(rs)
        item = [float(r.correct) for r in rs]
        rest = [float(totals[(assignment, r.student)] - int(r.correct)) for r in rs]
        p = sum(item) / n
        r_pb = pearson(item, rest)
        ranked = sorted(rs, key=lambda r: (-totals[(assignment, r.student)], r.student))
        k = max(1, round(GROUP_SHARE * n))
        D = None
        if n >= 2:
            upper, lower = ranked[:k], ranked[-k:]
            D = sum(r.correct for r in upper) / k - sum(r.correct for r in lower) / k
        q = (questions or {}).get(qid)
        stats = ItemStats(qid, assignment, n, p, r_pb, D)
        if (q is not None and q.is_choice) or any(isinstance(r.response, list) for r in rs):
            stats.choice_rates, stats.no_answer_rate = _choice_rates(rs, len(q.choices) if q is not None else None)
        stats.flags = flags_for(stats, q)
        out.append(stats)
    return out


def flags_for(s: ItemStats, question: Any = None) -> list[str]:
    flags = []
    if s.difficulty > EASY:
        flags.append("too easy")
    if s.difficulty < HARD:
        flags.append("too hard")
    if s.item_rest is not None:
        if s.item_rest < 0:
            flags.append("negative discrimination")
        elif s.item_rest < POOR_DISCRIMINATION:
            flags.append("poor discrimination")
    if s.choice_rates:
        correct = set(question.correct_indices) if question is not None else set()
        weak = [i for i, rate in s.choice_rates.items() if i not in correct and rate < NONFUNCTIONAL]
        if question is not None and weak:
            letters = ", ".join(chr(ord("A") + i) for i in weak)
            flags.append(f"non-functional distractor(s) {letters}")
    return flags


def load_responses(db_url: str, assignment: str | None = None) -> list[Response]:
    stmt = select(quiz_responses)
    if assignment:
        stmt = stmt.where(quiz_responses.c.assignment == assignment)
    with engine_for(db_url).connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [Response(r["student"], r["assignment"], r["question"],
                     json.loads(r["response"]) if r["response"] is not None else None,
                     bool(r["correct"]), int(r["attempt"])) for r in rows]


def item_report(db_url: str, assignment: str | None = None) -> list[ItemStats]:
    return analyse(load_responses(db_url, assignment), bank())


def format_report(stats: list[ItemStats]) -> str:
    """Plain-text table (option letters refer to the bank's order, A = first option listed)."""
    lines = [f"{'question':32} {'n':>4} {'p':>5} {'r_ir':>6} {'D':>6}  choice rates / flags"]
    for s in stats:
        r = "-" if s.item_rest is None else f"{s.item_rest:.2f}"
        d = "-" if s.upper_lower is None else f"{s.upper_lower:.2f}"
        rates = " ".join(f"{chr(ord('A') + i)}:{v:.0%}" for i, v in s.choice_rates.items())
        lines.append(f"{s.question:32} {s.n:>4} {s.difficulty:>5.2f} {r:>6} {d:>6}  {rates}"
                     + (f"  [{'; '.join(s.flags)}]" if s.flags else ""))
    return "\n".join(lines)
