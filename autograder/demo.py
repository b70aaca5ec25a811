"""The demo course end to end: build, release, simulate a class, grade in parallel, mastery, reports.

``deepgrade demo`` (the README's main command) runs :func:`run_demo` in a fresh working directory on
the embedded defaults (SQLite gradebook, local process pool) and prints a summary table.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from autograder import classsim

CODE_ASSIGNMENTS = ["initialization", "regularization", "gradient_checking", "optimization", "batchnorm",
                    "tensorflow"]


@dataclass
class AssignmentOutcome:
    assignment: str
    submissions: int
    mean_pct: float
    ungradable: int
    top_mistake: str
    top_mistake_count: int
    seconds: float


@dataclass
class DemoSummary:
    workdir: Path
    students: int
    outcomes: list[AssignmentOutcome] = field(default_factory=list)
    reports_dir: Path | None = None
    phases: dict[str, float] = field(default_factory=dict)


@contextmanager
def _phase(summary: DemoSummary, name: str, console: Console):
    """Print the phase, time it into ``summary.phases``."""
    console.print(f"[bold]→ {name}[/bold]")
    t0 = time.perf_counter()
    yield
    summary.phases[name] = time.perf_counter() - t0
    console.print(f"  done in {summary.phases[name]:.1f} s")


def simulate_code_submissions(course: Path, assignment: str, students: list[classsim.SimStudent],
                              seed: int) -> list[classsim.SimSubmission]:
    """Write every simulated student's notebook for one code assignment into submitted/."""
    from reference.mistakes import mistakes_for
    from reference.registry import GRADED

    functions = list(GRADED[assignment])
    mistakes = {f: [m.id for m in mistakes_for(assignment, f)] for f in functions}
    base = course / "release" / assignment / f"{assignment}.ipynb"
    rng = np.random.default_rng([seed, CODE_ASSIGNMENTS.index(assignment)])
    planned = []
    for s in students:
        sub = classsim.plan_submission(s, assignment, functions, mistakes, rng)
        classsim.write_submission(course, s.id, assignment, classsim.render_submission(sub, base),
                                  "2026-11-25 12:00:00.000000 UTC")
        planned.append(sub)
    return planned


def run_demo(workdir: Path, *, students: int = 60, seed: int = 0, workers: int | None = None,
             assignments: list[str] | None = None, quizzes: bool = True,
             console: Console | None = None, db_url: str | None = None) -> DemoSummary:
    """Run the whole platform on a simulated class in ``workdir`` (created if missing). ``db_url``
    becomes the demo course's configured gradebook (its nbgrader_config.py), used by every step."""
    from autograder.course.build import build_course
    from autograder.course.release import release_course
    from autograder.reports.load import load_report_data
    from autograder.reports.write import write_reports
    from autograder.runner import grade_class

    console = console or Console()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    assignments = assignments or CODE_ASSIGNMENTS
    summary = DemoSummary(workdir, students)
    class_ = classsim.make_students(students, seed)

    with _phase(summary, "build datasets and source notebooks", console):
        build_course(workdir, assignments)
        if db_url:
            with (workdir / "nbgrader_config.py").open("a") as fh:
                fh.write(f"c.CourseDirectory.db_url = {db_url!r}\n")
    with _phase(summary, "release assignments with nbgrader", console):
        release_course(workdir, assignments)
    quiz_names: list[str] = []
    if quizzes:
        from autograder import demo_quizzes
        with _phase(summary, "release weekly quizzes", console):
            quiz_names = demo_quizzes.release(workdir)
    with _phase(summary, f"simulate a class of {students} students", console):
        for a in assignments:
            simulate_code_submissions(workdir, a, class_, seed)
        if quiz_names:
            demo_quizzes.simulate(workdir, quiz_names, class_, seed)
    for a in assignments + quiz_names:
        with _phase(summary, f"grade {a} (parallel, sandboxed)", console):
            t0 = time.perf_counter()
            grade_class(workdir, a, workers=workers, progress=True, force=False)
            summary.outcomes.append(_outcome(workdir, a, time.perf_counter() - t0))
    with _phase(summary, "write student and instructor reports", console):
        data = load_report_data(workdir)
        summary.reports_dir = workdir / "reports"
        write_reports(data, summary.reports_dir, exports=_exports(workdir))
    _print_summary(summary, console)
    return summary


def _exports(workdir: Path) -> list[tuple[str, str]]:
    """Class CSV and Gradescope results next to the reports; links relative to reports/instructor/."""
    from autograder import gradebook
    from autograder.exports import write_class_csv

    out = workdir / "reports" / "exports"
    out.mkdir(parents=True, exist_ok=True)
    write_class_csv(gradebook.course_db_url(workdir), out / "class.csv")
    return [("class CSV", "../exports/class.csv")]


def _outcome(workdir: Path, assignment: str, seconds: float) -> AssignmentOutcome:
    """The summary row of one graded assignment, from the same statistics the instructor report shows."""
    from autograder import gradebook
    from autograder.exports import load_results
    from autograder.reports.data import assignment_stats

    stats = assignment_stats(assignment, load_results(gradebook.course_db_url(workdir), assignment))
    top_id, _, top_n = stats.misconceptions[0] if stats.misconceptions else ("—", "", 0)
    return AssignmentOutcome(assignment, stats.n_submissions, stats.mean_pct, len(stats.ungradable),
                             top_id, top_n, seconds)


def _print_summary(summary: DemoSummary, console: Console) -> None:
    table = Table(title=f"deepgrade demo — {summary.students} simulated students")
    table.add_column("assignment", no_wrap=True)
    for col in ("n", "mean", "broken"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("most common mistake (count)", overflow="fold", min_width=20)
    table.add_column("time", justify="right", no_wrap=True)
    for o in summary.outcomes:
        mistake = f"{o.top_mistake} ({o.top_mistake_count})" if o.top_mistake_count else "—"
        table.add_row(o.assignment, str(o.submissions), f"{o.mean_pct:.1f}%", str(o.ungradable), mistake,
                      f"{o.seconds:.1f} s")
    console.print(table)
    console.print(f"Total time: {sum(summary.phases.values()):.1f} s")
    if summary.reports_dir:
        console.print(f"Reports: {summary.reports_dir / 'index.html'}  (students/<id>/index.html, "
                      f"instructor/course.html)")
