"""Defer two format-checker libraries that jsonschema imports (through nbformat, so through nbgrader and
every deepgrade command) until a string is actually validated with them.

jsonschema registers its ``iri``/``iri-reference`` and ``uri``/``uri-reference`` format checkers by
importing, when installed (Jupyter's ``jsonschema[format-nongpl]`` installs them), ``rfc3987_syntax``,
which compiles an Earley parser from its Lark grammar at import (2.3 s of a 4.6 s ``import
autograder.runner``, ``python -X importtime``, 2026-12-07), and ``rfc3986_validator``, which compiles
its regular expressions (0.08 s). Nothing of ours validates those formats. :func:`install` registers,
under each name, a stand-in module whose functions import the real module on their first call and
forward to it: the checkers still exist and answer the same; only the cost moves to the first use.
"""
from __future__ import annotations

import importlib
import importlib.util
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


def install() -> list[str]:
    """Register the stand-ins for the modules that are installed and not yet imported; returns their
    names."""
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
