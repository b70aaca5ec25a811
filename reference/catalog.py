"""Every assignment of the course, found by globbing its declaration (one TOML file per assignment).

An assignment declares itself once, in ``<name>.toml``:

- the course's own assignments: ``reference/assignments/<name>.toml`` (modules named by dotted path);
- an instructor's additions: ``<course>/assignments/<name>/assignment.toml`` beside the files it names
  (``reference = "reference.py"`` etc., paths relative to the declaration). That folder is trusted:
  nbgrader releases only ``source/<name>/``, and the sandbox binds only the released student files.

Fields (``name``, ``runtime`` and ``[graded]`` required for code; everything else optional)::

    name = "hello"                 # = the file stem (course folder: the folder name)
    title = "Hello, deepgrade"
    runtime = "numpy"              # numpy | tensorflow | quiz: how the platform runs and grades it
    order = 7                      # course order (lower first)
    due_day = 21                   # days after the course start it is due (the demo's calendar)
    reference = "reference.py"     # module with the graded functions (the trusted reference)
    solutions = "..."              # what a correct learner writes, if not the reference (TF assignment)
    checks = "checks.py"           # hidden checks (autograder.checks.framework suite)
    mistakes = "mistakes.py"       # catalogue of known mistakes (``MISTAKES`` list)
    notebook = "..."               # module whose build() writes the source notebook (else: hand-written)
    data = "circles"               # a reference.datasets set, or "module:function" writing the .h5 file
    original_functions = [...]     # the original course's notebook grades only these

    [graded]                       # graded function = points, in notebook order
    double = 5
    [helpers]                      # name learners call = "module:function" copied into <name>_utils.py

:func:`declared` lists them in course order; :func:`get` finds one by name (a course folder's own
assignments are added once that course is named, or found above the working folder).
Only plain data here: modules are imported on use (:meth:`Assignment.module`).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

__all__ = ["RUNTIMES", "CODE_RUNTIMES", "RUNTIME_IMPORTS", "Assignment", "DeclarationError", "declared", "get",
           "code_assignments", "load_declaration", "course_declarations", "runtime_of", "COURSE_FOLDER",
           "DECLARATION_NAME"]

RUNTIMES = ("numpy", "tensorflow", "quiz")
CODE_RUNTIMES = ("numpy", "tensorflow")      # graded by hidden checks on the learner's functions
#: what a notebook's first code cell imports, by runtime (the grader runs the same lines first)
RUNTIME_IMPORTS = {"numpy": ("import numpy as np",), "quiz": ("import numpy as np",),
                   "tensorflow": ("import numpy as np", "import tensorflow as tf")}
BUILTIN_DIR = Path(__file__).with_name("assignments")
COURSE_FOLDER = "assignments"          # <course>/assignments/<name>/assignment.toml
DECLARATION_NAME = "assignment.toml"
CONFIG_NAME = "nbgrader_config.py"
_MODULE_FIELDS = ("reference", "solutions", "checks", "mistakes", "notebook")
_TEXT_FIELDS = ("name", "title", "runtime", "data") + _MODULE_FIELDS
_KNOWN = set(_TEXT_FIELDS) | {"order", "due_day", "original_functions", "graded", "helpers"}


class DeclarationError(ValueError):
    """A declaration file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Assignment:
    """One assignment as its declaration file states it (plain data; modules load on use)."""
    name: str
    runtime: str
    path: Path                                   # the declaration file
    title: str = ""
    order: int = 1000
    due_day: int = 0
    graded: dict[str, float] = field(default_factory=dict)    # function -> points, notebook order
    helpers: dict[str, str] = field(default_factory=dict)     # visible name -> "module:function"
    modules: dict[str, str] = field(default_factory=dict)     # reference/solutions/checks/... -> spec
    data: str | None = None
    original_functions: tuple[str, ...] | None = None
    course: Path | None = None                   # the course folder of an instructor's addition

    @property
    def folder(self) -> Path:
        return self.path.parent

    def module(self, role: str, module_name: str | None = None) -> ModuleType | None:
        """The module declared for ``role`` (``reference``, ``checks``, ...), imported; None if not
        declared. A ``.py`` path is loaded from the declaration's folder under ``module_name``
        (default ``deepgrade_course.<name>.<file stem>``)."""
        spec = self.modules.get(role)
        if spec is None:
            return None
        return _import(self, spec, module_name)

    def load(self, spec: str) -> ModuleType:
        """A module named in this declaration: dotted name, or ``.py`` path relative to its folder."""
        return _import(self, spec)

    def graded_functions(self) -> dict[str, Callable]:
        """{graded function name: the trusted reference callable}, in notebook order."""
        ref = self.module("reference")
        if ref is None:
            return {}
        missing = [f for f in self.graded if not callable(getattr(ref, f, None))]
        if missing:
            raise DeclarationError(f"{self.path}: [graded] names {missing} but {self.modules['reference']} "
                                   f"does not define them")
        return {f: getattr(ref, f) for f in self.graded}

    def solution_functions(self) -> dict[str, Callable]:
        """What a correct learner writes (``solutions``, else the reference)."""
        sol = self.module("solutions")
        return {f: getattr(sol, f) for f in self.graded} if sol is not None else self.graded_functions()

    def helper_functions(self) -> dict[str, Callable]:
        """{student-visible name: reference callable} of the given helpers, in declared order."""
        out = {}
        for name, spec in self.helpers.items():
            mod_spec, _, func = spec.rpartition(":")
            out[name] = getattr(self.load(mod_spec), func)
        return out


