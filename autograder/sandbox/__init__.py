"""Execution side of the autograder: run untrusted student code in a sandbox.

Public API (see DESIGN.md, "Trust boundary")::

    from autograder.sandbox import StudentSession, SandboxPolicy, StudentError, sandbox_mode
    with StudentSession(assignment_dir, SandboxPolicy(), use_tensorflow=False) as s:
        report = s.load(cells, preamble="from regularization_utils import *")
        value = s.call("compute_cost", AL, Y, _seed=1)
"""
from .launcher import (ERROR_KINDS, CellStatus, LoadReport, SandboxUnavailable, StudentError,
                       StudentSession, TrustedContentVisible, sandbox_mode)
from .policy import SandboxPolicy
from .wire import WireError

__all__ = ["StudentSession", "SandboxPolicy", "StudentError", "LoadReport", "CellStatus",
           "sandbox_mode", "ERROR_KINDS", "WireError", "SandboxUnavailable", "TrustedContentVisible"]
