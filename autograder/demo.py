"""The demo course end to end: build, release, simulate a class, grade in parallel, mastery, reports.

``deepgrade demo`` (the README's main command) runs :func:`run_demo` in a fresh working directory on
the embedded defaults (SQLite gradebook, local process pool) and prints a summary table.
"""
from __future__ import annotations

import datetime as _dt
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from autograder import classsim
from autograder import demo_quizzes, gradebook
from autograder.checks import code_suite
from autograder.course.build import build_course
from autograder.course.release import release_course
from autograder.exports import load_results, write_class_csv, write_mastery_csv
from autograder.reports.data import assignment_stats
from autograder.reports.load import load_report_data
from autograder.reports.write import write_reports
from autograder.runner import grade_class
from quizzes import mastery
from reference import catalog
from reference.mistakes import mistakes_for
from reference.registry import GRADED

CODE_ASSIGNMENTS = list(catalog.code_assignments())
#: when the simulated class hands each piece of work in (days after START; each declaration's
#: ``due_day``): the order in which latent knowledge grows, and the submission times mastery orders
#: evidence by (grading order is different)
SCHEDULE = {name: decl.due_day for name, decl in catalog.declared().items()}
START = _dt.datetime(2026, 11, 2, 9, 0)


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
    mastery: "MasteryCheck | None" = None


@dataclass
class MasteryCheck:
    """Shown mastery against the simulation's latent knowledge (pairs with enough evidence)."""
    pairs: int                 # (student, concept) pairs with enough evidence
    agree: int                 # shown mastered == simulated known
    shown_mastered: int
    false_mastered: int        # shown mastered, simulated not known
    known_not_shown: int
    all_failed_latest: int     # flags on a concept whose every function failed in the latest submission
    mostly_wrong_last5: int    # flags with most of the last five observations wrong
    fitted_concepts: int
    brier: float               # mean (P(mastered) - simulated known)^2 over the pairs


@contextmanager
def _phase(summary: DemoSummary, name: str, console: Console):
    """Print the phase, time it into ``summary.phases``."""
    console.print(f"[bold]→ {name}[/bold]")
    t0 = time.perf_counter()
    yield
    summary.phases[name] = time.perf_counter() - t0
    console.print(f"  done in {summary.phases[name]:.1f} s")


def submission_time(assignment: str, student: str) -> str:
    """nbgrader timestamp text of a simulated submission (students spread over the due day)."""
    when = START + _dt.timedelta(days=SCHEDULE.get(assignment, 0), minutes=7 * int(student[-3:]))
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def function_concepts(assignment: str) -> dict[str, tuple[str, ...]]:
    """{graded function: concept ids of its hidden checks}."""
    out: dict[str, tuple[str, ...]] = {}
    for spec in code_suite(assignment).checks:
        out[spec.function] = tuple(dict.fromkeys(out.get(spec.function, ()) + spec.concepts))
    return out


def simulate_code_submissions(course: Path, assignment: str, students: list[classsim.SimStudent],
                              seed: int, knowledge: classsim.Knowledge | None = None) -> list[classsim.SimSubmission]:
    """Write every simulated student's notebook for one code assignment into submitted/."""

    functions = list(GRADED[assignment])
    mistakes = {f: [m.id for m in mistakes_for(assignment, f)] for f in functions}
    concepts = function_concepts(assignment)
    base = course / "release" / assignment / f"{assignment}.ipynb"
    rng = np.random.default_rng([seed, CODE_ASSIGNMENTS.index(assignment)])
    planned = []
    for s in students:
        sub = classsim.plan_submission(s, assignment, functions, mistakes, rng, knowledge=knowledge,
                                       concepts=concepts)
        classsim.write_submission(course, s.id, assignment, classsim.render_submission(sub, base),
                                  submission_time(assignment, s.id))
        planned.append(sub)
    return planned


