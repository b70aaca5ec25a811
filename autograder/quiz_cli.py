"""``deepgrade quiz ...`` and ``deepgrade mastery ...`` (registered in autograder/cli.py), and the quiz
release glue: the quiz package builds the notebooks, the course side releases them with nbgrader.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from autograder.course.build import BuildError, resolve_course_dir
from autograder.course.release import release_assignment
from autograder.dberrors import DB_URL_ENV, database_errors
from autograder.gradebook import GradebookError, course_db_url
from quizzes.items import format_report, item_report
from quizzes.mastery import MIN_EVIDENCE, mastery_rows, refit, review_list
from quizzes.practice import run_practice
from quizzes.release import build_quiz
from quizzes.schema import WEEKS, BankError, bank, questions_for

COURSE_OPT = click.option("--course", "course", type=click.Path(file_okay=False), default=None,
                          help="Course folder (default: as for `deepgrade build`).")
DB_OPT = click.option("--db-url", default=None, envvar=DB_URL_ENV,
                      help="Gradebook SQLAlchemy URL, also read from $DEEPGRADE_DB_URL (default: "
                           "c.CourseDirectory.db_url of the course's nbgrader_config.py, else "
                           "sqlite:///<course>/gradebook.db).")


def _db_url(course, db_url):
    """The course's configured gradebook (as every deepgrade and nbgrader command), or ``--db-url``."""
    try:
        return course_db_url(resolve_course_dir(course), db_url)
    except GradebookError as exc:
        raise click.ClickException(str(exc)) from exc


def _bank_or_fail():
    try:
        return bank()
    except BankError as exc:
        raise click.ClickException("quiz bank problems:\n" + str(exc)) from exc


def release_quizzes(course_dir: str | Path, weeks: list[int] | None = None, *, nbgrader: bool = True,
                    force: bool = False, db_url: str | None = None) -> list[str]:
    """Build the quiz source folders and, when the course has nbgrader_config.py, release them with
    ``nbgrader generate_assignment`` (autograder.course.release). Returns report lines."""
    lines = []
    course = Path(course_dir)
    for week in weeks or list(WEEKS):
        folder = build_quiz(week, course)
        lines.append(f"{folder.name}: source written to {folder} ({len(questions_for(week, 'quiz'))} questions)")
        if nbgrader and (course / "nbgrader_config.py").exists():
            lines.append(release_assignment(course, folder.name, force=force, db_url=db_url).line())
    return lines


@click.group()
def quiz() -> None:
    """Weekly quizzes: release, practice, bank summary, item analysis."""


@quiz.command("release")
@COURSE_OPT
@click.option("--week", "weeks", type=click.IntRange(1, 3), multiple=True, help="Only this week (repeatable).")
@click.option("--force/--no-force", default=False, show_default=True,
              help="Regenerate quizzes already in release/.")
@click.option("--no-nbgrader", is_flag=True, help="Only write source/quiz_week<N>/ (no generate_assignment).")
@DB_OPT
def quiz_release(course, weeks, force, no_nbgrader, db_url) -> None:
    """Build source/quiz_week<N>/ and release it with nbgrader (no answers in the release)."""
    _bank_or_fail()
    try:
        for line in release_quizzes(resolve_course_dir(course), list(weeks) or None,
                                    nbgrader=not no_nbgrader, force=force, db_url=db_url):
            click.echo(line)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from exc


