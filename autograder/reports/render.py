"""Render ReportData into HTML (self-contained) and Markdown with Jinja2 templates."""
from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from autograder.reports import figures
from autograder.reports.data import ReportData, failures_by_function, review_from_mastery
from autograder.result import now_iso
from autograder.safe_text import SAFE_ID, markdown_text

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=2)
def _env(markdown: bool) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=False if markdown else select_autoescape(["html", "j2"]),
                      trim_blocks=False, lstrip_blocks=False)
    env.globals["failures"] = failures_by_function
    env.filters["md"] = markdown_text            # student text renders literally in Markdown
    env.filters["md_code"] = lambda name: f"`{name}`" if SAFE_ID.fullmatch(str(name)) else markdown_text(name)
    return env


def _student_context(data: ReportData, student: str, assignment: str | None) -> dict:
    results = data.results_for_student(student)
    if assignment:
        results = [r for r in results if r.assignment == assignment]
    mastery = data.mastery.get(student, {})
    review = data.review.get(student) or review_from_mastery(mastery, data.concept_labels, data.threshold)
    return {
        "student": student, "results": results, "labels": data.concept_labels,
        "threshold": data.threshold, "review": review, "generated_at": now_iso(),
        "subtitle": f"Assignment {assignment}" if assignment else "Course overview: every assignment and quiz",
        "title": f"deepgrade feedback — {student}" + (f" — {assignment}" if assignment else ""),
        "mastery": mastery, "min_evidence": data.min_evidence,
    }


def mastery_figure(data: ReportData, student: str) -> str | None:
    """The student's mastery chart as a data URI (None without estimates); reuse it across pages."""
    mastery = data.mastery.get(student, {})
    if not mastery:
        return None
    return figures.mastery_bars(mastery, data.concept_labels, data.threshold,
                                evidence=data.evidence.get(student), min_evidence=data.min_evidence,
                                mastered={c for c in mastery if data.is_mastered(student, c)},
                                latest_failed=data.latest_failed.get(student, set()))


def render_student_html(data: ReportData, student: str, assignment: str | None = None, *,
                        mastery_img: str | None = None) -> str:
    """Self-contained HTML feedback for one student (one assignment, or the whole course).

    ``mastery_img`` is the chart from :func:`mastery_figure`; computed here when not given.
    """
    ctx = _student_context(data, student, assignment)
    ctx["mastery_img"] = mastery_img if mastery_img is not None else mastery_figure(data, student)
    return _env(False).get_template("student.html.j2").render(**ctx)


def render_student_markdown(data: ReportData, student: str, assignment: str | None = None) -> str:
    """Plain Markdown version of the student report (for LMS comments)."""
    return _env(True).get_template("student.md.j2").render(**_student_context(data, student, assignment))


def render_instructor_html(data: ReportData, assignments: list[str] | None = None,
                           exports: list[tuple[str, str]] | None = None) -> str:
    """Instructor report for the given assignments (default: all) plus the course-wide views."""
    names = assignments or data.assignments
    stats = [data.assignment_stats(a) for a in names]
    hist = {s.assignment: figures.score_histogram(s.scores, s.max_score, f"{s.assignment}: score distribution")
            for s in stats}
    fail_img = {s.assignment: figures.failure_rates([(n, r) for n, r, k in s.check_failure_rates if k > 0],
                                                    f"{s.assignment}: failure rate per check")
                for s in stats if any(k > 0 for _, _, k in s.check_failure_rates)}
    heatmap, weakest = None, []
    if data.mastery:
        mat, students, concepts = data.mastery_matrix()
        heatmap = figures.mastery_heatmap(mat, students, [data.concept_labels.get(c, c) for c in concepts],
                                          data.threshold)
        with warnings.catch_warnings():          # a concept nobody has evidence for: mean is NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(mat, axis=0) if mat.size else np.array([])
        order = [j for j in np.argsort(means) if not np.isnan(means[j])][:5]
        weakest = [(data.concept_labels.get(concepts[j], concepts[j]), float(means[j])) for j in order]
    single = assignments is not None and len(names) == 1
    title = f"Instructor report — {names[0]}" if single else "Instructor report — course"
    return _env(False).get_template("instructor.html.j2").render(
        title=title, subtitle=f"{len(data.students)} students · {len(data.results)} graded submissions",
        stats=stats, hist=hist, fail_img=fail_img, heatmap=heatmap, weakest=weakest,
        threshold=data.threshold, exports=exports or [], generated_at=now_iso(),
        item_stats={q: rows for q, rows in data.item_stats.items() if not single or q in names},
    )
