"""The ``deepgrade`` command: one thin CLI over plain ``main()``-style functions in each module.

Imports sit at the top, except those whose start-up cost every command (and ``--help``) would pay for
nothing; measured on top of this module's other imports on a busy 2-core machine: the reports (matplotlib)
+3.6 s wall, Dask's distributed +1.5 s wall, the grading runner (engine, sandbox, rich) +0.15 s CPU,
rich +0.06 s CPU, the reports' loader +0.06 s CPU. ``deepgrade --help`` costs what it did before.
"""
from __future__ import annotations

from pathlib import Path

import click

from autograder.collect import CollectError, collect_assignment, log, log_to_file
from autograder.course.build import BuildError, CourseNotFound, build_course, resolve_course_dir
from autograder.course.release import release_course
from autograder.dberrors import DB_URL_ENV, database_errors
from autograder.exports import write_class_csv, write_gradescope, write_mastery_csv
from autograder.gradebook import GradebookError, course_db_url
from autograder.locking import CourseLocked
from autograder.quiz_cli import mastery as _mastery_group, quiz as _quiz_group
from autograder.student_env import server_config_path, setup_student_env, student_env_commands
from quizzes.mastery import refit_if_ready
from reference.catalog import DeclarationError, course_declarations
from reference.datasets import DEFAULT_SEED, DatasetError, build_data_main


class _Commands(click.Group):
    """The top-level group: a missing course folder ends any subcommand with one clear line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CourseNotFound as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deepgrade")
def main() -> None:
    """deepgrade — autograded exercises, hidden checks, quizzes and mastery for
    'Improving Deep Neural Networks'.

    \b
    Typical flow (run inside a course directory that holds nbgrader_config.py):
      deepgrade build                 build datasets + source notebooks
      deepgrade release               nbgrader generate_assignment for every assignment
      deepgrade quiz release          build + release the weekly quizzes (quiz_week1..3)
      deepgrade grade ASSIGNMENT      grade all submissions in parallel (hidden checks, sandboxed)
      deepgrade report                write student and instructor reports
      deepgrade mastery show STUDENT  concept mastery (BKT) and what to review next
      deepgrade demo                  all of the above on a simulated class
    """


@main.command()
@click.option("--course", "course", type=click.Path(file_okay=False), default=None,
              help="Course folder (default: the nearest folder at or above the current one holding "
                   "nbgrader_config.py). Created, with a copy of nbgrader_config.py, if needed.")
@click.option("--assignment", "-a", "assignments", multiple=True,
              help="Build only this assignment (repeatable). Default: every assignment.")
@click.option("--no-data", is_flag=True, help="Skip building the .h5 datasets.")
@click.option("--check", is_flag=True,
              help="Write nothing; list what is stale (solution/example regions, helpers) and exit 1 if anything is.")
def build(course, assignments, no_data, check) -> None:
    """Bring source notebooks' solution regions, student helpers and datasets up to date with the reference.

    Everything else in a source notebook (prose, visible tests, points) is the instructor's and is kept."""
    try:
        reports = build_course(course, list(assignments) or None, data=not no_data, check=check)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from exc
    root = resolve_course_dir(course)
    for r in reports:
        changed = ", ".join(p.name for p in r.written) or ("up to date" if check else "nothing changed")
        verb = "stale: " if check and r.written else ""
        click.echo(f"{r.assignment}: {len(r.points)} graded functions, {r.total_points:g} points "
                   f"-> {r.folder.relative_to(root)} ({verb}{changed})")
        for change in r.changes:
            click.echo(f"  {r.notebook.name}: {change}")
    if check and any(r.written for r in reports):
        raise click.ClickException("the course is not up to date with the reference: run `deepgrade build`")


@main.command()
@click.option("--course", "course", type=click.Path(file_okay=False), default=None,
              help="Course folder (default: as for `deepgrade build`).")
@click.option("--force/--no-force", default=False, show_default=True,
              help="Regenerate assignments already in release/ (otherwise they are skipped).")
@click.option("--db-url", default=None, envvar=DB_URL_ENV,
              help="Gradebook SQLAlchemy URL (default: the course's configured one; passed to nbgrader).")
