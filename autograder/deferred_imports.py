"""Defer two format-checker libraries that jsonschema imports (through nbformat, so through nbgrader and
every deepgrade command) until a string is actually validated with them.

jsonschema registers its ``iri``/``iri-reference`` and ``uri``/``uri-reference`` format checkers by
importing, when installed (Jupyter's ``jsonschema[format-nongpl]`` installs them), ``rfc3987_syntax``,
which compiles an Earley parser from its Lark grammar at import (2.3 s of a 4.6 s ``import
autograder.runner``, ``python -X importtime``, 2026-12-07), and ``rfc3986_validator``, which compiles
its regular expressions (0.08 s). Nothing of ours validates those formats. :func:`install` registers,
under each name, a stand-in module whose functions import the real module on their first call and
forward to it: the checkers still exist and answer the same; only the cost moves to the first use.

nbgrader's package ``__init__`` imports its four Jupyter server extensions (Jupyter server, tornado, the
exchange, nbclient: 0.5-0.9 s of every command) only to offer their entry points to a Jupyter server.
:func:`install` registers ``nbgrader`` as a :class:`_LazyPackage`: its submodules import as usual
(``nbgrader.api``, ``nbgrader.preprocessors``...), and the first use of anything else the ``__init__``
defines (``_jupyter_server_extension_points``, ``load_formgrader``...) runs the real ``__init__``.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import types

#: module -> the functions jsonschema takes from it with ``from module import name``
DEFERRED = {"rfc3987_syntax": ("is_valid_syntax",), "rfc3986_validator": ("validate_rfc3986",)}


class _Deferred(types.ModuleType):
    """Stand-in for a module: the real one is imported on the first use of one of its attributes."""

    def _real(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return importlib.import_module(self.__name__)

    def __getattr__(self, name: str):
        if name.startswith("__"):       # the import system probes __path__, __file__ ...: not a use
            raise AttributeError(name)
        return getattr(self._real(), name)


def _forwarder(stand_in: _Deferred, name: str):
    def forward(*args, **kwargs):
        return getattr(stand_in._real(), name)(*args, **kwargs)
    forward.__name__ = forward.__qualname__ = name
    return forward


#: packages whose ``__init__`` is not run at import: a name it re-exports is imported from its submodule
#: when first used (parents before children)
LAZY_PACKAGES = ("nbgrader", "nbgrader.preprocessors", "nbgrader.converters",
                 "nbconvert", "nbconvert.preprocessors", "nbconvert.exporters")


def reexports(source: str) -> dict[str, str] | None:
    """{name: relative submodule} of every ``from .sub import name [as alias]`` at the top level of a
    package ``__init__`` (also inside ``try:``), plus ``__all__`` when it is a literal list."""
    names: dict[str, str] = {}
    for node in ast.parse(source).body:
        for stmt in ([node] if not isinstance(node, ast.Try) else node.body):
            if isinstance(stmt, ast.ImportFrom) and stmt.level == 1 and stmt.module:
                for alias in stmt.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = f".{stmt.module}"
    return names


class _LazyPackage(types.ModuleType):
    """A package whose ``__init__`` has not run: a submodule imports as usual (the import system needs
    only ``__path__``), a name the ``__init__`` re-exports from a submodule (``_reexports``) is imported
    from that submodule alone, and any other name runs the real ``__init__`` in this very module
    object, which then is an ordinary module."""

    def __getattr__(self, name: str):
        where = self.__dict__.get("_reexports", {}).get(name)
        if where is not None:
            value = getattr(importlib.import_module(where, self.__name__), name if name != where else name)
            setattr(self, name, value)
            return value
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        folder = os.path.dirname(self.__spec__.origin)
        if os.path.isfile(os.path.join(folder, f"{name}.py")) or os.path.isdir(os.path.join(folder, name)):
            return importlib.import_module(f"{self.__name__}.{name}")     # as after the real __init__
        self.__class__ = types.ModuleType
        self.__spec__.loader.exec_module(self)
        return getattr(self, name)


def _lazy_package(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        return False
    try:
        with open(spec.origin, encoding="utf-8") as f:
            exports = reexports(f.read())
    except (OSError, SyntaxError, ValueError):
        return False
    module = importlib.util.module_from_spec(spec)
    module._reexports = exports
    module.__class__ = _LazyPackage
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return True


def install() -> list[str]:
    """Register the stand-ins for the modules that are installed and not yet imported; returns their
    names."""
    done = [name for name in LAZY_PACKAGES if name not in sys.modules and _lazy_package(name)]
    for module, functions in DEFERRED.items():
        if module in sys.modules or importlib.util.find_spec(module) is None:
            continue
        stand_in = _Deferred(module)
        for name in functions:
            setattr(stand_in, name, _forwarder(stand_in, name))
        sys.modules[module] = stand_in
        done.append(module)
    return done
