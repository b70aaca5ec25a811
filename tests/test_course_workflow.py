"""Rough edges a new instructor hits (issue 14, part 4): finding the course, releasing, grading too
early, and a student environment without the instructor's tools."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from autograder.cli import main
from autograder.course.build import resolve_course_dir
from autograder.course.release import released_assignments
from gradingcourse import ASSIGNMENT, course, released_course  # noqa: F401

BIN = Path(sys.executable).parent


def test_the_course_is_found_upward_from_a_subfolder(course, monkeypatch):
    monkeypatch.chdir(course / "source" / ASSIGNMENT)
    assert resolve_course_dir(None) == course.resolve()
    r = CliRunner().invoke(main, ["collect", ASSIGNMENT, "--no-exchange"])
    assert r.exit_code == 0, r.output
    assert "0 submissions" in r.output


def test_outside_any_course_deepgrade_refuses_clearly(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    for args in (["grade", "optimization"], ["release"], ["report"], ["quiz", "items"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code != 0, args
        assert "no nbgrader_config.py in" in r.output and "--course DIR" in r.output, (args, r.output)
        assert "Traceback" not in r.output


def test_grade_before_collect_says_nothing_is_submitted(course):
    r = CliRunner().invoke(main, ["grade", ASSIGNMENT, "--course", str(course), "--no-progress"])
    assert r.exit_code == 1
    assert f"nothing submitted for {ASSIGNMENT}" in r.output and f"deepgrade collect {ASSIGNMENT}" in r.output


def test_release_leaves_the_quizzes_to_quiz_release(tmp_path):
    for name in ("optimization", "quiz_week1"):
        (tmp_path / "source" / name).mkdir(parents=True)
        (tmp_path / "source" / name / f"{name}.ipynb").write_text("{}")
    assert released_assignments(tmp_path) == ["optimization"]


def test_student_env_hides_formgrader_and_create_assignment(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "JUPYTER_PREFER_ENV_PATH": "1"}
    refused = subprocess.run([str(BIN / "deepgrade"), "student-env", "--level", "user"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "--level sys_prefix" in refused.stderr   # would not take effect
    # the user level, where Jupyter reads the user's config first (the shared test venv stays untouched)
    env["JUPYTER_PREFER_ENV_PATH"] = "0"
    proc = subprocess.run([str(BIN / "deepgrade"), "student-env", "--level", "user"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page_config = json.loads((tmp_path / "jupyter-config" / "labconfig" / "page_config.json").read_text())
    disabled = page_config["disabledExtensions"]
    assert disabled.get("@jupyter/nbgrader:formgrader") and disabled.get("@jupyter/nbgrader:create-assignment")
    assert not disabled.get("@jupyter/nbgrader:assignment-list")
    # what a Jupyter server started in this environment would load (all config levels merged)
    probe = ("import json; from jupyter_core.paths import jupyter_config_path; "
             "from jupyter_server.extension.config import ExtensionConfigManager; "
             "print(json.dumps(ExtensionConfigManager(read_config_path=jupyter_config_path())"
             ".get_jpserver_extensions()))")
    merged = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    extensions = json.loads(merged.stdout)
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["nbgrader.server_extensions.assignment_list"] is True
