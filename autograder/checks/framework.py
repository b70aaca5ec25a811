"""Hidden-check framework: registration, the Student proxy, structured comparison, mistake matching.

A check is a small function registered with :func:`check`; it receives a :class:`Ctx` ``t`` that knows
the graded function under test, the student, and a per-check random generator::

    @check(function="initialize_parameters_he", points=2, concepts=["weight_initialization"],
           failure="He initialization must scale by sqrt(2 / n_prev)")
    def test_he_random_dims(t):
        t.expect(t.random_dims())        # student vs reference on the same input

``t.expect(*args)`` calls the student's function (across the sandbox boundary) and the trusted
reference (in this process) on the same arguments and compares: structure first (type, tuple
length, dict keys, array shapes; the message names the exact key/shape), then values with explicit
``rtol``/``atol``. When the comparison fails, every known mistake of the function
(``reference.mistakes.mistakes_for``) is run on the same arguments here, in the trusted process; if
the student's output matches one, its hint and id are attached to the failure.

The same check functions run under the engine (``run_suite``) and under plain pytest
(``autograder/checks/conftest.py`` provides the ``t`` fixture). A check passes or fails as a whole;
its ``points`` are relative weights that the engine scales to the notebook's points per function.
"""
from __future__ import annotations

import copy
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

import numpy as np

from .compare import (TF_MARKERS, diff, normalize, structure_diff, tf_constant, tf_variable,  # noqa: F401
                      unwrap_markers, value_diff)

# --------------------------------------------------------------------------------------------------
# failures
# --------------------------------------------------------------------------------------------------


class CheckFailed(AssertionError):
    """Raised inside a check to fail it; carries the learner-facing message and an optional hint."""

    def __init__(self, message: str, hint: str | None = None, mistake_id: str | None = None,
                 call_error: bool = False):
        self.message, self.hint, self.mistake_id = message, hint, mistake_id
        self.call_error = call_error   # the student's function could not be called / raised
        super().__init__(message + (f"\nHint: {hint}" if hint else "")
                         + (f"\n[known mistake: {mistake_id}]" if mistake_id else ""))


def fail(message: str, hint: str | None = None, mistake_id: str | None = None) -> None:
    """Fail the current check with ``message`` (never returns)."""
    raise CheckFailed(message, hint, mistake_id)


def student_error_kind(exc: BaseException) -> str | None:
    """The ``kind`` of a sandbox StudentError (duck-typed: any exception with a str ``kind``)."""
    kind = getattr(exc, "kind", None)
    return kind if isinstance(kind, str) else None


def describe_student_error(function: str, exc: BaseException) -> str:
    """Learner-facing sentence for a failed call to ``function``."""
    kind = student_error_kind(exc)
    detail = str(getattr(exc, "message", "") or exc).strip()
    if kind == "missing":
        return f"`{function}` is not defined in your notebook"
    if kind == "timeout":
        return f"calling `{function}` took too long and was stopped"
    if kind == "memory":
        return f"calling `{function}` used too much memory and was stopped"
    if kind == "crashed":
        return f"the notebook's process stopped while running `{function}`"
    if kind == "bad_output":
        return f"`{function}` returned something that is not plain data (arrays, numbers, lists, dicts): {detail}"
    return f"calling `{function}` raised an error: {detail}"


# --------------------------------------------------------------------------------------------------
# the student
# --------------------------------------------------------------------------------------------------


@runtime_checkable
class Student(Protocol):
    """What a check can ask of a student's notebook.

    Production: an adapter over the sandbox's ``StudentSession``; fast tests: an in-process adapter
    over reference/mistake implementations (``autograder.checks.adapters``). ``call`` raises an
    exception with a ``kind`` attribute (the sandbox's ``StudentError``) when the call fails.
    """

    def call(self, fn: str, *args: Any, **kwargs: Any) -> Any: ...

    def has(self, fn: str) -> bool: ...

    def get(self, name: str) -> Any: ...


# --------------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckSpec:
    """One registered check. ``needs``: functions that must be defined for the check to run."""
    name: str
    function: str
    points: float
    concepts: tuple[str, ...]
    failure: str
    body: Callable[["Ctx"], Any]
    needs: tuple[str, ...]
    randomized: bool
    gated: bool = False   # points count only if a randomized check of the function passes