# ------------------------------------------------------------------------------------------- loading
def _fail(path: Path, message: str) -> DeclarationError:
    return DeclarationError(f"{path}: {message}")


def load_declaration(path: str | Path, *, course: Path | None = None) -> Assignment:
    """Parse and validate one declaration file; :class:`DeclarationError` names the file and field."""
    path = Path(path).resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _fail(path, f"cannot read the declaration ({exc})") from exc
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise _fail(path, f"unknown field(s) {unknown}; known: {sorted(_KNOWN)}")
    for key in _TEXT_FIELDS:
        if key in raw and not (isinstance(raw[key], str) and raw[key].strip()):
            raise _fail(path, f"field {key!r} must be a non-empty string")
    expected = path.parent.name if path.name == DECLARATION_NAME else path.stem
    name = raw.get("name", expected)
    if name != expected or not name.isidentifier():
        raise _fail(path, f"name {name!r} must be a Python identifier equal to {expected!r} (the file's place)")
    runtime = raw.get("runtime")
    if runtime not in RUNTIMES:
        raise _fail(path, f"runtime must be one of {list(RUNTIMES)}, got {runtime!r}")
    for key in ("order", "due_day"):
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], int)):
            raise _fail(path, f"field {key!r} must be an integer")
    graded = raw.get("graded", {})
    if not isinstance(graded, dict) or not all(
            k.isidentifier() and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
            for k, v in graded.items()):
        raise _fail(path, "[graded] must map function names to positive points")
    if runtime != "quiz" and not graded:
        raise _fail(path, "a code assignment needs a [graded] table (function = points)")
    if runtime != "quiz" and ("reference" not in raw or "checks" not in raw):
        raise _fail(path, "a code assignment needs 'reference' and 'checks' (module names or .py files)")
    helpers = raw.get("helpers", {})
    if not isinstance(helpers, dict) or not all(
            k.isidentifier() and isinstance(v, str) and ":" in v for k, v in helpers.items()):
        raise _fail(path, "[helpers] must map names to \"module:function\" strings")
    leaked = sorted(set(helpers) & set(graded))
    if leaked:
        raise _fail(path, f"helpers {leaked} are graded functions: learners would be given the answer")
    original = raw.get("original_functions")
    if original is not None and not (isinstance(original, list) and set(original) <= set(graded) and original):
        raise _fail(path, "original_functions must be a non-empty list of graded function names")
    return Assignment(
        name=name, runtime=runtime, path=path, title=raw.get("title", name.replace("_", " ").capitalize()),
        order=raw.get("order", 1000), due_day=raw.get("due_day", 0),
        graded={k: float(v) for k, v in graded.items()}, helpers=dict(helpers),
        modules={k: raw[k] for k in _MODULE_FIELDS if k in raw}, data=raw.get("data"),
        original_functions=tuple(original) if original else None, course=course)


