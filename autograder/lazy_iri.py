"""Defer ``rfc3987_syntax``'s grammar build until an IRI is actually validated.

jsonschema (imported by nbformat, so by nbgrader and every deepgrade command) registers its ``iri`` and
``iri-reference`` format checkers by importing ``rfc3987_syntax`` when it is installed (Jupyter's
``jsonschema[format-nongpl]`` installs it), and that module compiles an Earley parser from its Lark
grammar at import: 2.3 s of a 4.6 s ``import autograder.runner`` (``python -X importtime``, 2026-12-07).
Nothing of ours validates IRIs. :func:`install` puts a stand-in module under that name whose
``is_valid_syntax`` imports the real module on its first call and forwards to it, so the checkers still
exist and behave the same; only the cost moves to the first IRI validated (never, when grading).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types

MODULE = "rfc3987_syntax"


class _DeferredIriSyntax(types.ModuleType):
    """Stand-in for ``rfc3987_syntax``: the real module is imported on the first attribute use."""

    def _real(self) -> types.ModuleType:
        if sys.modules.get(MODULE) is self:
            del sys.modules[MODULE]
        return importlib.import_module(MODULE)

    def is_valid_syntax(self, term: str, value: str) -> bool:
        return self._real().is_valid_syntax(term, value)

    def __getattr__(self, name: str):
        if name.startswith("__"):       # the import system probes __path__, __file__ ...: not a use
            raise AttributeError(name)
        return getattr(self._real(), name)


def install() -> bool:
    """Register the stand-in unless the real module is already imported or not installed; True if it
    was registered."""
    if MODULE in sys.modules or importlib.util.find_spec(MODULE) is None:
        return False
    sys.modules[MODULE] = _DeferredIriSyntax(MODULE)
    return True