@dataclass
class Suite:
    """The hidden checks of one assignment, in registration order."""
    assignment: str
    checks: list[CheckSpec] = field(default_factory=list)
    #: function -> the visible (course-shown) input of its ``.fixed`` check
    visible: dict[str, Callable[[], "Call"]] = field(default_factory=dict)

    def add(self, spec: CheckSpec) -> CheckSpec:
        if any(c.name == spec.name for c in self.checks):
            raise ValueError(f"duplicate check name {spec.name!r} in suite {self.assignment!r}")
        self.checks.append(spec)
        return spec

    def check(self, function: str, points: float = 1.0, concepts: Iterable[str] = (), failure: str = "",
              needs: Iterable[str] | None = None, name: str | None = None,
              randomized: bool = False, gated: bool = False) -> Callable:
        """Decorator registering a check into this suite (see module docstring)."""
        def deco(body: Callable) -> Callable:
            spec = CheckSpec(name=name or f"{function}.{body.__name__}", function=function, points=float(points),
                             concepts=tuple(concepts), failure=failure, body=body,
                             needs=tuple(needs) if needs is not None else (function,),
                             randomized=randomized, gated=gated)
            self.add(spec)
            body._dg_check = spec  # type: ignore[attr-defined]
            return body
        return deco

    def standard(self, function: str, *, concepts: Iterable[str], failure: str,
                 fixed: Callable[[], "Call"], random: Callable[[np.random.Generator], "Call"],
                 points: tuple[float, float, float] = (1, 1, 3), n_random: int = 3,
                 rtol: float = 1e-5, atol: float = 1e-7, strict_keys: bool = True) -> None:
        """Register the three standard checks of ``function``.

        ``<function>.structure``  (points[0]) output types/lengths/keys/shapes on a random input
        ``<function>.fixed``      (points[1]) values on the input the course shows (``fixed()``)
        ``<function>.random``     (points[2]) values on ``n_random`` inputs drawn by ``random(rng)``

        ``fixed``/``random`` return a :class:`Call` (see :func:`call_with`).
        The structure and fixed checks are *gated*: their points count only when a randomized check
        of the function passes, so right-shaped garbage or a memorised visible example earns nothing.
        """
        def structure(t: "Ctx") -> None:
            c = random(t.rng)
            t.expect_structure(*c.args, strict_keys=strict_keys, **c.kwargs)

        def fixed_case(t: "Ctx") -> None:
            c = fixed()
            t.expect(*c.args, rtol=rtol, atol=atol, strict_keys=strict_keys, **c.kwargs)

        def random_cases(t: "Ctx") -> None:
            for _ in range(n_random):
                c = random(t.rng)
                t.expect(*c.args, rtol=rtol, atol=atol, strict_keys=strict_keys, **c.kwargs)

        concepts = tuple(concepts)
        self.visible[function] = fixed
        for suffix, body, pts, rnd in (("structure", structure, points[0], False),
                                       ("fixed", fixed_case, points[1], False),
                                       ("random", random_cases, points[2], True)):
            if pts:
                self.check(function, pts, concepts, failure, name=f"{function}.{suffix}",
                           randomized=rnd, gated=not rnd)(body)
        self.edge_cases(function, concepts=concepts, failure=failure, rtol=rtol, atol=atol,
                        strict_keys=strict_keys)

    def edge_cases(self, function: str, *, concepts: Iterable[str], failure: str, points: float = 1,
                   rtol: float = 1e-5, atol: float = 1e-7, strict_keys: bool = True) -> None:
        """``<function>.edge_cases``: the trigger inputs of the function's known mistakes that need
        special inputs (``Mistake.example_inputs``, e.g. huge softmax scores), drawn with a
        per-submission seed. Registered only when such mistakes exist."""
        triggers = [m for m in known_mistakes(self.assignment, function) if m.example_inputs is not None]
        if not triggers:
            return

        def edge(t: "Ctx") -> None:
            for m in triggers:
                args, kwargs = m.example_inputs(int(t.rng.integers(0, 2**31 - 1)))
                t.expect(*args, rtol=rtol, atol=atol, strict_keys=strict_keys, **kwargs)

        self.check(function, points, tuple(concepts), failure, name=f"{function}.edge_cases", randomized=True)(edge)

    @property
    def functions(self) -> list[str]:
        """Graded functions covered, in first-registration order."""
        out: list[str] = []
        for c in self.checks:
            if c.function not in out:
                out.append(c.function)
        return out

    def points_by_function(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for c in self.checks:
            out[c.function] = out.get(c.function, 0.0) + c.points
        return out


@dataclass(frozen=True)
class Call:
    """Arguments of one call to a graded function."""
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def call_with(*args: Any, **kwargs: Any) -> Call:
    """``call_with(X, parameters, keep_prob=0.7)`` -> the Call to make."""
    return Call(args, kwargs)


_SUITES: dict[str, Suite] = {}


def suite_for_module(module_name: str) -> Suite:
    """The suite of a check module ``autograder.checks.test_<assignment>``."""
    if module_name not in _SUITES:
        assignment = module_name.rsplit(".", 1)[-1].removeprefix("test_")
        _SUITES[module_name] = Suite(assignment)
    return _SUITES[module_name]


def check(function: str, points: float = 1.0, concepts: Iterable[str] = (), failure: str = "",
          needs: Iterable[str] | None = None, name: str | None = None, randomized: bool = False) -> Callable:
    """Register a check into the calling module's suite.

    function   graded function under test (its reference is ``reference.registry.GRADED``)
    points     relative weight within the function (the engine scales to the notebook's points)
    concepts   concept ids (DESIGN.md) this check exercises
    failure    what a failure tells the student (prefixed to the specific message)
    needs      functions that must exist in the notebook (default: ``[function]``)
    randomized True when inputs come from ``t.rng`` (these carry most points: memorised visible
               outputs earn nothing here)
    """
    def deco(body: Callable) -> Callable:
        return suite_for_module(body.__module__).check(
            function, points, concepts, failure, needs, name, randomized)(body)
    return deco


# --------------------------------------------------------------------------------------------------
def reference_function(assignment: str, function: str) -> Callable:
    from reference.registry import GRADED
    return GRADED[assignment][function]


def known_mistakes(assignment: str, function: str) -> list:
    """reference.mistakes.mistakes_for, or [] for functions/assignments without a catalogue."""
    from reference.mistakes import mistakes_for
    try:
        return list(mistakes_for(assignment, function))
    except KeyError:
        return []


def run_trusted(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """Run a trusted implementation on private copies of the inputs (markers unwrapped)."""
    a = unwrap_markers(copy.deepcopy(args))
    k = unwrap_markers(copy.deepcopy(kwargs))
    return normalize(fn(*a, **k))


def check_seed(seed: int, name: str) -> np.random.SeedSequence:
    """Per-check seed: independent of the order the checks run in."""
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])