@click.argument("assignments", nargs=-1)
def release(course, force, db_url, assignments) -> None:
    """nbgrader generate_assignment for ASSIGNMENTS (default: every built one)."""
    try:
        reports = release_course(course, list(assignments) or None, force=force, db_url=db_url)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from exc
    for r in reports:
        click.echo(r.line())


# --- datasets: `build-data` (owned by reference/datasets.py) -----------------------------------------


@main.command("build-data")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder to write <assignment>/<assignment>_data.h5 into (default: source/ of the course "
                   "root, the nearest folder at or above the current one holding nbgrader_config.py).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of every dataset (default: reference.datasets.DEFAULT_SEED).")
def build_data(out, seed) -> None:
    """Build every assignment's .h5 dataset and print each file's keys and shapes."""
    try:
        build_data_main(out, DEFAULT_SEED if seed is None else seed, echo=click.echo)
    except (FileNotFoundError, DatasetError) as exc:
        raise click.ClickException(str(exc)) from exc


# --- grading: `grade`, `export` (owned by the grading runner; see autograder/runner.py) ---------------


def _course_root(course):
    """The course folder; its own assignments (``assignments/*/assignment.toml``) become known."""
    root = resolve_course_dir(course)
    try:
        course_declarations(root)
    except DeclarationError as exc:
        raise click.ClickException(str(exc)) from exc
    return root


DB_URL_HELP = ("Gradebook SQLAlchemy URL, also read from $DEEPGRADE_DB_URL (default: c.CourseDirectory.db_url of "
               "the course's nbgrader_config.py, else sqlite:///<course>/gradebook.db). A password on the command "
               "line shows in the process list: use $DEEPGRADE_DB_URL, PGPASSWORD or ~/.pgpass.")


def _gradebook_url(root, db_url):
    try:
        return course_db_url(root, db_url)
    except GradebookError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.argument("assignment")
@click.option("--course", "course", type=click.Path(file_okay=False), default=None,
              help="Course folder (default: as for `deepgrade build`).")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=None,
              help="Local worker processes (default: number of cores; 1 = in-process, sequential).")
@click.option("--scheduler", default=None, metavar="ADDR",
              help="Grade on a Dask cluster (tls://host:8786 with --tls-*, or tcp://), or 'local' for a "
                   "throw-away LocalCluster secured with a temporary TLS certificate.")
@click.option("--force", is_flag=True, help="Regrade submissions already graded with the same notebook.")
@click.option("--wait", is_flag=True, help="Wait for another grading command on this course instead of refusing.")
@click.option("--db-url", default=None, envvar=DB_URL_ENV, help=DB_URL_HELP)
@click.option("--seed", type=int, default=None, help="Seed passed to the engine (default: the engine's).")
@click.option("--student", "students", multiple=True, help="Grade only this student (repeatable).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--tls-ca-file", type=click.Path(dir_okay=False), default=None,
              help="CA certificate that signed the Dask scheduler's certificate (with --scheduler tls://...).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None,
              help="Our client certificate for the Dask cluster (default: Dask's config distributed.comm.tls).")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None,
              help="Private key of --tls-cert, if not in the same file.")
@click.option("--no-service", is_flag=True,
              help="Grade in this process even if a grading service runs (also: DEEPGRADE_SERVICE=off).")
