"""Feedback is not an oracle (issue 12, part 2).

Policy: the randomized checks' seed is a hash of (assignment, student, source of every code cell
the engine runs); expected values appear only in the messages of the visible example's check.
- a table-lookup strategy (answers indexed by call number, learned from the feedback of the previous
  round, the table kept in the notebook's code) gains nothing over several rounds; under a weak
  policy (seed fixed per student, every message naming expected values) the same strategy does gain,
  so the test has teeth;
- no message of a randomized or hidden check names an expected value;
- regrading a file, or a re-saved copy of it, draws the same inputs; changing the code draws new ones.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from autograder.checks import CODE_ASSIGNMENTS, code_suite
from autograder.checks.adapters import InProcessStudent
from autograder.checks.framework import Suite, run_suite
from autograder.engine import _scale, grade_submission, stable_seed, submitted_code
from autograder.notebook import read_submission
from fairness_helpers import function_suite
from reference.registry import GRADED

REPO = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)
REVEALED = re.compile(r"` is (-?[\d.e+-]+); expected (-?[\d.e+-]+)")

# functions whose output is one number: the table-lookup strategy learns them from "`f(...)` is i; expected v"
SCALAR = [("regularization", "compute_cost_with_regularization"), ("gradient_checking", "forward_propagation"),
          ("gradient_checking", "gradient_check"), ("optimization", "update_lr"),
          ("optimization", "schedule_lr_decay"), ("batchnorm", "softmax_cost"),
          ("tensorflow", "compute_total_loss")]


class TableLookup:
    """A learner's function that answers from a table indexed by call number; unknown calls return
    the call number itself, so the feedback ("`output` is 7; expected 0.42") says which call to fix."""

    def __init__(self, table: dict[int, float]):
        self.table, self.calls = dict(table), 0

    def __call__(self, *args, **kwargs):
        i = self.calls
        self.calls += 1
        return self.table.get(i, float(i))

    def source(self) -> list[str]:
        """The notebook's code: the table is written into a cell."""
        return [f"TABLE = {sorted(self.table.items())!r}\n", "def f(*args):\n    ...\n"]


def _attack(assignment: str, function: str, suite: Suite, rounds: int, seed_of) -> list[float]:
    """Scores of ``rounds`` submissions, each with the table learned from the previous feedback."""
    table: dict[int, float] = {}
    scores = []
    for _ in range(rounds):
        impl = TableLookup(table)
        student = InProcessStudent(assignment, impls={**GRADED[assignment], function: impl})
        outcomes = run_suite(suite, student, seed_of(impl))
        scores.append(_scale(outcomes, suite, {})[1][function]["score"])
        for o in outcomes:   # which call produced the shown value: its number, or the table entry shown
            for got, expected in REVEALED.findall(o.message):
                calls = [i for i, v in table.items() if f"{v:.6g}" == got]
                call = int(float(got)) if float(got).is_integer() and not calls else (calls or [None])[0]
                if call is not None:
                    table[call] = float(expected)
    return scores


@pytest.mark.parametrize("assignment, function", SCALAR, ids=[f for _, f in SCALAR])
def test_table_lookup_gains_nothing_over_feedback_rounds(assignment, function):
    suite = function_suite(assignment, function)
    scores = _attack(assignment, function, suite, 5, lambda impl: stable_seed(assignment, "mallory", impl.source()))
    assert scores == [0.0] * 5


@pytest.mark.parametrize("assignment, function", SCALAR[:4], ids=[f for _, f in SCALAR[:4]])
def test_table_lookup_would_win_against_a_weak_policy(assignment, function):
    """Control: a fixed seed per student and expected values in every message -> the table fills up."""
    suite = function_suite(assignment, function)
    weak = Suite(assignment, [dataclasses.replace(c, reveal=True) for c in suite.checks])
    scores = _attack(assignment, function, weak, 8, lambda impl: stable_seed(assignment, "mallory"))
    assert scores[0] == 0 and scores[-1] > 0


def _leaves(obj) -> list[float]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _leaves(v)]
    if isinstance(obj, (list, tuple)):
        return [x for v in obj for x in _leaves(v)]
    if isinstance(obj, (np.ndarray, float, int, np.number)) and not isinstance(obj, bool):
        return [float(x) for x in np.asarray(obj, dtype=float).ravel()]
    return []


