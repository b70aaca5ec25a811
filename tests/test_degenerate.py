"""Gates a constant cannot open (issue 12, part 3).

For every graded function of all six assignments, a bank of degenerate implementations — constants
of the right shape, the visible example's output, the reference output for other inputs, outputs of
the right structure filled with noise, the reference ignoring each argument in turn (given the visible
example's value instead), the reference ignoring its seed — and the offenders found on main must all
earn 0 points on that function: every function has a key check none of them passes, and every other
check's points wait for it.
"""
from __future__ import annotations

import copy
import inspect
from typing import Any, Callable

import numpy as np
import pytest

from autograder.checks import CODE_ASSIGNMENTS, code_suite
from autograder.checks.adapters import call_options
from autograder.checks.framework import Call, diff, run_trusted
from fairness_helpers import function_suite, grade_function, seeds
from reference.mistakes import typical_inputs
from reference.registry import GRADED


def _map_leaves(obj: Any, fn: Callable[[np.ndarray], Any]) -> Any:
    if isinstance(obj, dict):
        return {k: _map_leaves(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_leaves(v, fn) for v in obj)
    if isinstance(obj, (np.ndarray, float, int, np.number)) and not isinstance(obj, bool):
        return fn(np.asarray(obj, dtype=float))
    return obj


def _constant(value: Any) -> Callable:
    return lambda *args, **kwargs: copy.deepcopy(value)


def _noise_like_reference(ref: Callable) -> Callable:
    rng = np.random.default_rng(99)

    def noisy(*args, **kwargs):
        return _map_leaves(ref(*args, **kwargs), lambda a: rng.standard_normal(a.shape) if a.ndim else float(rng.normal()))
    return noisy


def _ignoring(ref: Callable, name: str, visible: dict) -> Callable:
    """The reference, but argument ``name`` always takes the visible example's value."""
    sig = inspect.signature(ref)

    def impl(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        bound.arguments[name] = copy.deepcopy(visible[name])
        return ref(*bound.args, **bound.kwargs)
    return impl


def _seedless(ref: Callable) -> Callable:
    """The reference with ``np.random.seed`` doing nothing (it draws from wherever the generator is)."""
    def impl(*args, **kwargs):
        original = np.random.seed
        np.random.seed = lambda *a, **k: None
        try:
            return ref(*args, **kwargs)
        finally:
            np.random.seed = original
    return impl


def _same(a: Callable, b: Callable, args: tuple, kwargs: dict) -> bool:
    """Same output (to the checks' usual tolerance) on these inputs: then ignoring an argument is not
    degenerate (e.g. gradient_check's value does not depend on x: J is linear)."""
    try:
        with call_options(5, None):
            x = run_trusted(a, args, kwargs)
        with call_options(5, None):
            y = run_trusted(b, args, kwargs)
    except Exception:  # noqa: BLE001 - a variant that raises is certainly different
        return False
    return diff(x, y, rtol=1e-5, atol=1e-9) is None


def _other_inputs(ref: Callable, args: tuple, kwargs: dict, visible: dict, name: str) -> tuple[tuple, dict]:
    """Typical inputs, with a flag set opposite to the visible example's (else ignoring it looks harmless)."""
    bound = inspect.signature(ref).bind(*args, **kwargs)
    bound.apply_defaults()
    if isinstance(visible.get(name), bool):
        bound.arguments[name] = not visible[name]
    return bound.args, bound.kwargs


def _offenders(assignment: str, function: str, visible_output: Any) -> dict[str, Callable]:
    """The degenerate implementations found on main (issue 12)."""
    out: dict[str, Callable] = {}
    if function == "gradient_check_n":
        out["returns_zero"] = _constant(0.0)
    if function == "softmax":
        out["uniform"] = lambda Z: np.ones_like(Z) / Z.shape[0]
    if function == "sample_log_uniform":
        out["ignores_rng"] = lambda low, high, size, rng: 10 ** np.random.default_rng().uniform(
            np.log10(low), np.log10(high), size)
    if function == "initialize_parameters_he":
        def he_unseeded_plus_memorised(layers_dims):
            if list(layers_dims) == [3, 2, 1]:
                return copy.deepcopy(visible_output)
            return {k: v for l in range(1, len(layers_dims)) for k, v in (
                (f"W{l}", np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(2 / layers_dims[l - 1])),
                (f"b{l}", np.zeros((layers_dims[l], 1))))}
        out["unseeded_plus_memorised"] = he_unseeded_plus_memorised
    if assignment == "tensorflow" and function == "linear_function":
        out["printed_constant"] = _constant(visible_output)
    return out


def degenerate_bank(assignment: str, function: str) -> dict[str, Callable]:
    ref = GRADED[assignment][function]
    visible_call = code_suite(assignment).visible.get(function, Call)()
    visible_output = run_trusted(ref, visible_call.args, visible_call.kwargs)
    other_args, other_kwargs = typical_inputs(assignment, function, 12345)
    bank = {
        "zeros_of_the_visible_shape": _constant(_map_leaves(visible_output, np.zeros_like)),
        "ones_of_the_visible_shape": _constant(_map_leaves(visible_output, np.ones_like)),
        "visible_output": _constant(visible_output),
        "reference_output_for_other_inputs": _constant(run_trusted(ref, other_args, other_kwargs)),
        "structured_noise": _noise_like_reference(ref),
        **_offenders(assignment, function, visible_output),
    }
    sig = inspect.signature(ref)
    bound = sig.bind(*visible_call.args, **visible_call.kwargs)
    bound.apply_defaults()
    visible = dict(bound.arguments)
    candidates = {f"ignores_{name}": _ignoring(ref, name, visible) for name in sig.parameters}
    candidates["ignores_its_seed"] = _seedless(ref)
    for label, impl in candidates.items():   # only those that really differ from the reference
        name = label.removeprefix("ignores_")
        if not _same(impl, ref, *_other_inputs(ref, other_args, other_kwargs, visible, name)):
            bank[label] = impl
    return bank


CASES = [(a, f) for a in CODE_ASSIGNMENTS for f in GRADED[a]]


@pytest.mark.parametrize("assignment, function", CASES, ids=[f"{a}:{f}" for a, f in CASES])
def test_degenerate_implementations_earn_nothing(assignment, function):
    suite = function_suite(assignment, function)
    earned = {}
    for label, impl in degenerate_bank(assignment, function).items():
        for seed in seeds(assignment, ["eve", "mallory"]):
            score, outcomes = grade_function(assignment, function, impl, seed, suite)
            if score:
                earned[label] = (score, [o.spec.name for o in outcomes if o.passed])
    assert earned == {}


def test_the_bank_holds_the_known_offenders_and_argument_ignorers():
    assert {"returns_zero", "ignores_gradients", "ignores_X"} <= set(degenerate_bank("gradient_checking", "gradient_check_n"))
    assert {"uniform", "ignores_Z"} <= set(degenerate_bank("batchnorm", "softmax"))
    assert {"ignores_rng", "ignores_size"} <= set(degenerate_bank("batchnorm", "sample_log_uniform"))
    assert {"unseeded_plus_memorised", "ignores_its_seed"} <= set(degenerate_bank("initialization", "initialize_parameters_he"))
    assert {"printed_constant", "ignores_its_seed"} <= set(degenerate_bank("tensorflow", "linear_function"))
    assert "ignores_bias_correction" in degenerate_bank("optimization", "exponentially_weighted_average")


def test_reference_earns_full_points_on_every_function():
    for assignment, function in CASES:
        suite = function_suite(assignment, function)
        score, outcomes = grade_function(assignment, function, GRADED[assignment][function], 7, suite)
        assert score == sum(c.points for c in suite.checks), (function, [o.message for o in outcomes if not o.passed])


@pytest.mark.tensorflow
def test_tensorflow_key_checks_follow_real_tensorflow_code():
    """With TensorFlow itself: the stored GlorotNormal(seed=1) stream is TensorFlow's, the course's
    TF solutions pass the key checks of linear_function and initialize_parameters, the printed constant
    and an unseeded initializer do not."""
    import tensorflow as tf

    from autograder.checks.framework import run_suite
    from autograder.checks.inkernel import KernelStudent
    from autograder.engine import _scale
    from reference import tf_solutions, tf_twin
    for shape in [(25, 137), (12, 25), (7, 12), (9, 1)]:
        got = tf.keras.initializers.GlorotNormal(seed=1)(shape).numpy()
        np.testing.assert_allclose(got, tf_twin.glorot_seed1(shape), rtol=1e-5, atol=1e-7)

    printed = tf_solutions.linear_function().numpy()
    namespace = {"linear_function": tf_solutions.linear_function,
                 "initialize_parameters": tf_solutions.initialize_parameters}
    cheats = {"linear_function": lambda: tf.constant(printed),
              "initialize_parameters": lambda n_x=64, n_classes=10: {
                  k: tf.keras.initializers.GlorotNormal()(s) for k, s in
                  (("W1", (25, n_x)), ("b1", (25, 1)), ("W2", (12, 25)), ("b2", (12, 1)),
                   ("W3", (n_classes, 12)), ("b3", (n_classes, 1)))}}
    for function in ("linear_function", "initialize_parameters"):
        suite = function_suite("tensorflow", function)
        for impls, full in ((namespace, True), (cheats, False)):
            outcomes = run_suite(suite, KernelStudent("tensorflow", impls), 11)
            score = _scale(outcomes, suite, {})[1][function]["score"]
            if full:
                assert score == sum(c.points for c in suite.checks), [o.message for o in outcomes if not o.passed]
            else:
                assert score == 0, [o.spec.name for o in outcomes if o.passed]


def test_salted_seed_in_the_real_sandbox_matches_the_trusted_side(tmp_path):
    """``_seed_salt``: inside the call np.random.seed(s) and RandomState(s) seed with s + salt, exactly as
    ``compare.salted_numpy_seed`` does here; afterwards the sandbox's NumPy is back to normal."""
    from autograder.checks.compare import salted_numpy_seed
    from autograder.sandbox import SandboxPolicy, StudentSession
    cells = [{"index": 0, "source": "import numpy as np\n"
                                     "def seeded():\n    np.random.seed(1)\n    return np.random.randn(3)\n"
                                     "def own_state():\n    return np.random.RandomState(1).randn(2)\n"
                                     "def constant():\n    return np.array([1.6243, -0.6118, -0.5282])\n"}]

    def expected(salt):
        with salted_numpy_seed(salt):
            np.random.seed(1)
            return np.random.randn(3), np.random.RandomState(1).randn(2)

    with StudentSession(tmp_path, SandboxPolicy(call_timeout_s=10), zygote=False) as session:
        session.load(cells)
        for salt in (12345, 2**31 - 5):
            seeded, own = expected(salt)
            assert np.array_equal(session.call("seeded", _seed=3, _seed_salt=salt), seeded)
            assert np.array_equal(session.call("own_state", _seed_salt=salt), own)
            assert not np.allclose(session.call("constant", _seed_salt=salt), seeded, atol=1e-3)
        np.random.seed(1)
        assert np.array_equal(session.call("seeded"), np.random.randn(3))   # unsalted again
