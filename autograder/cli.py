"""The ``deepgrade`` command: one thin CLI over plain ``main()``-style functions in each module.

Each subcommand imports its module lazily so that ``deepgrade --help`` stays fast.
"""
from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deepgrade")
def main() -> None:
    """deepgrade — autograded exercises, hidden checks, quizzes and mastery for
    'Improving Deep Neural Networks'.

    \b
    Typical flow (run inside a course directory that holds nbgrader_config.py):
      deepgrade build                 build datasets + source notebooks
      deepgrade release               nbgrader generate_assignment for every assignment
      deepgrade grade ASSIGNMENT      grade all submissions in parallel (hidden checks, sandboxed)
      deepgrade report                write student and instructor reports
      deepgrade demo                  all of the above on a simulated class
    """


@main.command()
@click.option("--course", "course", type=click.Path(file_okay=False), default=None,
              help="Course folder (default: the current folder if it holds nbgrader_config.py, "
                   "else the repository root). Created, with a copy of nbgrader_config.py, if needed.")
@click.option("--assignment", "-a", "assignments", multiple=True,
              help="Build only this assignment (repeatable). Default: every assignment.")
@click.option("--no-data", is_flag=True, help="Skip building the .h5 datasets.")
def build(course, assignments, no_data) -> None:
    """Build source notebooks, student helpers and datasets from the reference."""
    from autograder.course.build import BuildError, build_course, resolve_course_dir
    try:
        reports = build_course(course, list(assignments) or None, data=not no_data)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from exc
    root = resolve_course_dir(course)
    for r in reports:
        changed = ", ".join(p.name for p in r.written) or "nothing changed"
        click.echo(f"{r.assignment}: {len(r.points)} graded functions, {r.total_points:g} points "
                   f"-> {r.folder.relative_to(root)} ({changed})")


@main.command()
@click.option("--course", "course", type=click.Path(file_okay=False), default=None,
              help="Course folder (default: as for `deepgrade build`).")
@click.option("--force/--no-force", default=False, show_default=True,
              help="Regenerate assignments already in release/ (otherwise they are skipped).")
@click.argument("assignments", nargs=-1)
def release(course, force, assignments) -> None:
    """nbgrader generate_assignment for ASSIGNMENTS (default: every built one)."""
    from autograder.course.build import BuildError
    from autograder.course.release import release_course
    try:
        reports = release_course(course, list(assignments) or None, force=force)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from exc
    for r in reports:
        click.echo(r.line())


if __name__ == "__main__":  # pragma: no cover
    main()
