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
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

import numpy as np

from quizzes.schema import require_concepts

from .compare import (TF_MARKERS, describe_inputs, diff, missing_key_note, normalize,  # noqa: F401
                      salted_numpy_seed, structure_diff, tf_constant, tf_variable, unwrap_markers, value_diff)
from .examples import Example
from .examples import namespace as example_namespace
from reference.mistakes import mistakes_for
from reference.registry import GRADED

# --------------------------------------------------------------------------------------------------
# failures
# --------------------------------------------------------------------------------------------------


class CheckFailed(AssertionError):
    """Raised inside a check to fail it; carries the learner-facing message and an optional hint
    (``response``: the learner's answer as plain data, for quiz checks)."""

    def __init__(self, message: str, hint: str | None = None, mistake_id: str | None = None,
                 call_error: bool = False, response: Any = None):
        self.message, self.hint, self.mistake_id = message, hint, mistake_id
        self.call_error = call_error   # the student's function could not be called / raised
        self.response = response
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
    """One registered check. ``needs``: functions that must be defined for the check to run.

    randomized  inputs come from ``t.rng`` (seeded per submission, see ``engine.stable_seed``)
    key         compares exact values on randomized inputs: no constant, input-ignoring, seed-ignoring or
                memorised implementation passes it. A passing key check releases the function's gated points.
    gated       points count only when a key check of the function passes (functions without key checks:
                always count)
    reveal      failure messages may name the expected values (only for the inputs the course shows)
    edge        plain-words description of a deterministic edge-case input ("21 examples and mini-batches
                of 64"); failures start with "with <edge>, ..."
    """
    name: str
    function: str
    points: float
    concepts: tuple[str, ...]
    failure: str
    body: Callable[["Ctx"], Any]
    needs: tuple[str, ...]
    randomized: bool
    gated: bool = False
    key: bool = False
    reveal: bool = False
    edge: str = ""


