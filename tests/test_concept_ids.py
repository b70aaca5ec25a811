"""Every concept id a check, a mistake or a quiz question uses is a concept of quizzes/concepts.yaml,
checked when it is loaded, with an error naming the file that uses it and the id."""
from __future__ import annotations

import pytest

import reference.mistakes as mistakes
from autograder.checks import CODE_ASSIGNMENTS, code_suite
from autograder.checks.framework import Suite, known_mistakes
from quizzes.schema import UnknownConcept, load_concepts
from reference.mistakes._base import CONCEPT_IDS, Mistake


def test_a_check_with_an_unknown_concept_is_refused_when_its_suite_is_built():
    suite = Suite("optimization")
    with pytest.raises(UnknownConcept) as err:
        @suite.check("update_parameters_with_adam", concepts=["adam", "adma"])
        def body(t):
            pass
    message = str(err.value)
    assert __file__ in message and "'adma'" in message and "concepts.yaml" in message
    assert "update_parameters_with_adam" in message


def test_a_mistake_with_an_unknown_concept_is_refused_when_it_is_loaded(monkeypatch):
    def core(*args):
        return 0
    bad = Mistake(id="initialize_adam.bad", assignment="optimization", function="initialize_adam",
                  description="d", hint="h", concept="adam_optimizer", impl=core)
    monkeypatch.setitem(mistakes.MISTAKES, bad.id, bad)
    with pytest.raises(UnknownConcept) as err:
        known_mistakes("optimization", "initialize_adam")
    assert __file__ in str(err.value) and "'adam_optimizer'" in str(err.value)
    assert "initialize_adam.bad" in str(err.value)


def test_every_concept_the_course_uses_is_in_the_concept_map():
    for assignment in CODE_ASSIGNMENTS:          # building each suite validates its checks and mistakes
        assert code_suite(assignment).checks
    assert set(CONCEPT_IDS) == set(load_concepts())
