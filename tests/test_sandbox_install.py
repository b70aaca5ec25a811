"""Issue 17, class 1: with a regular (non-editable) install the sandbox still sees no trusted content.

A wheel of this checkout is installed into a fresh virtual environment (its dependencies come from
the worktree's venv through a ``.pth`` line, so the test takes seconds, not minutes; CI's
``.ci/run`` also does a genuine ``pip install`` of the wheel and runs the red-team corpus there).
In that venv ``reference``, ``autograder`` and ``quizzes`` live in site-packages, right beside numpy.
Hostile cells then try every way in: import, read by path, walk the disk, installed metadata.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent('''
    import json, sys
    import reference
    from autograder.sandbox import StudentSession, sandbox_mode
    from importlib import metadata
    site = str(metadata.distribution("deepgrade").locate_file(""))
    cells = [{"index": 0, "source": """
    import importlib.util, os, sys
    def leaks(site):
        found = [n for n in ("reference", "autograder", "quizzes") if importlib.util.find_spec(n)]
        for rel in ("reference/initialization.py", "autograder/checks/test_initialization.py",
                    "quizzes/banks/week1.yaml", "reference/mistakes"):
            if os.path.exists(os.path.join(site, rel)):
                found.append(rel)
        try:
            from importlib import metadata
            metadata.distribution("deepgrade")
            found.append("deepgrade metadata")
        except Exception:
            pass
        for root in [p for p in sys.path if p] + ["/opt", "/usr/local/lib", "/usr/lib/python3", sys.base_prefix]:
            for d, dirs, files in os.walk(root):
                name = os.path.basename(d)
                if (name == "reference" and "initialization.py" in files) or "test_initialization.py" in files \
                        or (name == "quizzes" and "banks" in dirs):
                    found.append(d)
                dirs[:] = [x for x in dirs if x not in ("tensorflow", "scipy", "sklearn", "__pycache__")]
        return found
    def student_stack():
        import numpy, scipy, sklearn, matplotlib, h5py
        return [m.__name__ for m in (numpy, scipy, sklearn, matplotlib, h5py)]
    """}]
    with StudentSession(None, zygote=False) as s:
        report = s.load(cells)
        assert not report.errors, report.errors
        out = {"mode": sandbox_mode(), "trusted_reference": reference.__file__,
               "leaks": s.call("leaks", site), "stack": s.call("student_stack")}
    print("RESULT " + json.dumps(out))
''')


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh venv holding a non-editable wheel install of this checkout."""
    d = tmp_path_factory.mktemp("wheel-install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    str(REPO), "-w", str(d / "dist")], check=True, cwd=d, timeout=300)
    wheel = next((d / "dist").glob("deepgrade-*.whl"))
    venv = d / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, timeout=300)
    # dependencies from the worktree venv; a path added by a .pth line gets no .pth processing of
    # its own, so the worktree's editable finder stays inactive and the wheel's copy is imported
    (site / "zz_worktree_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_wheel_install_hides_trusted_content(wheel_venv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DEEPGRADE_SANDBOX")}
    r = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", PROBE], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.split("RESULT ", 1)[1])
    assert out["trusted_reference"].startswith(str(wheel_venv)), "not a non-editable install"
    assert out["mode"] == "bwrap"
    assert out["leaks"] == []
    assert out["stack"] == ["numpy", "scipy", "sklearn", "matplotlib", "h5py"]


def test_site_view_is_an_allow_list():
    from autograder.sandbox import packages
    views = packages.site_views()
    names = {e for v in views for e in v.entries}
    assert {"numpy", "scipy", "matplotlib", "sklearn", "h5py"} <= names
    assert not names & {"reference", "autograder", "quizzes", "nbgrader", "jupyter_client", "jupyterlab",
                        "sqlalchemy", "distributed"}
    assert not any(n.startswith("deepgrade") or n.endswith(".pth") for n in names)


def test_linked_view_holds_exactly_the_allowed_entries():
    from autograder.sandbox import packages
    views = [v for v in packages.site_views() if v.entries]
    assert views
    for view in views:
        linked = packages.linked_view(view)
        if linked is None:          # not writable here: the launcher binds entry by entry
            continue
        assert sorted(os.listdir(linked)) == sorted(view.entries)
        numpy_init = Path(linked, "numpy", "__init__.py")
        if numpy_init.exists():     # hard links: same file, no copy
            assert os.stat(numpy_init).st_ino == os.stat(Path(view.host_dir, "numpy", "__init__.py")).st_ino