# --------------------------------------------------------------------------------------------------
# the per-check context
# --------------------------------------------------------------------------------------------------


class Ctx:
    """What a check body works with: ``t.call``, ``t.reference``, ``t.expect``, ``t.rng``, ``t.fail``."""

    def __init__(self, spec: CheckSpec, assignment: str, student: Student, seed: int):
        self.spec, self.assignment, self.student, self.seed = spec, assignment, student, seed
        self.function = spec.function
        self.rng = np.random.default_rng(check_seed(seed, spec.name))

    # -- calls -------------------------------------------------------------------------------
    def call_fn(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's ``fn``; a failed call fails the check with a learner-facing message."""
        try:
            return self.student.call(fn, *args, **kwargs)
        except CheckFailed:
            raise
        except Exception as exc:  # StudentError from the sandbox or the in-process adapter
            if student_error_kind(exc) is None:
                raise
            raise CheckFailed(describe_student_error(fn, exc), call_error=True) from None

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Call the student's version of the function under test."""
        return self.call_fn(self.function, *args, **kwargs)

    def reference_fn(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Trusted reference output of ``fn`` on copies of the inputs."""
        return run_trusted(reference_function(self.assignment, fn), args, kwargs)

    def reference(self, *args: Any, **kwargs: Any) -> Any:
        return self.reference_fn(self.function, *args, **kwargs)

    # -- comparisons -------------------------------------------------------------------------
    def compare(self, got: Any, expected: Any, *, args: tuple = (), kwargs: dict | None = None,
                what: str = "output", rtol: float = 1e-5, atol: float = 1e-7,
                project: Callable[[Any], Any] | None = None, strict_keys: bool = True,
                match_mistakes: bool = True) -> None:
        """Fail unless ``got`` matches ``expected`` (optionally after ``project``).

        On failure, if ``match_mistakes``, run each known mistake of the function on ``args``/
        ``kwargs`` and attach the hint of the first whose (projected) output equals ``got``.
        """
        g = project(got) if project else got
        e = project(expected) if project else expected
        d = diff(g, e, what, rtol, atol, strict_keys)
        if d is None:
            return
        hint = mistake_id = None
        if match_mistakes:
            m = self.match_mistake(got, args, kwargs or {}, project=project, rtol=rtol, atol=atol,
                                   strict_keys=strict_keys)
            if m is not None:
                hint, mistake_id = m.hint, m.id
        raise CheckFailed(d, hint, mistake_id)

    def match_mistake(self, got: Any, args: tuple, kwargs: dict, *,
                      project: Callable[[Any], Any] | None = None, rtol: float = 1e-5,
                      atol: float = 1e-7, strict_keys: bool = True, function: str | None = None):
        """The first known mistake of ``function`` whose output on these inputs matches ``got``."""
        g = project(got) if project else got
        for m in known_mistakes(self.assignment, function or self.function):
            try:
                out = run_trusted(m.impl, args, kwargs)
                out = project(out) if project else out
            except Exception:
                continue
            if diff(g, out, "output", rtol, atol, strict_keys) is None:
                return m
        return None

    def expect(self, *args: Any, rtol: float = 1e-5, atol: float = 1e-7,
               project: Callable[[Any], Any] | None = None, strict_keys: bool = True,
               what: str | None = None, **kwargs: Any) -> Any:
        """Student vs reference on the same inputs; returns the student's output when it matches."""
        got = self.call(*args, **kwargs)
        expected = self.reference(*args, **kwargs)
        self.compare(got, expected, args=args, kwargs=kwargs, what=what or f"{self.function}(...)",
                     rtol=rtol, atol=atol, project=project, strict_keys=strict_keys)
        return got

    def expect_structure(self, *args: Any, strict_keys: bool = True, **kwargs: Any) -> Any:
        """Only the structure (types, lengths, keys, shapes) of the output; values are not compared."""
        got = self.call(*args, **kwargs)
        expected = self.reference(*args, **kwargs)
        d = structure_diff(got, expected, f"{self.function}(...)", strict_keys)
        if d:
            self.fail_matching(d, got, args, kwargs)
        return got

    def require(self, condition: bool, message: str) -> None:
        """Fail with ``message`` unless ``condition``."""
        if not condition:
            raise CheckFailed(message)

    @staticmethod
    def fail(message: str, hint: str | None = None) -> None:
        fail(message, hint)

    def fail_matching(self, message: str, got: Any, args: tuple = (), kwargs: dict | None = None, *,
                      project: Callable[[Any], Any] | None = None) -> None:
        """Fail with ``message``, attaching the hint and id of a known mistake that explains ``got``."""
        m = self.match_mistake(got, args, kwargs or {}, project=project)
        raise CheckFailed(message, m.hint if m else None, m.id if m else None)


# --------------------------------------------------------------------------------------------------
# running a suite
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """Raw result of one check before point scaling."""
    spec: CheckSpec
    passed: bool
    message: str
    hint: str | None
    mistake_id: str | None
    duration_s: float


def run_check(spec: CheckSpec, assignment: str, student: Student, seed: int) -> Outcome:
    """Run one check; never raises for student problems (a missing function fails without a call)."""
    t0 = time.perf_counter()
    missing = [f for f in spec.needs if not student.has(f)]
    if missing:
        msg = "; ".join(f"`{f}` is not defined in your notebook" for f in missing)
        return Outcome(spec, False, msg, None, None, time.perf_counter() - t0)
    try:
        spec.body(Ctx(spec, assignment, student, seed))
    except CheckFailed as e:
        msg = f"{spec.failure}: {e.message}" if spec.failure and not e.call_error else e.message
        return Outcome(spec, False, msg, e.hint, e.mistake_id, time.perf_counter() - t0)
    except Exception as e:  # the student's output broke an assumption of the check
        kind = student_error_kind(e)
        msg = (describe_student_error(spec.function, e) if kind else
               f"your output could not be checked ({type(e).__name__}: {e})")
        return Outcome(spec, False, msg, None, None, time.perf_counter() - t0)
    return Outcome(spec, True, "passed", None, None, time.perf_counter() - t0)


def run_suite(suite: Suite, student: Student, seed: int) -> list[Outcome]:
    """Run every check of ``suite`` against ``student`` in registration order."""
    return [run_check(spec, suite.assignment, student, seed) for spec in suite.checks]


__all__ = [
    "Call", "call_with", "CheckFailed", "CheckSpec", "Ctx", "Outcome", "Student", "Suite", "check", "diff", "fail",
    "known_mistakes", "normalize", "reference_function", "run_check", "run_suite", "structure_diff",
    "suite_for_module", "tf_constant", "tf_variable", "unwrap_markers", "value_diff",
]


def test_check(check_spec: CheckSpec, student: Student, deepgrade_seed: int, request: Any) -> None:
    """pytest entry point, imported by every check module and parametrized over its suite by
    ``conftest.py``: runs one registered check exactly as the engine does."""
    suite = suite_for_module(request.module.__name__)
    outcome = run_check(check_spec, suite.assignment, student, deepgrade_seed)
    if not outcome.passed:
        raise AssertionError(outcome.message + (f"\nHint: {outcome.hint}" if outcome.hint else "")
                             + (f"\n[known mistake: {outcome.mistake_id}]" if outcome.mistake_id else ""))
