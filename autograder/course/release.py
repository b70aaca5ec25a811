"""``deepgrade release``: nbgrader ``generate_assignment`` for built assignments, with explicit --force.

nbgrader itself silently skips an assignment whose release folder exists unless ``--force`` is given;
here that choice is explicit and reported: without ``force`` an existing release is left alone and
reported as ``skipped``; with ``force`` it is regenerated.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.build import CONFIG_NAME, BuildError, resolve_course_dir
from reference import catalog


@dataclass
class ReleaseReport:
    assignment: str
    status: str                      # "released" | "skipped"
    folder: Path
    files: list[str] = field(default_factory=list)
    solution_cells: int = 0          # cells whose solution region became a stub
    points: float = 0.0

    def line(self) -> str:
        if self.status == "skipped":
            return f"{self.assignment}: skipped (release/{self.assignment} exists; use --force to regenerate)"
        return (f"{self.assignment}: released {len(self.files)} files to {self.folder} "
                f"({self.solution_cells} exercises, {self.points:g} points)")


def released_assignments(course: Path) -> list[str]:
    """Code assignments that have a built source notebook in ``course``, in course order (quizzes
    excluded: ``deepgrade quiz release`` releases them)."""
    src = course / "source"
    if not src.exists():
        return []
    # quizzes are released by `deepgrade quiz release` (their own command, with per-student variants)
    built = {p.name for p in src.iterdir() if (p / f"{p.name}.ipynb").exists()}
    known = catalog.declared(course)
    quizzes = {a for a, d in known.items() if d.runtime == "quiz"}
    return [a for a in known if a in built and a not in quizzes] + sorted(built - set(known))


def release_assignment(course: Path, assignment: str, *, force: bool = False,
                       db_url: str | None = None) -> ReleaseReport:
    """Run ``nbgrader generate_assignment`` for one assignment with the course's own config (and its
    configured gradebook; ``db_url`` overrides it)."""
    course = Path(course).resolve()
    if not (course / CONFIG_NAME).exists():
        raise BuildError(f"{course} has no {CONFIG_NAME}; run `deepgrade build --course {course}` first")
    source_nb = course / "source" / assignment / f"{assignment}.ipynb"
    if not source_nb.exists():
        raise BuildError(f"{source_nb} does not exist; run `deepgrade build --assignment {assignment}` first")
    out = course / "release" / assignment
    if out.exists() and not force:
        return ReleaseReport(assignment, "skipped", out)
    cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
           f"--CourseDirectory.root={course}"]
    if force:
        cmd.append("--force")
    if db_url:
        cmd.append(f"--CourseDirectory.db_url={db_url}")
    # nbgrader runs `alembic` by name when it creates the gradebook: put this Python's bin dir first
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)
    released_nb = out / f"{assignment}.ipynb"
    if proc.returncode != 0 or not released_nb.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BuildError(f"nbgrader generate_assignment {assignment} failed (exit {proc.returncode}):\n{tail}")
    nb = json.loads(released_nb.read_text(encoding="utf-8"))
    sols = [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    points = sum(c["metadata"]["nbgrader"].get("points", 0) for c in nb["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return ReleaseReport(assignment, "released", out, files, len(sols), float(points))


def release_course(course_dir: str | Path | None = None, assignments: list[str] | None = None, *,
                   force: bool = False, db_url: str | None = None) -> list[ReleaseReport]:
    """Release the given assignments (default: every built one) of a course."""
    course = resolve_course_dir(course_dir)
    names = list(assignments) if assignments else released_assignments(course)
    if not names:
        raise BuildError(f"nothing to release in {course}/source; run `deepgrade build` first")
    return [release_assignment(course, a, force=force, db_url=db_url) for a in names]