@dataclass
class Suite:
    """The hidden checks of one assignment, in registration order."""
    assignment: str
    checks: list[CheckSpec] = field(default_factory=list)
    #: function -> the visible (course-shown) input of its ``.fixed`` check
    visible: dict[str, Callable[[], "Call"]] = field(default_factory=dict)
    #: function -> its visible example, declared once (the notebook's test cell shows the same text)
    examples: dict[str, Example] = field(default_factory=dict)
    _example_calls: dict[str, "Call"] = field(default_factory=dict, repr=False)

    def example_call(self, function: str) -> "Call":
        """The arguments of ``function``'s declared visible example (computed once, a fresh copy each
        time: a call may change its arguments in place)."""
        if function not in self._example_calls:
            if function not in self.examples:
                raise KeyError(f"{self.assignment}: no visible example declared for {function}")
            args, kwargs = self.examples[function].arguments(function, example_namespace(self.assignment))
            self._example_calls[function] = Call(args, kwargs)
        return copy.deepcopy(self._example_calls[function])

    def add(self, spec: CheckSpec) -> CheckSpec:
        """Add one check; its concept ids must be concepts of quizzes/concepts.yaml."""
        require_concepts(spec.concepts, f"{_source_file(spec.body)}: check {spec.name!r}")
        if any(c.name == spec.name for c in self.checks):
            raise ValueError(f"duplicate check name {spec.name!r} in suite {self.assignment!r}")
        self.checks.append(spec)
        return spec

    def check(self, function: str, points: float = 1.0, concepts: Iterable[str] = (), failure: str = "",
              needs: Iterable[str] | None = None, name: str | None = None,
              randomized: bool = False, gated: bool | None = None, key: bool = False, reveal: bool = False,
              edge: str = "") -> Callable:
        """Decorator registering a check into this suite (see module docstring and :class:`CheckSpec`).

        ``gated`` defaults to ``not key``: in a function that has a key check, every other check's
        points wait for it (a statistical property, a finite-output check or a shape check can be met
        by code that ignores its inputs or its seed)."""
        def deco(body: Callable) -> Callable:
            spec = CheckSpec(name=name or f"{function}.{body.__name__}", function=function, points=float(points),
                             concepts=tuple(concepts), failure=failure, body=body,
                             needs=tuple(needs) if needs is not None else (function,),
                             randomized=randomized or key, gated=(not key) if gated is None else gated,
                             key=key, reveal=reveal, edge=edge)
            self.add(spec)
            body._dg_check = spec  # type: ignore[attr-defined]
            return body
        return deco

    def standard(self, function: str, *, concepts: Iterable[str], failure: str,
                 random: Callable[[np.random.Generator], "Call"], fixed: Callable[[], "Call"] | None = None,
                 points: tuple[float, float, float] = (1, 1, 3), n_random: int = 3,
                 rtol: float = 1e-5, atol: float = 1e-7, strict_keys: bool = True,
                 edges: Iterable[tuple[str, str, Callable[[], "Call"]]] = ()) -> None:
        """Register the standard checks of ``function``.

        ``<function>.structure``  (points[0]) output types/lengths/keys/shapes on a random input
        ``<function>.fixed``      (points[1]) values on the input the course shows: the declared visible
                                  example ``self.examples[function]`` (``fixed()`` where none is
                                  declared); the only check whose messages name expected values
        ``<function>.random``     (points[2]) the key check: values on ``n_random`` inputs drawn by ``random(rng)``
        ``<function>.edge.<slug>`` (1 each) deterministic edge cases: ``edges`` = (slug, description, call)
                                  plus the trigger inputs of the function's known mistakes

        ``fixed``/``random`` return a :class:`Call` (see :func:`call_with`); ``random`` may return a list
        of Calls that must all pass (e.g. both values of a flag). ``random`` must draw from a
        distribution that stays on one side of every behaviour boundary of plausible code (fixed layer
        count, more examples than one mini-batch, ...): the boundaries are the edge cases, which every
        student gets. Everything but the key check is gated: right-shaped garbage or a memorised
        visible example earns nothing.
        """
        def draw(rng: np.random.Generator) -> list["Call"]:
            c = random(rng)
            return list(c) if isinstance(c, (list, tuple)) else [c]

        def structure(t: "Ctx") -> None:
            c = draw(t.rng)[0]
            t.expect_structure(*c.args, strict_keys=strict_keys, **c.kwargs)

        if fixed is None:
            fixed = lambda: self.example_call(function)  # noqa: E731
            self.example_call(function)                  # a broken declaration fails at import, not at grading

        def fixed_case(t: "Ctx") -> None:
            c = fixed()
            t.expect(*c.args, rtol=rtol, atol=atol, strict_keys=strict_keys, **c.kwargs)

        def random_cases(t: "Ctx") -> None:
            for _ in range(n_random):
                for c in draw(t.rng):
                    t.expect(*c.args, rtol=rtol, atol=atol, strict_keys=strict_keys, **c.kwargs)

        concepts = tuple(concepts)
        self.visible[function] = fixed
        for suffix, body, pts, flags in (("structure", structure, points[0], {}),
                                         ("fixed", fixed_case, points[1], {"reveal": True}),
                                         ("random", random_cases, points[2], {"key": True})):
            if pts:
                self.check(function, pts, concepts, failure, name=f"{function}.{suffix}", **flags)(body)
        for slug, description, call in edges:
            self.edge(function, slug, description, call, concepts=concepts, failure=failure, rtol=rtol,
                      atol=atol, strict_keys=strict_keys)
        self.mistake_edges(function, concepts=concepts, failure=failure, rtol=rtol, atol=atol,
                           strict_keys=strict_keys)

    def edge(self, function: str, slug: str, description: str, call: Callable[[], "Call"], *,
             concepts: Iterable[str], failure: str, points: float = 1, rtol: float = 1e-5, atol: float = 1e-7,
             strict_keys: bool = True) -> None:
        """``<function>.edge.<slug>``: student vs reference on one deterministic input (``call()``),
        described in plain words (``description``) in the feedback. Gated; never names expected values."""
        def body(t: "Ctx") -> None:
            c = call()
            t.expect(*c.args, rtol=rtol, atol=atol, strict_keys=strict_keys, **c.kwargs)

        self.check(function, points, tuple(concepts), failure, name=f"{function}.edge.{slug}", edge=description)(body)

    def mistake_edges(self, function: str, *, concepts: Iterable[str], failure: str, rtol: float = 1e-5,
                      atol: float = 1e-7, strict_keys: bool = True) -> None:
        """One deterministic edge check per known mistake that needs special inputs
        (``Mistake.example_inputs`` at seed 0, described by ``Mistake.trigger``), e.g. huge softmax scores."""
        for m in known_mistakes(self.assignment, function):
            if m.example_inputs is None:
                continue
            args, kwargs = m.example_inputs(0)
            self.edge(function, m.id.split(".", 1)[1], m.trigger or "a special input",
                      lambda a=args, k=kwargs: Call(a, k), concepts=concepts, failure=failure, rtol=rtol,
                      atol=atol, strict_keys=strict_keys)

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


