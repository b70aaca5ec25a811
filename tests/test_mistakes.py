"""The known-mistakes catalogue: contract, coverage, and that every mistake is observable."""
from __future__ import annotations

import copy
import inspect
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from reference.mistakes import MISTAKES, PROJECTIONS, Mistake, inputs_for, mistakes_for, typical_inputs
from reference.mistakes._base import CONCEPT_IDS, Catalogue
from reference.mistakes.compare import first_difference, outputs_differ
from reference.registry import GRADED

DESIGN = Path(__file__).resolve().parents[1] / "DESIGN.md"

#: graded functions with fewer than three plausible mistakes (trivial one-liners)
FEWER_PLAUSIBLE = {("gradient_checking", "forward_propagation"): 2, ("gradient_checking", "backward_propagation"): 2,
                   ("tensorflow", "sigmoid"): 2}


def _design_concepts() -> set[str]:
    text = DESIGN.read_text()
    section = text.split("## Concept ids", 1)[1].split("\n## ", 1)[0]
    ids = set()
    for line in section.splitlines():
        line = re.sub(r"^\s*week\d:\s*", "", line)
        ids.update(tok.strip() for tok in line.split(",") if re.fullmatch(r"\s*[a-z_0-9]+\s*", tok))
    return ids


def _run(func, args, kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return func(*copy.deepcopy(args), **copy.deepcopy(kwargs))


def _project(m: Mistake, output):
    return PROJECTIONS.get((m.assignment, m.function), lambda x: x)(output)


def test_concept_ids_match_design():
    assert _design_concepts() == set(CONCEPT_IDS)


@pytest.mark.parametrize("mistake_id", sorted(MISTAKES))
def test_mistake_record_is_well_formed(mistake_id):
    m = MISTAKES[mistake_id]
    function, slug = m.id.split(".", 1)
    assert function == m.function and re.fullmatch(r"[a-z0-9_]+", slug)
    assert m.function in GRADED[m.assignment]
    assert m.concept in _design_concepts()
    assert m.description.strip() and m.hint.strip() and m.hint != m.description
    assert inspect.signature(m.impl) == inspect.signature(GRADED[m.assignment][m.function])
    assert (m.example_inputs is None) == (m.trigger is None)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mistake_id", sorted(MISTAKES))
def test_mistake_differs_from_reference(mistake_id, seed):
    m = MISTAKES[mistake_id]
    args, kwargs = inputs_for(m, seed)
    reference = _run(GRADED[m.assignment][m.function], args, kwargs)
    mistaken = _run(m.impl, args, kwargs)
    assert outputs_differ(_project(m, mistaken), _project(m, reference)), \
        f"{m.id} gives the reference's output on {'example' if m.example_inputs else 'typical'} inputs"


@pytest.mark.parametrize("mistake_id", sorted(MISTAKES))
def test_mistake_does_not_modify_its_inputs(mistake_id):
    m = MISTAKES[mistake_id]
    args, kwargs = inputs_for(m, 0)
    before = copy.deepcopy((args, kwargs))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        m.impl(*args, **kwargs)
    assert first_difference((args, kwargs), before) is None


def test_mistakes_are_distinguishable_from_each_other():
    """On its inputs, a mistake's output differs from every other mistake of the same function
    that is exposed by the same inputs (so feedback names the right one)."""
    clashes = []
    for assignment, functions in GRADED.items():
        for function in functions:
            ms = mistakes_for(assignment, function)
            for m in ms:
                args, kwargs = inputs_for(m, 0)
                mine = _project(m, _run(m.impl, args, kwargs))
                for other in ms:
                    if other is not m and not outputs_differ(mine, _project(other, _run(other.impl, args, kwargs))):
                        clashes.append((m.id, other.id))
    assert not clashes, clashes


@pytest.mark.parametrize("assignment, function", [(a, f) for a, fs in GRADED.items() for f in fs])
def test_enough_mistakes_per_graded_function(assignment, function):
    assert len(mistakes_for(assignment, function)) >= FEWER_PLAUSIBLE.get((assignment, function), 3)


def test_mistakes_for_filters_and_keeps_order():
    ms = mistakes_for("optimization", "update_parameters_with_adam")
    assert [m.id for m in ms] == [k for k, m in MISTAKES.items()
                                  if m.assignment == "optimization" and m.function == "update_parameters_with_adam"]
    assert mistakes_for("optimization", "no_such_function") == []
    # the same function name in two assignments keeps separate catalogues
    assert {m.assignment for m in mistakes_for("gradient_checking", "forward_propagation")} == {"gradient_checking"}
    assert {m.assignment for m in mistakes_for("tensorflow", "forward_propagation")} == {"tensorflow"}


def test_triggered_mistakes_use_their_example_inputs():
    triggered = [m for m in MISTAKES.values() if m.example_inputs is not None]
    assert {m.id for m in triggered} >= {"softmax.no_max_shift", "batchnorm_forward.epsilon_outside_root",
                                         "update_parameters_with_adam.epsilon_inside_sqrt"}
    for m in triggered:
        assert inputs_for(m, 0) is not None
        assert first_difference(inputs_for(m, 1), inputs_for(m, 1)) is None       # reproducible


def test_softmax_without_shift_only_fails_at_large_scores():
    m = MISTAKES["softmax.no_max_shift"]
    moderate, _ = typical_inputs("batchnorm", "softmax", 0)
    assert not outputs_differ(_run(m.impl, moderate, {}), _run(GRADED["batchnorm"]["softmax"], moderate, {}))
    large, _ = m.example_inputs(0)
    assert np.isnan(_run(m.impl, large, {})).any()


def test_catalogue_rejects_bad_entries():
    cat = Catalogue("batchnorm", {"softmax": GRADED["batchnorm"]["softmax"]})
    with pytest.raises(ValueError, match="concept"):
        cat.add("softmax", "x", concept="nonsense", description="d", hint="h", impl=lambda Z: Z)
    with pytest.raises(KeyError, match="not a graded function"):
        cat.add("relu", "x", concept="softmax_regression", description="d", hint="h", impl=lambda Z: Z)
    with pytest.raises(ValueError, match="exactly one"):
        cat.add("softmax", "x", concept="softmax_regression", description="d", hint="h")


def test_variant_binds_like_the_reference():
    m = MISTAKES["update_lr.precedence"]
    assert m.impl(0.5, 2, 0.3) == m.impl(learning_rate0=0.5, epoch_num=2, decay_rate=0.3)
    with pytest.raises(TypeError):
        m.impl(0.5, 2)


def test_report_table_covers_every_graded_function(capsys):
    from reference.mistakes import report
    rows = report.table()
    graded_rows = {(a, f): (err, n) for a, f, err, n in rows if a != "helper"}
    assert set(graded_rows) == {(a, f) for a, fs in GRADED.items() for f in fs}
    assert graded_rows[("batchnorm", "batchnorm_backward")][0] < 1e-7
    assert graded_rows[("optimization", "update_lr")] == (None, len(mistakes_for("optimization", "update_lr")))
    report.main()
    out = capsys.readouterr().out
    assert f"{len(graded_rows)} graded functions, {len(MISTAKES)} known mistakes" in out