def grade(assignment, course, workers, scheduler, force, wait, db_url, seed, students, no_progress,
          tls_ca_file, tls_cert, tls_key, no_service) -> None:
    """Grade every submission of ASSIGNMENT (submitted/<student>/ASSIGNMENT/) into the gradebook.

    When `deepgrade service start` runs a grading service for this user, the command is handed to it
    (same result, without ~3 s of start-up); `--no-service` grades here."""
    from autograder.runner import SchedulerUnavailable, grade_class, print_summary   # lazy: see top
    root = _course_root(course)
    db_url = _gradebook_url(root, db_url)
    try:
        if scheduler and scheduler.startswith("tcp://"):
            click.echo(f"warning: {scheduler} is plain TCP: anyone who can reach it can run code on its "
                       "workers; use a TLS cluster (tls://, --tls-*; see README 'Security')", err=True)
        security = None                 # Dask's configuration; imported only when asked (start-up time)
        if tls_ca_file or tls_cert or tls_key:
            from autograder.dask_security import client_security
            security = client_security(tls_ca_file, tls_cert, tls_key)
        with database_errors(db_url):
            summary = grade_class(root, assignment, workers=workers, scheduler=scheduler,
                                  force=force, wait=wait, db_url=db_url, seed=seed,
                                  students=list(students) or None, progress=not no_progress,
                                  dask_security=security)
    except (CourseLocked, SchedulerUnavailable, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if summary.submissions == 0:               # exit 1: the grading asked for could not happen
        who = f" by {', '.join(students)}" if students else ""
        raise click.ClickException(
            f"nothing submitted{who} for {assignment}: {root / 'submitted'}/<student>/{assignment}/ holds no "
            f"notebook. Students submit with `nbgrader submit {assignment}` (or the Assignments tab); then "
            f"collect with `deepgrade collect {assignment}` and grade again.")
    print_summary(summary)
    refit_if_ready(db_url)                # mastery: automatic refit, never raises
    if not summary.ok:              # something was not recorded: the next run grades it
        raise SystemExit(1)


@main.command()
@click.argument("assignment", required=False)
@click.option("--course", "course", type=click.Path(file_okay=False), default=None,
              help="Course folder (default: as for `deepgrade build`).")
@click.option("--db-url", default=None, envvar=DB_URL_ENV, help=DB_URL_HELP)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Class CSV path (default: <course>/exports/<assignment or all>.csv).")
@click.option("--gradescope", "gradescope_dir", type=click.Path(file_okay=False), default=None,
              help="Also write <DIR>/<assignment>/<student>/results.json (Gradescope format).")
def export(assignment, course, db_url, csv_path, gradescope_dir) -> None:
    """Export recorded grades of ASSIGNMENT (default: all) as a class CSV (+ Gradescope JSON)."""
    root = _course_root(course)
    db_url = _gradebook_url(root, db_url)
    csv_path = csv_path or root / "exports" / f"{assignment or 'all'}.csv"
    try:
        with database_errors(db_url):
            n = write_class_csv(db_url, csv_path, assignment)
            click.echo(f"{n} rows -> {csv_path}")
            click.echo(f"{write_mastery_csv(db_url, Path(csv_path).parent / 'mastery.csv')} mastery rows -> "
                       f"{Path(csv_path).parent / 'mastery.csv'}")
            if gradescope_dir:
                paths = write_gradescope(db_url, gradescope_dir, assignment)
                click.echo(f"{len(paths)} results.json -> {gradescope_dir}")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.argument("assignment")
@click.option("--course", "course", type=click.Path(file_okay=False), default=None,
              help="Course folder (default: as for `deepgrade build`).")
@click.option("--db-url", default=None, envvar=DB_URL_ENV, help=DB_URL_HELP)
@click.option("--no-exchange", is_flag=True, help="Do not read the exchange; only show what is pending.")
def collect(assignment, course, db_url, no_exchange) -> None:
    """Collect ASSIGNMENT from nbgrader's exchange into submitted/ (links, special files, foreign owners
    and bad times refused; every refusal also appended to <course>/collect.log), then list
    new/changed/graded submissions. Exit status 1 if anything was refused."""
    root = _course_root(course)
    db_url = _gradebook_url(root, db_url)
    refused = []
    if not no_exchange:
        handler = log_to_file(root / "collect.log")
        try:
            got = collect_assignment(root, assignment)
        except CollectError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            log.removeHandler(handler)
            handler.close()
        click.echo(f"collected {len(got.collected)} ({len(got.updated)} updated), "
                   f"{len(got.unchanged)} unchanged, {len(got.refused)} refused, "
                   f"{len(got.skipped_files)} file(s) refused")
        refused = got.refused + got.skipped_files
        for r in got.refused:
            click.echo(f"REFUSED submission {r.line()!r}", err=True)
        for r in got.skipped_files:
            click.echo(f"REFUSED file {r.line()!r}", err=True)
    from rich.console import Console   # lazy: rich +0.06 s CPU (see top)
    from rich.markup import escape
    from rich.table import Table

    from autograder.runner import submission_status   # lazy: see top
    with database_errors(db_url):
        rows = submission_status(root, assignment, db_url)
    table = Table(title=f"{assignment}: {len(rows)} submissions")
    for col in ("student", "notebook", "status", "score"):
        table.add_column(col)
    for r in rows:
        score = "" if r["score"] is None else f"{r['score']:g} / {r['max_score']:g}"
        table.add_row(escape(r["student"]), escape(r["notebook"]), r["status"], score)
    Console().print(table)
    todo = sum(r["status"] != "graded" for r in rows)
    click.echo(f"{todo} to grade: deepgrade grade {assignment}" if todo else "all graded")
    if refused:
        raise SystemExit(1)


@main.command("student-env")
@click.option("--level", type=click.Choice(["user", "sys_prefix", "system"]), default="sys_prefix",
              show_default=True, help="Where to record it: this user, this environment, or the whole system.")
@click.option("--dry-run", is_flag=True, help="Only print the jupyter commands.")
def student_env(level, dry_run) -> None:
    """Hide the instructor tools (Formgrader, Create Assignment) from Jupyter in a student environment."""
    if dry_run:
        click.echo(f"write {server_config_path(level)} (formgrader server extension off)")
        for cmd in student_env_commands(level):
            click.echo(" ".join(cmd))
        return
    try:
        for line in setup_student_env(level):
            click.echo(f"done: {line}")
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Students keep the Assignments tab (fetch, submit, fetch feedback) and the Validate button.")


# --- quizzes and mastery: `quiz ...`, `mastery ...` (owned by autograder/quiz_cli.py) ------------------------

main.add_command(_quiz_group)
main.add_command(_mastery_group)
# `deepgrade service start|stop|status` (autograder/service_cli.py) is added by the console script,
# autograder/entry.py: the service runs this module's commands, so this module cannot import it


# --- reports and the demo (autograder/reports/, autograder/demo.py) ---------------------------------


@main.command()
@click.option("--course", "course", type=click.Path(file_okay=False), default=None,
              help="Course folder (default: as for `deepgrade build`).")
@click.option("--db-url", default=None, envvar=DB_URL_ENV, help=DB_URL_HELP)
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: <course>/reports).")
@click.option("--student", "students", multiple=True, help="Only this student's reports (repeatable).")
@click.option("--assignment", "assignments", multiple=True, help="Only this assignment (repeatable).")
@click.option("--no-instructor", is_flag=True, help="Skip the instructor reports.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.95, show_default=True,
              help="Mastery threshold.")
