"""Per-student question variants: choice order and parameter values.

This module is deliberately standard-library only and self-contained: ``deepgrade quiz release``
copies its source verbatim into the student-side helper of each quiz notebook, so the notebook and
the grader draw exactly the same variant from the same ``(space, student id, question id)``.
It knows nothing about answers.

A parameter spec (from a bank) is a dict with one of these shapes::

    {"min": 0.8, "max": 0.99, "step": 0.01}          uniform on the grid min, min+step, ..., max
    {"min": 2, "max": 10}                             integers in [min, max] (step defaults to 1)
    {"min": -4, "max": -1, "log10": true, "digits": 2} 10**u, u uniform in [min, max], 2 significant digits
    {"choices": [32, 64, 128]}                        one of the listed values
"""
import hashlib
import math
import random

GRADED_SPACE = "graded"


def variant_rng(space, student, qid):
    """A ``random.Random`` seeded from sha256 of ``space|student|qid`` (stable across platforms)."""
    digest = hashlib.sha256(f"{space}|{student}|{qid}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _round_sig(x, digits):
    if x == 0:
        return 0.0
    return float(f"{x:.{digits - 1}e}")


def _grid_value(lo, hi, step, rng):
    n = int(round((hi - lo) / step))
    k = rng.randint(0, n)
    value = lo + k * step
    decimals = max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0
    value = round(value, decimals + 2)
    if float(step).is_integer() and float(lo).is_integer():
        return int(round(value))
    return value


def draw_param(spec, rng):
    """One value for a parameter spec (see the module docstring)."""
    if "choices" in spec:
        return spec["choices"][rng.randrange(len(spec["choices"]))]
    lo, hi = spec["min"], spec["max"]
    if spec.get("log10"):
        u = rng.uniform(lo, hi)
        return _round_sig(10.0 ** u, int(spec.get("digits", 2)))
    return _grid_value(lo, hi, spec.get("step", 1), rng)


def draw_params(params, rng):
    """Values for all parameters of a question, drawn in the declared (sorted-name) order."""
    return {name: draw_param(params[name], rng) for name in sorted(params)}


def choice_order(n_choices, rng, shuffle=True):
    """Display order: position i shows original choice ``order[i]``."""
    order = list(range(n_choices))
    if shuffle:
        rng.shuffle(order)
    return order


def make_variant(question, student, space=GRADED_SPACE):
    """``{"params": {...}, "order": [...]}`` for a public question dict and a student id.

    The same RNG stream serves both: parameters first, then the choice order.
    """
    rng = variant_rng(space, student, question["id"])
    params = draw_params(question.get("params") or {}, rng)
    n = len(question.get("choices") or ())
    order = choice_order(n, rng, shuffle=question.get("shuffle", True)) if n else []
    return {"params": params, "order": order}


def letters(n):
    """The option labels shown to students: A, B, C, ..."""
    return [chr(ord("A") + i) for i in range(n)]


def format_value(value):
    """How a parameter value is written in a question text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3g}"
        return f"{value:.6g}"
    return str(value)


def fill(text, params):
    """Replace ``{name}`` placeholders by the formatted parameter values."""
    out = text
    for name, value in params.items():
        out = out.replace("{" + name + "}", format_value(value))
    return out
