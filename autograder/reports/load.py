"""Gather ReportData for a course: results from dg_results, mastery and review lists, quiz item
statistics, concept labels and known-mistake descriptions. The single read path of the reports."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from autograder import gradebook
from autograder.exports import load_results
from autograder.reports.data import DEFAULT_THRESHOLD, ReportData, ReviewItem
from quizzes import mastery as mastery_mod
from quizzes.items import item_report
from quizzes.schema import load_concepts
from reference.mistakes import MISTAKES


def load_report_data(course_dir: str | Path, db_url: str | None = None,
                     threshold: float = DEFAULT_THRESHOLD) -> ReportData:
    """Read everything the reports show from the course's database (SQLite default, any URL)."""
    db_url = gradebook.course_db_url(course_dir, db_url)
    results = load_results(db_url)
    concepts = load_concepts()
    labels = {cid: c.name for cid, c in concepts.items()}
    students = sorted({r.student for r in results})
    mastery: dict[str, dict[str, float]] = {}
    evidence: dict[str, dict[str, int]] = {}
    latest_failed: dict[str, set[str]] = {}
    review: dict[str, list[ReviewItem]] = {}
    students = sorted(set(students) | set(mastery_mod.class_mastery(db_url, None, threshold)))
    for s, rows in mastery_mod.class_mastery(db_url, students, threshold).items():
        observed = [m for m in rows if m.n_obs > 0]
        if observed:
            mastery[s] = {m.concept: m.p_mastery for m in observed}
            evidence[s] = {m.concept: m.n_obs for m in observed}
            latest_failed[s] = {m.concept for m in observed if m.latest_failed}
        review[s] = [ReviewItem(i.concept, i.name, i.p_mastery, _practice(i), i.n_obs, i.enough_evidence,
                                i.latest_failed)
                     for i in mastery_mod.review_list(db_url, s, threshold=threshold) if i.n_obs > 0]
    return ReportData(
        results=results, mastery=mastery, concept_labels=labels, review=review,
        item_stats=item_rows(db_url),
        mistake_descriptions={m.id: m.description for m in MISTAKES.values()},
        threshold=threshold, evidence=evidence, latest_failed=latest_failed,
        min_evidence=mastery_mod.MIN_EVIDENCE,
    )


def _practice(item) -> tuple[str, ...]:
    """Human-readable pointers: notebook sections first, then how many practice questions exist."""
    out = [f"{s.get('assignment')} — {s.get('section')}" for s in item.sections]
    if item.questions:
        out.append(f"{len(item.questions)} practice question(s) (deepgrade quiz practice)")
    return tuple(out)


def item_rows(db_url: str) -> dict[str, list[dict]]:
    """{quiz assignment: [item analysis rows]} from recorded quiz responses (empty without quizzes)."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for s in item_report(db_url):
        rows[s.assignment].append({"question": s.question, "difficulty": s.difficulty,
                                   "point_biserial": s.item_rest, "discrimination": s.upper_lower,
                                   "flags": list(s.flags), "choice_rates": dict(s.choice_rates)})
    return dict(rows)
