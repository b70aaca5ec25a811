"""``deepgrade service start|stop|status``: the warm grading service (autograder/grading_service.py).

A module of its own, importing only click and the standard library, so that the console script
(``autograder/entry.py``) runs these commands without the ~3 s of ``autograder.cli``'s imports; the same
group is also a subcommand of ``autograder.cli.main``.
"""
from __future__ import annotations

import datetime

import click

from autograder.grading_service import ServiceError, start, stop
from autograder.service_client import request, stale_because


@click.group()
def service() -> None:
    """A per-user background process that has imported the grading code once: `deepgrade grade` hands
    it the command (a fresh forked process grades it), saving ~3 s of start-up per command. Optional."""


@service.command("start")
@click.option("--idle-timeout", type=click.FloatRange(min=0), default=1800, show_default=True,
              metavar="SECONDS", help="Exit after this long without a request.")
def service_start(idle_timeout) -> None:
    """Start the grading service in the background (nothing happens if it already runs)."""
    try:
        status, started = start(idle_timeout)
    except (ServiceError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"grading service {'started' if started else 'already runs'}: pid {status['pid']}, "
               f"log {status['log']}")


@service.command("stop")
def service_stop() -> None:
    """Stop the grading service (commands it is running finish first)."""
    reply = stop()
    if reply is None:
        click.echo("no grading service runs")
    elif reply["exited"]:
        click.echo(f"grading service {reply['pid']} stopped")
    else:
        click.echo(f"grading service {reply['pid']} takes no new command and stops when its "
                   f"{reply['active']} running one(s) finish")


@service.command("status")
def service_status() -> None:
    """Pid, start time, fingerprint and requests served of the grading service; exit 1 if none runs."""
    status = request("status")
    if status is None:
        raise click.ClickException("no grading service runs (start one with `deepgrade service start`)")
    started = datetime.datetime.fromtimestamp(status["started_at"]).isoformat(timespec="seconds")
    changed = stale_because(status)
    fresh = f"stale ({', '.join(changed[:5])} changed): the next `deepgrade grade` stops it" if changed else "fresh"
    click.echo(f"pid {status['pid']}, started {started}, fingerprint {status['fingerprint'][:16]} ({fresh}), "
               f"{status['requests']} requests served, {status['active']} running, idle timeout "
               f"{status['idle_timeout']:g} s, log {status['log']}")