def run_demo(workdir: Path, *, students: int = 60, seed: int = 0, workers: int | None = None,
             assignments: list[str] | None = None, quizzes: bool = True,
             console: Console | None = None, db_url: str | None = None) -> DemoSummary:
    """Run the whole platform on a simulated class in ``workdir`` (created if missing). ``db_url``
    becomes the demo course's configured gradebook (its nbgrader_config.py), used by every step."""

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
        with _phase(summary, "release weekly quizzes", console):
            quiz_names = demo_quizzes.release(workdir)
    knowledge = classsim.Knowledge(class_, seed)
    with _phase(summary, f"simulate a class of {students} students", console):
        for a in sorted(assignments + quiz_names, key=lambda a: SCHEDULE.get(a, 0)):    # in time order
            if a in quiz_names:
                demo_quizzes.simulate(workdir, a, class_, seed, knowledge, lambda sid, a=a: submission_time(a, sid))
            else:
                simulate_code_submissions(workdir, a, class_, seed, knowledge)
    for a in assignments + quiz_names:
        with _phase(summary, f"grade {a} (parallel, sandboxed)", console):
            t0 = time.perf_counter()
            grade_class(workdir, a, workers=workers, progress=True, force=False)
            summary.outcomes.append(_outcome(workdir, a, time.perf_counter() - t0))
    with _phase(summary, "fit mastery parameters (EM) and check them against the simulation", console):
        summary.mastery = check_mastery(workdir, knowledge)
    with _phase(summary, "write student and instructor reports", console):
        data = load_report_data(workdir)
        summary.reports_dir = workdir / "reports"
        write_reports(data, summary.reports_dir, exports=_exports(workdir))
    _print_summary(summary, console)
    return summary


def check_mastery(workdir: Path, knowledge: classsim.Knowledge) -> MasteryCheck:
    """Refit (as `deepgrade grade` does after grading), then compare the shown flags with the truth."""

    db_url = gradebook.default_db_url(workdir)
    fitted = mastery.refit_if_ready(db_url)
    pairs = agree = shown = false = missed = 0
    squared = 0.0
    for student, rows in mastery.class_mastery(db_url).items():
        for m in rows:
            if not m.enough_evidence:
                continue
            known = knowledge.knows(student, m.concept)
            pairs += 1
            agree += m.mastered == known
            shown += m.mastered
            false += m.mastered and not known
            missed += known and not m.mastered
            squared += (m.p_mastery - known) ** 2
    a = mastery.audit(db_url)
    return MasteryCheck(pairs, agree, shown, false, missed, a.all_failed_latest, a.mostly_wrong_last5, len(fitted),
                        squared / pairs if pairs else 0.0)


def _exports(workdir: Path) -> list[tuple[str, str]]:
    """Class CSV and Gradescope results next to the reports; links relative to reports/instructor/."""

    out = workdir / "reports" / "exports"
    out.mkdir(parents=True, exist_ok=True)
    write_class_csv(gradebook.course_db_url(workdir), out / "class.csv")
    write_mastery_csv(gradebook.course_db_url(workdir), out / "mastery.csv")
    return [("class CSV", "../exports/class.csv"), ("class mastery CSV", "../exports/mastery.csv")]


def _outcome(workdir: Path, assignment: str, seconds: float) -> AssignmentOutcome:
    """The summary row of one graded assignment, from the same statistics the instructor report shows."""

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
    m = summary.mastery
    if m is not None and m.pairs:
        pct = lambda k, n: f"{100 * k / n:.1f} %" if n else "—"   # noqa: E731
        console.print(f"Mastery vs the simulated truth ({m.pairs} student-concept pairs with enough evidence, "
                      f"{m.fitted_concepts} concepts refitted): shown flag agrees {pct(m.agree, m.pairs)}, Brier score of "
                      f"P(mastered) {m.brier:.3f}; "
                      f"{m.shown_mastered} shown mastered, {pct(m.false_mastered, m.shown_mastered)} of them not "
                      f"known; {m.known_not_shown} known but not (yet) shown. Flags on a concept whose every "
                      f"function failed in the latest submission: {m.all_failed_latest}; with most of the last "
                      f"five observations wrong: {pct(m.mostly_wrong_last5, m.shown_mastered)}.")
    console.print(f"Total time: {sum(summary.phases.values()):.1f} s")
    if summary.reports_dir:
        console.print(f"Reports: {summary.reports_dir / 'index.html'}  (students/<id>/index.html, "
                      f"instructor/course.html)")
