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
exchange, nbclient: 0.5-0.9 s of every command) only to offer their entry points to a Jupyter server;
nbconvert's and nbgrader's preprocessor, converter and exporter ``__init__``s import every member.
:func:`install` puts a finder on ``sys.meta_path`` that, when one of :data:`LAZY_PACKAGES` is first
imported, makes it a :class:`_LazyPackage`: its submodules import as usual, a name its ``__init__``
re-exports imports only its own submodule, and any other name (``_jupyter_server_extension_points``...)
runs the real ``__init__``.
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
#: when first used
LAZY_PACKAGES = ("nbgrader", "nbgrader.preprocessors", "nbgrader.converters",
                 "nbconvert", "nbconvert.preprocessors", "nbconvert.exporters")


def reexports(source: str) -> dict[str, str]:
    """{name: relative submodule} of every ``from .sub import name [as alias]`` at the top level of a
    package ``__init__`` (also inside ``try:``)."""
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
    from that submodule alone, and any other name runs the real ``__init__`` (``_real_loader``) in this
    very module object, which then is an ordinary module."""

    def __getattr__(self, name: str):
        where = self.__dict__.get("_reexports", {}).get(name)
        if where is not None:
            value = getattr(importlib.import_module(where, self.__name__), name)
            setattr(self, name, value)
            return value
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        folder = os.path.dirname(self.__spec__.origin)
        if os.path.isfile(os.path.join(folder, f"{name}.py")) or os.path.isdir(os.path.join(folder, name)):
            return importlib.import_module(f"{self.__name__}.{name}")     # as after the real __init__
        self.__class__ = types.ModuleType
        self.__dict__.pop("_real_loader").exec_module(self)
        return getattr(self, name)


class _LazyPackageLoader:
    """Makes the package a :class:`_LazyPackage` instead of running its ``__init__``; a package whose
    ``__init__`` cannot be read runs as usual. (A plain class: ``importlib.abc`` costs 10 ms to import.)"""

    def __init__(self, real) -> None:
        self.real = real

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            with open(module.__spec__.origin, encoding="utf-8") as f:
                exports = reexports(f.read())
        except (OSError, SyntaxError, ValueError, TypeError):
            self.real.exec_module(module)
            return
        module._reexports, module._real_loader = exports, self.real
        module.__class__ = _LazyPackage


class _LazyPackageFinder:
    """On the first import of one of :data:`LAZY_PACKAGES`, the spec the other finders give, loaded by
    :class:`_LazyPackageLoader` (nothing is done, or imported, before someone imports the package)."""

    def find_spec(self, name, path, target=None):
        if name not in LAZY_PACKAGES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is None or spec.origin is None or spec.submodule_search_locations is None:
                    return spec
                spec.loader = _LazyPackageLoader(spec.loader)
                return spec
        return None


_FINDER = _LazyPackageFinder()


def install() -> list[str]:
    """Register the lazy-package finder and the stand-ins for the deferred modules that are installed
    and not yet imported; returns the stand-ins' names."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    done = []
    for module, functions in DEFERRED.items():
        if module in sys.modules or importlib.util.find_spec(module) is None:
            continue
        stand_in = _Deferred(module)
        for name in functions:
            setattr(stand_in, name, _forwarder(stand_in, name))
        sys.modules[module] = stand_in
        done.append(module)
    return done
