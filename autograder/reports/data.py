"""Aggregations behind the reports: plain numbers computed from SubmissionResults and mastery.

Nothing here draws or renders; nothing here reads hidden check code or inputs — only the typed
results (messages, hints, points, concepts, mistake ids) the engine already produced.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from autograder.result import CheckResult, SubmissionResult

DEFAULT_THRESHOLD = 0.95


@dataclass(frozen=True)
class ReviewItem:
    """One line of a student's review list: a concept below threshold and what practises it."""
    concept: str
    label: str
    mastery: float
    practice: tuple[str, ...] = ()
    n_obs: int | None = None           # observations behind ``mastery`` (None: not known)
    enough_evidence: bool = True       # False: show "not enough evidence yet", not the number
    latest_failed: bool = False        # a graded function on it failed in the latest submission


@dataclass
class AssignmentStats:
    """Class-level numbers for one assignment."""
    assignment: str
    max_score: float
    scores: list[float]
    n_submissions: int
    ungradable: list[tuple[str, str]]                  # (student, reason)
    check_failure_rates: list[tuple[str, float, int]]  # (function: check, rate, n_failed), worst first
    misconceptions: list[tuple[str, str, int]]         # (mistake id, description, count), most first
    median_s: float
    p95_s: float
    total_s: float
    sandbox_modes: list[str]

    @property
    def mean_pct(self) -> float:
        return float(100 * np.mean(self.scores) / self.max_score) if self.scores and self.max_score else 0.0

    @property
    def median_pct(self) -> float:
        return float(100 * np.median(self.scores) / self.max_score) if self.scores and self.max_score else 0.0


@dataclass
class ReportData:
    """Everything a report may show, already computed.

    results: one SubmissionResult per (student, assignment).
    mastery: {student: {concept: P(mastered)}}.
    concept_labels: {concept id: display name}, in course order.
    review: {student: [ReviewItem, ...]} lowest mastery first.
    item_stats: quiz item analysis rows (dicts with question, difficulty, point_biserial,
      discrimination, flags, choice_rates), per quiz assignment.
    mistake_descriptions: {mistake id: learner-words description}.
    evidence: {student: {concept: number of observations behind the estimate}}.
    latest_failed: {student: concepts with a graded function failing in the latest submission}.
    min_evidence: fewer observations than this: "not enough evidence yet", never mastered.
    """
    results: list[SubmissionResult]
    mastery: dict[str, dict[str, float]] = field(default_factory=dict)
    concept_labels: dict[str, str] = field(default_factory=dict)
    review: dict[str, list[ReviewItem]] = field(default_factory=dict)
    item_stats: dict[str, list[dict]] = field(default_factory=dict)
    mistake_descriptions: dict[str, str] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD
    evidence: dict[str, dict[str, int]] = field(default_factory=dict)
    latest_failed: dict[str, set[str]] = field(default_factory=dict)
    min_evidence: int = 1

    def enough_evidence(self, student: str, concept: str) -> bool:
        n = self.evidence.get(student, {}).get(concept)
        return n is None or n >= self.min_evidence

    def is_mastered(self, student: str, concept: str) -> bool:
        """Shown as mastered: at or above the threshold, on enough evidence, latest functions passing."""
        p = self.mastery.get(student, {}).get(concept)
        return (p is not None and p >= self.threshold and self.enough_evidence(student, concept)
                and concept not in self.latest_failed.get(student, set()))

    @property
    def students(self) -> list[str]:
        return sorted({r.student for r in self.results} | set(self.mastery))

    @property
    def assignments(self) -> list[str]:
        return sorted({r.assignment for r in self.results})

    def result(self, student: str, assignment: str) -> SubmissionResult | None:
        for r in self.results:
            if r.student == student and r.assignment == assignment:
                return r
        return None

    def results_for_student(self, student: str) -> list[SubmissionResult]:
        return sorted((r for r in self.results if r.student == student), key=lambda r: r.assignment)

    def assignment_stats(self, assignment: str) -> AssignmentStats:
        return assignment_stats(assignment, [r for r in self.results if r.assignment == assignment],
                                self.mistake_descriptions)

    def mastery_matrix(self) -> tuple[np.ndarray, list[str], list[str]]:
        """(n_students, n_concepts) array of P(mastered), NaN where a student has no estimate or not
        enough evidence for one."""
        students = sorted(self.mastery)
        concepts = list(self.concept_labels) or sorted({c for m in self.mastery.values() for c in m})
        mat = np.full((len(students), len(concepts)), np.nan)
        for i, s in enumerate(students):
            for j, c in enumerate(concepts):
                if c in self.mastery[s] and self.enough_evidence(s, c):
                    mat[i, j] = self.mastery[s][c]
        return mat, students, concepts


def check_label(c: CheckResult) -> str:
    """``function: check`` (check names that already start with the function name are kept as is)."""
    return c.name if c.name.startswith(f"{c.function}.") else f"{c.function}: {c.name}"


def assignment_stats(assignment: str, results: Iterable[SubmissionResult],
                     descriptions: Mapping[str, str] | None = None) -> AssignmentStats:
    """Score distribution, failure rates, misconceptions, ungradables and timing for one assignment."""
    results = list(results)
    gradable = [r for r in results if r.gradable]
    max_score = max((r.max_score for r in results), default=0.0)
    fails: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    mistakes: Counter[str] = Counter()
    for r in gradable:
        for c in r.checks:
            seen[check_label(c)] += 1
            if not c.passed:
                fails[check_label(c)] += 1
        mistakes.update(r.mistakes)
    rates = sorted(((k, fails[k] / seen[k], fails[k]) for k in seen), key=lambda t: (-t[1], t[0]))
    times = np.array([r.timing.get("total_s", 0.0) for r in results], dtype=float)
    descriptions = descriptions or {}
    return AssignmentStats(
        assignment=assignment,
        max_score=max_score,
        scores=[r.score for r in results],
        n_submissions=len(results),
        ungradable=[(r.student, r.ungradable_reason or "unknown reason") for r in results if not r.gradable],
        check_failure_rates=rates,
        misconceptions=[(m, descriptions.get(m, ""), n) for m, n in mistakes.most_common()],
        median_s=float(np.median(times)) if times.size else 0.0,
        p95_s=float(np.percentile(times, 95)) if times.size else 0.0,
        total_s=float(times.sum()),
        sandbox_modes=sorted({r.sandbox_mode for r in results if r.sandbox_mode}),
    )


def failures_by_function(result: SubmissionResult) -> dict[str, list[CheckResult]]:
    """{function: [failed checks]} for one submission, in check order."""
    out: dict[str, list[CheckResult]] = defaultdict(list)
    for c in result.failed_checks:
        out[c.function].append(c)
    return dict(out)


def review_from_mastery(mastery: Mapping[str, float], labels: Mapping[str, str], threshold: float,
                        practice: Mapping[str, Iterable[str]] | None = None) -> list[ReviewItem]:
    """Concepts below ``threshold``, lowest mastery first (used when no review list is stored)."""
    practice = practice or {}
    rows = sorted((v, c) for c, v in mastery.items() if v < threshold)
    return [ReviewItem(c, labels.get(c, c), v, tuple(practice.get(c, ()))) for v, c in rows]