_SUITES: dict[str, tuple[Any, Suite]] = {}     # module name -> (the module object, its suite)


def suite_for_module(module_name: str) -> Suite:
    """The suite of a check module ``autograder.checks.test_<assignment>`` (a new one when the module
    was loaded again, e.g. an instructor's edited checks file)."""
    module = sys.modules.get(module_name)
    entry = _SUITES.get(module_name)
    if entry is None or entry[0] is not module:
        assignment = module_name.rsplit(".", 1)[-1].removeprefix("test_")
        _SUITES[module_name] = (module, Suite(assignment))
    return _SUITES[module_name][1]


def check(function: str, points: float = 1.0, concepts: Iterable[str] = (), failure: str = "",
          needs: Iterable[str] | None = None, name: str | None = None, randomized: bool = False,
          gated: bool | None = None, key: bool = False) -> Callable:
    """Register a check into the calling module's suite.

    function   graded function under test (its reference is ``reference.registry.GRADED``)
    points     relative weight within the function (the engine scales to the notebook's points)
    concepts   concept ids (DESIGN.md) this check exercises
    failure    what a failure tells the student (prefixed to the specific message)
    needs      functions that must exist in the notebook (default: ``[function]``)
    randomized True when inputs come from ``t.rng``
    key, gated see :class:`CheckSpec`
    """
    def deco(body: Callable) -> Callable:
        return suite_for_module(body.__module__).check(
            function, points, concepts, failure, needs, name, randomized, gated, key)(body)
    return deco


# --------------------------------------------------------------------------------------------------
def reference_function(assignment: str, function: str) -> Callable:
    """The trusted implementation the checks evaluate: the reference's ``grading_twin`` when it declares
    one (the same numbers computed faster, e.g. gradient_check_n's 2n forward passes as one batch; a test
    holds them equal), else the reference itself."""
    fn = GRADED[assignment][function]
    return getattr(fn, "grading_twin", fn)


def known_mistakes(assignment: str, function: str) -> list:
    """reference.mistakes.mistakes_for, or [] for functions/assignments without a catalogue; each
    mistake's concept must be a concept of quizzes/concepts.yaml."""
    try:
        found = list(mistakes_for(assignment, function))
    except KeyError:
        return []
    for m in found:
        require_concepts([m.concept], f"{_source_file(getattr(m.impl, 'core', m.impl))}: mistake {m.id!r}")
    return found