def report(course, db_url, out, students, assignments, no_instructor, threshold) -> None:
    """Write student and instructor reports (HTML with embedded figures, plus Markdown)."""
    from autograder.reports.load import load_report_data   # lazy: see top
    from autograder.reports.write import write_reports   # lazy: matplotlib, +3.6 s start-up (see top)
    root = _course_root(course)
    db_url = _gradebook_url(root, db_url)
    with database_errors(db_url):
        data = load_report_data(root, db_url, threshold=threshold)
    if not data.results:
        raise click.ClickException(f"no graded results in the gradebook of {root}: run `deepgrade grade` first")
    out_dir = Path(out) if out else root / "reports"
    try:
        files = write_reports(data, out_dir, students=list(students) or None,
                              assignments=list(assignments) or None, instructor=not no_instructor)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(files)} files -> {out_dir / 'index.html'}")


@main.command()
@click.option("--workdir", type=click.Path(file_okay=False), default="demo-course", show_default=True,
              help="Fresh working folder for the demo course (created; reused if it exists).")
@click.option("--students", type=click.IntRange(min=1), default=60, show_default=True,
              help="Size of the simulated class.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulation.")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=None,
              help="Local grading workers (default: number of cores).")
@click.option("--assignment", "assignments", multiple=True, help="Only these code assignments (repeatable).")
@click.option("--no-quizzes", is_flag=True, help="Skip the weekly quizzes.")
@click.option("--db-url", default=None, envvar=DB_URL_ENV,
              help="Gradebook SQLAlchemy URL for the demo course (default: sqlite:///<workdir>/gradebook.db).")
def demo(workdir, students, seed, workers, assignments, no_quizzes, db_url) -> None:
    """Run the whole platform on a simulated class: build, release, submit, grade, mastery, reports."""
    from autograder.demo import run_demo   # lazy: imports the grading runner (see top)
    with database_errors(db_url or "sqlite:///gradebook.db"):
        run_demo(Path(workdir), students=students, seed=seed, workers=workers,
                 assignments=list(assignments) or None, quizzes=not no_quizzes, db_url=db_url)


if __name__ == "__main__":  # pragma: no cover
    main()
