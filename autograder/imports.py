"""Prepare a notebook's top-level imports for grading (trusted side; rewrites cell text only).

Notebooks written for the original course open with a heavy cell: matplotlib, scipy and scikit-learn
(~2 s of imports in the sandbox) plus helper modules this project does not ship (``public_tests``,
``testCases``, ``opt_utils_v1a``). Grading calls functions; it rarely needs any of that. So, in lines at
column 0 of the cells the grader runs:

* ``import <heavy>[.sub] [as name]`` binds a lazy module instead (:data:`LAZY_HELPER`, run in the
  sandbox as part of the preamble): the real import happens on first use, so a solution that does use
  ``scipy`` still gets it; ``plt.rcParams[...] = v`` before any use is remembered and applied then;
* an import of one of the original course's helper modules (:data:`COURSE_HELPERS`: ``public_tests``,
  ``test_utils``, ``testCases*``, ``*_utils*``) that neither the assignment folder nor the grader's Python
  holds is not run (it would stop the rest of its cell with ModuleNotFoundError) and is reported as a
  cell note. Any other missing module still fails its cell, as it would on the learner's machine.

Everything else is left as written. ``from <heavy> import name`` stays eager (the name may be a
function). Indented imports (inside functions) are left alone: they run only when called.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["HEAVY", "COURSE_HELPERS", "LAZY_HELPER", "PreparedCells", "prepare_imports"]

#: top-level packages imported lazily (costly to import, never needed to define a graded function)
HEAVY = frozenset({"matplotlib", "scipy", "sklearn", "pandas", "seaborn", "PIL", "h5py", "imageio",
                   "skimage"})

#: helper modules of the original course's notebooks (present on the learner's machine, not ours)
COURSE_HELPERS = re.compile(r"^(public_tests|test_utils|testcases\w*|\w*_utils\w*)$", re.IGNORECASE)

_IMPORT = re.compile(r"^import[ \t]+(?P<names>[\w. \t,]+?)[ \t]*(?:#.*)?$")
_FROM = re.compile(r"^from[ \t]+(?P<mod>\.*[\w.]*)[ \t]+import[ \t]+(?P<rest>.*)$")
_ITEM = re.compile(r"^(?P<mod>[A-Za-z_][\w.]*)(?:[ \t]+as[ \t]+(?P<alias>[A-Za-z_]\w*))?$")

#: defined in the sandbox before the learner's cells when a lazy import is used
LAZY_HELPER = '''
def __dg_lazy__(name, imports, _registry={}):
    import importlib, sys, types

    class _Rc:
        def __init__(self, owner):
            object.__setattr__(self, "_owner", owner)
        def __setitem__(self, key, value):
            self._owner.__dict__["_dg_rc"][key] = value
        def __getattr__(self, attr):
            return getattr(self._owner._dg_load().rcParams, attr)
        def __getitem__(self, key):
            return self._owner._dg_load().rcParams[key]

    class LazyModule(types.ModuleType):
        def _dg_load(self):
            mod = self.__dict__["_dg_mod"]
            if mod is None:
                for target in list(self.__dict__["_dg_imports"]):
                    importlib.import_module(target)
                mod = sys.modules[self.__name__]
                self.__dict__["_dg_mod"] = mod
                if self.__dict__["_dg_rc"]:
                    importlib.import_module("matplotlib").rcParams.update(self.__dict__["_dg_rc"])
            return mod
        def __getattr__(self, attr):
            if attr == "rcParams" and self.__dict__["_dg_mod"] is None and self.__name__.startswith("matplotlib"):
                return _Rc(self)
            return getattr(self._dg_load(), attr)
        def __setattr__(self, attr, value):
            setattr(self._dg_load(), attr, value)
        def __dir__(self):
            return dir(self._dg_load())

    mod = _registry.get(name)
    if mod is None:
        mod = LazyModule(name)
        mod.__dict__.update(_dg_mod=None, _dg_imports=[], _dg_rc={})
        _registry[name] = mod
    for target in imports:
        if target not in mod.__dict__["_dg_imports"]:
            mod.__dict__["_dg_imports"].append(target)
            if mod.__dict__["_dg_mod"] is not None:
                importlib.import_module(target)
    return mod
'''


@dataclasses.dataclass
class PreparedCells:
    cells: list                       # notebook.CodeCell-like, sources rewritten
    notes: list[dict]                 # cell_errors-shaped notes: {cell, status, ename, evalue}
    lazy: bool                        # LAZY_HELPER must run first


@lru_cache(maxsize=256)
def _importable(root: str) -> bool:
    if root in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(root) is not None
    except (ImportError, ValueError):
        return False


def _skippable(root: str, folder: Path | None) -> bool:
    """A course helper module the grader does not have: its import is not run."""
    return bool(COURSE_HELPERS.match(root)) and not _available(root, folder)


def _available(root: str, folder: Path | None) -> bool:
    if folder is not None and ((folder / f"{root}.py").is_file() or (folder / root / "__init__.py").is_file()):
        return True
    return _importable(root)


def _rewrite_import(names: str, folder: Path | None, missing: list[str]) -> tuple[list[str], bool]:
    """Statements replacing ``import names``; (statements, used a lazy module)."""
    out, lazy = [], False
    for item in (n.strip() for n in names.split(",")):
        m = _ITEM.match(item)
        if not m:
            return [f"import {names}"], False          # unusual syntax: leave the line alone
        mod, alias = m.group("mod"), m.group("alias")
        root = mod.split(".")[0]
        if root in HEAVY:
            lazy = True
            bound = alias or root
            target = mod if alias else root
            out.append(f"{bound} = __dg_lazy__({target!r}, [{mod!r}])")
        elif _skippable(root, folder):
            missing.append(mod)
        else:
            out.append(f"import {item}")
    return out, lazy


def _rewrite_source(source: str, folder: Path | None) -> tuple[str, list[str], bool]:
    lines = source.split("\n")
    missing: list[str] = []
    lazy = False
    out: list[str] = []
    skip_until_paren = False
    for line in lines:
        if skip_until_paren:
            out.append("")
            skip_until_paren = ")" not in line
            continue
        m = _IMPORT.match(line)
        if m and "(" not in line and ";" not in line:
            stmts, used = _rewrite_import(m.group("names"), folder, missing)
            lazy |= used
            out.append("; ".join(stmts) if stmts else "pass")
            continue
        m = _FROM.match(line)
        if m and ";" not in line:
            mod = m.group("mod")
            if mod and not mod.startswith(".") and _skippable(mod.split(".")[0], folder):
                missing.append(mod)
                out.append("pass")
                skip_until_paren = "(" in m.group("rest") and ")" not in m.group("rest")
                continue
        out.append(line)
    return "\n".join(out), missing, lazy


def prepare_imports(cells: list, folder: Path | None) -> PreparedCells:
    """Rewrite the top-level imports of ``cells`` (notebook.CodeCell objects, frozen dataclasses) for
    grading; ``folder`` is the assignment folder the sandbox shows (its modules are available)."""
    out, notes, lazy = [], [], False
    for cell in cells:
        if "import" not in cell.source:
            out.append(cell)
            continue
        source, missing, used = _rewrite_source(cell.source, folder)
        lazy |= used
        out.append(dataclasses.replace(cell, source=source) if source != cell.source else cell)
        for mod in dict.fromkeys(missing):
            notes.append({"cell": cell.index, "status": "import_skipped", "ename": "ModuleNotFoundError",
                          "evalue": f"No module named {mod!r}: the grader does not have it, so this import "
                                    f"was not run (the rest of the cell was)"})
    return PreparedCells(out, notes, lazy)
