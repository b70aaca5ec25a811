"""Write report files for one student, one assignment or the whole course, with a progress bar.

Layout under ``out_dir``::

    index.html                          links to everything below
    instructor/course.html              course-wide instructor report
    instructor/<assignment>.html        one per assignment
    students/<student>/index.html       course overview for the student (+ index.md)
    students/<student>/<assignment>.html and .md
"""
from __future__ import annotations

import html
from pathlib import Path

from rich.progress import Progress

from autograder.reports.data import ReportData
from autograder.reports.render import (mastery_figure, render_instructor_html, render_student_html,
                                       render_student_markdown)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)          # never leave a half-written report behind
    return path


def write_reports(data: ReportData, out_dir: Path, *, students: list[str] | None = None,
                  assignments: list[str] | None = None, instructor: bool = True,
                  exports: list[tuple[str, str]] | None = None, progress: bool = True) -> list[Path]:
    """Render and write the requested reports; returns the files written.

    ``students``/``assignments`` narrow the scope (None = all). Student reports cover each
    requested assignment plus a course overview.
    """
    out_dir = Path(out_dir)
    students = students if students is not None else data.students
    assignments = assignments if assignments is not None else data.assignments
    unknown = sorted(set(students) - set(data.students))
    if unknown:
        raise ValueError(f"no graded results or mastery for student(s) {unknown}")
    jobs: list[tuple[str, tuple]] = []
    if instructor:
        jobs.append(("course", ()))
        jobs += [("assignment", (a,)) for a in assignments]
    for s in students:
        jobs.append(("student", (s, None)))
        jobs += [("student", (s, a)) for a in assignments if data.result(s, a) is not None]
    written: list[Path] = []
    charts: dict[str, str | None] = {}
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("writing reports", total=len(jobs))
        for kind, args in jobs:
            if kind == "course":
                written.append(_write(out_dir / "instructor" / "course.html",
                                      render_instructor_html(data, None, exports)))
            elif kind == "assignment":
                (a,) = args
                written.append(_write(out_dir / "instructor" / f"{a}.html",
                                      render_instructor_html(data, [a], exports)))
            else:
                s, a = args
                stem = a or "index"
                base = out_dir / "students" / s
                if s not in charts:
                    charts[s] = mastery_figure(data, s)
                written.append(_write(base / f"{stem}.html", render_student_html(data, s, a, mastery_img=charts[s])))
                written.append(_write(base / f"{stem}.md", render_student_markdown(data, s, a)))
            bar.advance(task)
    written.append(_write(out_dir / "index.html", _index(out_dir, written)))
    return written


def _index(out_dir: Path, files: list[Path]) -> str:
    links = "\n".join(
        f'<li><a href="{html.escape(str(p.relative_to(out_dir)))}">{html.escape(str(p.relative_to(out_dir)))}</a></li>'
        for p in files if p.suffix == ".html")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>deepgrade reports</title>"
            "</head><body style='font-family: system-ui, sans-serif'><h1>deepgrade reports</h1>"
            f"<ul>{links}</ul></body></html>")