@pytest.mark.parametrize("assignment", CODE_ASSIGNMENTS)
def test_no_hidden_check_message_names_an_expected_value(assignment):
    """A learner whose every output is off by 37% (right structure): the messages of all checks but
    the visible example's say where and roughly how far, never a value that would pass."""
    expected_values: list[float] = []

    def off(ref):
        def impl(*args, **kwargs):
            out = ref(*args, **kwargs)
            expected_values.extend(_leaves(out))
            return _map(out)
        return impl

    def _map(o):
        if isinstance(o, dict):
            return {k: _map(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return type(o)(_map(v) for v in o)
        if isinstance(o, (np.ndarray, float, np.floating)):
            return np.asarray(o) * 1.37 + 0.01 if isinstance(o, np.ndarray) else float(o) * 1.37 + 0.01
        return o

    student = InProcessStudent(assignment, impls={f: off(fn) for f, fn in GRADED[assignment].items()})
    outcomes = run_suite(code_suite(assignment), student, stable_seed(assignment, "eve"))
    secrets = np.array([v for v in expected_values if np.isfinite(v) and not float(v).is_integer()])
    hidden = [o for o in outcomes if not o.passed and not o.spec.reveal]
    assert hidden
    for o in hidden:   # (the inputs may be named: an edge case's description, a failed call's arguments)
        text = o.message.replace(o.spec.edge, "").split("It was called with")[0]
        numbers = [float(n) for n in NUMBER.findall(text) if not float(n).is_integer()]
        for n in numbers:
            assert not np.isclose(secrets, n, rtol=1e-3, atol=0).any(), (o.spec.name, n, o.message)
    shown = [o for o in outcomes if not o.passed and o.spec.reveal]
    assert any("expected" in o.message for o in shown)   # the visible example still shows its numbers


# ---- the seed policy ------------------------------------------------------------------------------
def _notebook(assignment: str) -> dict:
    return json.loads((REPO / "source" / assignment / f"{assignment}.ipynb").read_text())


def _resaved(nb: dict) -> dict:
    """What saving the same notebook again changes: outputs, execution counts, metadata, markdown."""
    nb = copy.deepcopy(nb)
    nb["metadata"]["saved_again"] = True
    for i, cell in enumerate(nb["cells"]):
        cell.setdefault("metadata", {})["collapsed"] = bool(i % 2)
        if cell["cell_type"] == "code":
            cell["execution_count"] = i + 1
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"run {i}\n"}]
        else:
            cell["source"] = "".join(cell["source"]) + "\nA note I added."
    return nb


def _edited(nb: dict) -> dict:
    """One comment added to the first solution cell."""
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb["cells"] if (c.get("metadata", {}).get("nbgrader") or {}).get("solution"))
    cell["source"] = "".join(cell["source"]) + "\n# checked again\n"
    return nb


def _write(nb: dict, path: Path) -> Path:
    path.write_text(json.dumps(nb))
    return path


def test_seed_follows_the_code_that_runs_not_the_file(tmp_path):
    a = "initialization"
    original = _write(_notebook(a), tmp_path / "a.ipynb")
    resaved = _write(_resaved(_notebook(a)), tmp_path / "b.ipynb")
    edited = _write(_edited(_notebook(a)), tmp_path / "c.ipynb")
    code = {p.name: submitted_code(read_submission(p).cells) for p in (original, resaved, edited)}
    seed = {name: stable_seed(a, "ada", c) for name, c in code.items()}
    assert original.read_bytes() != resaved.read_bytes()
    assert seed["a.ipynb"] == seed["b.ipynb"] != seed["c.ipynb"]
    assert stable_seed(a, "ada", code["a.ipynb"]) != stable_seed(a, "bob", code["a.ipynb"])
    # cell boundaries count: the same text split differently is different code
    assert stable_seed(a, "ada", ["x = 1\n", "y = 2\n"]) != stable_seed(a, "ada", ["x = 1\ny = 2\n"])


@pytest.mark.slow
def test_grading_is_reproducible_and_a_code_change_draws_new_inputs(tmp_path):
    """Through the real sandbox: regrade and re-saved copy -> same seed and messages; an edit -> new seed."""
    a = "initialization"
    nb = _notebook(a)
    for cell in nb["cells"]:   # a wrong He initialization, so that randomized messages exist
        if "def initialize_parameters_he" in "".join(cell["source"]):
            cell["source"] = "".join(cell["source"]).replace("np.sqrt(2 / layers_dims[l - 1])", "np.sqrt(1 / layers_dims[l - 1])")
    assert "np.sqrt(1 / layers_dims" in json.dumps(nb)
    runs = [grade_submission(_write(n, tmp_path / f"{i}.ipynb"), a, "ada", course_dir=REPO)
            for i, n in enumerate([nb, nb, _resaved(nb), _edited(nb)])]
    messages = [[(c.name, c.message) for c in r.checks] for r in runs]
    assert runs[0].seed == runs[1].seed == runs[2].seed != runs[3].seed
    assert messages[0] == messages[1] == messages[2]
    assert runs[0].score == runs[3].score < runs[0].max_score     # new inputs, same points