def _sorted(items: list[Assignment]) -> dict[str, Assignment]:
    return {a.name: a for a in sorted(items, key=lambda a: (a.order, a.name))}


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Assignment]:
    return _sorted([load_declaration(p) for p in sorted(BUILTIN_DIR.glob("*.toml"))])


def _stamp(course: Path) -> tuple:
    """Names and modification times of a course's declarations (the cache key of its catalogue)."""
    files = sorted((course / COURSE_FOLDER).glob(f"*/{DECLARATION_NAME}"))
    return tuple((str(p), p.stat().st_mtime_ns) for p in files)


@lru_cache(maxsize=16)
def _course(course: str, stamp: tuple) -> dict[str, Assignment]:
    items = [load_declaration(p, course=Path(course)) for p, _ in stamp]
    clash = sorted(a.name for a in items if a.name in _builtin())
    if clash:
        raise DeclarationError(f"{Path(course) / COURSE_FOLDER}: {clash} already name the course's own "
                               f"assignments; choose another name")
    return _sorted(items)


_active: dict[str, Assignment] = {}      # the instructor's additions of the last course named


def course_declarations(course_dir: str | Path) -> dict[str, Assignment]:
    """The assignments ``<course_dir>/assignments/*/assignment.toml`` declares, in course order; they
    become known to :func:`get` / :func:`declared` in this process (the course being worked on)."""
    course = Path(course_dir).resolve()
    found = _course(str(course), _stamp(course))
    _active.clear()
    _active.update(found)
    return found


def _course_above(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return None


def declared(course_dir: str | Path | None = None, *, runtime: str | tuple[str, ...] | None = None
             ) -> dict[str, Assignment]:
    """{name: Assignment} of the course's own assignments plus the instructor's additions of
    ``course_dir`` (or of the course last named), in course order; ``runtime`` filters."""
    if course_dir is not None:
        course_declarations(course_dir)
    both = _sorted([*_builtin().values(), *_active.values()])
    wanted = (runtime,) if isinstance(runtime, str) else runtime
    return {n: a for n, a in both.items() if wanted is None or a.runtime in wanted}


def code_assignments(course_dir: str | Path | None = None) -> tuple[str, ...]:
    """Names of the declared code assignments (runtime numpy or tensorflow), in course order."""
    return tuple(declared(course_dir, runtime=CODE_RUNTIMES))


def get(name: str, course_dir: str | Path | None = None) -> Assignment:
    """The declaration of ``name``; an unknown name raises KeyError listing the known ones. Without
    ``course_dir`` an undeclared name is also looked for in the course above the working folder
    (the nbgrader path runs inside the course)."""
    if course_dir is not None:
        course_declarations(course_dir)
    found = _builtin().get(name) or _active.get(name)
    if found is None and course_dir is None:
        course = _course_above(Path.cwd())
        if course is not None:          # added to what is known, forgetting nothing
            found = _course(str(course), _stamp(course)).get(name)
            if found is not None:
                _active[name] = found
    if found is None:
        raise KeyError(f"unknown assignment {name!r}; declared: {', '.join(declared())}")
    return found


def runtime_of(name: str, course_dir: str | Path | None = None) -> str | None:
    """The declared runtime of ``name`` (None for an undeclared name)."""
    try:
        return get(name, course_dir).runtime
    except KeyError:
        return None


# ------------------------------------------------------------------------------------------- modules
def _import(assignment: Assignment, spec: str, module_name: str | None = None) -> ModuleType:
    """A dotted module name, or a ``.py`` file relative to the declaration (loaded once per file)."""
    if not spec.endswith(".py"):
        try:
            return importlib.import_module(spec)
        except ModuleNotFoundError as exc:
            if exc.name and spec.startswith(exc.name):
                raise DeclarationError(f"{assignment.path}: module {spec!r} does not exist") from exc
            raise
    path = (assignment.folder / spec).resolve()
    module_name = module_name or f"deepgrade_course.{assignment.name}.{path.stem}"
    if not path.is_file():
        raise DeclarationError(f"{assignment.path}: {spec!r} does not exist ({path})")
    key = (module_name, str(path), path.stat().st_mtime_ns)
    cached = _loaded.get(module_name)
    if cached is not None and cached[0] == key:
        return cached[1]
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    _loaded[module_name] = (key, module)
    return module


_loaded: dict[str, tuple[tuple, Any]] = {}
