"""One clear line instead of a traceback when a command cannot use the gradebook (both CLIs)."""
from __future__ import annotations

import contextlib
from typing import Iterator

import click
from sqlalchemy.exc import SQLAlchemyError

from autograder.gradebook import GradebookError, describe_db_error

DB_URL_ENV = "DEEPGRADE_DB_URL"     # --db-url from the environment: no password in the process list


@contextlib.contextmanager
def database_errors(db_url: str) -> Iterator[None]:
    """Turn an unreachable or unusable gradebook into a ``click.ClickException`` (password hidden)."""
    try:
        yield
    except (GradebookError, SQLAlchemyError) as exc:
        raise click.ClickException(describe_db_error(exc, db_url)) from None
