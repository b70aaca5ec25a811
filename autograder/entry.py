"""The ``deepgrade`` console script: forward ``deepgrade grade`` to a running grading service (see
``grading_service.py``), else run the command in this process; ``deepgrade service ...`` runs without
``autograder.cli``.

Only the standard library is imported until it is known that the command runs here: ``autograder.cli``
costs ~3 s of imports (nbgrader, nbconvert, SQLAlchemy...) that a forwarded command does not pay.
"""
from __future__ import annotations

import sys

#: ``sys.path`` as the interpreter set it up, before any import appends to it (setuptools' vendored
#: packages do): what the grading service is started with and fingerprinted on (``service_client``)
STARTUP_PATH = list(sys.path)


def main() -> None:
    command = sys.argv[1:2]
    if command == ["grade"]:
        from autograder.service_client import forward
        code = forward(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    from autograder.service_cli import service
    if command == ["service"]:                          # start/stop/status: click and the stdlib only
        service(args=sys.argv[2:], prog_name="deepgrade service")
    from autograder.cli import main as cli_main
    cli_main.add_command(service)      # here, not in cli.py: the service runs cli's commands (no cycle)
    cli_main()


if __name__ == "__main__":  # pragma: no cover
    main()