@quiz.command("practice")
@click.option("--week", type=click.IntRange(1, 3), required=True)
@click.option("--count", "-n", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--concept", default=None, help="Only questions on this concept id.")
@click.option("--student", default=None, help="Your id (practice variants then never repeat your graded ones).")
@click.option("--seed", type=int, default=None, help="Reproducible session (default: fresh random).")
def quiz_practice(week, count, concept, student, seed) -> None:
    """Practise week N in the terminal with immediate feedback on fresh variants."""
    _bank_or_fail()
    try:
        run_practice(week, count, concept=concept, student=student, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    except (EOFError, KeyboardInterrupt):
        click.echo("\nbye")


@quiz.command("bank")
def quiz_bank() -> None:
    """Validate the banks and print question counts per week, type and concept."""
    questions = list(_bank_or_fail().values())
    click.echo(f"{len(questions)} questions, {sum(q.parameterized for q in questions)} parameterized")
    for week in (1, 2, 3):
        qs = [q for q in questions if q.week == week]
        click.echo(f"week {week}: {len(qs)} ({sum(q.use == 'quiz' for q in qs)} quiz, "
                   f"{sum(q.use == 'practice' for q in qs)} practice)")
    click.echo("by type: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(q.type for q in questions).items())))
    per = Counter(c for q in questions for c in q.concepts)
    click.echo("by concept: " + ", ".join(f"{k} {v}" for k, v in sorted(per.items())))


@quiz.command("items")
@click.argument("assignment", required=False)
@COURSE_OPT
@DB_OPT
def quiz_items(assignment, course, db_url) -> None:
    """Item analysis (difficulty, item-rest correlation, upper-lower D, choice rates, flags)."""
    db_url = _db_url(course, db_url)
    with database_errors(db_url):
        stats = item_report(db_url, assignment)
    if not stats:
        click.echo("no quiz responses recorded yet")
        return
    click.echo(format_report(stats))


@click.group("mastery")
def mastery() -> None:
    """Concept mastery (Bayesian Knowledge Tracing) from graded code checks and quizzes."""


@mastery.command("show")
@click.argument("student")
@COURSE_OPT
@DB_OPT
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.95, show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of {concept, p_mastery, mastered, n_obs, enough_evidence, latest_failed, status}.")
def mastery_show(student, course, db_url, threshold, as_json) -> None:
    """Mastery per concept for STUDENT, with the evidence behind it, and what to review first."""
    url = _db_url(course, db_url)
    with database_errors(url):
        if as_json:
            click.echo(json.dumps([m.to_dict() for m in mastery_rows(url, student, threshold)], indent=1))
            return
        items = review_list(url, student, threshold, include_mastered=True)
    click.echo(f"{'concept':30} {'P(mastered)':>11} {'obs':>4}")
    for it in items:
        if it.n_obs == 0:
            shown, mark = "—", "not assessed yet"
        elif not it.enough_evidence:
            shown, mark = "—", f"not enough evidence yet (needs {MIN_EVIDENCE} observations)"
        else:
            shown = f"{it.p_mastery:.3f}"
            mark = "mastered" if it.mastered else ("latest graded function failed" if it.latest_failed else "")
        click.echo(f"{it.concept:30} {shown:>11} {it.n_obs:>4}  {mark}")
    todo = [it for it in items if not it.mastered]
    if todo:
        click.echo("\nReview next:")
    for it in todo[:5]:
        where = "; ".join(f"{s['assignment']}: {s['section']}" for s in it.sections) or "quiz only"
        why = ("a graded function failed in your latest submission" if it.latest_failed
               else "not assessed yet" if it.n_obs == 0
               else f"P = {it.p_mastery:.2f} from {it.n_obs} observations" if it.enough_evidence
               else f"only {it.n_obs} observation(s) so far")
        click.echo(f"- {it.name} ({why}): notebook {where}; "
                   f"practise: deepgrade quiz practice --week {it.week} --concept {it.concept} "
                   f"({len(it.questions)} questions)")


@mastery.command("refit")
@COURSE_OPT
@DB_OPT
@click.option("--min-students", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--min-obs", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--forgetting", type=click.Choice(["auto", "off"]), default="auto", show_default=True,
              help="auto: model forgetting where it predicts held-out students better.")
def mastery_refit(course, db_url, min_students, min_obs, forgetting) -> None:
    """EM refit per concept (prior, learn, forget; guess and slip per item type) from the observations."""
    db_url = _db_url(course, db_url)
    with database_errors(db_url):
        reports = refit(db_url, min_students, min_obs, forgetting=forgetting)
    for r in reports:
        extra = ""
        if r.params:
            p = r.params
            extra = (f" prior={p.prior:.3f} learn={p.learn:.3f} forget={p.forget:.3f} "
                     + " ".join(f"{t}:guess={p.guess[t]:.3f},slip={p.slip[t]:.3f}" for t in sorted(p.guess)))
        click.echo(f"{r.concept}: {r.status} ({r.reason}){extra}")
