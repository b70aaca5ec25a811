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


if __name__ == "__main__":  # pragma: no cover
    main()