def _source_file(fn: Callable) -> str:
    """The file a check body or mistake is written in (for error messages)."""
    code = getattr(fn, "__code__", None)
    return code.co_filename if code is not None else getattr(fn, "__module__", "?")


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
        self._last_call: tuple | None = None    # (fn, args, kwargs) of the latest call, see last_inputs
        self._last_inputs: str | None = None
        self.response: Any = None   # a quiz check's reading of the learner's answer (plain data)

    @property
    def last_inputs(self) -> str:
        """The latest call's inputs in plain words, for error messages ("" before any call). Described
        when a message first asks (most calls pass and need none: ~0.15 ms per call saved); the call's
        dicts are copied at the call, so a check that reuses one afterwards does not change the words."""
        if self._last_inputs is None:
            self._last_inputs = "" if self._last_call is None else self.describe_inputs(*self._last_call)
        return self._last_inputs

    # -- calls -------------------------------------------------------------------------------
    def describe_inputs(self, fn: str, args: tuple, kwargs: dict) -> str:
        """The inputs of a call to ``fn`` in plain words (argument names from the reference)."""
        try:
            ref = reference_function(self.assignment, fn)
        except Exception:  # noqa: BLE001 - no reference (quizzes): name arguments by position
            ref = None
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        return describe_inputs(ref, args, kwargs)

    def call_fn(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's ``fn``; a failed call fails the check with a learner-facing message that
        names the inputs' shapes (and a network's layer count)."""
        self._last_call = (fn, tuple(dict(a) if type(a) is dict else a for a in args),
                           {k: dict(v) if type(v) is dict else v for k, v in kwargs.items()})
        self._last_inputs = None
        try:
            return self.student.call(fn, *args, **kwargs)
        except CheckFailed:
            raise
        except Exception as exc:  # StudentError from the sandbox or the in-process adapter
            kind = student_error_kind(exc)
            if kind is None:
                raise
            message = describe_student_error(fn, exc)
            if kind != "missing":
                detail = str(getattr(exc, "message", "") or exc)
                message += f". It was called with {self.last_inputs}.{missing_key_note(detail, args, kwargs)}"
            raise CheckFailed(message, call_error=True) from None

    def call_salted(self, *args: Any, salt: int, state: int, **kwargs: Any) -> Any:
        """Call the student's function with NumPy's global generator seeded with ``state`` first and
        ``np.random.seed(s)`` inside the call seeding with ``s + salt`` (see ``compare.salted_numpy_seed``)."""
        return self.call(*args, _seed=int(state), _seed_salt=int(salt), **kwargs)

    def reference_salted(self, *args: Any, salt: int, **kwargs: Any) -> Any:
        """The reference's output under the same salt as :meth:`call_salted`."""
        with salted_numpy_seed(salt):
            return self.reference(*args, **kwargs)

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
        d = diff(g, e, what, rtol, atol, strict_keys, reveal=self.spec.reveal)
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
    response: Any = None        # quiz checks: the learner's answer ([option indices] | bool | number | None)


def run_check(spec: CheckSpec, assignment: str, student: Student, seed: int) -> Outcome:
    """Run one check; never raises for student problems (a missing function fails without a call)."""
    t0 = time.perf_counter()
    missing = [f for f in spec.needs if not student.has(f)]
    if missing:
        msg = "; ".join(f"`{f}` is not defined in your notebook" for f in missing)
        return Outcome(spec, False, msg, None, None, time.perf_counter() - t0)
    ctx = Ctx(spec, assignment, student, seed)
    edge = f"with {spec.edge}, " if spec.edge else ""
    try:
        spec.body(ctx)
    except CheckFailed as e:
        msg = f"{spec.failure}: {e.message}" if spec.failure and not e.call_error else e.message
        return Outcome(spec, False, edge + msg, e.hint, e.mistake_id, time.perf_counter() - t0,
                       e.response if e.response is not None else ctx.response)
    except Exception as e:  # the student's output broke an assumption of the check
        kind = student_error_kind(e)
        msg = (describe_student_error(spec.function, e) if kind else
               f"your output could not be checked ({type(e).__name__}: {e})")
        if ctx.last_inputs:
            msg += f". The call's inputs were {ctx.last_inputs}"
        return Outcome(spec, False, edge + msg, None, None, time.perf_counter() - t0)
    return Outcome(spec, True, "passed", None, None, time.perf_counter() - t0, ctx.response)


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
