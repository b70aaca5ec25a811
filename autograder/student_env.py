"""A student's Jupyter without the instructor's tools (``deepgrade student-env``).

nbgrader ships one package for both sides; its docs recommend disabling the instructor parts where
students work. Students keep the assignment list (fetch, submit, fetch feedback), course list and
validate button; the Formgrader (server extension + Lab plugin) and Create Assignment (Lab plugin) go.

The server extension is switched off by a config file of our own in ``jupyter_server_config.d`` at the
chosen level (``jupyter server extension disable --user`` refuses an extension that was enabled for
the environment, as pip's install of nbgrader does); the Lab plugins with ``jupyter labextension
disable --level=...``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jupyter_core import paths

__all__ = ["LEVELS", "INSTRUCTOR_LAB_PLUGINS", "INSTRUCTOR_SERVER_EXTENSIONS", "CONFIG_FILE", "config_dir",
           "student_env_commands", "setup_student_env"]

LEVELS = ("user", "sys_prefix", "system")
INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment")
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader",)
CONFIG_FILE = "deepgrade-student.json"


def config_dir(level: str) -> Path:
    """Jupyter's config folder of ``level`` (user | sys_prefix | system)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    if level == "user":
        return Path(paths.jupyter_config_dir())
    return Path(paths.ENV_CONFIG_PATH[0] if level == "sys_prefix" else paths.SYSTEM_CONFIG_PATH[0])


def _jupyter() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter"]


def student_env_commands(level: str = "sys_prefix") -> list[list[str]]:
    """The ``jupyter labextension disable`` commands for ``level``."""
    config_dir(level)                                   # validates the level
    return [[*_jupyter(), "labextension", "disable", f"--level={level}", p] for p in INSTRUCTOR_LAB_PLUGINS]


def server_config_path(level: str) -> Path:
    return config_dir(level) / "jupyter_server_config.d" / CONFIG_FILE


def setup_student_env(level: str = "sys_prefix", *, env: dict | None = None) -> list[str]:
    """Switch the instructor tools off at ``level``; returns what was done, one line each. Raises
    RuntimeError naming the command that failed."""
    if level == "user" and paths.prefer_environment_over_user():
        raise RuntimeError("Jupyter here reads this environment's config before the user's (a virtual or conda "
                           "environment), so a user-level setting would not take effect: use --level sys_prefix, "
                           "or set JUPYTER_PREFER_ENV_PATH=0")
    path = server_config_path(level)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
        ext: False for ext in INSTRUCTOR_SERVER_EXTENSIONS}}}, indent=2) + "\n")
    done = [f"wrote {path} (server extensions off: {', '.join(INSTRUCTOR_SERVER_EXTENSIONS)})"]
    for cmd in student_env_commands(level):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"jupyter {' '.join(cmd[-4:])} failed (exit {proc.returncode}):\n{proc.stderr[-1500:]}")
        done.append("jupyter " + " ".join(cmd[-4:]))
    return done
