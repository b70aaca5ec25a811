"""Students for the checks: the sandboxed notebook (production) and an in-process stand-in (fast tests).

:class:`SessionStudent` adapts the sandbox's ``StudentSession`` to the framework's ``Student``
protocol and restarts a dead session once. :class:`InProcessStudent` runs reference or known-mistake
implementations in this process, but sends every argument and result through
``autograder.sandbox.wire`` encode/decode (and turns TF markers into float32 arrays, as the worker
does), so the checks see exactly the data they would get from the real boundary.
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from autograder.sandbox import wire
from autograder.sandbox.launcher import StudentError

from .compare import TF_MARKERS, normalize, salted_numpy_seed
from reference.mistakes import MISTAKES
from reference.registry import GRADED

MISSING, RAISES = "missing", "raises"
Choice = "None | str"  # None = reference, "<function>.<slug>" = a known mistake, "missing", "raises"


def _student_error(kind: str, message: str) -> StudentError:
    """The same error type the engine sees from the real sandbox."""
    return StudentError(kind, message)


def _through_wire(value: Any) -> Any:
    return wire.decode(wire.encode(value))


def _materialize_like_worker(value: Any) -> Any:
    """TF markers -> float32/int arrays (what a tf.Variable/constant holds), recursively."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in TF_MARKERS:
            arr = np.asarray(next(iter(value.values())))
            return arr.astype(np.float32) if arr.dtype.kind == "f" else arr
        return {k: _materialize_like_worker(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialize_like_worker(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_materialize_like_worker(v) for v in value)
    return value


@contextlib.contextmanager
def call_options(seed: int | None, salt: int | None) -> Iterator[None]:
    """What the sandbox worker does around a call with ``_seed``/``_seed_salt``: seed NumPy's global
    generator, salt ``np.random.seed`` (``compare.salted_numpy_seed``); the caller's global NumPy
    state is restored afterwards (in-process students share this process with the grader)."""
    state = np.random.get_state()
    try:
        if seed is not None:
            np.random.seed(int(seed) % 2**32)
        with salted_numpy_seed(salt):
            yield
    finally:
        np.random.set_state(state)


def _raiser(function: str) -> Callable:
    def raises(*args, **kwargs):
        raise RuntimeError(f"{function} is not finished yet")
    return raises


def implementations(assignment: str, choices: Mapping[str, str | None] | None = None) -> dict[str, Callable]:
    """Graded functions of ``assignment`` as a student with these ``choices`` wrote them.

    choices: {function: None (reference) | mistake id | "missing" | "raises"}; unlisted -> reference.
    """
    impls = dict(GRADED[assignment])
    for fn, choice in (choices or {}).items():
        if fn not in impls:
            raise KeyError(f"{fn!r} is not a graded function of {assignment!r}")
        if choice is None:
            continue
        if choice == MISSING:
            del impls[fn]
        elif choice == RAISES:
            impls[fn] = _raiser(fn)
        else:
            m = MISTAKES[choice]
            if m.function != fn:
                raise ValueError(f"mistake {choice!r} belongs to {m.function!r}, not {fn!r}")
            impls[fn] = m.impl
    return impls


class InProcessStudent:
    """A student whose functions are trusted implementations run here, through the wire format."""

    sandbox_mode = "in-process"

    def __init__(self, assignment: str, choices: Mapping[str, str | None] | None = None,
                 impls: Mapping[str, Callable] | None = None):
        self.assignment = assignment
        self.impls = dict(impls) if impls is not None else implementations(assignment, choices)

    def has(self, fn: str) -> bool:
        return fn in self.impls

    def defined(self) -> set[str]:
        return set(self.impls)

    def get(self, name: str) -> Any:
        raise _student_error("missing", f"name {name!r} is not defined")

    def call(self, fn: str, *args: Any, _seed: int | None = None, _seed_salt: int | None = None,
             **kwargs: Any) -> Any:
        if fn not in self.impls:
            raise _student_error("missing", f"function {fn!r} is not defined")
        a = _materialize_like_worker(_through_wire(args))
        k = _materialize_like_worker(_through_wire(kwargs))
        try:
            with call_options(_seed, _seed_salt):
                out = self.impls[fn](*a, **k)
        except Exception as exc:
            raise _student_error("exception", f"{type(exc).__name__}: {exc}") from None
        try:
            return _through_wire(normalize(out))
        except wire.WireError as exc:
            raise _student_error("bad_output", str(exc)) from None

    def close(self) -> None:
        pass


class SessionStudent:
    """``Student`` over a loaded sandbox ``StudentSession``.

    A call that kills the sandbox (timeout, memory, crash) marks that function broken (its later
    calls fail at once, without waiting again) and restarts the session once (``session.restart()``
    reloads the cells); after that, further deaths leave the session dead and every call fails fast.
    ``sandbox_s`` accumulates the wall time spent in the sandbox through this adapter.
    """

    DEAD_KINDS = ("crashed", "timeout", "memory")

    def __init__(self, session: Any, defined: set[str], restarts: int = 1):
        self.session = session
        self.defined_names = set(defined)
        self.restarts_left = restarts
        self.sandbox_s = 0.0
        self.broken: dict[str, Exception] = {}
        self.dead: Exception | None = None

    def has(self, fn: str) -> bool:
        return fn in self.defined_names

    def _op(self, op: str, name: str, *args: Any, **kwargs: Any) -> Any:
        if name in self.broken:
            raise self.broken[name]
        if self.dead is not None:
            raise self.dead
        t0 = time.perf_counter()
        try:
            return getattr(self.session, op)(name, *args, **kwargs)
        except Exception as exc:
            kind = getattr(exc, "kind", None)
            if kind in self.DEAD_KINDS or not getattr(self.session, "alive", True):
                self.broken[name] = _student_error(kind if kind in self.DEAD_KINDS else "crashed",
                                                   f"{getattr(exc, 'message', exc)} (earlier call)")
                self._restart(exc)
            raise
        finally:
            self.sandbox_s += time.perf_counter() - t0

    def _restart(self, cause: Exception) -> None:
        if self.restarts_left <= 0:
            self.dead = _student_error("crashed", f"the notebook's process stopped ({getattr(cause, 'message', cause)})")
            return
        self.restarts_left -= 1
        try:
            report = self.session.restart()
            if report is not None:
                self.defined_names = set(report.defined)
        except Exception as exc:
            self.dead = _student_error("crashed", f"the notebook's process could not be restarted ({exc})")

    def call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        return self._op("call", fn, *args, **kwargs)

    def get(self, name: str) -> Any:
        return self._op("get", name)

    def close(self) -> None:
        try:
            self.session.close()
        except Exception:
            pass
