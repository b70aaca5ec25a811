"""No import cycles between our modules or packages (scripts/check_imports.py, run here so CI runs it)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
check_imports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_imports)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_project_has_no_module_or_package_cycle():
    found = check_imports.cycles(ROOT)
    assert found == {"modules": [], "packages": []}, found


def test_a_cycle_hidden_in_a_function_is_found(tmp_path):
    root = _write(tmp_path, {
        "autograder/__init__.py": "", "autograder/a.py": "from autograder import b\n",
        "autograder/b.py": "def f():\n    from . import a\n", "quizzes/__init__.py": "",
        "reference/__init__.py": ""})
    assert check_imports.cycles(root)["modules"] == [["autograder.a", "autograder.b"]]
    assert check_imports.main(["x", str(root)]) == 1


def test_a_package_cycle_without_a_module_cycle_is_found(tmp_path):
    # autograder.x -> quizzes.y and quizzes.z -> autograder.w: no module cycle, but the packages loop
    root = _write(tmp_path, {
        "autograder/__init__.py": "", "autograder/x.py": "import quizzes.y\n", "autograder/w.py": "",
        "quizzes/__init__.py": "", "quizzes/y.py": "", "quizzes/z.py": "from autograder.w import *\n",
        "reference/__init__.py": "", "reference/mistakes/__init__.py": "from reference import nets\n",
        "reference/nets.py": "def g():\n    import reference.mistakes\n"})
    found = check_imports.cycles(root)
    assert found["modules"] == [["reference.mistakes", "reference.nets"]]
    assert found["packages"] == [["autograder", "quizzes"]]
    # a sub-package and its parent import each other freely: layering inside one package
    assert ["reference", "reference.mistakes"] not in found["packages"]
